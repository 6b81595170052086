/**
 * Small `SqlDatabase` adapters for tests (better-sqlite3 and mysql2), and one fresh MariaDB database
 * per test file.
 */
import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import { createConnection, createPool, type Pool, type PoolConnection } from 'mysql2/promise';
import type { SqlDatabase, SqlRow } from '../../shared/sql.ts';

/** The MariaDB server of the integration tests. @default 'mysql://root@127.0.0.1:3306' */
export const TEST_MYSQL_URL = process.env.TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306';

/** A `SqlDatabase` on a better-sqlite3 file (or `:memory:`), with a way to close it. */
export interface TestSqliteDatabase extends SqlDatabase {
  /** The underlying connection, for assertions. */
  readonly raw: Database.Database;
  close(): void;
}

/** Opens a SQLite database as a `SqlDatabase`. Booleans are bound as 1/0. */
export function sqliteDatabase(file: string): TestSqliteDatabase {
  const raw = new Database(file);
  raw.pragma('journal_mode = WAL');
  const bind = (params: readonly unknown[]) => params.map((p) => (typeof p === 'boolean' ? Number(p) : p));
  const db: TestSqliteDatabase = {
    dialect: 'sqlite',
    raw,
    async query(sql, params = []) {
      const statement = raw.prepare(sql);
      if (statement.reader) return { rows: statement.all(...bind(params)) as SqlRow[], affectedRows: 0 };
      return { rows: [], affectedRows: statement.run(...bind(params)).changes };
    },
    async transaction(work) {
      raw.exec('BEGIN IMMEDIATE');
      try {
        const result = await work(db);
        raw.exec('COMMIT');
        return result;
      } catch (err) {
        raw.exec('ROLLBACK');
        throw err;
      }
    },
    close: () => raw.close(),
  };
  return db;
}

/** A `SqlDatabase` on a mysql2 pool or connection (`query`, values bound client-side). */
export function mysqlDatabase(client: Pool | PoolConnection): SqlDatabase {
  return {
    dialect: 'mysql',
    async query(sql, params = []) {
      const [result] = await client.query(sql, params as unknown[]);
      if (Array.isArray(result)) return { rows: result as SqlRow[], affectedRows: 0 };
      return { rows: [], affectedRows: (result as { affectedRows: number }).affectedRows };
    },
    async transaction(work) {
      const connection = 'getConnection' in client ? await client.getConnection() : client;
      try {
        await connection.query('START TRANSACTION');
        try {
          const result = await work(mysqlDatabase(connection));
          await connection.query('COMMIT');
          return result;
        } catch (err) {
          await connection.query('ROLLBACK');
          throw err;
        }
      } finally {
        if (connection !== client) connection.release();
      }
    },
  };
}

/**
 * Whether the test MariaDB answers. Without `CI` an unreachable server skips the MySQL tests with a
 * warning; with `CI` set it fails them.
 */
export async function mysqlReachable(suite: string): Promise<boolean> {
  try {
    const connection = await createConnection({ uri: TEST_MYSQL_URL, connectTimeout: 3_000 });
    await connection.end();
    return true;
  } catch (err) {
    const reason = `MariaDB at ${TEST_MYSQL_URL.replace(/\/\/[^@]*@/, '//')} is unreachable (${(err as Error).message})`;
    if (process.env.CI) throw new Error(`${suite}: ${reason}; CI requires it`);
    console.warn(`Skipping ${suite}: ${reason}. Set TEST_MYSQL_URL or start MariaDB to run it.`);
    return false;
  }
}

/** A database of its own for one test file. */
export interface MysqlTestDatabase {
  /** `piko_t_<label>_<random>`. */
  readonly name: string;
  /** DSN of the database. */
  readonly dsn: string;
  /** A pool on it (closed by `drop`). */
  readonly pool: Pool;
  /** `SqlDatabase` over `pool`. */
  readonly database: SqlDatabase;
  /** Closes the pool and drops the database. */
  drop(): Promise<void>;
}

/** Creates `piko_t_<label>_<random>` on the test server. */
export async function createMysqlTestDatabase(label: string): Promise<MysqlTestDatabase> {
  const name = `piko_t_${label}_${randomBytes(4).toString('hex')}`;
  const admin = await createConnection({ uri: TEST_MYSQL_URL });
  try {
    await admin.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4`);
  } finally {
    await admin.end();
  }
  const url = new URL(TEST_MYSQL_URL);
  url.pathname = `/${name}`;
  const dsn = url.toString();
  const pool = createPool({ uri: dsn, connectionLimit: 4, timezone: 'Z' });
  return {
    name,
    dsn,
    pool,
    database: mysqlDatabase(pool),
    async drop() {
      await pool.end();
      const connection = await createConnection({ uri: TEST_MYSQL_URL });
      try {
        await connection.query(`DROP DATABASE IF EXISTS \`${name}\``);
      } finally {
        await connection.end();
      }
    },
  };
}
