import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteStore } from '../../shared/store/sqlite.ts';
import type { StateStore } from '../../shared/store/types.ts';

/** A SQLite file path in a fresh directory under the OS temp directory. */
export interface TempSqliteFile {
  readonly file: string;
  /**
   * Removes the directory. Throws when the file's WAL is still there: SQLite deletes it when the
   * last connection closes, so a store that was not closed fails the test.
   */
  cleanup(): Promise<void>;
}

export async function tempSqliteFile(prefix = 'piko-sqlite-'): Promise<TempSqliteFile> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const file = join(dir, 'state', 'piko.db');
  return {
    file,
    async cleanup() {
      const walLeft = existsSync(`${file}-wal`);
      await rm(dir, { recursive: true, force: true });
      if (walLeft) throw new Error(`A connection to ${file} was still open: a store was not closed.`);
    },
  };
}

/** A SQLite store on a real file under the OS temp directory; `cleanup` closes it and removes the file. */
export async function createTempSqliteStore(
  options: { clock?: () => Date } = {},
): Promise<{ store: StateStore; file: string; cleanup(): Promise<void> }> {
  const temp = await tempSqliteFile();
  const store = await openSqliteStore({ file: temp.file, clock: options.clock });
  return {
    store,
    file: temp.file,
    async cleanup() {
      await store.close();
      await temp.cleanup();
    },
  };
}
