import type { ClosableSqlDatabase } from '../store/drivers.ts';

/** What a resource factory gets when the process creates it. */
export interface ResourceContext {
  /** The job that declared the resource (resources are created per job and process). */
  readonly jobId: string;
  /** The resource's key in the job's `resources`. */
  readonly name: string;
  /**
   * Opens a SQLite file as a bare database, where the process can (the local runtime, the CLI).
   * @default - none: the process cannot open SQLite (AWS)
   */
  readonly openSqliteDatabase?: (file: string) => ClosableSqlDatabase;
}

/**
 * A resource: created once per process (once per Lambda container), lent to each run for its
 * duration, always given back (even when the handler throws or times out), destroyed on shutdown.
 * `H` is the process-wide handle (a pool); `T` what a run borrows (a connection).
 */
export interface Resource<T, H = unknown> {
  /** A short kind for logs and infrastructure (`'mysql-pool'`). */
  readonly kind: string;
  /** Creates the process-wide handle. Called once, lazily, on first use. */
  create(context: ResourceContext): Promise<H>;
  /** Lends one `T` to a run; waits while the resource is exhausted; gives up when `signal` aborts. */
  acquire(handle: H, signal: AbortSignal): Promise<T>;
  /** Gives a borrowed `T` back. Must not throw. */
  release(handle: H, value: T): Promise<void>;
  /** Destroys the handle on shutdown. */
  destroy(handle: H): Promise<void>;
  /** What the infrastructure must grant for this resource on AWS (see infra/). @default {} */
  readonly aws?: ResourceAwsNeeds;
}

/** The AWS permissions a resource needs; the CDK stack turns these into grants. */
export interface ResourceAwsNeeds {
  /** Connects to the Piko state database through RDS Proxy with IAM auth. */
  readonly stateDatabase?: boolean;
  /** Writes and reads objects under the job's own `jobs/<jobId>/` prefix of the stack's job-outputs bucket. */
  readonly objectStore?: boolean;
}

/** The borrowed value type of a resource. */
export type Borrowed<R> = R extends Resource<infer T, infer _H> ? T : never;

/** A job's resources, by name. */
// biome-ignore lint/suspicious/noExplicitAny: the handle type of each resource is private to it
export type ResourceMap = Record<string, Resource<unknown, any>>;

/** What a handler receives as its second argument: each resource's borrowed value, by name. */
export type BorrowedResources<R extends ResourceMap> = { readonly [K in keyof R]: Borrowed<R[K]> };
