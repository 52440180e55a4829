/** A truth value that may be unknown: the request context did not say. */
export type Tri = true | false | 'unknown';

/** Kleene AND: false wins, then unknown. */
export function allOf(values: Iterable<Tri>): Tri {
  let out: Tri = true;
  for (const v of values) {
    if (v === false) return false;
    if (v === 'unknown') out = 'unknown';
  }
  return out;
}

/** Kleene OR: true wins, then unknown. */
export function anyOf(values: Iterable<Tri>): Tri {
  let out: Tri = false;
  for (const v of values) {
    if (v === true) return true;
    if (v === 'unknown') out = 'unknown';
  }
  return out;
}

/** Kleene NOT. */
export function not(value: Tri): Tri {
  return value === 'unknown' ? 'unknown' : !value;
}
