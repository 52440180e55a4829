import { textOf } from '../variables.js';
import type { OperatorFamily } from './family.js';

/** `Bool`: `true` or `false`, in any case; a request value that is neither matches nothing. */
export const BOOL: OperatorFamily<'true' | 'false'> = {
  expects: 'true or false',
  variables: true,
  parse: (pieces) => {
    const t = textOf(pieces).toLowerCase();
    return t === 'true' || t === 'false' ? t : undefined;
  },
  operators: {
    Bool: { negated: false, matches: (request, value) => request.toLowerCase() === value },
  },
};
