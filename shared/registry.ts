import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError, JobDefinitionError, PikoError, UnknownJobError } from './errors.ts';
import { isJobDefinition, type JobDefinition } from './job.ts';
import { sharedTableProblems } from './sinks/sql-table.ts';

/** The jobs of a project, by id. Refuses two jobs with one id, and one table defined two ways by their sinks. */
export class JobRegistry {
  readonly #jobs = new Map<string, JobDefinition>();

  constructor(jobs: readonly JobDefinition[]) {
    for (const job of jobs) {
      if (this.#jobs.has(job.id)) {
        throw new JobDefinitionError(job.id, [`two jobs have the id "${job.id}"; job ids must be unique`]);
      }
      this.#jobs.set(job.id, job);
    }
    const tables = jobs.flatMap((job) =>
      job.sinks.flatMap((sink) => (sink.table ? [{ jobId: job.id, table: sink.table }] : [])),
    );
    const problems = sharedTableProblems(tables);
    if (problems.length > 0)
      throw new JobDefinitionError(
        problems[0]!.jobId,
        problems.map(({ problem }) => problem),
      );
  }

  /** The job with this id. @throws UnknownJobError naming the known jobs. */
  get(jobId: string): JobDefinition {
    const job = this.#jobs.get(jobId);
    if (!job) throw new UnknownJobError(jobId, this.ids());
    return job;
  }

  /** True when a job has this id. */
  has(jobId: string): boolean {
    return this.#jobs.has(jobId);
  }

  /** Every job, by id. */
  list(): JobDefinition[] {
    return [...this.#jobs.values()].sort((a, b) => a.id.localeCompare(b.id));
  }

  /** Every job id, sorted. */
  ids(): string[] {
    return this.list().map((job) => job.id);
  }
}

/**
 * Loads the jobs of `functions/jobs/` (or `dir`): its `index.ts` lists them (bundlers need a static
 * list), and every other `.ts` file there must export a job that the index lists, so none is forgotten.
 * @default dir 'functions/jobs'
 */
export async function loadJobs(dir = 'functions/jobs'): Promise<JobRegistry> {
  const absolute = path.resolve(dir);
  if (!existsSync(path.join(absolute, 'index.ts'))) {
    throw new ConfigError([
      `piko.jobs_dir = ${JSON.stringify(dir)}: ${path.join(absolute, 'index.ts')} does not exist; run piko from the project root or set PIKO_JOBS_DIR`,
    ]);
  }
  const index = (await import(pathToFileURL(path.join(absolute, 'index.ts')).href)) as { jobs?: unknown };
  if (!Array.isArray(index.jobs) || !index.jobs.every(isJobDefinition)) {
    throw new PikoError(
      `${path.join(dir, 'index.ts')} must export \`jobs\`: an array of defineJob(...) results`,
    );
  }
  const registry = new JobRegistry(index.jobs);
  const listed = new Set<JobDefinition>(index.jobs);
  const files = (await readdir(absolute)).filter(
    (file) => file.endsWith('.ts') && file !== 'index.ts' && !file.startsWith('_') && !file.endsWith('.d.ts'),
  );
  for (const file of files.sort()) {
    const module = (await import(pathToFileURL(path.join(absolute, file)).href)) as Record<string, unknown>;
    for (const value of Object.values(module)) {
      if (isJobDefinition(value) && !listed.has(value)) {
        throw new PikoError(
          `${path.join(dir, file)} defines job "${value.id}" but ${path.join(dir, 'index.ts')} does not list it; add it to \`jobs\``,
        );
      }
    }
  }
  return registry;
}
