export * from './backfill.ts';
export * from './dispatch.ts';
export * from './execution-name.ts';
export * from './manual.ts';
export * from './scheduled.ts';
export * from './starter.ts';
export * from './watermark.ts';
