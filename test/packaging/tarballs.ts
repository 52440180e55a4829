// The packages as the registry would serve them: `pnpm pack` of each package directory (workspace:*
// ranges become the version), for the packaging tests' scratch applications. Not a test file.
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const exec = promisify(execFile);
export const root = fileURLToPath(new URL('../..', import.meta.url));
/** Every package directory of the repository. */
export const packageDirs = readdirSync(join(root, 'packages')).map((d) =>
  join(root, 'packages', d),
);

/**
 * Packs `dirs` into `destination`, two at a time (this machine has two cores), and returns each
 * package's name with the path of its tarball.
 */
export async function packTarballs(
  dirs: readonly string[],
  destination: string,
): Promise<Record<string, string>> {
  const pack = (dir: string) =>
    exec('pnpm', ['pack', '--pack-destination', destination], {
      cwd: dir,
      timeout: 180_000,
      env: process.env,
    });
  for (let i = 0; i < dirs.length; i += 2) await Promise.all(dirs.slice(i, i + 2).map(pack));
  const tarballs: Record<string, string> = {};
  for (const dir of dirs) {
    const { name, version } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
      name: string;
      version: string;
    };
    tarballs[name] = join(
      destination,
      `${name.replace(/^@/, '').replace('/', '-')}-${version}.tgz`,
    );
  }
  return tarballs;
}
