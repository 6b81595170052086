/**
 * The SQLite store with its connection on a thread of its own (`onThread`, the UI's connection): its
 * statements leave the event loop free, its errors are the store's, and an idle one never keeps the
 * process alive. The store's behaviour itself is the conformance suite's (sqlite.test.ts).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { StoreError } from '../../../shared/errors.ts';
import { openSqliteStore } from '../../../shared/store/sqlite.ts';
import type { StateStore } from '../../../shared/store/types.ts';
import { type TempSqliteFile, tempSqliteFile } from '../../helpers/sqlite.ts';

const SQLITE_MODULE = fileURLToPath(new URL('../../../shared/store/sqlite.ts', import.meta.url));
/** A statement that keeps SQLite busy for a while (hundreds of ms) and reads nothing. */
const SLOW_COUNT =
  'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000000) SELECT COUNT(*) AS n FROM c';

/** How many times a 1 ms timer fired while `work` ran. */
async function timerTurnsDuring(work: () => Promise<unknown>): Promise<number> {
  let turns = 0;
  const timer = setInterval(() => {
    turns += 1;
  }, 1);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  return turns;
}

describe('the SQLite store on a thread of its own', () => {
  let temp: TempSqliteFile | undefined;
  let store: StateStore | undefined;
  afterEach(async () => {
    await store?.close();
    store = undefined;
    await temp?.cleanup();
    temp = undefined;
  });

  async function open(onThread: boolean): Promise<StateStore> {
    temp = await tempSqliteFile();
    store = await openSqliteStore({ file: temp.file, onThread });
    await store.migrate();
    return store;
  }

  it('runs a long statement while the event loop goes on (on this thread it stands still)', async () => {
    // Arrange
    const threaded = await open(true);

    // Act
    const turns = await timerTurnsDuring(() => threaded.database.query(SLOW_COUNT));
    await threaded.close();
    await temp?.cleanup();
    const here = await open(false);
    const turnsHere = await timerTurnsDuring(() => here.database.query(SLOW_COUNT));

    // Assert
    expect(turns).toBeGreaterThan(0);
    expect(turnsHere).toBe(0);
  });

  it("gives SQLite's errors as the store's, and a closed store says so", async () => {
    // Arrange
    const threaded = await open(true);

    // Act
    const badSql = await threaded.database
      .query('SELECT nope FROM piko_runs')
      .catch((error: unknown) => error);
    const badDate = await threaded.database
      .query('SELECT ? AS d', [new Date(Number.NaN)])
      .catch((error: unknown) => error);
    await threaded.close();
    const afterClose = await threaded.database.query('SELECT 1').catch((error: unknown) => error);

    // Assert
    expect(badSql).toBeInstanceOf(StoreError);
    expect((badSql as Error).message).toMatch(/^SQLite query failed \(SQLITE_ERROR\): no such column: nope/);
    expect(badDate).toBeInstanceOf(StoreError);
    expect((badDate as Error).message).toBe('Cannot bind an invalid Date.');
    expect(afterClose).toBeInstanceOf(StoreError);
    expect((afterClose as Error).message).toContain('is closed');
  });

  it('refuses ":memory:", which the thread could not share', async () => {
    await expect(openSqliteStore({ file: ':memory:', onThread: true })).rejects.toThrow(
      'A SQLite state store on a thread of its own needs a file, not ":memory:".',
    );
  });

  it('never keeps the process alive while idle: a script that does not close it still ends', async () => {
    // Arrange
    temp = await tempSqliteFile();
    const script = `
      const { openSqliteStore } = await import(${JSON.stringify(SQLITE_MODULE)});
      const store = await openSqliteStore({ file: ${JSON.stringify(temp.file)}, onThread: true });
      await store.migrate();
      const { rows } = await store.database.query('SELECT COUNT(*) AS n FROM piko_runs');
      console.log('runs', rows[0].n);
    `;

    // Act
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const code = await new Promise<number | null>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`the script did not end within 60 s:\n${output}`));
      }, 60_000);
      child.on('exit', (exitCode) => {
        clearTimeout(timer);
        resolve(exitCode);
      });
    });

    // Assert
    expect({ code, output: output.trim() }).toEqual({ code: 0, output: 'runs 0' });
  });
});
