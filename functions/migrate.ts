/**
 * The migrations custom resource's handler (CDK Provider framework `onEvent`): applies the state
 * store's numbered migrations through RDS Proxy, under the same lock as every other migrating
 * process, then makes the stack's database users exactly what the resource's `databaseUsers`
 * property says (one per role, minimal grants). Three steps: read the event, migrate, answer
 * CloudFormation (errors fail the deploy).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { getConfig } from '../shared/config.ts';
import { ConfigError, StoreError, StoreUnavailableError } from '../shared/errors.ts';
import { type DatabaseUserPlan, databaseUserStatements } from '../shared/stack/database-users.ts';
import { lambdaStoreOptions } from '../shared/stack/lambda-store.ts';
import { openMysqlStore, parseMysqlDsn } from '../shared/store/mysql/index.ts';
import type { StateStore } from '../shared/store/types.ts';
import { errorMessage, logger } from '../shared/telemetry.ts';

/** The one schema a stack migrates: its physical id never changes, so CloudFormation never replaces it. */
export const MIGRATIONS_PHYSICAL_ID = 'piko-state-schema';

/**
 * Waits between attempts to reach the database: the custom resource runs right after the proxy is
 * created, while its endpoint's DNS name and its target may not be ready yet (about 2 minutes in all).
 */
export const CONNECT_RETRY_DELAYS_MS: readonly number[] = [
  2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000,
];

/** The fields of a CloudFormation custom resource event this handler reads. */
export interface MigrationsEvent {
  readonly RequestType: 'Create' | 'Update' | 'Delete';
  readonly PhysicalResourceId?: string;
  readonly ResourceProperties?: {
    /** JSON of `DatabaseUserPlan[]`: the users to create and their grants. @default '[]' */
    readonly databaseUsers?: string;
  };
}

/** What the Provider framework sends back to CloudFormation. */
export interface MigrationsResponse {
  readonly PhysicalResourceId: string;
  readonly Data?: { readonly applied: string };
}

/** Lambda entry point. */
export async function handler(event: MigrationsEvent): Promise<MigrationsResponse> {
  if (event.RequestType === 'Delete') {
    // The data outlives the custom resource: deleting the stack keeps (or snapshots) the database.
    return { PhysicalResourceId: event.PhysicalResourceId ?? MIGRATIONS_PHYSICAL_ID };
  }
  const users = databaseUsersOf(event);
  const options = lambdaStoreOptions(getConfig(), 1);
  const store = await openMysqlStore(options);
  try {
    const { applied } = await migrateWhenReachable(store);
    logger.info('migrations applied', { applied, requestType: event.RequestType });
    // After the schema: table grants need the tables. Idempotent, so every Create and Update runs it.
    const { database } = parseMysqlDsn(options.dsn);
    for (const statement of databaseUserStatements(database, users)) await store.database.query(statement);
    logger.info('database users granted', { users: users.map((plan) => plan.user) });
    return { PhysicalResourceId: MIGRATIONS_PHYSICAL_ID, Data: { applied: applied.join(',') } };
  } finally {
    await store.close();
  }
}

/** The users of the event's `databaseUsers` property. @throws ConfigError when it is not a JSON list. */
export function databaseUsersOf(event: MigrationsEvent): DatabaseUserPlan[] {
  const text = event.ResourceProperties?.databaseUsers ?? '[]';
  let users: unknown;
  try {
    users = JSON.parse(text);
  } catch {
    users = undefined;
  }
  if (!Array.isArray(users)) {
    throw new ConfigError([
      `the migrations resource property databaseUsers must be a JSON list of users, got ${text.slice(0, 100)}; redeploy the stack`,
    ]);
  }
  return users as DatabaseUserPlan[];
}

/**
 * `store.migrate()`, tried again after each of `delaysMs` while the database cannot be reached (a
 * connection refused, lost or timed out, or a host name that does not resolve yet). Any other error
 * fails at once.
 * @throws StoreUnavailableError naming the attempts and the last error once every attempt failed.
 */
export async function migrateWhenReachable(
  store: Pick<StateStore, 'migrate'>,
  delaysMs: readonly number[] = CONNECT_RETRY_DELAYS_MS,
  wait: (ms: number) => Promise<unknown> = sleep,
): Promise<{ applied: number[] }> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await store.migrate();
    } catch (error) {
      if (!isConnectionError(error)) throw error;
      const delay = delaysMs[attempt - 1];
      if (delay === undefined) {
        throw new StoreUnavailableError(
          `Could not reach the state database after ${attempt} attempts over ${totalSeconds(delaysMs)} s: ` +
            `${errorMessage(error)}. Check that the RDS Proxy and its target are available, and retry the deploy.`,
          { cause: error },
        );
      }
      logger.warn('state database not reachable yet; retrying', {
        attempt,
        retryInMs: delay,
        error: errorMessage(error),
      });
      await wait(delay);
    }
  }
}

/** Codes of a host name that does not resolve (yet): a new proxy endpoint's DNS takes a while. */
const UNRESOLVED_HOST_CODES: ReadonlySet<string> = new Set(['ENOTFOUND', 'EAI_AGAIN']);

function isConnectionError(error: unknown): boolean {
  if (error instanceof StoreUnavailableError) return true;
  const code =
    error instanceof StoreError ? (error.cause as { code?: unknown } | undefined)?.code : undefined;
  return typeof code === 'string' && UNRESOLVED_HOST_CODES.has(code);
}

function totalSeconds(delaysMs: readonly number[]): number {
  return Math.round(delaysMs.reduce((sum, ms) => sum + ms, 0) / 1000);
}
