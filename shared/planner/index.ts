export * from '../workflow/execution-name.ts';
export * from '../workflow/starter.ts';
export * from './backfill.ts';
export * from './backfill-run.ts';
export * from './dispatch.ts';
export * from './manual.ts';
export * from './scheduled.ts';
export * from './watermark.ts';
