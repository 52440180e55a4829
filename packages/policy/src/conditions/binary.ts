import { textOf } from '../variables.js';
import type { OperatorFamily } from './family.js';

/** Base64 text as bytes, or `undefined` when it is not base64. */
export function parseBase64(text: string): Buffer | undefined {
  const t = text.trim();
  if (t.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(t)) return undefined;
  return Buffer.from(t, 'base64');
}

/** `BinaryEquals`: the bytes that both base64 texts stand for are equal. */
export const BINARY: OperatorFamily<Buffer> = {
  expects: 'base64 text',
  variables: false,
  parse: (pieces) => parseBase64(textOf(pieces)),
  operators: {
    BinaryEquals: {
      negated: false,
      matches: (request, value) => parseBase64(request)?.equals(value) ?? false,
    },
  },
};
