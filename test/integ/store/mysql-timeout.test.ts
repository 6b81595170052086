/**
 * A MySQL server that accepts but never answers (issue 10, item 4): a proxy that holds every byte
 * stands in for a frozen database. A statement fails with StoreUnavailableError once the store's
 * statement timeout has passed, its connection is destroyed (never given back to the pool with a
 * statement in flight), and the store works again once the server answers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../../shared/errors.ts';
import { openMysqlStore, parseMysqlDsn } from '../../../shared/store/mysql/index.ts';
import type { StateStore } from '../../../shared/store/types.ts';
import { type FaultProxy, startFaultProxy } from '../../../support/fault-proxy.ts';
import { createTestDatabase, mysqlGate, mysqlTestDsn, type TestDatabase } from '../../../support/mysql.ts';
import { jobAt } from '../../helpers/stored-job.ts';

const FREEZE_MS = 300_000;
const gate = await mysqlGate('MySQL statement timeout tests');

describe.skipIf(gate.skip)('MySQL state store on a frozen server', () => {
  let database: TestDatabase;
  let proxy: FaultProxy;
  let store: StateStore;

  beforeAll(async () => {
    if (!gate.probe.available) throw new Error(gate.probe.reason);
    database = await createTestDatabase('freeze');
    const target = parseMysqlDsn(mysqlTestDsn());
    proxy = await startFaultProxy({ targetHost: target.host, targetPort: target.port });
    store = await openMysqlStore({ dsn: proxy.rewrite(database.dsn), poolSize: 1, queryTimeoutSeconds: 1 });
    await store.migrate();
  });

  afterAll(async () => {
    await proxy?.restore();
    await store?.close();
    await proxy?.close();
    await database?.drop();
  });

  it('fails a statement in flight with StoreUnavailableError, drops its connection, and recovers', async () => {
    // Arrange: a pooled connection, then the server freezes
    await store.setPaused(jobAt('frozen', new Date(0)), false);
    proxy.stall(FREEZE_MS);

    // Act
    const error = await store.getJob('frozen').catch((caught: unknown) => caught);

    // Assert
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect((error as Error).message).toBe(
      `MySQL at 127.0.0.1:${proxy.port}/${database.name} did not answer within 1 s (mysql.query_timeout_seconds): the connection was dropped; piko tries again.`,
    );
    const connectionsBefore = proxy.stats.accepted;
    await proxy.restore();
    await expect(store.getJob('frozen')).resolves.toMatchObject({ jobId: 'frozen', paused: false });
    // The pool's only connection was destroyed, so the next statement needed a new one.
    expect(proxy.stats.accepted).toBe(connectionsBefore + 1);
  }, 60_000);

  it('fails a transaction in flight with StoreUnavailableError and recovers', async () => {
    // Arrange
    await store.getJob('frozen');
    proxy.stall(FREEZE_MS);

    // Act
    const error = await store
      .withJob(jobAt('frozen', new Date(0)), async (tx) => tx.job.paused)
      .catch((caught: unknown) => caught);

    // Assert
    expect(error).toBeInstanceOf(StoreUnavailableError);
    const connectionsBefore = proxy.stats.accepted;
    await proxy.restore();
    await expect(store.withJob(jobAt('frozen', new Date(0)), async (tx) => tx.job.jobId)).resolves.toBe(
      'frozen',
    );
    expect(proxy.stats.accepted).toBe(connectionsBefore + 1);
  }, 60_000);
});
