import { RdsIamError } from '@rds-iam/core';
import { afterEach, describe, expect, it } from 'vitest';
import { requestContextOf } from '../src/request-context.js';

const timeOf = (time: string) => {
  const { context } = requestContextOf({ time }, 'eu-west-1', () => Date.UTC(2025, 5, 1, 12));
  return { time: context['aws:CurrentTime'], epoch: context['aws:EpochTime'] };
};

describe('--time reads dates as the policy reads aws:CurrentTime', () => {
  const zone = process.env.TZ;
  afterEach(() => {
    if (zone === undefined) delete process.env.TZ;
    else process.env.TZ = zone;
  });

  it('"now", ISO 8601 and epoch seconds give aws:CurrentTime and aws:EpochTime', () => {
    const noon = { time: '2025-06-01T12:00:00Z', epoch: '1748779200' };
    expect(timeOf('now')).toEqual(noon);
    expect(timeOf('2025-06-01T12:00:00Z')).toEqual(noon);
    expect(timeOf('2025-06-01T14:00:00+02:00')).toEqual(noon);
    expect(timeOf('1748779200')).toEqual(noon);
  });

  it('a date without a zone is UTC, whatever the local zone (Date.parse read it as local time)', () => {
    process.env.TZ = 'America/New_York';
    expect(timeOf('2025-06-01 12:00')).toEqual({
      time: '2025-06-01T12:00:00Z',
      epoch: '1748779200',
    });
  });

  it('a day that does not exist is refused (Date.parse rolled 2025-02-30 over to March 2)', () => {
    for (const bad of ['2025-02-30', '2025-02-30T00:00:00Z', 'June 1, 2025', 'soon']) {
      let thrown: unknown;
      try {
        timeOf(bad);
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(RdsIamError);
      expect(thrown).toMatchObject({
        code: 'ERR_POLICY_CONTEXT',
        message: expect.stringContaining(`aws:CurrentTime ${JSON.stringify(bad)} is not a date`),
      });
    }
  });
});
