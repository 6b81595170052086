import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { jsonLinesRunFile, jsonLinesSink } from '../../../shared/sinks/json-lines-sink.ts';
import { defineRecord } from '../../../shared/sinks/record.ts';
import { routeRecords } from '../../../shared/sinks/route.ts';
import type { SinkContext } from '../../../shared/sinks/types.ts';
import type { SqlDatabase } from '../../../shared/sql.ts';

const Event = defineRecord('event', z.object({ id: z.int(), at: z.date() }));

describe('jsonLinesSink', () => {
  let outputDir: string;
  beforeEach(() => {
    outputDir = mkdtempSync(join(tmpdir(), 'piko-jsonl-'));
  });
  afterEach(() => {
    rmSync(outputDir, { recursive: true, force: true });
  });
  const run = (runId: number): SinkContext => ({
    jobId: 'events',
    runId,
    stateDatabase: {} as SqlDatabase,
    outputDir,
  });
  const events = (...ids: number[]) =>
    ids.map((id) => Event.of({ id, at: new Date(Date.UTC(2026, 0, 1, 0, id)) }));

  it("writes a run's records as JSON lines to the run's own file", async () => {
    const sink = jsonLinesSink(Event, { file: 'exports/events.jsonl' });

    await routeRecords(events(1, 2), [sink], run(42));

    expect(readFileSync(join(outputDir, 'exports/events.run-42.jsonl'), 'utf8')).toBe(
      '{"id":1,"at":"2026-01-01T00:01:00.000Z"}\n{"id":2,"at":"2026-01-01T00:02:00.000Z"}\n',
    );
  });

  it('replaces the lines of a run that runs again instead of appending, and keeps other runs', async () => {
    const sink = jsonLinesSink(Event, { file: 'events.jsonl' });
    await routeRecords(events(1, 2, 3), [sink], run(42));
    await routeRecords(events(9), [sink], run(43));

    await routeRecords(events(1, 2), [sink], run(42));

    expect(readFileSync(join(outputDir, 'events.run-42.jsonl'), 'utf8').trim().split('\n')).toHaveLength(2);
    expect(readFileSync(join(outputDir, 'events.run-43.jsonl'), 'utf8')).toContain('"id":9');
    expect(readdirSync(outputDir).sort()).toEqual(['events.run-42.jsonl', 'events.run-43.jsonl']);
  });

  it("receives all of a run's records in one write", () => {
    expect(jsonLinesSink(Event, { file: 'events.jsonl' }).batchSize).toBe(Number.POSITIVE_INFINITY);
  });

  it('refuses a file outside the output directory', () => {
    for (const file of ['', '/tmp/events.jsonl', '../events.jsonl', 'a/../../events.jsonl']) {
      expect(() => jsonLinesSink(Event, { file })).toThrow(
        `Invalid jsonLinesSink for record type "event":\n  - file ${JSON.stringify(file)} must be a path relative to the output directory, inside it.`,
      );
    }
  });
});

describe('jsonLinesRunFile', () => {
  it('puts the run id before the extension, adding .jsonl when there is none', () => {
    expect(jsonLinesRunFile('events.jsonl', 42)).toBe('events.run-42.jsonl');
    expect(jsonLinesRunFile('out/events.ndjson', 7)).toBe('out/events.run-7.ndjson');
    expect(jsonLinesRunFile('out/events', 7)).toBe('out/events.run-7.jsonl');
  });
});
