import { type Connection, createConnection, type RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ResourceRegistry } from '../../../shared/resources/lending.ts';
import { mysqlPool } from '../../../shared/resources/mysql-pool.ts';
import {
  createMysqlTestDatabase,
  type MysqlTestDatabase,
  mysqlReachable,
  TEST_MYSQL_URL,
} from '../../helpers/sql-databases.ts';

const reachable = await mysqlReachable('mysqlPool integration tests');
/** A run's own signal that never aborts. */
const never = () => new AbortController().signal;

describe.skipIf(!reachable)('mysqlPool against MariaDB', () => {
  let db: MysqlTestDatabase;
  /** A connection outside the test database, to watch the server. */
  let observer: Connection;
  const registries: ResourceRegistry[] = [];
  const newRegistry = () => {
    const registry = new ResourceRegistry();
    registries.push(registry);
    return registry;
  };
  /** Server connections currently on the test database. */
  const connectionsToTestDatabase = async () => {
    const [rows] = await observer.query<RowDataPacket[]>(
      'SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE DB = ?',
      [db.name],
    );
    return Number(rows[0]!.n);
  };

  beforeAll(async () => {
    db = await createMysqlTestDatabase('pool');
    observer = await createConnection({ uri: TEST_MYSQL_URL });
  });

  afterAll(async () => {
    await Promise.all(registries.map((r) => r.destroyAll()));
    // A pool left open fails the suite: every connection to the test database must be gone.
    let open = await connectionsToTestDatabase();
    for (let i = 0; i < 40 && open > 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      open = await connectionsToTestDatabase();
    }
    await observer.end();
    await db.drop();
    expect(open).toBe(0);
  });

  it('never holds more than max connections for 200 concurrent runs', async () => {
    const registry = newRegistry();
    const resources = { db: mysqlPool({ dsn: db.dsn, max: 5 }) };
    let inFlight = 0;
    let maxInFlight = 0;
    let maxOnServer = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        maxOnServer = Math.max(maxOnServer, await connectionsToTestDatabase());
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    })();

    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        registry.withResources(`job`, resources, never(), async ({ db: connection }) => {
          inFlight += 1;
          maxInFlight = Math.max(maxInFlight, inFlight);
          const [rows] = await connection.query<RowDataPacket[]>('SELECT ? AS i, SLEEP(0.005) AS slept', [i]);
          inFlight -= 1;
          return Number(rows[0]!.i);
        }),
      ),
    );
    sampling = false;
    await sampler;

    expect(results).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect(maxInFlight).toBe(5);
    expect(maxOnServer).toBeGreaterThan(0);
    expect(maxOnServer).toBeLessThanOrEqual(5);
    const waits = resources.db.poolWaitStats();
    expect(waits.count).toBe(200);
    expect(waits.p50Ms).toBeLessThanOrEqual(waits.p95Ms);
    expect(waits.p95Ms).toBeLessThanOrEqual(waits.p99Ms);
    expect(waits.p99Ms).toBeLessThanOrEqual(waits.maxMs);
  });

  it('gives up waiting for a connection on timeout, and the pool stays usable', async () => {
    const registry = newRegistry();
    const resources = { db: mysqlPool({ dsn: db.dsn, max: 1 }) };
    const holder = await registry.borrow('job', resources, never());

    const waiting = registry.borrow('job', resources, AbortSignal.timeout(50));

    await expect(waiting).rejects.toThrow('The operation was aborted due to timeout');
    await holder.release();
    const next = await registry.withResources(
      'job',
      resources,
      AbortSignal.timeout(5_000),
      async ({ db: c }) => {
        const [rows] = await c.query<RowDataPacket[]>('SELECT 1 AS one');
        return rows[0]!.one;
      },
    );
    expect(next).toBe(1);
  });

  it('resets a connection given back mid-transaction and refuses use after its run', async () => {
    const registry = newRegistry();
    const resources = { db: mysqlPool({ dsn: db.dsn, max: 1 }) };
    await observer.query(`CREATE TABLE \`${db.name}\`.reset_check (id INT PRIMARY KEY) ENGINE=InnoDB`);
    const first = await registry.borrow('job', resources, never());
    await first.values.db.query('START TRANSACTION');
    await first.values.db.query('INSERT INTO reset_check VALUES (1)');

    await first.release();
    const second = await registry.borrow('job', resources, never());
    const [rows] = await second.values.db.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM reset_check');
    await second.release();

    expect(Number(rows[0]!.n)).toBe(0);
    expect(() => first.values.db.query('SELECT 1')).toThrow(
      'This MySQL connection was given back when its run ended or timed out; it can no longer be used',
    );
    expect(() => second.values.db.release()).toThrow(
      'A connection lent by mysqlPool() is given back by Piko when the run ends',
    );
  });
});
