import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PikoError } from '../../../shared/errors.ts';
import { loadJobs } from '../../../shared/registry.ts';

describe('loading the jobs folder', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
    dir = undefined;
  });

  async function jobsDir(files: Record<string, string>): Promise<string> {
    dir = await mkdtemp(path.join(tmpdir(), 'piko-load-jobs-'));
    for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);
    return dir;
  }

  it('says how to point piko at a jobs folder that has no index.ts', async () => {
    const empty = await jobsDir({});

    await expect(loadJobs(empty)).rejects.toThrow(
      `piko.jobs_dir = ${JSON.stringify(empty)}: ${path.join(empty, 'index.ts')} does not exist; run piko from the project root, or point piko.jobs_dir (PIKO_JOBS_DIR) at the folder that holds the jobs' index.ts`,
    );
  });

  it('names the file that threw as it loaded, and the line', async () => {
    const jobs = await jobsDir({
      'index.ts': 'export const jobs = [];\n',
      'extra.ts': 'const settings: { boom?: { x: number } } = {};\nexport const x = settings.boom!.x;\n',
    });

    const loading = loadJobs(jobs);

    await expect(loading).rejects.toThrow(PikoError);
    await expect(loading).rejects.toThrow(
      new RegExp(
        `^${path.join(jobs, 'extra.ts').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} failed to load: Cannot read properties of undefined .* \\(at .*extra\\.ts:2`,
      ),
    );
  });

  it('names index.ts when it is the one that throws', async () => {
    const jobs = await jobsDir({
      'index.ts': "throw new Error('index exploded at import');\nexport const jobs = [];\n",
    });

    await expect(loadJobs(jobs)).rejects.toThrow(
      `${path.join(jobs, 'index.ts')} failed to load: index exploded at import`,
    );
  });
});
