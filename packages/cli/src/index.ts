/**
 * `@rds-iam/cli`: the `rds-iam` command. The binary is `rds-iam`; `main` runs it in-process.
 *
 * @example
 * ```ts
 * import { main } from '@rds-iam/cli';
 * process.exitCode = await main(['decode', '-']);
 * ```
 * @packageDocumentation
 */
export { COMMANDS, main, processIo } from './cli.js';
export type { Command } from './command.js';
export { dbUserArn, partitionOf, policyDocument } from './commands/policy-target.js';
export { buildUrl } from './commands/url.js';
export { explainRejection } from './doctor/login.js';
export { EXIT } from './errors.js';
export { colorEnabled, type Io, type Output } from './io.js';
