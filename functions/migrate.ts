/**
 * The migrations custom resource's handler (CDK Provider framework `onEvent`): applies the state
 * store's numbered migrations through RDS Proxy, under the same lock as every other migrating
 * process. Three steps: read the event, migrate, answer CloudFormation (errors fail the deploy).
 */
import { ENV_AWS_REGION, ENV_MYSQL_DSN, requiredEnv } from '../shared/aws/env.ts';
import { openMysqlStore } from '../shared/store/mysql.ts';
import { logger } from '../shared/telemetry.ts';

const dsn = requiredEnv(ENV_MYSQL_DSN);
const region = requiredEnv(ENV_AWS_REGION);

/** The one schema a stack migrates: its physical id never changes, so CloudFormation never replaces it. */
export const MIGRATIONS_PHYSICAL_ID = 'piko-state-schema';

/** The fields of a CloudFormation custom resource event this handler reads. */
export interface MigrationsEvent {
  readonly RequestType: 'Create' | 'Update' | 'Delete';
  readonly PhysicalResourceId?: string;
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
  const store = await openMysqlStore({ dsn, iamAuth: { region }, ssl: true, poolSize: 1 });
  try {
    const { applied } = await store.migrate();
    logger.info('migrations applied', { applied, requestType: event.RequestType });
    return { PhysicalResourceId: MIGRATIONS_PHYSICAL_ID, Data: { applied: applied.join(',') } };
  } finally {
    await store.close();
  }
}
