import { afterEach, describe, expect, it, vi } from 'vitest';

const context = {
  invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:Piko-Dispatcher',
  getRemainingTimeInMillis: () => 60_000,
};

afterEach(() => {
  vi.unstubAllEnvs();
  vi.resetModules();
});

describe('dispatcher handler', () => {
  it('fails at load time, naming the variable, when the stack did not set it', async () => {
    vi.stubEnv('PIKO_MYSQL__DSN', '');
    await expect(import('../../../functions/dispatcher.ts')).rejects.toThrow(
      'Invalid configuration:\n  - environment variable PIKO_MYSQL__DSN is not set; the Piko stack sets it on this function (redeploy with npx cdk deploy)',
    );
  });

  it('refuses an invalid event with an InputError, before touching the database', async () => {
    vi.stubEnv('PIKO_MYSQL__DSN', 'mysql://piko_admin@proxy.invalid:3306/piko');
    vi.stubEnv('PIKO_AWS__STACK_NAME', 'Piko');
    vi.stubEnv('AWS_REGION', 'eu-west-1');
    const { handler } = await import('../../../functions/dispatcher.ts');
    const error = await handler({ action: 'explode', jobId: 'x' }, context).catch(
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).name).toBe('InputError');
    expect((error as Error).message).toBe(
      'InputError: Dispatcher event: action "explode" is not one of dispatch, continue, status, pause, resume, backfill-plan, backfill-next, runs, intervals, history, run, watchdog, backfills, backfill-pause, backfill-resume, backfill-cancel, cancel, mark',
    );
  });
});
