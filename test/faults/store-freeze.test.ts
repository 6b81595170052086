/**
 * The database freezes (issue 10, item 4): a proxy between `piko start` and MariaDB accepts and holds
 * every byte, as a SIGSTOPped database would. SIGTERM must still end the process, within its grace
 * period plus a bound, with a clear message: running work is left for the next start.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMysqlDsn } from '../../shared/store/mysql/index.ts';
import { type FaultProxy, startFaultProxy } from '../../support/fault-proxy.ts';
import { createTestDatabase, mysqlGate, mysqlTestDsn, type TestDatabase } from '../../support/mysql.ts';
import { type PikoExit, sleep, spawnPiko } from '../../support/piko-process.ts';

const MINUTE_MS = 60_000;
const FREEZE_MS = 300_000;
/** Far more than grace (1 s) + the bounds (5 s after abort, 5 s for close); the base code never exits. */
const EXIT_TIMEOUT_MS = 90_000;
const gate = await mysqlGate('database freeze tests');

describe.skipIf(gate.skip)('piko start on a frozen database', () => {
  let database: TestDatabase;
  let proxy: FaultProxy;
  let dataDir: string;

  beforeAll(async () => {
    if (!gate.probe.available) throw new Error(gate.probe.reason);
    database = await createTestDatabase('freeze_cli');
    const target = parseMysqlDsn(mysqlTestDsn());
    proxy = await startFaultProxy({ targetHost: target.host, targetPort: target.port });
    dataDir = await mkdtemp(path.join(tmpdir(), 'piko-freeze-'));
  });

  afterAll(async () => {
    await proxy?.restore();
    await proxy?.close();
    await database?.drop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it(
    'exits on SIGTERM while every statement hangs, saying what it left',
    async () => {
      // Arrange: a long catch-up, running
      const child = spawnPiko({
        store: { kind: 'mysql', dsn: proxy.rewrite(database.dsn) },
        dataDir,
        once: false,
        job: {
          id: 'freeze',
          start: new Date(Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS - 2_000 * MINUTE_MS),
          delayMs: [20, 50],
        },
        env: { PIKO_SHUTDOWN_GRACE_SECONDS: '1' },
      });
      const succeeded = await child.waitUntil(() => child.count('succeeded') >= 5, 60_000);
      expect(succeeded, child.tail(30)).toBe(true);

      // Act: freeze the database mid-catch-up, then ask the process to stop
      proxy.stall(FREEZE_MS);
      await sleep(500);
      child.child.kill('SIGTERM');
      const exit = await Promise.race([child.exited, sleep(EXIT_TIMEOUT_MS).then(() => undefined)]);
      if (!exit) await child.kill9();

      // Assert
      expect(
        exit,
        `did not exit on SIGTERM: ${child.events
          .map((e) => e.event)
          .filter((e) => !['succeeded', 'dispatched', 'attempt-failed'].includes(e))
          .join(',')}\n${child.otherLines
          .filter((l) => !l.includes('stage attempt failed'))
          .slice(-20)
          .join('\n')}`,
      ).toEqual<PikoExit>({
        code: 0,
        signal: null,
      });
      expect(child.count('stopping')).toBe(1);
      expect(child.count('stop-forced'), child.tail(30)).toBe(1);
      expect(child.count('stopped')).toBe(1);
      expect(child.events.find((event) => event.event === 'stop-forced')).toMatchObject({ waitedMs: 5_000 });
    },
    EXIT_TIMEOUT_MS + 60_000,
  );
});
