import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderJobWorkflow, workflowHash } from '../../../shared/local/workflow/render.ts';
import { fargateJob, singleStageJob } from '../workflow/jobs.ts';

const root = fileURLToPath(new URL('../../../', import.meta.url));

describe('renderJobWorkflow', () => {
  let dataDir: string;
  let uncached: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'piko-render-'));
    uncached = await renderJobWorkflow(singleStageJob);
  });
  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('renders runnable JSON ASL', () => {
    const definition = JSON.parse(uncached) as { StartAt: string };
    expect(definition.StartAt).toBe('Runs');
    expect(uncached).not.toMatch(/Fn::|"Ref"|AWS::/);
  });

  it('caches the ASL under <dataDir>/workflows and reads it back', async () => {
    const hash = await workflowHash(singleStageJob);
    const first = await renderJobWorkflow(singleStageJob, { dataDir });
    expect(first).toBe(uncached);
    const file = path.join(dataDir, 'workflows', `single-${hash}.asl.json`);
    expect(await readFile(file, 'utf8')).toBe(uncached);

    const started = performance.now();
    expect(await renderJobWorkflow(singleStageJob, { dataDir })).toBe(uncached);
    expect(performance.now() - started).toBeLessThan(100);
  });

  it('renders again over a damaged cache file', async () => {
    const file = path.join(dataDir, 'workflows', `single-${await workflowHash(singleStageJob)}.asl.json`);
    await writeFile(file, '{"StartAt":');
    expect(await renderJobWorkflow(singleStageJob, { dataDir })).toBe(uncached);
    expect(await readFile(file, 'utf8')).toBe(uncached);
  });

  it('keys the cache on what shapes the definition, and drops stale renders of the job', async () => {
    const wider = { ...singleStageJob, concurrency: 8 };
    const hashes = new Set(
      await Promise.all(
        [
          singleStageJob,
          wider,
          { ...singleStageJob, retry: { ...singleStageJob.retry, attempts: 5 } },
          { ...singleStageJob, timeoutMs: 60_000 },
          { ...singleStageJob, stages: [{ kind: 'lambda' as const, name: 'other' }] },
          fargateJob,
          {
            ...fargateJob,
            stages: fargateJob.stages.map((stage) => ({ ...stage, cpu: 2048, memoryMiB: 4096 })),
          },
        ].map(workflowHash),
      ),
    );
    expect(hashes.size).toBe(7);
    expect(await workflowHash({ ...singleStageJob, description: 'ignored' } as typeof singleStageJob)).toBe(
      await workflowHash(singleStageJob),
    );

    const other = path.join(dataDir, 'workflows', 'single_other-0123456789abcdef.asl.json');
    await writeFile(other, '{}');
    await renderJobWorkflow(wider, { dataDir });
    const files = (await readdir(path.join(dataDir, 'workflows'))).sort();
    expect(files).toEqual([
      `single-${await workflowHash(wider)}.asl.json`,
      'single_other-0123456789abcdef.asl.json',
    ]);
  });

  it('does not load aws-cdk-lib on a warm start', async () => {
    const script = `
      const { renderJobWorkflow } = await import(${JSON.stringify(path.join(root, 'shared/local/workflow/render.ts'))});
      const job = ${JSON.stringify(singleStageJob)};
      await renderJobWorkflow(job, { dataDir: ${JSON.stringify(dataDir)} });
      const files = Object.keys((await import('node:module')).createRequire(import.meta.url).cache);
      const loaded = files.some((file) => file.includes('/aws-cdk-lib/'));
      const construct = files.some((file) => file.includes('/infra/constructs/'));
      console.log(JSON.stringify({ loaded, construct }));
    `;
    await renderJobWorkflow(singleStageJob, { dataDir });
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      { cwd: root },
    );
    const result = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as {
      loaded: boolean;
      construct: boolean;
    };
    // What made a cold render slow is loading aws-cdk-lib and the construct through tsx: neither is
    // loaded on a warm start (a timing bound here failed on a busy machine).
    expect(result.loaded).toBe(false);
    expect(result.construct).toBe(false);
  });
});
