/** `piko cancel --aws` and `piko mark --aws`: the control events sent, and the answers printed. */
import { InvokeCommand } from '@aws-sdk/client-lambda';
import { describe, expect, it } from 'vitest';
import { parseControlEvent } from '../../../shared/control/events.ts';
import { cli, dispatcherCalls, invokeAnswer, lambda, REGION, stackExists } from './support.ts';

const FROM = '2026-11-20T03:00:00.000Z';
const TO = '2026-11-21T03:00:00.000Z';

describe('piko cancel --aws', () => {
  it('sends cancel with who and why, and prints what was cancelled', async () => {
    stackExists();
    lambda.on(InvokeCommand).resolves(
      invokeAnswer({
        action: 'cancel',
        jobId: 'daily',
        cancelled: [{ start: FROM, end: TO, runId: 7, status: 'running' }],
        finished: [],
        stoppedTasks: [],
      }),
    );

    const result = await cli(
      'cancel',
      'daily',
      '--interval',
      FROM,
      '--reason',
      'bad input',
      '--aws',
      '--region',
      REGION,
    );

    expect(result.code).toBe(0);
    const [call] = dispatcherCalls();
    expect(call?.event).toMatchObject({
      action: 'cancel',
      jobId: 'daily',
      from: FROM,
      to: '2026-11-20T03:00:00.001Z',
      reason: 'bad input',
    });
    expect(String((call?.event as { actor?: unknown } | undefined)?.actor)).toMatch(/.+@.+/);
    // What the CLI sends, the dispatcher accepts.
    expect(parseControlEvent(call?.event)).toMatchObject({ action: 'cancel' });
    expect(result.out[0]).toBe('daily: cancelled 1 run(s) (1 running: stopping its handler)');
  });

  it('prints the ECS task the dispatcher stopped for a running Fargate stage', async () => {
    const task =
      'arn:aws:ecs:eu-west-1:123456789012:task/Piko-FargateCluster/0123456789abcdef0123456789abcdef';
    stackExists();
    lambda.on(InvokeCommand).resolves(
      invokeAnswer({
        action: 'cancel',
        jobId: 'daily',
        cancelled: [{ start: FROM, end: TO, runId: 7, status: 'running' }],
        finished: [],
        stoppedTasks: [task],
      }),
    );

    const result = await cli('cancel', 'daily', '--interval', FROM, '--aws', '--region', REGION);

    expect(result).toEqual({
      code: 0,
      out: [
        'daily: cancelled 1 run(s) (1 running: stopping its handler)',
        `    ${FROM} → ${TO} (run 7 was running)`,
        `  stopped ECS task ${task}`,
      ],
      err: [],
    });
  });
});

describe('piko mark --aws', () => {
  it('sends mark (a dry run) and prints the counts', async () => {
    stackExists();
    lambda.on(InvokeCommand).resolves(
      invokeAnswer({
        action: 'mark',
        jobId: 'daily',
        as: 'skipped',
        dryRun: true,
        intervals: 1,
        created: 1,
        updated: 0,
        unchanged: 0,
        leftAlone: [],
      }),
    );

    const result = await cli(
      'mark',
      'daily',
      '--from',
      FROM,
      '--to',
      TO,
      '--as',
      'skipped',
      '--reason',
      'holiday',
      '--dry-run',
      '--aws',
      '--region',
      REGION,
    );

    expect(result.code).toBe(0);
    const [call] = dispatcherCalls();
    expect(call?.event).toMatchObject({
      action: 'mark',
      from: FROM,
      to: TO,
      as: 'skipped',
      dryRun: true,
      reason: 'holiday',
    });
    expect(parseControlEvent(call?.event)).toMatchObject({ action: 'mark', dryRun: true });
    expect(result.out[0]).toMatch(/^\(dry run\) daily: 1 interval\(s\); would create 1 run\(s\)/);
  });

  it('refuses a mark without a reason before calling AWS', async () => {
    const result = await cli(
      'mark',
      'daily',
      '--from',
      FROM,
      '--to',
      TO,
      '--as',
      'skipped',
      '--reason',
      ' ',
      '--aws',
    );
    expect(result.code).toBe(2);
    expect(dispatcherCalls()).toEqual([]);
  });
});
