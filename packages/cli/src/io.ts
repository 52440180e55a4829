import { UsageError } from './errors.js';

/** A stream the CLI writes to. */
export interface Output {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

/** What a command gets from its process: streams and environment, replaceable in tests. */
export interface Io {
  readonly stdout: Output;
  readonly stderr: Output;
  readonly stdin: NodeJS.ReadableStream & { readonly isTTY?: boolean };
  readonly env: NodeJS.ProcessEnv;
}

/** ANSI styles that turn into plain text when colour is off. */
export interface Style {
  readonly enabled: boolean;
  bold(text: string): string;
  dim(text: string): string;
  red(text: string): string;
  green(text: string): string;
  yellow(text: string): string;
  cyan(text: string): string;
}

/**
 * Colour only on a terminal, never with `NO_COLOR` (any non-empty value, see no-color.org) or
 * `TERM=dumb`; `FORCE_COLOR` (non-empty, not `0`) turns it on for a pipe.
 */
export function colorEnabled(stream: Output, env: NodeJS.ProcessEnv): boolean {
  if (env.NO_COLOR) return false;
  if (env.FORCE_COLOR && env.FORCE_COLOR !== '0' && env.FORCE_COLOR !== 'false') return true;
  if (env.TERM === 'dumb') return false;
  return stream.isTTY === true;
}

/** The styles for one stream. */
export function styleFor(stream: Output, env: NodeJS.ProcessEnv): Style {
  const enabled = colorEnabled(stream, env);
  const wrap =
    (open: number, close: number) =>
    (text: string): string =>
      enabled ? `\u001b[${open}m${text}\u001b[${close}m` : text;
  return {
    enabled,
    bold: wrap(1, 22),
    dim: wrap(2, 22),
    red: wrap(31, 39),
    green: wrap(32, 39),
    yellow: wrap(33, 39),
    cyan: wrap(36, 39),
  };
}

/** Writes a value as one line of JSON. */
export function writeJson(out: Output, value: unknown): void {
  out.write(`${JSON.stringify(value)}\n`);
}

/**
 * Reads all of standard input as UTF-8, refusing more than `maxBytes` with a usage error saying
 * `tooBig` (what was expected is small: a token, a policy).
 */
export async function readStdin(io: Io, maxBytes: number, tooBig: string): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of io.stdin) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += buffer.length;
    if (size > maxBytes) throw new UsageError(tooBig);
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
