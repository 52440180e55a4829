import type { FrameReader } from '../frames.js';
import { parseFields, queryMessage, readMessage } from './messages.js';

/** The rows of a simple query (text columns, `null` for NULL), or the server's error message. */
export interface SimpleQueryResult {
  readonly rows: ReadonlyArray<ReadonlyArray<string | null>>;
  readonly error: string | undefined;
}

/**
 * Runs one simple Query on a logged-in session and reads up to ReadyForQuery: the emulator asks
 * whether a user holds `rds_iam`, doctor reads the server clock.
 *
 * @example
 * ```ts
 * const { rows } = await simpleQuery(reader, (b) => socket.write(b), 'SELECT now()::text');
 * ```
 */
export async function simpleQuery(
  reader: FrameReader,
  write: (data: Buffer) => void,
  sql: string,
  timeoutMs?: number,
): Promise<SimpleQueryResult> {
  write(queryMessage(sql));
  const rows: (string | null)[][] = [];
  let error: string | undefined;
  for (;;) {
    const { type, body } = await readMessage(reader, timeoutMs);
    if (type === 'D') rows.push(dataRow(body));
    else if (type === 'E') error = parseFields(body).get('M') ?? 'error';
    else if (type === 'Z') return { rows, error };
  }
}

function dataRow(body: Buffer): (string | null)[] {
  const count = body.readInt16BE(0);
  const values: (string | null)[] = [];
  let offset = 2;
  for (let i = 0; i < count; i++) {
    const length = body.readInt32BE(offset);
    offset += 4;
    if (length < 0) {
      values.push(null);
      continue;
    }
    values.push(body.toString('utf8', offset, offset + length));
    offset += length;
  }
  return values;
}
