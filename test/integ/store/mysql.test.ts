import { describe, expect, it } from 'vitest';
import type { SqlDatabase } from '../../../shared/sql.ts';
import { openMysqlStore, sessionSetup } from '../../../shared/store/mysql/index.ts';
import { createTestDatabase, mysqlAvailable } from '../../../support/mysql.ts';
import { describeStateStore } from './conformance.ts';
import { describeLeaseStore } from './leases.ts';
import { describeStageEvents } from './stage-events.ts';

const probe = await mysqlAvailable();
// Without a server, skip locally with the reason; in CI, run and fail with it.
const skip = !probe.available && !process.env.CI;
if (!probe.available)
  console.warn(`MySQL state store tests ${skip ? 'skipped' : 'will fail'}: ${probe.reason}`);

describe.skipIf(skip)('MySQL (MariaDB / Aurora MySQL)', () => {
  describeStateStore(
    'MySQL',
    async ({ clock }) => {
      if (!probe.available) throw new Error(probe.reason);
      const database = await createTestDatabase('store');
      const store = await openMysqlStore({ dsn: database.dsn, clock });
      return {
        store,
        async cleanup() {
          await store.close();
          await database.drop();
        },
      };
    },
    {
      async freshTarget() {
        const database = await createTestDatabase('fresh');
        return { config: { mysqlDsn: database.dsn, poolSize: 2 }, cleanup: () => database.drop() };
      },
    },
  );

  describeStageEvents('MySQL', async ({ clock }) => {
    if (!probe.available) throw new Error(probe.reason);
    const database = await createTestDatabase('stage');
    const store = await openMysqlStore({ dsn: database.dsn, clock });
    return {
      store,
      async cleanup() {
        await store.close();
        await database.drop();
      },
    };
  });

  describeLeaseStore('MySQL', async () => {
    if (!probe.available) throw new Error(probe.reason);
    const database = await createTestDatabase('leases');
    const store = await openMysqlStore({ dsn: database.dsn });
    return {
      store,
      async cleanup() {
        await store.close();
        await database.drop();
      },
    };
  });

  describe('MySQL sessions', () => {
    /** `@@transaction_isolation` is MySQL 8's name, `@@tx_isolation` MariaDB 10's. */
    async function isolation(db: SqlDatabase): Promise<unknown> {
      try {
        return (await db.query('SELECT @@session.transaction_isolation AS iso')).rows[0]?.iso;
      } catch {
        return (await db.query('SELECT @@session.tx_isolation AS iso')).rows[0]?.iso;
      }
    }

    it('sets the session through variables RDS Proxy tracks, as MySQL 8 and MariaDB name them', () => {
      expect(sessionSetup('8.0.39')).toEqual([
        "SET time_zone = '+00:00'",
        "SET SESSION transaction_isolation = 'READ-COMMITTED'",
      ]);
      expect(sessionSetup('10.11.19-MariaDB-0+deb12u1')).toEqual([
        "SET time_zone = '+00:00'",
        "SET SESSION tx_isolation = 'READ-COMMITTED'",
      ]);
    });

    it('runs every pooled connection in UTC with READ COMMITTED transactions', async () => {
      if (!probe.available) throw new Error(probe.reason);
      const database = await createTestDatabase('session');
      const store = await openMysqlStore({ dsn: database.dsn, poolSize: 2 });
      try {
        const sessions = await Promise.all(
          [1, 2].map(() =>
            store.database.transaction(async (db) => {
              const { rows } = await db.query('SELECT CONNECTION_ID() AS id, @@session.time_zone AS tz');
              await new Promise((resolve) => setTimeout(resolve, 50));
              return { id: rows[0]?.id, tz: rows[0]?.tz, isolation: await isolation(db) };
            }),
          ),
        );

        expect(sessions[0]?.id).not.toBe(sessions[1]?.id);
        expect(sessions.map(({ tz, isolation }) => ({ tz, isolation }))).toEqual([
          { tz: '+00:00', isolation: 'READ-COMMITTED' },
          { tz: '+00:00', isolation: 'READ-COMMITTED' },
        ]);
      } finally {
        await store.close();
        await database.drop();
      }
    });
  });
});
