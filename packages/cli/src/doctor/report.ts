import { EXIT } from '../errors.js';
import { type Io, styleFor, writeJson } from '../io.js';
import type { Check } from './check.js';

/**
 * Prints checks on `out` as they come (text) or collects them for one JSON line at the end, which
 * starts with `fields` (`proxy --check` marks its reports as log events).
 */
export function reporter(
  io: Pick<Io, 'stdout' | 'env'>,
  json: boolean,
  fields: Record<string, unknown> = {},
) {
  const checks: Check[] = [];
  const s = styleFor(io.stdout, io.env);
  const label: Record<Check['status'], string> = {
    pass: s.green('PASS'),
    fail: s.red('FAIL'),
    warn: s.yellow('WARN'),
    skip: s.dim('SKIP'),
  };
  return {
    header(text: string): void {
      if (!json) io.stdout.write(`${s.bold(text)}\n`);
    },
    add(check: Check): void {
      checks.push(check);
      if (json) return;
      io.stdout.write(`  ${label[check.status]}  ${check.id.padEnd(12)} ${check.detail}\n`);
      if (check.fix) io.stdout.write(`        ${' '.repeat(12)} ${s.cyan('fix:')} ${check.fix}\n`);
      if (check.causes?.length) {
        io.stdout.write(`        ${' '.repeat(12)} likely causes, most likely first:\n`);
        check.causes.forEach((cause, i) => {
          io.stdout.write(`        ${' '.repeat(12)}   ${i + 1}. ${cause}\n`);
        });
      }
    },
    finish(target: Record<string, unknown>): number {
      const failed = checks.filter((c) => c.status === 'fail').length;
      const warned = checks.filter((c) => c.status === 'warn').length;
      const passed = checks.filter((c) => c.status === 'pass').length;
      if (json) {
        writeJson(io.stdout, { ...fields, ok: failed === 0, ...target, checks });
      } else {
        const summary = `${passed} passed, ${failed} failed, ${warned} warning${warned === 1 ? '' : 's'}`;
        io.stdout.write(`${failed ? s.red(summary) : s.green(summary)}\n`);
      }
      return failed ? EXIT.FAILED : EXIT.OK;
    },
  };
}

/** What {@link reporter} returns. */
export type Reporter = ReturnType<typeof reporter>;
