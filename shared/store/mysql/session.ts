/** What every new MySQL connection of the store runs first. */

/**
 * What each new connection runs first: UTC, and READ COMMITTED for every statement of the session.
 * Both through variables RDS Proxy tracks (`time_zone`, `transaction_isolation` or `tx_isolation`), so
 * they do not pin the client connection to one database connection, as `SET SESSION TRANSACTION
 * ISOLATION LEVEL …` and other `SET`s may ("Avoiding pinning an RDS Proxy", What RDS Proxy tracks for
 * Aurora MySQL databases: https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/rds-proxy-pinning.html).
 * MySQL 8 (Aurora MySQL 3) names the variable `transaction_isolation`; MariaDB before 11.1 only has
 * `tx_isolation`, which MySQL 8 removed.
 */
export function sessionSetup(serverVersion: string): readonly string[] {
  const isolation = /mariadb/i.test(serverVersion) ? 'tx_isolation' : 'transaction_isolation';
  return ["SET time_zone = '+00:00'", `SET SESSION ${isolation} = 'READ-COMMITTED'`];
}

/** The server version of a new mysql2 connection, from its handshake (mysql2 keeps it untyped); '' if absent. */
export function serverVersionOf(connection: object): string {
  const handshake = (connection as { _handshakePacket?: { serverVersion?: unknown } })._handshakePacket;
  return typeof handshake?.serverVersion === 'string' ? handshake.serverVersion : '';
}
