import type { WorkflowJob } from '../../../infra/constructs/job-workflow.ts';
import type { ExecutionInput, RunItem } from '../../../shared/workflow/starter.ts';

const retry = { attempts: 3, backoffMs: 30_000, rate: 2, maxBackoffMs: 3_600_000 };

/** JobDefinition-shaped jobs: only what shapes the workflow. */
export const singleStageJob: WorkflowJob = {
  id: 'single',
  concurrency: 4,
  retry,
  timeoutMs: 300_000,
  stages: [{ kind: 'lambda', name: 'main' }],
};

export const twoStageJob: WorkflowJob = {
  id: 'two_stage',
  concurrency: 3,
  retry,
  timeoutMs: 300_000,
  stages: [
    { kind: 'lambda', name: 'extract' },
    { kind: 'lambda', name: 'load' },
  ],
};

export const fargateJob: WorkflowJob = {
  id: 'heavy',
  concurrency: 2,
  retry,
  timeoutMs: 300_000,
  stages: [
    { kind: 'lambda', name: 'extract' },
    { kind: 'fargate', name: 'crunch', cpu: 1024, memoryMiB: 2048 },
    { kind: 'lambda', name: 'load' },
  ],
};

export function runItems(count: number): RunItem[] {
  const start = Date.UTC(2026, 0, 1);
  return Array.from({ length: count }, (_, index) => ({
    runId: index + 1,
    generation: 0,
    interval: {
      start: new Date(start + index * 3_600_000).toISOString(),
      end: new Date(start + (index + 1) * 3_600_000).toISOString(),
    },
  }));
}

export function executionInput(
  job: WorkflowJob,
  count: number,
  lane: ExecutionInput['lane'] = 'scheduled',
  executionName = `${job.id}-batch-1`,
): ExecutionInput {
  return {
    jobId: job.id,
    executionName,
    lane,
    backfillId: lane === 'backfill' ? 'bf-1' : null,
    runs: runItems(count),
  };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
