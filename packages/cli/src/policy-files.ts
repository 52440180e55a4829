import { readFile } from 'node:fs/promises';
import { type CompiledPolicies, compilePolicies } from '@rds-iam/policy';
import { UsageError } from './errors.js';
import { type Io, readStdin } from './io.js';

// IAM's own limit for a managed policy is 6 144 characters; anything far bigger is not a policy.
const MAX_POLICY_BYTES = 1_048_576;

/**
 * Reads each `--policy-file` (`-` is standard input, once) and compiles the documents once, named
 * by their files (`standard input` for `-`), for every evaluation the command makes. A missing file
 * is a usage error; a malformed document throws the policy package's `ERR_POLICY_*` error, naming
 * the file.
 */
export async function readPolicyFiles(paths: readonly string[], io: Io): Promise<CompiledPolicies> {
  if (paths.filter((p) => p === '-').length > 1) {
    throw new UsageError('--policy-file - (standard input) can be given only once');
  }
  const names: string[] = [];
  const texts: string[] = [];
  for (const path of paths) {
    const name = path === '-' ? 'standard input' : path;
    let text: string;
    try {
      text =
        path === '-'
          ? await readStdin(
              io,
              MAX_POLICY_BYTES,
              'standard input holds more than 1 MiB: that is not a policy document',
            )
          : await readFile(path, 'utf8');
    } catch (err) {
      // A malformed document read before this file is still the first error, as it was found first.
      compilePolicies(texts, { names });
      if (err instanceof UsageError) throw err;
      throw new UsageError(`cannot read --policy-file ${path}: ${(err as Error).message}`);
    }
    texts.push(text);
    names.push(name);
  }
  return compilePolicies(texts, { names });
}
