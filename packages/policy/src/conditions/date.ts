import { textOf } from '../variables.js';
import { type OperatorFamily, orderedOperators } from './family.js';

const ISO =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/**
 * A date as IAM reads condition dates: ISO 8601 (`2025-06-01`, `2025-06-01T12:00Z`,
 * `2025-06-01T12:00:00.000+02:00`; UTC when no zone is written) or whole seconds since 1970. Returns
 * milliseconds since 1970, or `undefined` (for a day that does not exist too, such as 2025-02-30).
 *
 * @example
 * ```ts
 * parseDate('2025-06-01 12:00'); // 1748779200000: UTC, whatever the local time zone
 * parseDate('2025-02-30'); // undefined
 * ```
 */
export function parseDate(text: string): number | undefined {
  const t = text.trim();
  if (/^-?\d+$/.test(t)) return Number(t) * 1000;
  const m = ISO.exec(t);
  if (!m) return undefined;
  const [, y, mo, d, h = '00', mi = '00', s = '00', frac = '', zone = 'Z'] = m;
  const iso = `${y}-${mo}-${d}T${h}:${mi}:${s}.${(frac || '0').padEnd(3, '0').slice(0, 3)}${zone.length === 5 ? `${zone.slice(0, 3)}:${zone.slice(3)}` : zone}`;
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return undefined;
  // Date.parse rolls 2025-02-30 over to March: IAM refuses a day that does not exist.
  const check = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d)));
  if (check.getUTCMonth() !== Number(mo) - 1 || check.getUTCDate() !== Number(d)) return undefined;
  if (Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) return undefined;
  return ms;
}

/** `Date*`: both sides read as instants, so `aws:EpochTime` seconds compare with ISO dates. */
export const DATE: OperatorFamily<number> = {
  expects: 'a date: ISO 8601 (2025-06-01T12:00:00Z) or seconds since 1970',
  variables: false,
  parse: (pieces) => parseDate(textOf(pieces)),
  operators: orderedOperators('Date', parseDate),
};
