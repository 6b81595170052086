/**
 * A local runtime that is stopping (SIGINT, SIGTERM) starts no new work: a manual run asked of it
 * (`piko run`, the UI's Run now and Rerun) is refused and nothing is written; started, its handler
 * would be aborted when the grace period ends and the run recorded as the job's failure.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RuntimeStoppingError } from '../../../shared/errors.ts';
import { defineJob } from '../../../shared/job.ts';
import { LocalRuntime } from '../../../shared/local/runtime.ts';
import type { ProcessServices } from '../../../shared/runner/process.ts';
import { tempServices } from './support.ts';

const NOW = new Date('2026-03-02T12:30:00.000Z');
const hourly = defineJob({
  id: 'stopping_hourly',
  description: 'hourly, does nothing',
  schedule: { cron: '0 * * * *', timezone: 'UTC' },
  start: '2026-03-01T00:00:00Z',
  handler: async () => undefined,
});

describe('a local runtime that is stopping', () => {
  let services: Awaited<ReturnType<typeof tempServices>>;
  let opened: ProcessServices;
  beforeAll(async () => {
    services = await tempServices('piko-stopping-', [hourly]);
    opened = services.opened;
  });
  afterAll(() => services?.cleanup());

  it('refuses a manual run and writes nothing', async () => {
    // Arrange
    const runtime = new LocalRuntime({ process: opened, clock: () => NOW });
    await runtime.stop(1_000, new AbortController());
    const interval = { start: new Date('2026-03-02T10:00:00Z'), end: new Date('2026-03-02T11:00:00Z') };

    // Act
    const refusal = await runtime.runInterval(hourly, interval, null).catch((error: unknown) => error);

    // Assert
    expect(refusal).toBeInstanceOf(RuntimeStoppingError);
    expect((refusal as Error).message).toBe(
      'This piko process is stopping (SIGINT or SIGTERM): it starts no new work. Act from another piko process on the same store, or once this one has started again.',
    );
    expect(await opened.store.listRuns(hourly.id)).toEqual([]);
  });
});
