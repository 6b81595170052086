/**
 * The planner (DESIGN.md §4), one for both runtimes: scheduled planning, dispatch, backfills (planned,
 * dry-run, or run to their end by one process), manual runs and watermark resets. It owns the store
 * transactions these need; it may import the store and the workflow contract, never a runtime, the
 * AWS SDK or the CLI (what runs executions comes in as a port: `WorkflowStarter`, `LaneRunner`).
 */
export * from '../workflow/execution-name.ts';
export * from '../workflow/starter.ts';
export * from './backfill.ts';
export * from './backfill-chain.ts';
export * from './backfill-control.ts';
export * from './backfill-downstream.ts';
export * from './backfill-record.ts';
export * from './backfill-run.ts';
export * from './dependencies.ts';
export * from './dispatch.ts';
export * from './manual.ts';
export * from './operator.ts';
export * from './scheduled.ts';
export * from './wake.ts';
export * from './watermark.ts';
