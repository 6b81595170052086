import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigOverrideTooLargeError } from '../../../shared/errors.ts';
import { defineJob, MAX_CONFIG_OVERRIDE_BYTES, parseJobConfig } from '../../../shared/job.ts';

const job = defineJob({
  id: 'daily_sales',
  schedule: { cron: '0 2 * * *' },
  config: z.object({ blob: z.string().default('') }),
  handler: async () => null,
});

describe('config override size', () => {
  it(`accepts an override of exactly ${MAX_CONFIG_OVERRIDE_BYTES} bytes of JSON`, () => {
    const blob = 'x'.repeat(MAX_CONFIG_OVERRIDE_BYTES - JSON.stringify({ blob: '' }).length);

    expect(parseJobConfig(job, { blob })).toEqual({ blob });
  });

  it('refuses one byte more, naming the limit', () => {
    // 'é' is two bytes in UTF-8: the limit counts bytes, not characters.
    const room = MAX_CONFIG_OVERRIDE_BYTES - JSON.stringify({ blob: '' }).length;
    const blob = 'é'.repeat(Math.floor(room / 2)) + 'x'.repeat((room % 2) + 1);

    expect(() => parseJobConfig(job, { blob })).toThrow(ConfigOverrideTooLargeError);
    expect(() => parseJobConfig(job, { blob })).toThrow(
      `Config override for job "daily_sales" is ${MAX_CONFIG_OVERRIDE_BYTES + 1} bytes of JSON; the limit is ${MAX_CONFIG_OVERRIDE_BYTES} bytes. ` +
        'Pass large inputs through a resource the job reads (a table, a file, a bucket) instead.',
    );
  });
});
