/**
 * The query parameters of a presigned token that are secret: the signature proves possession of the
 * secret key for 15 minutes, and a session token is itself a credential.
 */
const SECRET_PARAMS = ['X-Amz-Signature', 'X-Amz-Security-Token'];

// Matches `Name=value` and the URL-encoded `Name%3Dvalue` (a token inside a connection URL), up to the
// next `&` (raw or encoded), quote, whitespace or end.
const SECRET_PATTERN = new RegExp(
  `(${SECRET_PARAMS.join('|')})(=|%3D)(?:(?!%26)[^&\\s"'\`<>])+`,
  'gi',
);

/**
 * Strips the secret parts of any IAM auth token found in `text`, keeping the rest (host, user, dates,
 * access key id) so the text stays useful for debugging.
 *
 * @example
 * ```ts
 * redact(`login failed with ${token}`);
 * // 'login failed with db:5432/?Action=connect&...&X-Amz-Signature=[redacted]'
 * ```
 */
export function redact(text: string): string {
  return text.replace(SECRET_PATTERN, '$1$2[redacted]');
}
