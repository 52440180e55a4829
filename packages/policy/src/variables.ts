import type { ContextReader } from './context.js';
import type { Piece } from './wildcard.js';

/** `${key}` or `${key, 'default'}` in a policy. */
export interface VariableRef {
  /** The context key, as written (keys compare case-insensitively). */
  key: string;
  /** The text put in when the request has no value for `key`. */
  fallback?: string;
  /** The variable as written, for explanations: `${aws:username}`. */
  written: string;
}

/** Policy text cut into written text (wildcards apply), literal text and variables. */
export type Template = readonly (Piece | VariableRef)[];

/** Whether a template part is a variable. */
export function isVariable(part: Piece | VariableRef): part is VariableRef {
  return 'key' in part;
}

/**
 * Cuts policy text into its variables. Variables exist only in `2012-10-17` documents: in a
 * `2008-10-17` document (or one without `Version`) `${aws:username}` is seven characters of text, as
 * IAM reads it. `${*}`, `${?}` and `${$}` stand for the characters themselves, never wildcards. Text
 * that is not a well-formed variable (`${` without its `}`) stays text.
 */
export function parseTemplate(text: string, withVariables: boolean): Template {
  if (!withVariables || !text.includes('${')) return [{ text, literal: false }];
  const parts: (Piece | VariableRef)[] = [];
  let written = '';
  let i = 0;
  const flush = () => {
    if (written) parts.push({ text: written, literal: false });
    written = '';
  };
  while (i < text.length) {
    if (text.startsWith('${', i)) {
      const parsed = readVariable(text, i + 2);
      if (parsed) {
        flush();
        parts.push(parsed.part);
        i = parsed.end;
        continue;
      }
    }
    written += text[i];
    i++;
  }
  flush();
  return parts;
}

/** Reads a variable's body after `${`; undefined when it is not one. */
function readVariable(
  text: string,
  start: number,
): { part: Piece | VariableRef; end: number } | undefined {
  let i = start;
  let key = '';
  while (i < text.length && text[i] !== '}' && text[i] !== ',') key += text[i++];
  key = key.trim();
  if (key === '') return undefined;
  let fallback: string | undefined;
  if (text[i] === ',') {
    i++;
    while (text[i] === ' ') i++;
    if (text[i] !== "'") return undefined;
    i++;
    fallback = '';
    for (;;) {
      if (i >= text.length) return undefined;
      if (text[i] === "'") {
        // Two quotes are one quote in the text; one quote closes the default.
        if (text[i + 1] === "'") {
          fallback += "'";
          i += 2;
          continue;
        }
        i++;
        break;
      }
      fallback += text[i++];
    }
    while (text[i] === ' ') i++;
  }
  if (text[i] !== '}') return undefined;
  const end = i + 1;
  if (fallback === undefined && (key === '*' || key === '?' || key === '$')) {
    return { part: { text: key, literal: true }, end };
  }
  if (/\s/.test(key)) return undefined;
  const written = text.slice(start - 2, end);
  return { part: { key, ...(fallback !== undefined ? { fallback } : {}), written }, end };
}

/** The variables of a template, as written. */
export function variablesOf(template: Template): VariableRef[] {
  return template.filter(isVariable);
}

/** A template with the request's values put in. */
export interface Resolved {
  /**
   * The text to match, or `undefined` when a variable has no value and no default: then the text
   * matches nothing, as IAM documents for a variable without a value.
   */
  pieces: Piece[] | undefined;
  /**
   * A variable's key was not given (`missing: 'unknown'`): it stands as `*` in `pieces`, and a match is
   * only possible, not certain.
   */
  unknown: boolean;
  /** The variables' keys that the request did not carry. */
  missing: string[];
}

/**
 * Puts the request's values in. A value from the request is literal text (a user named `a*` is not a
 * wildcard). A key with several values cannot fill a variable: it counts as having no value.
 */
export function resolveTemplate(template: Template, reader: ContextReader): Resolved {
  const pieces: Piece[] = [];
  const missing: string[] = [];
  let unknown = false;
  let unresolved = false;
  for (const part of template) {
    if (!isVariable(part)) {
      pieces.push(part);
      continue;
    }
    const found = reader.lookup(part.key);
    if (found.kind === 'present' && found.values.length === 1) {
      pieces.push({ text: found.values[0] ?? '', literal: true });
      continue;
    }
    if (found.kind !== 'present' || found.values.length === 0) missing.push(part.key);
    if (found.kind === 'unknown') {
      // Could be anything: a wildcard tells whether the rest of the text can match at all.
      unknown = true;
      pieces.push({ text: '*', literal: false });
      continue;
    }
    if (part.fallback !== undefined) pieces.push({ text: part.fallback, literal: true });
    else unresolved = true;
  }
  return { pieces: unresolved ? undefined : pieces, unknown, missing };
}

/** The pieces as one string (for exact comparisons and explanations). */
export function textOf(pieces: readonly Piece[]): string {
  return pieces.map((p) => p.text).join('');
}
