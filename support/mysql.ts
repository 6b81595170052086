import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import { parseMysqlDsn, redactDsn } from '../shared/store/mysql/index.ts';

/** The server the integration tests use: `PIKO_TEST_MYSQL_DSN`, else the local MariaDB. */
export function mysqlTestDsn(): string {
  return process.env.PIKO_TEST_MYSQL_DSN || 'mysql://root@127.0.0.1:3306/test';
}

/** Whether the test server answers, and why not. */
export type MysqlProbe =
  | { readonly available: true }
  | { readonly available: false; readonly reason: string };

/** Connects once to the test server. */
export async function mysqlAvailable(): Promise<MysqlProbe> {
  const dsn = mysqlTestDsn();
  try {
    const connection = await connect(dsn);
    await connection.end();
    return { available: true };
  } catch (error) {
    const message = error instanceof AggregateError ? error.errors.map(String).join('; ') : String(error);
    return {
      available: false,
      reason: `MySQL is not reachable at ${redactDsn(dsn)} (${message}); set PIKO_TEST_MYSQL_DSN to a server where the user may create databases.`,
    };
  }
}

/** A database created for one test file. */
export interface TestDatabase {
  readonly name: string;
  /** The test DSN pointing at this database. */
  readonly dsn: string;
  /**
   * Drops the database. Throws when connections to it are still open after a short grace period:
   * a store or pool that was not closed.
   */
  drop(): Promise<void>;
}

/** Creates a fresh, uniquely named database `piko_t_<prefix>_<random>` on the test server. */
export async function createTestDatabase(prefix: string): Promise<TestDatabase> {
  const dsn = mysqlTestDsn();
  const name = `piko_t_${prefix.replace(/[^a-z0-9_]/gi, '_').slice(0, 40)}_${randomBytes(4).toString('hex')}`;
  const admin = await connect(dsn);
  try {
    await admin.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
  } finally {
    await admin.end();
  }
  const url = new URL(dsn);
  url.pathname = `/${name}`;
  return {
    name,
    dsn: url.toString(),
    async drop() {
      const connection = await connect(dsn);
      try {
        const open = await openConnections(connection, name);
        await connection.query(`DROP DATABASE IF EXISTS \`${name}\``);
        if (open > 0) {
          throw new Error(
            `${open} connection(s) to test database ${name} were still open: a store or pool was not closed.`,
          );
        }
      } finally {
        await connection.end();
      }
    },
  };
}

/** Connections using `database`, waiting up to 2 s for closing ones to go. */
async function openConnections(connection: mysql.Connection, database: string): Promise<number> {
  const deadline = Date.now() + 2_000;
  for (;;) {
    const [rows] = await connection.query<mysql.RowDataPacket[]>(
      'SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE DB = ? AND ID <> CONNECTION_ID()',
      [database],
    );
    const open = Number(rows[0]?.n ?? 0);
    if (open === 0 || Date.now() > deadline) return open;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function connect(dsn: string): Promise<mysql.Connection> {
  // Without the DSN's database, which need not exist: the helpers only need the server.
  const { host, port, user, password, ssl } = parseMysqlDsn(dsn);
  return mysql.createConnection({
    host,
    port,
    user,
    password,
    connectTimeout: 3_000,
    ssl: ssl === true ? {} : ssl === 'amazon-rds' ? 'Amazon RDS' : undefined,
  });
}

/**
 * Whether a MySQL suite must be skipped: locally without a server it is skipped, with the reason
 * printed; when `CI` is set it runs, and fails with the reason.
 */
export async function mysqlGate(suite: string): Promise<{ skip: boolean; probe: MysqlProbe }> {
  const probe = await mysqlAvailable();
  const skip = !probe.available && !process.env.CI;
  if (!probe.available) console.warn(`${suite} ${skip ? 'skipped' : 'will fail'}: ${probe.reason}`);
  return { skip, probe };
}
