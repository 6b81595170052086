import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError, JobDefinitionError, PikoError, UnknownJobError } from './errors.ts';
import { isJobDefinition, type JobDefinition } from './job.ts';
import { nearestName } from './options.ts';
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
    this.#checkDependencies();
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

  /** The jobs `jobId` depends on (its `dependsOn`), in the order it lists them. */
  upstreams(jobId: string): JobDefinition[] {
    return this.get(jobId).dependsOn.map((id) => this.get(id));
  }

  /** The jobs that list `jobId` in their `dependsOn`, by id. */
  downstreams(jobId: string): JobDefinition[] {
    return this.list().filter((job) => job.dependsOn.includes(jobId));
  }

  /**
   * Every job downstream of `jobId`, transitively, in dependency order: a job comes after every job
   * it depends on among them (so after `jobId`), ties by id.
   */
  downstreamOrder(jobId: string): JobDefinition[] {
    const reached = new Set<string>();
    const visit = (id: string) => {
      for (const job of this.downstreams(id)) {
        if (reached.has(job.id)) continue;
        reached.add(job.id);
        visit(job.id);
      }
    };
    visit(jobId);
    // Kahn's algorithm over the reached jobs: the graph has no cycle (checked at construction).
    const order: JobDefinition[] = [];
    const placed = new Set<string>([jobId]);
    let left = this.list().filter((job) => reached.has(job.id));
    while (left.length > 0) {
      const ready = left.filter((job) => job.dependsOn.every((id) => placed.has(id) || !reached.has(id)));
      for (const job of ready) placed.add(job.id);
      order.push(...ready);
      left = left.filter((job) => !placed.has(job.id));
    }
    return order;
  }

  /** Refuses an unknown upstream and a cycle of dependencies, naming them (`a → b → a`). */
  #checkDependencies(): void {
    for (const job of this.#jobs.values()) {
      const unknown = job.dependsOn.filter((id) => !this.#jobs.has(id));
      if (unknown.length > 0) {
        throw new JobDefinitionError(
          job.id,
          unknown.map((id) => {
            const near = nearestName(id, [...this.#jobs.keys()]);
            return `dependsOn names "${id}", which is not a job${near ? `; did you mean "${near}"?` : ''} (the jobs are ${[...this.#jobs.keys()].sort().join(', ')})`;
          }),
        );
      }
    }
    // Depth-first search; a job met again while still on the path closes a cycle.
    const done = new Set<string>();
    const path: string[] = [];
    const visit = (id: string): void => {
      const at = path.indexOf(id);
      if (at >= 0) {
        const cycle = [...path.slice(at), id];
        throw new JobDefinitionError(id, [
          `dependsOn forms a cycle: ${cycle.join(' → ')}; a job cannot wait, through its upstream jobs, for itself — remove one of these dependencies`,
        ]);
      }
      if (done.has(id)) return;
      path.push(id);
      for (const upstream of this.#jobs.get(id)!.dependsOn) visit(upstream);
      path.pop();
      done.add(id);
    };
    for (const id of [...this.#jobs.keys()].sort()) visit(id);
  }
}

/**
 * Imports a file of the jobs folder; one that throws as it loads (a typo, a missing module, a bad
 * defineJob) is named in the error, with the line of it where the error came from: the error alone
 * did not say which of the project's files to look at.
 */
async function importJobsFile(dir: string, file: string): Promise<unknown> {
  const absolute = path.resolve(dir, file);
  try {
    return await import(pathToFileURL(absolute).href);
  } catch (error) {
    // Piko's own (a job defineJob refused) already say what to fix, and exit as they should.
    if (error instanceof PikoError) throw error;
    const message = error instanceof Error ? error.message : String(error);
    const where = (error instanceof Error ? (error.stack ?? '') : '')
      .split('\n')
      .find((line) => line.includes(path.resolve(dir)))
      ?.trim();
    throw new PikoError(`${path.join(dir, file)} failed to load: ${message}${where ? ` (${where})` : ''}`, {
      cause: error,
    });
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
      `piko.jobs_dir = ${JSON.stringify(dir)}: ${path.join(absolute, 'index.ts')} does not exist; run piko from the project root, or point piko.jobs_dir (PIKO_JOBS_DIR) at the folder that holds the jobs' index.ts`,
    ]);
  }
  const index = (await importJobsFile(dir, 'index.ts')) as { jobs?: unknown };
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
    const module = (await importJobsFile(dir, file)) as Record<string, unknown>;
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
