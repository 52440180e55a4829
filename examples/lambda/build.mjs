// Bundles handler.mjs the way Lambda tooling does, with esbuild, into dist/:
//   handler.cjs  CommonJS (CDK NodejsFunction's default)
//   handler.mjs  ES module, with the `createRequire` banner those tools add for CommonJS dependencies
// @rds-iam/pg and core, pg and the RDS CAs are inside the bundle. The AWS SDK (`@aws-sdk/*`) is left
// out by default, as CDK's NodejsFunction does for Node.js 18+ runtimes: Lambda's runtime provides it,
// and with the role's credentials in the environment rds-iam never loads it. `--sdk=bundled` puts
// it in too (an image without the SDK, or a tool that bundles everything); it is then parsed at every
// cold start, though still never evaluated unless the first token needs the SDK's credential chain.
//
//   node build.mjs [--sdk=external|bundled] [entry ...]   (default: external, handler.mjs)
import { build } from 'esbuild';

/**
 * Bundles `entry` into `outdir` in both formats; resolves to the two output paths. `sdk: 'external'`
 * (the default) leaves `@aws-sdk/*` to the Lambda runtime; `'bundled'` puts it in the bundle.
 */
export async function bundle(
  entry = 'handler.mjs',
  { sdk = 'external', outdir = new URL('dist/', import.meta.url) } = {},
) {
  if (sdk !== 'external' && sdk !== 'bundled')
    throw new Error(`sdk: 'external' or 'bundled', not ${sdk}`);
  const base = entry.replace(/\.mjs$/, '') + (sdk === 'bundled' ? '-sdk' : '');
  const out = { cjs: `${outdir.pathname}${base}.cjs`, esm: `${outdir.pathname}${base}.mjs` };
  const common = {
    entryPoints: [new URL(entry, import.meta.url).pathname],
    bundle: true,
    platform: 'node',
    target: 'node20',
    logLevel: 'warning',
    // pg's optional native binding: never used (rds-iam pins the pure-JS client).
    external: sdk === 'external' ? ['pg-native', '@aws-sdk/*'] : ['pg-native'],
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
  const args = process.argv.slice(2);
  const sdk = args.find((a) => a.startsWith('--sdk='))?.slice('--sdk='.length);
  const entries = args.filter((a) => !a.startsWith('--'));
  for (const entry of entries.length ? entries : ['handler.mjs']) {
    const out = await bundle(entry, { sdk });
    console.log(`bundled ${entry} -> ${out.cjs}, ${out.esm}`);
  }
}
