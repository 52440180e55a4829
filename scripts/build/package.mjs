#!/usr/bin/env node
// Builds one package: empties dist/, compiles src/ to CommonJS with tsc, then writes the ES module
// entry points next to the CommonJS ones.
//
// Every rds-iam package is compiled once, to CommonJS, and each entry gets a small ES module next to
// it that re-exports the same objects. One implementation means one token cache per process whether
// an application imports or requires us (no dual-package hazard), and lazy `require()` calls that
// bundlers can see. For each `exports` entry with an `import` condition this writes
//   dist/NAME.mjs    `import cjs from './NAME.js'; export const { a, b } = cjs;`
//   dist/NAME.d.mts  `export * from './NAME.js';`
// Run from the package directory (its `build` script): `node ../../scripts/build/package.mjs`.
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, join, resolve } from 'node:path';

const packageDir = process.cwd();
const require = createRequire(join(packageDir, 'package.json'));
const manifest = require('./package.json');

// A clean dist/: files of an earlier build (renamed modules, maps) must not reach the tarball.
rmSync(join(packageDir, 'dist'), { recursive: true, force: true });
execFileSync(
  process.execPath,
  [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
  {
    stdio: 'inherit',
  },
);

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;
let written = 0;
for (const [subpath, target] of Object.entries(manifest.exports ?? {})) {
  if (typeof target !== 'object' || !target.import || !target.require) continue;
  const cjsFile = resolve(packageDir, target.require.default);
  const esmFile = resolve(packageDir, target.import.default);
  const esmTypes = resolve(packageDir, target.import.types);
  const names = Object.keys(require(cjsFile)).filter((name) => name !== '__esModule');
  const bad = names.filter((name) => !IDENTIFIER.test(name) || name === 'default');
  if (bad.length > 0) throw new Error(`${subpath}: exports that an ES module cannot name: ${bad}`);
  const from = `./${basename(cjsFile)}`;
  writeFileSync(
    esmFile,
    `// ES module entry of ${manifest.name}${subpath === '.' ? '' : subpath.slice(1)}: the CommonJS build is the one implementation.\n` +
      `import cjs from '${from}';\n\n` +
      `export const {\n${names.map((name) => `  ${name},\n`).join('')}} = cjs;\n`,
  );
  writeFileSync(esmTypes, `export * from '${from}';\n`);
  written++;
}
if (written === 0)
  throw new Error(`${manifest.name}: no exports entry with import and require conditions`);
