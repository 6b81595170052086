/**
 * The migrations custom resource, from the artifact: the bundled handler in a Lambda-like sandbox
 * on Node 24, with the template's environment, connecting through the IAM proxy over verified TLS
 * to a TLS-only MariaDB. Create, then Update (nothing left to apply), and a Create that waits for
 * the migration lock another process holds.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MIGRATIONS } from '../../shared/store/migrations.ts';
import { type ArtifactStack, startArtifactStack } from './support/artifact-stack.ts';
import type { LambdaSandbox } from './support/lambda-sandbox.ts';

const HANDLER = 'Migrations/Handler';
/** The lock `migrate()` takes (shared/store/mysql/migration-lock.ts): `piko_migrate:<database>`. */
const LOCK = 'piko_migrate:piko';
const ALL_VERSIONS = MIGRATIONS.map((migration) => migration.version).join(',');

let stack: ArtifactStack;
let first: LambdaSandbox;
let second: LambdaSandbox;
let resourceProperties: Record<string, unknown>;

beforeAll(async () => {
  stack = await startArtifactStack();
  first = await stack.openFunction(HANDLER, { instance: 'migrations-a' });
  second = await stack.openFunction(HANDLER, { instance: 'migrations-b' });
  const [migrations] = stack.app.resourcesOfType('Custom::PikoMigrations');
  if (!migrations) throw new Error('the template has no Custom::PikoMigrations');
  resourceProperties = stack.resolver.resolve(migrations[1].Properties) as Record<string, unknown>;
}, 240_000);

afterAll(async () => {
  await stack?.stop();
});

/** The event the CDK Provider framework passes to the user's onEvent handler. */
function cloudFormationEvent(requestType: 'Create' | 'Update', physicalId?: string) {
  return {
    RequestType: requestType,
    ServiceToken: resourceProperties.ServiceToken,
    ResponseURL: 'https://cloudformation-custom-resource-response-euwest1.s3.amazonaws.com/test',
    StackId: 'arn:aws:cloudformation:eu-west-1:123456789012:stack/Piko/00000000-0000-0000-0000-000000000000',
    RequestId: '11111111-1111-1111-1111-111111111111',
    LogicalResourceId: 'MigrationsResource',
    ResourceType: 'Custom::PikoMigrations',
    ResourceProperties: resourceProperties,
    ...(physicalId ? { PhysicalResourceId: physicalId, OldResourceProperties: resourceProperties } : {}),
  };
}

async function tables(): Promise<string[]> {
  const rows = await stack.query<Record<string, string>[]>('SHOW TABLES');
  return rows.map((row) => Object.values(row)[0]!).sort();
}

describe('migrations custom resource (bundle in a Lambda sandbox, through the IAM proxy, TLS verified)', () => {
  it('Create applies every migration', async () => {
    const result = await first.invoke(cloudFormationEvent('Create'));
    expect(result, first.logs()).toEqual({
      ok: true,
      payload: { PhysicalResourceId: 'piko-state-schema', Data: { applied: ALL_VERSIONS } },
    });
    expect(await tables()).toEqual(
      expect.arrayContaining(['piko_backfills', 'piko_jobs', 'piko_migrations', 'piko_runs']),
    );
    expect(stack.proxy.logins().filter((login) => login.accepted).length).toBeGreaterThan(0);
    expect(stack.unexpectedCalls()).toEqual([]);
  });

  it('Update applies nothing more (idempotent)', async () => {
    const result = await first.invoke(cloudFormationEvent('Update', 'piko-state-schema'));
    expect(result, first.logs()).toEqual({
      ok: true,
      payload: { PhysicalResourceId: 'piko-state-schema', Data: { applied: '' } },
    });
  });

  it('creates one database user per role, each with exactly its grants and no DDL on the state', async () => {
    const grantsOf = async (user: string) =>
      (await stack.query<Record<string, string>[]>(`SHOW GRANTS FOR '${user}'@'%'`))
        .map((row) => Object.values(row)[0]!)
        .sort();
    expect(await grantsOf('piko_dispatcher')).toEqual([
      'GRANT SELECT, INSERT, UPDATE, DELETE ON `piko`.`piko_actions` TO `piko_dispatcher`@`%`',
      'GRANT SELECT, INSERT, UPDATE, DELETE ON `piko`.`piko_alerts` TO `piko_dispatcher`@`%`',
      'GRANT SELECT, INSERT, UPDATE, DELETE ON `piko`.`piko_backfills` TO `piko_dispatcher`@`%`',
      'GRANT SELECT, INSERT, UPDATE, DELETE ON `piko`.`piko_deadline_watch` TO `piko_dispatcher`@`%`',
      'GRANT SELECT, INSERT, UPDATE, DELETE ON `piko`.`piko_jobs` TO `piko_dispatcher`@`%`',
      'GRANT SELECT, INSERT, UPDATE, DELETE ON `piko`.`piko_runs` TO `piko_dispatcher`@`%`',
      expect.stringMatching(
        /^GRANT USAGE ON \*\.\* TO `piko_dispatcher`@`%` IDENTIFIED BY PASSWORD '\*[0-9A-F]{40}' REQUIRE SSL$/,
      ),
    ]);
    expect(await grantsOf('piko_job_store_totals')).toEqual([
      'GRANT SELECT ON `piko`.`piko_backfills` TO `piko_job_store_totals`@`%`',
      'GRANT SELECT ON `piko`.`piko_jobs` TO `piko_job_store_totals`@`%`',
      'GRANT SELECT, INSERT, UPDATE, CREATE ON `piko`.`example_store_totals` TO `piko_job_store_totals`@`%`',
      'GRANT SELECT, UPDATE ON `piko`.`piko_runs` TO `piko_job_store_totals`@`%`',
      expect.stringMatching(/^GRANT USAGE ON \*\.\* TO `piko_job_store_totals`@`%` IDENTIFIED BY PASSWORD/),
    ]);
    // Created with Aurora's IAM plugin (the stand-in gave each a password only it knows).
    expect([...stack.proxy.iamUsers()].sort()).toEqual([
      'piko_dispatcher',
      'piko_job_nightly_archive',
      'piko_job_price_fanout',
      'piko_job_store_totals',
    ]);
  });

  it('a second concurrent Create waits for the migration lock, and exactly one of two applies', async () => {
    for (const table of await tables()) await stack.query(`DROP TABLE \`${table}\``);
    const holder = await stack.db.rootConnection('piko');
    try {
      await holder.query('SELECT GET_LOCK(?, 10)', [LOCK]);
      let settled = 0;
      const a = first.invoke(cloudFormationEvent('Create')).finally(() => settled++);
      const b = second.invoke(cloudFormationEvent('Create')).finally(() => settled++);
      // Both handlers are connected and blocked on the lock the test holds (bounded wait, no timing assertion).
      for (let attempt = 0; ; attempt++) {
        const waiting = await stack.query<{ n: number }[]>(
          "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE USER = 'piko_admin' AND INFO LIKE 'SELECT GET_LOCK%'",
        );
        if (Number(waiting[0]!.n) === 2) break;
        if (settled > 0 || attempt > 1200) {
          throw new Error(
            `the handlers did not wait for the lock: ${JSON.stringify(await Promise.race([a, b]))}\n${first.logs()}\n${second.logs()}`,
          );
        }
        await sleep(50);
      }
      expect(await tables()).toEqual([]);
      await holder.query('DO RELEASE_LOCK(?)', [LOCK]);
      const results = await Promise.all([a, b]);
      const applied = results.map((result) =>
        result.ok ? (result.payload as { Data: { applied: string } }).Data.applied : result,
      );
      expect(applied.sort()).toEqual(['', ALL_VERSIONS]);
    } finally {
      await holder.end();
    }
  });
});
