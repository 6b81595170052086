/**
 * A SQLite state file that cannot be trusted (issue 10, item 7): a zeroed page, a 0-byte or missing
 * file where state existed, another store's file in its place. Each is refused at open with restore
 * advice (StoreCorruptError), never silently replaced by a new database.
 */
import { closeSync, openSync, truncateSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StoreCorruptError } from '../../../shared/errors.ts';
import { openSqliteStore, storeIdFile } from '../../../shared/store/sqlite.ts';
import { type TempSqliteFile, tempSqliteFile } from '../../helpers/sqlite.ts';
import { jobAt } from '../../helpers/stored-job.ts';

const PAGE_SIZE = 4096;

/** A migrated store with a few jobs, closed (so everything is in the main file). */
async function populate(file: string): Promise<void> {
  const store = await openSqliteStore({ file });
  await store.migrate();
  for (let i = 0; i < 50; i++)
    await store.setPaused(jobAt(`job_${i}`, new Date(Date.UTC(2026, 0, 1))), false);
  await store.close();
}

function advice(file: string): string {
  return (
    `Stop every piko process using it, then restore "${file}" from a backup (with its "-wal" file, if any); ` +
    `or, to start with empty state (every job plans again from its start), move "${file}" and "${file}.id" aside.`
  );
}

describe('SQLite state file faults', () => {
  let temp: TempSqliteFile;

  beforeEach(async () => {
    temp = await tempSqliteFile('piko-sqlite-faults-');
    await populate(temp.file);
  });

  afterEach(async () => {
    await temp.cleanup();
  });

  it('writes a marker with the store id at first open, and opens the same file again', async () => {
    // Act
    const store = await openSqliteStore({ file: temp.file });

    // Assert
    expect(await store.listJobs()).toHaveLength(50);
    await store.close();
  });

  it('refuses a file with a zeroed page as corrupt, with restore advice', async () => {
    // Arrange: zero the second page (a b-tree page of the schema's tables)
    const fd = openSync(temp.file, 'r+');
    writeSync(fd, Buffer.alloc(PAGE_SIZE), 0, PAGE_SIZE, PAGE_SIZE);
    closeSync(fd);

    // Act
    const opening = openSqliteStore({ file: temp.file });

    // Assert
    const error = await opening.catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(StoreCorruptError);
    expect((error as Error).message).toMatch(
      new RegExp(`^The SQLite state store "${escapeRegExp(temp.file)}" is corrupt \\(`),
    );
    expect((error as Error).message).toContain(advice(temp.file));
  });

  it('refuses a file whose header page is zeroed (SQLITE_NOTADB) as corrupt', async () => {
    // Arrange
    const fd = openSync(temp.file, 'r+');
    writeSync(fd, Buffer.alloc(PAGE_SIZE), 0, PAGE_SIZE, 0);
    closeSync(fd);

    // Act
    const error = await openSqliteStore({ file: temp.file }).catch((caught: unknown) => caught);

    // Assert
    expect(error).toBeInstanceOf(StoreCorruptError);
    expect((error as Error).message).toContain(advice(temp.file));
  });

  it('refuses a 0-byte file where the marker says state existed', async () => {
    // Arrange
    truncateSync(temp.file, 0);

    // Act
    const opening = openSqliteStore({ file: temp.file });

    // Assert
    await expect(opening).rejects.toThrow(
      `The SQLite state store "${temp.file}" is empty (0 bytes), but "${storeIdFile(temp.file)}" says state existed there: ` +
        `piko refuses to start from empty state, which would plan every job again from its start. ${advice(temp.file)}`,
    );
  });

  it('refuses a missing file where the marker says state existed', async () => {
    // Arrange
    unlinkSync(temp.file);

    // Act
    const opening = openSqliteStore({ file: temp.file });

    // Assert
    await expect(opening).rejects.toBeInstanceOf(StoreCorruptError);
    await expect(opening).rejects.toThrow(`The SQLite state store "${temp.file}" is missing, but`);
  });

  it("refuses another store's file in place of this one", async () => {
    // Arrange: the marker of another store
    writeFileSync(storeIdFile(temp.file), '12345\n');

    // Act
    const opening = openSqliteStore({ file: temp.file });

    // Assert
    await expect(opening).rejects.toBeInstanceOf(StoreCorruptError);
    await expect(opening).rejects.toThrow(
      `but "${storeIdFile(temp.file)}" says 12345: this is not the database`,
    );
  });

  it('starts afresh once the operator has moved the file and its marker aside', async () => {
    // Arrange
    truncateSync(temp.file, 0);
    unlinkSync(storeIdFile(temp.file));

    // Act
    const store = await openSqliteStore({ file: temp.file });
    await store.migrate();

    // Assert
    expect(await store.listJobs()).toEqual([]);
    await store.close();
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
