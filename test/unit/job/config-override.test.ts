import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigOverrideTooLargeError } from '../../../shared/errors.ts';
import {
  defineJob,
  MAX_CONFIG_OVERRIDE_BYTES,
  parseConfigOverride,
  parseJobConfig,
} from '../../../shared/job.ts';

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

describe('config override keys', () => {
  const nested = defineJob({
    id: 'daily_report',
    schedule: { cron: '0 3 * * *' },
    config: z.object({
      currency: z.string().default('EUR'),
      target: z.object({ bucket: z.string(), prefix: z.string().default('') }).optional(),
    }),
    handler: async () => null,
  });

  it('refuses keys the schema does not know, at any depth, naming the one meant', () => {
    expect(() =>
      parseConfigOverride(nested, { curency: 'USD', target: { bucket: 'b', prefx: 'p' } }),
    ).toThrow(
      'Invalid config for job "daily_report": unknown key "curency" (did you mean "currency"?); unknown key "target.prefx" (did you mean "target.prefix"?); the schema\'s keys are the only ones a config may have',
    );
    expect(() => parseConfigOverride(nested, { zzz: 1 })).toThrow('unknown key "zzz";');
  });

  it('accepts known keys with defaults applied; a stored config is parsed as it is', () => {
    expect(parseConfigOverride(nested, { currency: 'USD' })).toEqual({ currency: 'USD' });
    expect(parseConfigOverride(nested, { target: { bucket: 'b' } })).toEqual({
      currency: 'EUR',
      target: { bucket: 'b', prefix: '' },
    });
    // A run stored before a key was removed from the schema still parses.
    expect(parseJobConfig(nested, { currency: 'USD', removed: true })).toEqual({ currency: 'USD' });
  });
});
