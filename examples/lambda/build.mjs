// Bundles handler.mjs the way Lambda tooling does, with esbuild, into dist/:
//   handler.cjs  CommonJS (CDK NodejsFunction's default)
//   handler.mjs  ES module, with the `createRequire` banner those tools add for CommonJS dependencies
// Everything is inside the bundle: @rds-iam/pg and core, pg, the RDS CAs, and the AWS SDK's
// credential code, which still loads only when the first token is minted.
//
//   node build.mjs [entry ...]   (default: handler.mjs)
import { build } from 'esbuild';

/** Bundles `entry` into dist/ in both formats; resolves to the two output paths. */
export async function bundle(entry = 'handler.mjs', outdir = new URL('dist/', import.meta.url)) {
  const base = entry.replace(/\.mjs$/, '');
  const out = { cjs: `${outdir.pathname}${base}.cjs`, esm: `${outdir.pathname}${base}.mjs` };
  const common = {
    entryPoints: [new URL(entry, import.meta.url).pathname],
    bundle: true,
    platform: 'node',
    target: 'node20',
    logLevel: 'warning',
    // pg's optional native binding: never used (rds-iam pins the pure-JS client).
    external: ['pg-native'],
  };
  await build({ ...common, format: 'cjs', outfile: out.cjs });
  await build({
    ...common,
    format: 'esm',
    outfile: out.esm,
    banner: {
      js: "import { createRequire as __rdsIamCreateRequire } from 'node:module'; const require = __rdsIamCreateRequire(import.meta.url);",
    },
  });
  return out;
}

if (process.argv[1] === new URL(import.meta.url).pathname) {
  for (const entry of process.argv.slice(2).length ? process.argv.slice(2) : ['handler.mjs']) {
    const out = await bundle(entry);
    console.log(`bundled ${entry} -> ${out.cjs}, ${out.esm}`);
  }
}
