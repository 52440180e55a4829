// Cold start of the Lambda example: process start to the first query's answer, in fresh processes,
// the bundled rds-iam handler against the same handler on plain node-postgres with a token minted
// beforehand by @aws-sdk/rds-signer (the floor: no token work at all in the process). Alternating
// runs, the same emulator, the same bundle format; medians and their ratio. Both bundlings of the AWS
// SDK: left to Lambda's runtime (CDK's default, build.mjs's default) and bundled.
//
//   pnpm --filter @rds-iam/example-lambda bench     (RUNS=20 by default)
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Signer } from '@aws-sdk/rds-signer';
import { DEMO_CREDENTIALS } from '@rds-iam/emulator';
import { exampleTarget } from '@rds-iam/example-local-endpoint';
import { invokeFresh, isolatedBundles, lambdaEnvironment } from './invoke.mjs';

const RUNS = Number(process.env.RUNS ?? 20);
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const target = await exampleTarget('postgres');
const iam = await isolatedBundles('handler.mjs');
const iamSdk = await isolatedBundles('handler.mjs', { sdk: 'bundled' });
const plain = await isolatedBundles('handler-plain.mjs');
try {
  const caFile = join(iam.dir, 'ca.pem');
  writeFileSync(caFile, target.iam.ssl.ca);
  const env = lambdaEnvironment(target, caFile);
  const token = await new Signer({
    hostname: target.iam.signingHost,
    port: target.iam.signingPort,
    username: target.user,
    region: target.iam.region,
    credentials: DEMO_CREDENTIALS,
  }).getAuthToken();
  const plainEnv = { ...env, RDS_TOKEN: token };
  console.log(`Lambda example cold start, process start to first query answer, N=${RUNS} each`);
  console.log('format | AWS SDK | @rds-iam/pg p50 | plain pg + signer token p50 | ratio');
  for (const format of ['cjs', 'esm']) {
    for (const [sdk, ours] of [
      ['external', iam],
      ['bundled', iamSdk],
    ]) {
      const times = { ours: [], floor: [] };
      await invokeFresh(ours.files[format], env); // warms the OS file cache for both
      await invokeFresh(plain.files[format], plainEnv);
      for (let i = 0; i < RUNS; i++) {
        times.ours.push((await invokeFresh(ours.files[format], env)).firstResponseMs);
        times.floor.push((await invokeFresh(plain.files[format], plainEnv)).firstResponseMs);
      }
      const [a, b] = [median(times.ours), median(times.floor)];
      console.log(
        `${format} | ${sdk} | ${a.toFixed(1)} ms | ${b.toFixed(1)} ms | ${(a / b).toFixed(3)}`,
      );
    }
  }
} finally {
  iam.remove();
  iamSdk.remove();
  plain.remove();
  await target.close();
}
