import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseControlEvent } from '../../../shared/control/events.ts';
import { InputError } from '../../../shared/errors.ts';

describe('parseControlEvent', () => {
  it('reads the scheduler’s { jobId } as a dispatch', () => {
    expect(parseControlEvent({ jobId: 'daily_sales' })).toEqual({ action: 'dispatch', jobId: 'daily_sales' });
    expect(parseControlEvent({ action: 'dispatch', jobId: 'a' })).toEqual({ action: 'dispatch', jobId: 'a' });
  });

  it('reads continue, status, pause and resume', () => {
    expect(parseControlEvent({ action: 'continue', jobId: 'a' })).toEqual({ action: 'continue', jobId: 'a' });
    expect(parseControlEvent({ action: 'status' })).toEqual({ action: 'status' });
    expect(parseControlEvent({ action: 'status', jobId: 'a' })).toEqual({ action: 'status', jobId: 'a' });
    expect(parseControlEvent({ action: 'pause', jobId: 'a' })).toEqual({ action: 'pause', jobId: 'a' });
    expect(parseControlEvent({ action: 'resume', jobId: 'a' })).toEqual({ action: 'resume', jobId: 'a' });
    expect(
      parseControlEvent({ action: 'pause', jobId: 'a', actor: 'ana@laptop', reason: 'maintenance' }),
    ).toEqual({
      action: 'pause',
      jobId: 'a',
      actor: 'ana@laptop',
      reason: 'maintenance',
    });
    expect(() => parseControlEvent({ action: 'pause', jobId: 'a', actor: '', reason: 7 })).toThrow(
      /actor must be who asks, 1 to 200 characters, got ""[\s\S]*reason must be a string, got 7/,
    );
  });

  it('reads the execution that asks to continue, and refuses a name Step Functions would not give', () => {
    expect(parseControlEvent({ action: 'continue', jobId: 'a', executionName: 'a-s-0123abcd' })).toEqual({
      action: 'continue',
      jobId: 'a',
      executionName: 'a-s-0123abcd',
    });
    expect(() => parseControlEvent({ action: 'continue', jobId: 'a', executionName: 'a:b' })).toThrow(
      'Invalid dispatcher event (action "continue"):\n  - executionName must be the name of the execution that asks (1 to 80 characters, no spaces or ":"), got "a:b"',
    );
    expect(() =>
      parseControlEvent({ action: 'continue', jobId: 'a', executionName: 'x'.repeat(81) }),
    ).toThrow('executionName must be the name of the execution that asks');
    expect(() => parseControlEvent({ action: 'continue', jobId: 'a', executionName: 7 })).toThrow(
      'executionName must be the name of the execution that asks (1 to 80 characters, no spaces or ":"), got 7',
    );
  });

  it('reads the watchdog tick, and refuses anything beside its action', () => {
    expect(parseControlEvent({ action: 'watchdog' })).toEqual({ action: 'watchdog' });
    expect(() => parseControlEvent({ action: 'watchdog', jobId: 'a' })).toThrow(
      'Invalid dispatcher event (action "watchdog"):\n  - event has unknown key(s) "jobId"; allowed: action',
    );
  });

  it('reads a backfill request with its defaults', () => {
    expect(
      parseControlEvent({
        action: 'backfill-plan',
        request: { jobId: 'a', from: '2026-01-01T00:00:00Z', to: '2026-01-02T00:00:00+01:00' },
      }),
    ).toEqual({
      action: 'backfill-plan',
      request: {
        jobId: 'a',
        from: new Date('2026-01-01T00:00:00Z'),
        to: new Date('2026-01-01T23:00:00Z'),
        reprocess: 'missing',
        dryRun: false,
        reverse: false,
        config: null,
      },
    });
    expect(
      parseControlEvent({
        action: 'backfill-plan',
        request: {
          jobId: 'a',
          from: '2026-01-01T00:00:00Z',
          to: '2026-01-02T00:00:00Z',
          reprocess: 'all',
          dryRun: true,
          reverse: true,
          config: { region: 'us' },
        },
      }),
    ).toMatchObject({ request: { reprocess: 'all', dryRun: true, reverse: true, config: { region: 'us' } } });
    expect(
      parseControlEvent({
        action: 'backfill-plan',
        request: {
          jobId: 'a',
          from: '2026-01-01T00:00:00Z',
          to: '2026-01-02T00:00:00Z',
          reprocess: 'outdated',
        },
      }),
    ).toMatchObject({ request: { reprocess: 'outdated' } });
  });

  it('reads the backfill loop step', () => {
    expect(
      parseControlEvent({
        action: 'backfill-next',
        jobId: 'a',
        backfillId: 'bf-0123456789abcdef0123',
        reverse: true,
      }),
    ).toEqual({ action: 'backfill-next', jobId: 'a', backfillId: 'bf-0123456789abcdef0123', reverse: true });
  });

  it('refuses what is not an object, and unknown actions', () => {
    expect(() => parseControlEvent('dispatch')).toThrow(
      'Dispatcher event must be a JSON object, got "dispatch"',
    );
    expect(() => parseControlEvent(null)).toThrow('Dispatcher event must be a JSON object, got null');
    expect(() => parseControlEvent([1])).toThrow('Dispatcher event must be a JSON object, got [1]');
    expect(() => parseControlEvent({ action: 'explode', jobId: 'a' })).toThrow(
      'Dispatcher event: action "explode" is not one of dispatch, continue, status, pause, resume, backfill-plan, backfill-next, runs, intervals, history, run, watchdog, backfills, backfill-pause, backfill-resume, backfill-cancel, cancel, mark',
    );
  });

  it('reads downstream of a backfill request (--downstream --aws): true only, false or absent leaves it out', () => {
    const request = { jobId: 'a', from: '2026-01-01T00:00:00Z', to: '2026-01-02T00:00:00Z' };
    const parsed = (downstream: unknown) =>
      parseControlEvent({ action: 'backfill-plan', request: { ...request, downstream } });
    expect(parsed(true)).toMatchObject({ request: { jobId: 'a', downstream: true } });
    expect(Object.keys((parsed(false) as { request: object }).request)).not.toContain('downstream');
    expect(() => parsed('yes')).toThrow('request.downstream must be true or false, got "yes"');
  });

  it('lists every problem of a backfill request at once', () => {
    expect(() =>
      parseControlEvent({
        action: 'backfill-plan',
        request: { jobId: 'A', from: '2026-01-01', to: 5, reprocess: 'some', dryrun: true },
      }),
    ).toThrow(
      'Invalid dispatcher event (action "backfill-plan"):\n' +
        '  - request has unknown key(s) "dryrun"; allowed: jobId, from, to, reprocess, dryRun, reverse, config, concurrency, downstream\n' +
        '  - request.jobId must be a job id (a-z first, then a-z, 0-9, _ or -, at most 40 characters), got "A"\n' +
        '  - request.from must be an ISO 8601 instant with an offset, such as "2026-01-01T00:00:00Z", got "2026-01-01"\n' +
        '  - request.to must be an ISO 8601 instant with an offset, such as "2026-01-01T00:00:00Z", got 5\n' +
        '  - request.reprocess must be one of missing, failed, outdated, all, got "some"',
    );
  });

  it('refuses a missing job id, unknown keys and inherited properties', () => {
    expect(() => parseControlEvent({ action: 'pause' })).toThrow(
      'Invalid dispatcher event (action "pause"):\n  - jobId is required',
    );
    expect(() => parseControlEvent({ jobId: 'a', force: true })).toThrow(
      'Invalid dispatcher event (action "dispatch"):\n  - event has unknown key(s) "force"; allowed: action, jobId',
    );
    const inherited = Object.create({ jobId: 'a' }) as Record<string, unknown>;
    expect(() => parseControlEvent(inherited)).toThrow('jobId is required');
    expect(() => parseControlEvent(JSON.parse('{"__proto__":{"jobId":"a"}}'))).toThrow(InputError);
  });

  it('answers any JSON value with an event or an InputError, nothing else', () => {
    const event = fc.oneof(
      fc.jsonValue(),
      fc.record(
        {
          action: fc.constantFrom(
            'dispatch',
            'continue',
            'status',
            'pause',
            'resume',
            'backfill-plan',
            'backfill-next',
            'x',
          ),
          jobId: fc.oneof(fc.constantFrom('a', 'job_1', 'A'), fc.string(), fc.jsonValue()),
          backfillId: fc.oneof(fc.string(), fc.jsonValue()),
          reverse: fc.jsonValue(),
          request: fc.oneof(
            fc.jsonValue(),
            fc.record(
              {
                jobId: fc.oneof(fc.constant('a'), fc.jsonValue()),
                from: fc.oneof(
                  fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
                  fc.jsonValue(),
                ),
                to: fc.oneof(
                  fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
                  fc.jsonValue(),
                ),
                reprocess: fc.oneof(fc.constantFrom('missing', 'failed', 'outdated', 'all'), fc.jsonValue()),
                dryRun: fc.jsonValue(),
                config: fc.jsonValue(),
              },
              { requiredKeys: [] },
            ),
          ),
        },
        { requiredKeys: [] },
      ),
    );
    fc.assert(
      fc.property(event, (value) => {
        try {
          const parsed = parseControlEvent(value);
          expect(typeof parsed.action).toBe('string');
        } catch (error) {
          expect(error).toBeInstanceOf(InputError);
          expect((error as Error).message.length).toBeLessThan(2_000);
        }
      }),
      { numRuns: 2_000 },
    );
  });
});
