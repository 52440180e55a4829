import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// Every README code block marked `<!-- snippet: NAME -->` must be, to the character, the region
// between `// --- snippet: NAME ---` and `// --- end snippet ---` of an example that a test runs.
const root = fileURLToPath(new URL('../..', import.meta.url));

function examplesSnippets(): Map<string, string> {
  const found = new Map<string, string>();
  const visit = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name === 'node_modules' || entry.name === 'generated') continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) visit(path);
      else if (/\.(mjs|ts)$/.test(entry.name)) {
        const text = readFileSync(path, 'utf8');
        for (const m of text.matchAll(
          /\/\/ --- snippet: ([\w-]+) ---\n([\s\S]*?)\/\/ --- end snippet ---/g,
        )) {
          found.set(m[1]!, m[2]!.replace(/\n$/, ''));
        }
      }
    }
  };
  visit(join(root, 'examples'));
  return found;
}

const readmes = [
  'README.md',
  ...readdirSync(join(root, 'packages')).map((name) => join('packages', name, 'README.md')),
].filter((path) => {
  try {
    readFileSync(join(root, path));
    return true;
  } catch {
    return false;
  }
});

describe('README snippets are the examples’ code', () => {
  const snippets = examplesSnippets();

  it('the root README shows the quick start of every integration', () => {
    const text = readFileSync(join(root, 'README.md'), 'utf8');
    for (const name of [
      'pg-pool',
      'mysql2-pool',
      'knex-postgres',
      'typeorm-postgres',
      'core-pg',
      'postgres-js',
      'drizzle-postgres',
      'drizzle-mysql',
      'kysely-postgres',
      'kysely-mysql',
    ]) {
      expect(text).toContain(`<!-- snippet: ${name} -->`);
    }
  });

  for (const path of readmes) {
    it(path, () => {
      const text = readFileSync(join(root, path), 'utf8');
      const marked = [...text.matchAll(/<!-- snippet: ([\w-]+) -->\n```\w*\n([\s\S]*?)\n```/g)];
      for (const [, name, code] of marked) {
        expect(snippets.has(name!), `no example has snippet '${name}'`).toBe(true);
        expect(code, `${path}: snippet '${name}' differs from its example`).toBe(
          snippets.get(name!),
        );
      }
    });
  }
});
