import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { PikoConfig } from '../../../shared/config.ts';
import { ConfigError, StoreError, StoreUnavailableError } from '../../../shared/errors.ts';
import { ResourceRegistry } from '../../../shared/resources/lending.ts';
import { sqlPool } from '../../../shared/resources/sql-pool.ts';
import { openSqliteDatabase } from '../../../shared/store/sqlite.ts';
import { createTestDatabase, mysqlGate, type TestDatabase } from '../../../support/mysql.ts';
import { type TempSqliteFile, tempSqliteFile } from '../../helpers/sqlite.ts';

/** The process configuration sqlPool() reads: no DSN (SQLite) unless a test sets one. */
const config = vi.hoisted(() => ({ mysql: {} as { dsn?: string } }));
vi.mock('../../../shared/config.ts', () => ({
  getConfig: () =>
    ({ mysql: config.mysql, sqlite: { file: '/nonexistent/piko.db' } }) as unknown as PikoConfig,
}));

/** A run's own signal that never aborts. */
const never = () => new AbortController().signal;
const gate = await mysqlGate('sqlPool MySQL tests');

describe('sqlPool on SQLite', () => {
  let temp: TempSqliteFile;
  beforeAll(async () => {
    config.mysql = {};
    temp = await tempSqliteFile('piko-sql-pool-');
  });
  afterAll(async () => {
    // Throws when the file's connection was left open.
    await temp.cleanup();
  });

  it('opens its file through the process’s SQLite opener and lends it to each run', async () => {
    const registry = new ResourceRegistry({ openSqliteDatabase });
    const resources = { db: sqlPool({ max: 1, sqliteFile: temp.file }) };

    const rows = await registry.withResources('job', resources, never(), async ({ db }) => {
      await db.query('CREATE TABLE lent (id INTEGER PRIMARY KEY)');
      await db.query('INSERT INTO lent (id) VALUES (?), (?)', [1, 2]);
      return (await db.query('SELECT COUNT(*) AS n FROM lent')).rows;
    });
    await registry.destroyAll();

    expect(rows).toEqual([{ n: 2 }]);
  });

  it('refuses SQLite in a process that cannot open it (AWS), saying what to set', async () => {
    const registry = new ResourceRegistry();
    const resources = { db: sqlPool({ sqliteFile: temp.file }) };

    const borrowing = registry.borrow('store_totals', resources, never());

    await expect(borrowing).rejects.toBeInstanceOf(ConfigError);
    await expect(borrowing).rejects.toThrow(
      'Invalid configuration:\n  - mysql.dsn is not set, but resource "db" of job "store_totals" is a sqlPool() in a ' +
        'process that cannot open SQLite (SQLite is for the local runtime and the CLI): set PIKO_MYSQL__DSN ' +
        '(the stack sets it on AWS)',
    );
    await registry.destroyAll();
  });
});

describe.skipIf(gate.skip)('sqlPool on MySQL (MariaDB)', () => {
  let database: TestDatabase;
  let registry: ResourceRegistry;
  const resources = { db: sqlPool({ max: 2 }) };

  beforeAll(async () => {
    if (!gate.probe.available) throw new Error(gate.probe.reason);
    database = await createTestDatabase('sql_pool');
    config.mysql = { dsn: database.dsn };
    // No SQLite opener: the MySQL branch must not need one.
    registry = new ResourceRegistry();
  });
  afterAll(async () => {
    await registry?.destroyAll();
    // Throws when a connection to the test database is still open.
    await database?.drop();
  });

  it('lends the store’s adapter: a statement the server refuses is a StoreError naming its code', async () => {
    const error = await registry
      .withResources('job', resources, never(), ({ db }) => db.query('SELECT * FROM no_such_table'))
      .catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(StoreError);
    expect(error).not.toBeInstanceOf(StoreUnavailableError);
    expect((error as Error).message).toBe(
      `MySQL query failed (ER_NO_SUCH_TABLE): Table '${database.name}.no_such_table' doesn't exist`,
    );
  });

  it('runs a transaction on the lent connection, rolls it back when its work throws, refuses a nested one', async () => {
    const outcome = await registry.withResources('job', resources, never(), async ({ db }) => {
      await db.query('CREATE TABLE lent (id INT PRIMARY KEY) ENGINE=InnoDB');
      const failed = await db
        .transaction(async (tx) => {
          await tx.query('INSERT INTO lent (id) VALUES (?)', [1]);
          throw new Error('work failed');
        })
        .catch((caught: unknown) => (caught as Error).message);
      const nested = await db
        .transaction((tx) => tx.transaction(async () => 'never'))
        .catch((caught: unknown) => (caught as Error).message);
      const committed = await db.transaction(async (tx) => {
        await tx.query('INSERT INTO lent (id) VALUES (?)', [2]);
        return 'committed';
      });
      const { rows } = await db.query('SELECT id FROM lent ORDER BY id');
      return { failed, nested, committed, ids: rows.map((row) => Number(row.id)) };
    });

    expect(outcome).toEqual({
      failed: 'work failed',
      nested: 'Nested transactions are not supported: use the database given to the outer transaction.',
      committed: 'committed',
      ids: [2],
    });
  });
});
