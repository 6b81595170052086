/**
 * Per-run logs through the real binary (issue 13 item 2): `piko run` keeps each run's `ctx.log`
 * lines under the data directory, the Fargate stage's (a child process) included, every attempt's in
 * the same file; `piko runs --logs` prints them, secrets redacted.
 */
import { symlink } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flaky } from '../fixtures/jobs/defs/failing.ts';
import { stages } from '../fixtures/jobs/defs/stages.ts';
import { createE2eState, type E2eState, FIXTURE_JOBS_DIR, jsonLines, ROOT, runPiko } from './support.ts';

const AT = '2026-03-01T01:00:00Z';

describe('piko runs --logs after piko run', () => {
  let state: E2eState;
  const cli = () => ({
    env: { ...state.env, PIKO_JOBS_DIR: FIXTURE_JOBS_DIR, PIKO_TEST_JOBS: `${stages.id},${flaky.id}` },
    cwd: state.dataDir,
  });

  beforeAll(async () => {
    state = await createE2eState('sqlite', 'logs-e2e');
    // The Fargate child starts with `node --import tsx`, resolved from the working directory.
    await symlink(path.join(ROOT, 'node_modules'), path.join(state.dataDir, 'node_modules'), 'dir');
  });
  afterAll(async () => {
    await state?.cleanup();
  });

  it("prints a run's ctx.log lines, the Fargate child's among them, redacted", async () => {
    // Arrange
    const run = await runPiko(['run', stages.id, '--at', AT], cli());
    expect(run.code, run.stderr).toBe(0);
    // The process's own log lines mask a secret-named field as the stored ones do.
    expect(`${run.stdout}${run.stderr}`).toContain('planned');
    expect(`${run.stdout}${run.stderr}`).not.toContain('hunter2-in-a-field');

    // Act
    const result = await runPiko(['runs', stages.id, '--logs'], cli());

    // Assert
    expect(result.code, result.stderr).toBe(0);
    const logFile = path.join(state.dataDir, 'logs', stages.id, '1.log');
    expect(result.stdout).toContain(`  logs (${logFile}):`);
    expect(result.stdout).toMatch(/ INFO {2}\[attempt 1 plan\] planned n=21 password=<redacted>\n/);
    expect(result.stdout).toMatch(/ INFO {2}\[attempt 1 crunch\] crunching in the container pid=\d+\n/);
    expect(result.stdout).not.toContain('hunter2-in-a-field');
  });

  it("keeps every attempt's lines in the run's file with its attempt number (--json)", async () => {
    // Arrange: fails twice, succeeds on the third attempt
    const run = await runPiko(['run', flaky.id, '--at', AT], cli());
    expect(run.code, run.stderr).toBe(0);

    // Act
    const result = await runPiko(['runs', flaky.id, '--logs', '--json'], cli());

    // Assert
    expect(result.code, result.stderr).toBe(0);
    const [line] = jsonLines(result.stdout);
    const logs = (line?.logs ?? []) as { attempt: number; level: string; message: string }[];
    expect(logs.map((entry) => [entry.attempt, entry.level, entry.message])).toEqual([
      [1, 'info', 'attempt 1 begins'],
      [1, 'error', 'attempt 1 of stage main failed: flaky: attempt 1 of 2026-03-01T00:00:00.000Z fails'],
      [2, 'info', 'attempt 2 begins'],
      [2, 'error', 'attempt 2 of stage main failed: flaky: attempt 2 of 2026-03-01T00:00:00.000Z fails'],
      [3, 'info', 'attempt 3 begins'],
    ]);
  });
});
