/**
 * The two synths of the artifact tier as processes, with no vitest import so the global setup can
 * start them in the background (`global-setup.ts`): the real app (`infra/app.ts`, read back by
 * `synth.ts`) and the fixture app (`workflow-stack.ts`). Each is a once-per-run step (`once.ts`).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../../../infra/bundling.ts';
import { createFixtureProject, REPOSITORY_ROOT, synthProject } from './fixture-project.ts';

/** A synth takes 8–15 s on a quiet machine; generous for a busy one. */
const SYNTH_TIMEOUT_MS = 200_000;

/** Batches one backfill execution runs before it continues as new, in the fixture app. */
export const FIXTURE_BACKFILL_BATCHES_PER_EXECUTION = 2;

/** The once-per-run step of the fixture app's synth. */
export const FIXTURE_SYNTH_STEP = 'fixture-synth';

/**
 * Synthesizes the fixture app (`test/artifacts/fixtures/jobs`) with bundling into
 * `<runDir>/fixture-cdk.out`: the jobs that fail, retry and time out on purpose, and a backfill state
 * machine that continues as new after {@link FIXTURE_BACKFILL_BATCHES_PER_EXECUTION} batches.
 * `signal` kills it (the run ended first).
 */
export async function synthesizeFixture(runDir: string, signal?: AbortSignal): Promise<{ outdir: string }> {
  const root = createFixtureProject({
    root: path.join(runDir, 'fixture-project'),
    jobsDir: path.join(REPOSITORY_ROOT, 'test', 'artifacts', 'fixtures', 'jobs'),
    infraEdits: [
      [
        'constructs/backfill-workflow.ts',
        /BACKFILL_BATCHES_PER_EXECUTION = [\d_]+;/,
        `BACKFILL_BATCHES_PER_EXECUTION = ${FIXTURE_BACKFILL_BATCHES_PER_EXECUTION};`,
      ],
    ],
  });
  const out = path.join(runDir, 'fixture-cdk.out');
  const cdkJson = JSON.parse(readFileSync(path.join(REPOSITORY_ROOT, 'cdk.json'), 'utf8')) as {
    context?: Record<string, unknown>;
  };
  await synthProject(
    root,
    out,
    {
      ...cdkJson.context,
      'aws:cdk:enable-path-metadata': true,
      'aws:cdk:enable-asset-metadata': true,
    },
    signal,
  );
  return { outdir: out };
}

/** The once-per-run step of {@link synthesizedApp}. */
export const SYNTH_STEP = 'synth';

/**
 * Runs `infra/app.ts` as `cdk synth` would (its own process, context from cdk.json, path metadata
 * on) into `<runDir>/cdk.out`; `signal` kills it (the run ended first).
 */
export async function synthesize(runDir: string, signal?: AbortSignal): Promise<{ outdir: string }> {
  const outdir = path.join(runDir, 'cdk.out');
  mkdirSync(outdir, { recursive: true });
  const cdkJson = JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'cdk.json'), 'utf8')) as {
    context?: Record<string, unknown>;
  };
  const context = {
    ...cdkJson.context,
    // What the CDK CLI sets: construct paths and asset paths in the template's metadata.
    'aws:cdk:enable-path-metadata': true,
    'aws:cdk:enable-asset-metadata': true,
  };
  const log = path.join(runDir, 'synth.log');
  const out = openSync(log, 'w');
  const child = spawn(process.execPath, ['--import', 'tsx', 'infra/app.ts'], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, CDK_OUTDIR: outdir, CDK_CONTEXT_JSON: JSON.stringify(context) },
    stdio: ['ignore', out, out],
    signal,
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`synth of infra/app.ts did not finish in ${SYNTH_TIMEOUT_MS / 1000} s; see ${log}`));
    }, SYNTH_TIMEOUT_MS);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('exit', (exitCode) => {
      clearTimeout(timer);
      resolve(exitCode);
    });
  });
  if (code !== 0) {
    const tail = readFileSync(log, 'utf8').split('\n').slice(-40).join('\n');
    throw new Error(`synth of infra/app.ts exited with ${code}:\n${tail}`);
  }
  return { outdir };
}
