/**
 * Lending resources to runs: each resource's handle is created once per job and process, lazily;
 * each run borrows every resource of its job and always gives them back.
 */
import { PikoError } from '../errors.ts';
import { errorMessage, logger } from '../telemetry.ts';
import { abortReason, raceAbort } from './abort.ts';
import type { BorrowedResources, Resource, ResourceContext, ResourceMap } from './types.ts';

/** What a run holds while it runs: the borrowed values, by name, and the way to give them back. */
export interface Loan<R extends ResourceMap> {
  /** Each resource's borrowed value, by name. */
  readonly values: BorrowedResources<R>;
  /** Gives every value back, in reverse order of acquisition. Never throws; a second call does nothing. */
  release(): Promise<void>;
}

interface Entry {
  readonly resource: Resource<unknown, unknown>;
  readonly handle: Promise<unknown>;
}

/** One borrowed value and how to give it back. */
interface Held {
  readonly name: string;
  readonly give: () => Promise<void>;
}

/**
 * The resources of one process (one per Lambda container, one per local runtime).
 *
 * Handles are keyed by job id and resource name, created on first borrow (two concurrent first
 * borrows create one handle; a failed creation is retried by the next borrow) and destroyed by
 * {@link ResourceRegistry.destroyAll}.
 */
export class ResourceRegistry {
  readonly #entries = new Map<string, Entry>();
  readonly #openSqliteDatabase: ResourceContext['openSqliteDatabase'];
  #destroyed = false;

  /** @param options.openSqliteDatabase how resources open SQLite here (`ResourceContext`). @default - none (AWS) */
  constructor(options: Pick<ResourceContext, 'openSqliteDatabase'> = {}) {
    this.#openSqliteDatabase = options.openSqliteDatabase;
  }

  /**
   * Borrows one value of every resource of a job, in name order. If acquiring one fails, or the
   * signal aborts, the values already borrowed are given back before the error is thrown.
   * @throws the signal's reason when it aborts; the resource's error when creating or acquiring fails.
   */
  async borrow<R extends ResourceMap>(jobId: string, resources: R, signal: AbortSignal): Promise<Loan<R>> {
    const held: Held[] = [];
    const values: Record<string, unknown> = {};
    const release = once(() => giveBack(jobId, held));
    try {
      for (const name of Object.keys(resources).sort()) {
        if (signal.aborted) throw abortReason(signal);
        const resource = resources[name] as Resource<unknown, unknown>;
        const handle = await raceAbort(this.#handle(jobId, name, resource), signal);
        const value = await raceAbort(resource.acquire(handle, signal), signal, (late) =>
          resource.release(handle, late),
        );
        held.push({ name, give: () => resource.release(handle, value) });
        values[name] = value;
      }
    } catch (err) {
      await release();
      throw err;
    }
    return { values: Object.freeze(values) as BorrowedResources<R>, release };
  }

  /**
   * Runs `fn` with the job's resources and gives them back when it settles, when it throws, or as
   * soon as `signal` aborts (a handler that never settles cannot keep them; whatever it settles to
   * later is ignored).
   * @throws what `fn` throws, or the signal's reason when it aborts first.
   */
  async withResources<R extends ResourceMap, T>(
    jobId: string,
    resources: R,
    signal: AbortSignal,
    fn: (values: BorrowedResources<R>) => Promise<T> | T,
  ): Promise<T> {
    const loan = await this.borrow(jobId, resources, signal);
    try {
      return await raceAbort(
        Promise.resolve().then(() => fn(loan.values)),
        signal,
      );
    } finally {
      await loan.release();
    }
  }

  /**
   * Destroys every handle created so far, even when some fail (failures are logged); later borrows
   * throw. Call on shutdown, after running work has ended.
   */
  async destroyAll(): Promise<void> {
    this.#destroyed = true;
    const entries = [...this.#entries];
    this.#entries.clear();
    await Promise.all(
      entries.map(async ([key, { resource, handle }]) => {
        const created = await handle.then(
          (value) => ({ value }),
          () => undefined, // never created: nothing to destroy
        );
        if (!created) return;
        try {
          await resource.destroy(created.value);
        } catch (err) {
          logger.warn('Could not destroy a resource', {
            resource: key,
            kind: resource.kind,
            error: errorMessage(err),
          });
        }
      }),
    );
  }

  #handle(jobId: string, name: string, resource: Resource<unknown, unknown>): Promise<unknown> {
    if (this.#destroyed) {
      throw new PikoError(`Cannot borrow resource "${name}" of job "${jobId}": the resources were destroyed`);
    }
    const key = `${jobId}/${name}`;
    const entry = this.#entries.get(key);
    if (entry?.resource === resource) return entry.handle;
    if (entry) {
      throw new PikoError(
        `Resource "${name}" of job "${jobId}" was redefined: a job's resources are created once per process`,
      );
    }
    const openSqliteDatabase = this.#openSqliteDatabase;
    const handle = Promise.resolve().then(() => resource.create({ jobId, name, openSqliteDatabase }));
    this.#entries.set(key, { resource, handle });
    handle.catch(() => {
      // A failed creation is not kept: the next borrow tries again.
      if (this.#entries.get(key)?.handle === handle) this.#entries.delete(key);
    });
    return handle;
  }
}

async function giveBack(jobId: string, held: readonly Held[]): Promise<void> {
  for (const { name, give } of [...held].reverse()) {
    try {
      await give();
    } catch (err) {
      logger.warn('Could not give a resource back', { jobId, resource: name, error: errorMessage(err) });
    }
  }
}

/** Wraps an async function so that it runs once; later calls get the first call's promise. */
function once(fn: () => Promise<void>): () => Promise<void> {
  let result: Promise<void> | undefined;
  return () => {
    result ??= fn();
    return result;
  };
}
