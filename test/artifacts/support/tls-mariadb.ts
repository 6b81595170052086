/**
 * A private MariaDB for one test file (`test/helpers/private-mariadb.ts`): its own datadir, port and
 * socket, TLS with a certificate of the test CA, and every TCP connection required to use TLS
 * (`--require-secure-transport`). The shared server on 3306 is never touched.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type mysql from 'mysql2/promise';
import { startPrivateMariaDb } from '../../helpers/private-mariadb.ts';
import { artifactRunDir } from './run.ts';
import { issueServerCertificate, type TestCa } from './test-ca.ts';

/** A database user of the private server. */
export interface DatabaseUser {
  readonly user: string;
  readonly password: string;
}

/** Options of {@link startTlsMariaDb}. */
export interface TlsMariaDbOptions {
  readonly ca: TestCa;
  /** Users created `REQUIRE SSL` with all privileges, and the grant option (as an RDS master user). */
  readonly users: readonly DatabaseUser[];
  /** Databases created (utf8mb4). */
  readonly databases: readonly string[];
}

/** A running private MariaDB. */
export interface TlsMariaDb {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** Its Unix socket (root, no TLS needed there): for the tests' own checks. */
  readonly socket: string;
  readonly users: readonly DatabaseUser[];
  /** Runs SQL as root over the socket. */
  query<T = unknown>(sql: string, values?: unknown[]): Promise<T>;
  /** A root connection over the socket (the caller ends it). */
  rootConnection(database?: string): Promise<mysql.Connection>;
  /** Stops the server and removes its folder. */
  stop(): Promise<void>;
}

/** Installs a datadir, starts `mariadbd` on it with TLS, creates the users and databases. */
export async function startTlsMariaDb(options: TlsMariaDbOptions): Promise<TlsMariaDb> {
  const certificate = issueServerCertificate(options.ca, `mariadb-${randomBytes(4).toString('hex')}`, [
    '127.0.0.1',
    'localhost',
  ]);
  let pidFile: string | undefined;
  const server = await startPrivateMariaDb({
    args: [
      `--ssl-ca=${options.ca.certFile}`,
      `--ssl-cert=${certificate.certFile}`,
      `--ssl-key=${certificate.keyFile}`,
      '--require-secure-transport=ON',
      '--innodb-buffer-pool-size=64M',
      '--max-connections=200',
      '--collation-server=utf8mb4_unicode_ci',
    ],
    // Only the users below: every TCP login goes through TLS as one of them.
    tcpUser: false,
    onSpawn: (pid) => {
      pidFile = path.join(artifactRunDir(), 'pids', `mariadbd-${pid}`);
      mkdirSync(path.dirname(pidFile), { recursive: true });
      writeFileSync(pidFile, String(pid));
    },
  });
  for (const database of options.databases) {
    await server.query(`CREATE DATABASE \`${database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
  }
  for (const { user, password } of options.users) {
    await server.query(`CREATE USER ?@'%' IDENTIFIED BY ? REQUIRE SSL`, [user, password]);
    await server.query(`GRANT ALL PRIVILEGES ON *.* TO ?@'%' WITH GRANT OPTION`, [user]);
  }

  return {
    host: '127.0.0.1',
    port: server.port,
    socket: server.socket,
    users: options.users,
    query: server.query,
    rootConnection: server.rootConnection,
    async stop() {
      await server.stop();
      if (pidFile) rmSync(pidFile, { force: true });
    },
  };
}
