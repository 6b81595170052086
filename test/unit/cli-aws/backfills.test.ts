import { InvokeCommand } from '@aws-sdk/client-lambda';
import { StartExecutionCommand } from '@aws-sdk/client-sfn';
import { describe, expect, it } from 'vitest';
import type { BackfillChangeResponse, BackfillsResponse } from '../../../shared/control/events.ts';
import {
  BACKFILL_ARN,
  cli,
  dispatcherCalls,
  invokeAnswer,
  lambda,
  REGION,
  sfn,
  stackExists,
} from './support.ts';

const ID = 'bf-0123456789abcdef0123';
const RUNS = {
  waiting: 0,
  pending: 5,
  queued: 0,
  running: 1,
  succeeded: 4,
  failed: 0,
  cancelled: 0,
  skipped: 0,
};
const LISTED: BackfillsResponse = {
  action: 'backfills',
  backfills: [
    {
      backfillId: ID,
      jobId: 'daily',
      status: 'paused',
      from: '2026-11-01T00:00:00.000Z',
      to: '2026-11-11T00:00:00.000Z',
      reprocess: 'missing',
      reverse: false,
      concurrency: 2,
      created: 10,
      rerun: 0,
      skipped: 0,
      runs: RUNS,
      createdAt: '2026-11-20T00:00:00.000Z',
      updatedAt: '2026-11-20T01:00:00.000Z',
      error: null,
      lastAction: {
        kind: 'backfill-pause',
        actor: 'ops@laptop',
        reason: 'db maintenance',
        at: '2026-11-20T01:00:00.000Z',
      },
    },
  ],
};

describe('piko backfills --aws and piko backfill pause|resume|cancel --aws', () => {
  it('lists the stack’s backfills through the dispatcher, printed as locally', async () => {
    stackExists();
    lambda.on(InvokeCommand).resolves(invokeAnswer(LISTED));

    const result = await cli('backfills', 'daily', '--aws', '--region', REGION);

    expect(dispatcherCalls().map((call) => call.event)).toEqual([{ action: 'backfills', jobId: 'daily' }]);
    expect(result.code).toBe(0);
    expect(result.out).toEqual([
      `${ID} daily paused: 2026-11-01T00:00:00.000Z → 2026-11-11T00:00:00.000Z, reprocess missing, concurrency 2`,
      '  planned 10 created, 0 rerun, 0 skipped; runs: succeeded 4, failed 0, running 1, queued 0, pending 5, cancelled 0',
      '  created 2026-11-20T00:00:00.000Z, updated 2026-11-20T01:00:00.000Z; last action backfill-pause by ops@laptop at 2026-11-20T01:00:00.000Z (db maintenance)',
    ]);
  });

  it('lists the downstream backfills of a --downstream backfill under it, in the order they run', async () => {
    stackExists();
    const [listed] = LISTED.backfills;
    const downstream = [
      {
        jobId: 'weekly',
        backfillId: 'bf-11111111111111111111',
        from: '2026-10-26T04:00:00.000Z',
        to: '2026-11-16T04:00:00.000Z',
        status: 'planned' as const,
      },
      {
        jobId: 'monthly',
        backfillId: 'bf-22222222222222222222',
        from: '2026-10-01T05:00:00.000Z',
        to: '2026-11-01T05:00:00.000Z',
        status: 'pending' as const,
      },
    ];
    lambda
      .on(InvokeCommand)
      .resolves(invokeAnswer({ ...LISTED, backfills: [{ ...listed!, status: 'done', downstream }] }));

    const result = await cli('backfills', 'daily', '--aws', '--region', REGION);

    expect(result.code).toBe(0);
    expect(result.out.slice(3)).toEqual([
      '  then bf-11111111111111111111 weekly planned: 2026-10-26T04:00:00.000Z → 2026-11-16T04:00:00.000Z, reprocess all',
      '  then bf-22222222222222222222 monthly pending: 2026-10-01T05:00:00.000Z → 2026-11-01T05:00:00.000Z, reprocess all',
    ]);
  });

  it('pauses with who and why, and a resume of a cancelled backfill starts its state machine again', async () => {
    stackExists();
    const paused: BackfillChangeResponse = {
      action: 'backfill-pause',
      backfillId: ID,
      jobId: 'daily',
      from: 'planned',
      to: 'paused',
      runs: 0,
    };
    const restart = {
      jobId: 'daily',
      from: '2026-11-01T00:00:00.000Z',
      to: '2026-11-11T00:00:00.000Z',
      reprocess: 'missing' as const,
      dryRun: false as const,
      reverse: false,
      config: null,
    };
    const resumed: BackfillChangeResponse = {
      ...paused,
      action: 'backfill-resume',
      from: 'cancelled',
      to: 'planning',
      runs: 5,
      restart,
    };
    lambda.on(InvokeCommand).resolvesOnce(invokeAnswer(paused)).resolvesOnce(invokeAnswer(resumed));
    sfn.on(StartExecutionCommand).resolves({
      executionArn: `${BACKFILL_ARN.replace(':stateMachine:', ':execution:')}:x`,
      startDate: new Date(),
    });

    const pause = await cli(
      'backfill',
      'pause',
      ID,
      '--reason',
      'db maintenance',
      '--aws',
      '--region',
      REGION,
    );
    const resume = await cli('backfill', 'resume', ID, '--aws', '--region', REGION);

    expect(pause.code).toBe(0);
    expect(pause.out).toEqual([
      `backfill ${ID} paused: none of its runs starts until it is resumed; running runs finish`,
    ]);
    const events = dispatcherCalls().map((call) => call.event as Record<string, unknown>);
    expect(events[0]).toMatchObject({ action: 'backfill-pause', backfillId: ID, reason: 'db maintenance' });
    expect(events[0]!.actor).toMatch(/^.+@.+$/);
    expect(events[1]).toMatchObject({ action: 'backfill-resume', backfillId: ID, reason: null });
    expect(resume.code).toBe(0);
    const starts = sfn.commandCalls(StartExecutionCommand).map((call) => call.args[0].input);
    expect(starts).toHaveLength(1);
    expect(starts[0]).toMatchObject({ stateMachineArn: BACKFILL_ARN, input: JSON.stringify(restart) });
    expect(starts[0]!.name).toMatch(new RegExp(`^${ID}-resume-[0-9a-z]+$`));
    expect(resume.out[0]).toBe(`backfill ${ID} resumed: 5 cancelled run(s) pending again`);
  });

  it('pause of a done --downstream backfill names the downstream backfill its chain runs now, which the dispatcher paused', async () => {
    stackExists();
    const child = 'bf-11111111111111111111';
    lambda.on(InvokeCommand).resolves(
      invokeAnswer({
        action: 'backfill-pause',
        backfillId: child,
        jobId: 'weekly',
        from: 'planned',
        to: 'paused',
        runs: 0,
      } satisfies BackfillChangeResponse),
    );

    const pause = await cli('backfill', 'pause', ID, '--aws', '--region', REGION);

    expect(pause.code).toBe(0);
    expect(pause.out).toEqual([
      `backfill ${child} paused: none of its runs starts until it is resumed; running runs finish (the downstream backfill the chain of ${ID} runs now)`,
    ]);
  });
});
