// What the report says about the run: machine, date, package versions.
import { readFileSync } from 'node:fs';
import os from 'node:os';

const here = new URL('./', import.meta.url);

function versionOf(packageDir) {
  try {
    return JSON.parse(readFileSync(new URL(`${packageDir}/package.json`, here), 'utf8')).version;
  } catch {
    return 'unknown';
  }
}

export function machine() {
  const cpus = os.cpus();
  return {
    os: `${os.type()} ${os.release()} (${os.platform()}/${os.arch()})`,
    cpu: cpus[0]?.model?.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    loadavg: os.loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

export function versions() {
  return {
    '@rds-iam/core': versionOf('node_modules/@rds-iam/core'),
    '@rds-iam/pg': versionOf('node_modules/@rds-iam/pg'),
    '@rds-iam/mysql2': versionOf('node_modules/@rds-iam/mysql2'),
    '@rds-iam/emulator': versionOf('node_modules/@rds-iam/emulator'),
    'aws-advanced-nodejs-wrapper': versionOf('node_modules/aws-advanced-nodejs-wrapper'),
    '@aws-sdk/rds-signer': versionOf('node_modules/@aws-sdk/rds-signer'),
    '@aws-sdk/credential-providers': versionOf('node_modules/@aws-sdk/credential-providers'),
    pg: versionOf('node_modules/pg'),
    mysql2: versionOf('node_modules/mysql2'),
  };
}
