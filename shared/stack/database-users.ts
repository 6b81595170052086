/**
 * The state database's users on AWS, one per role, and their grants: what the migrations custom
 * resource creates after the schema (`functions/migrate.ts`) and what the stack signs IAM tokens for
 * (`infra/constructs/state-database.ts`). Pure: the stack computes the plan at synth from the job
 * definitions and hands it to the custom resource as a property.
 */
import { createHash } from 'node:crypto';
import { PikoError } from '../errors.ts';

/** The cluster's master user: only the migrations handler connects as it (DDL and the users below). */
export const MIGRATIONS_DATABASE_USER = 'piko_admin';
/** The dispatcher's user: reads and writes the state tables, no DDL. */
export const DISPATCHER_DATABASE_USER = 'piko_dispatcher';
/** MySQL 8's longest user name. */
export const MAX_DATABASE_USER_LENGTH = 32;

/** The state tables the dispatcher uses (migrations 1, 6 and 8; `piko_leases` is the local runtimes'). */
export const STATE_TABLES = [
  'piko_jobs',
  'piko_runs',
  'piko_backfills',
  'piko_actions',
  'piko_alerts',
  'piko_deadline_watch',
] as const;

/** Table privileges this module grants (never DROP, ALTER, INDEX, DELETE on another's table…). */
export type TablePrivilege = 'SELECT' | 'INSERT' | 'UPDATE' | 'DELETE' | 'CREATE';

/** One table-level grant. */
export interface TableGrant {
  readonly table: string;
  readonly privileges: readonly TablePrivilege[];
}

/** A database user of the stack and everything it may do. */
export interface DatabaseUserPlan {
  readonly user: string;
  readonly grants: readonly TableGrant[];
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const USER_NAME = /^[a-z][a-z0-9_]{0,31}$/;
const PRIVILEGES: ReadonlySet<string> = new Set(['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'CREATE']);

/**
 * The database user of job `jobId`'s function and tasks: `piko_job_<id>` (`-` as `_`), or, when that
 * passes 32 characters, its first characters and a hash of the id, so distinct jobs never share one.
 */
export function jobDatabaseUser(jobId: string): string {
  const plain = `piko_job_${jobId.replaceAll('-', '_')}`;
  if (plain.length <= MAX_DATABASE_USER_LENGTH && !jobId.includes('-')) return plain;
  const hash = createHash('sha256').update(jobId).digest('hex').slice(0, 8);
  return `${plain.slice(0, MAX_DATABASE_USER_LENGTH - hash.length - 1)}_${hash}`;
}

/** The dispatcher's grants: rows of every state table, no DDL. */
export function dispatcherUserPlan(): DatabaseUserPlan {
  return {
    user: DISPATCHER_DATABASE_USER,
    grants: STATE_TABLES.map((table) => ({ table, privileges: ['SELECT', 'INSERT', 'UPDATE', 'DELETE'] })),
  };
}

/**
 * A job's grants: what the stage runner needs (read its run, update its status and output; read the
 * job's pause flag and backfill), and CREATE/SELECT/INSERT/UPDATE on the tables its sinks write.
 */
export function jobUserPlan(jobId: string, sinkTables: readonly string[]): DatabaseUserPlan {
  const reserved = sinkTables.filter((table) => table.toLowerCase().startsWith('piko_'));
  if (reserved.length > 0) {
    throw new PikoError(
      `Job "${jobId}" has sinks on ${reserved.join(', ')}: the piko_ prefix is reserved for the state tables; rename the sink table.`,
    );
  }
  return {
    user: jobDatabaseUser(jobId),
    grants: [
      { table: 'piko_runs', privileges: ['SELECT', 'UPDATE'] },
      { table: 'piko_jobs', privileges: ['SELECT'] },
      { table: 'piko_backfills', privileges: ['SELECT'] },
      ...[...new Set(sinkTables)].map((table) => ({
        table,
        privileges: ['CREATE', 'SELECT', 'INSERT', 'UPDATE'] as TablePrivilege[],
      })),
    ],
  };
}

/** Every problem of a plan (names that are not plain identifiers, unknown privileges, duplicates). */
export function databaseUserPlanProblems(plans: readonly DatabaseUserPlan[]): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const plan of plans) {
    if (!USER_NAME.test(plan.user))
      problems.push(`user ${JSON.stringify(plan.user)} is not a valid user name`);
    if (plan.user === MIGRATIONS_DATABASE_USER) problems.push(`user ${plan.user} is the master user`);
    if (seen.has(plan.user)) problems.push(`user ${plan.user} is listed twice`);
    seen.add(plan.user);
    for (const grant of plan.grants) {
      if (!IDENTIFIER.test(grant.table))
        problems.push(`table ${JSON.stringify(grant.table)} of ${plan.user} is not a valid identifier`);
      for (const privilege of grant.privileges) {
        if (!PRIVILEGES.has(privilege))
          problems.push(
            `privilege ${JSON.stringify(privilege)} on ${grant.table} of ${plan.user} is not allowed`,
          );
      }
    }
  }
  return problems;
}

/**
 * The statements that make the server's users exactly `plans`, idempotently: each user created if
 * missing with Aurora's IAM plugin and TLS required, its privileges revoked, then granted again per
 * table of `database`. Names are checked first (they reach SQL text).
 * @throws PikoError listing every problem of the plan.
 */
export function databaseUserStatements(database: string, plans: readonly DatabaseUserPlan[]): string[] {
  const problems = databaseUserPlanProblems(plans);
  if (!IDENTIFIER.test(database))
    problems.push(`database ${JSON.stringify(database)} is not a valid identifier`);
  if (problems.length > 0) throw new PikoError(`Invalid database user plan: ${problems.join('; ')}`);
  const statements: string[] = [];
  for (const plan of plans) {
    const account = `'${plan.user}'@'%'`;
    statements.push(
      `CREATE USER IF NOT EXISTS ${account} IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS' REQUIRE SSL`,
      `REVOKE ALL PRIVILEGES, GRANT OPTION FROM ${account}`,
    );
    for (const grant of plan.grants) {
      statements.push(
        `GRANT ${grant.privileges.join(', ')} ON \`${database}\`.\`${grant.table}\` TO ${account}`,
      );
    }
  }
  return statements;
}
