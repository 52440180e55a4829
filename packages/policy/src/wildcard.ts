/**
 * A piece of a pattern after policy variables are put in: text written in the policy, where `*` and
 * `?` are wildcards, or text that came from the request (a variable's value), which is matched as is.
 */
export interface Piece {
  text: string;
  literal: boolean;
}

const cache = new Map<string, RegExp>();

/**
 * The pieces as a regular expression anchored at both ends: `*` any run of characters, `?` exactly
 * one, in written text only.
 */
export function wildcardRegExp(pieces: readonly Piece[], ignoreCase = false): RegExp {
  const key = `${ignoreCase ? 'i' : 's'}${JSON.stringify(pieces)}`;
  let re = cache.get(key);
  if (!re) {
    const body = pieces
      .map((p) =>
        p.literal
          ? escapeRegExp(p.text)
          : p.text
              .split('')
              .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : escapeRegExp(c)))
              .join(''),
      )
      .join('');
    re = new RegExp(`^${body}$`, ignoreCase ? 'si' : 's');
    if (cache.size > 1000) cache.clear();
    cache.set(key, re);
  }
  return re;
}

/** Whether `value` matches the written glob `pattern` (no variables). */
export function globMatches(pattern: string, value: string, ignoreCase = false): boolean {
  return wildcardRegExp([{ text: pattern, literal: false }], ignoreCase).test(value);
}

function escapeRegExp(text: string): string {
  return text.replace(/[\\^$.|+()[\]{}*?]/g, '\\$&');
}
