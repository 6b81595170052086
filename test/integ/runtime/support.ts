/**
 * The runtime tests' process services: a fresh data directory with its SQLite store, the jobs
 * given, and a short lease (a sweep or an adoption round every second) unless told otherwise.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../../shared/config.ts';
import type { JobDefinition } from '../../../shared/job.ts';
import { JobRegistry } from '../../../shared/registry.ts';
import { openProcessServices, type ProcessServices } from '../../../shared/runner/process.ts';
import { LOCAL_DRIVERS } from '../../../shared/store/local.ts';

/** Services on a store of their own; `cleanup` closes them and removes the directory. */
export async function tempServices(
  prefix: string,
  jobs: readonly JobDefinition[],
): Promise<{ opened: ProcessServices; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  const config = loadConfig({
    env: {
      PIKO_DATA_DIR: dir,
      PIKO_SQLITE__FILE: path.join(dir, 'piko.db'),
      PIKO_RUNTIME__LEASE_SECONDS: '3',
    },
  });
  const opened = await openProcessServices(config, new JobRegistry([...jobs]), { drivers: LOCAL_DRIVERS });
  return {
    opened,
    async cleanup() {
      await opened.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
