import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// BENCHMARKS.md is part generated (`pnpm bench:compare`), part written by hand from other benchmarks
// (cold start, the Lambda example). A run of bench:compare once rewrote the whole file and would have
// dropped the hand-written figures; it must keep them.
const root = new URL('../../', import.meta.url);
const report: {
  HAND_WRITTEN_FROM: string;
  withHandWrittenSections(generated: string, previous: string): string;
} = await import(new URL('bench/compare/report.mjs', root).href);

describe('BENCHMARKS.md', () => {
  const current = readFileSync(fileURLToPath(new URL('BENCHMARKS.md', root)), 'utf8');
  const handWritten = current.slice(current.indexOf(report.HAND_WRITTEN_FROM));

  it('has the hand-written sections bench:compare keeps: cold start and the Lambda example', () => {
    expect(current).toContain(report.HAND_WRITTEN_FROM);
    expect(handWritten).toMatch(/^## Lambda example cold start/m);
  });

  it('a bench:compare run rewrites its own part and keeps the hand-written sections after it', () => {
    const generated = '# Benchmarks\n\nfresh figures\n';
    const next = report.withHandWrittenSections(generated, current);
    expect(next.startsWith('# Benchmarks\n\nfresh figures\n\n')).toBe(true);
    expect(next.endsWith(handWritten)).toBe(true);
    expect(next).not.toContain('## Results'); // the old generated part is gone
    expect(report.withHandWrittenSections(generated, '')).toBe(generated);
  });
});
