import { describe, expect, it } from 'vitest';
import { cancelRange } from '../../../shared/cli/commands/operator.ts';
import { parseInstantFlag } from '../../../shared/cli/parse.ts';
import { parseIsoInstant } from '../../../shared/job.ts';

describe('ISO 8601 instants (every --from/--to, the UI forms and URLs, a job start)', () => {
  it('parses instants with an offset, to the millisecond', () => {
    expect(parseIsoInstant('2026-03-01T00:00:00Z')).toEqual(new Date('2026-03-01T00:00:00.000Z'));
    expect(parseIsoInstant('2028-02-29T23:59:59.999Z')).toEqual(new Date('2028-02-29T23:59:59.999Z'));
    expect(parseIsoInstant('2026-03-01T09:30+05:30')).toEqual(new Date('2026-03-01T04:00:00.000Z'));
    expect(parseIsoInstant('2026-12-31T23:00:00-01:00')).toEqual(new Date('2027-01-01T00:00:00.000Z'));
  });

  it('refuses dates and times that do not exist, rather than rolling them over to another day', () => {
    for (const text of [
      '2026-02-29T00:00:00Z', // 2026 is not a leap year
      '2026-02-30T00:00:00Z',
      '2026-04-31T00:00:00Z',
      '2026-13-01T00:00:00Z',
      '2026-00-10T00:00:00Z',
      '2026-01-00T00:00:00Z',
      '2026-01-01T24:00:00Z',
      '2026-01-01T23:60:00Z',
      '2026-01-01T23:59:60Z',
      '2026-01-01T00:00:00+24:00',
      '2026-01-01T00:00:00+01:60',
    ]) {
      expect(parseIsoInstant(text), text).toBeUndefined();
    }
  });

  it('names the flag and the text in the CLI error, and says whether the form or the date is wrong', () => {
    expect(() => parseInstantFlag('--from', '2026-02-30T00:00:00Z')).toThrow(
      '--from "2026-02-30T00:00:00Z" is a date or time that does not exist (a day past the end of its month, an hour above 23, say): give one that does, such as 2026-03-01T00:00:00Z',
    );
    expect(() => parseInstantFlag('--to', '2026-12-01T24:00:00Z')).toThrow(
      'is a date or time that does not exist',
    );
    expect(() => parseInstantFlag('--from', '2026-02-03')).toThrow(
      '--from "2026-02-03" is not an ISO 8601 instant with an offset, such as 2026-03-01T00:00:00Z',
    );
  });

  it('piko cancel needs --interval or --from and --to, one of them', () => {
    expect(() => cancelRange({})).toThrow(
      'say which runs: --interval ISO (one interval) or --from ISO --to ISO (a range)',
    );
    expect(() =>
      cancelRange({
        interval: '2026-03-01T00:00:00Z',
        from: '2026-03-01T00:00:00Z',
        to: '2026-03-02T00:00:00Z',
      }),
    ).toThrow('give either --interval ISO (one interval) or --from ISO --to ISO (a range), not both');
  });
});
