import { readFile } from 'node:fs/promises';
import { parsePolicyDocument } from '@rds-iam/policy';
import { UsageError } from './errors.js';
import { type Io, readStdin } from './io.js';

/** Policy documents read from `--policy-file` options, with the names to report them by. */
export interface PolicyFiles {
  /** The file names as given (`standard input` for `-`), by position. */
  names: string[];
  /** The parsed, validated documents. */
  documents: Record<string, unknown>[];
}

// IAM's own limit for a managed policy is 6 144 characters; anything far bigger is not a policy.
const MAX_POLICY_BYTES = 1_048_576;

/**
 * Reads and validates each `--policy-file` (`-` is standard input, once). A missing file is a usage
 * error; a malformed document throws the policy package's `ERR_POLICY_*` error, naming the file.
 */
export async function readPolicyFiles(paths: readonly string[], io: Io): Promise<PolicyFiles> {
  if (paths.filter((p) => p === '-').length > 1) {
    throw new UsageError('--policy-file - (standard input) can be given only once');
  }
  const names: string[] = [];
  const documents: Record<string, unknown>[] = [];
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
      if (err instanceof UsageError) throw err;
      throw new UsageError(`cannot read --policy-file ${path}: ${(err as Error).message}`);
    }
    documents.push(parsePolicyDocument(text, { name }));
    names.push(name);
  }
  return { names, documents };
}
