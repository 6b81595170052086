// @ts-check
/**
 * A SQLite connection on a thread of its own (`sqlite.ts` starts it: `ThreadConnection`), for a
 * connection whose statements must not hold up the process's event loop: better-sqlite3 is
 * synchronous, and the UI's grid of a year of minutes reads for up to 200 ms, during which the
 * runtime beside it (its heartbeats, its runs) would stand still. The runtime's own connection stays
 * on its thread: for its many small writes a message each way costs more than it saves
 * (BENCHMARKS.md).
 *
 * Plain JavaScript: a worker thread does not get the TypeScript loader the process was started with.
 * One request at a time, in the order posted; each answered with `{ id, value }` or `{ id, error }`.
 *   - `{ op: 'query', sql, params }` → `{ rows, affectedRows }`
 *     A statement's `sql` is its text, or the number of a text sent before: a text sent with `keep: n`
 *     is text number n from then on (the same few texts, sent again with every request, would be most of a
 *     message's size).
 *   - `{ op: 'batch', statements, expectedRows }` → one `{ rows, affectedRows }` per statement, all
 *     in one `BEGIN IMMEDIATE … COMMIT`, rolled back when one fails or matches another number of
 *     rows than expected (`error.kind: 'row-count'`)
 *   - `{ op: 'rollback' }` → the connection's transaction rolled back, if SQLite has not already
 *   - `{ op: 'close' }` → the connection closed; the thread then ends
 * Parameters: a `Date` is bound as epoch milliseconds, a boolean as 1/0, `undefined` as NULL (the
 * state tables hold no BLOBs, which would cross back as plain Uint8Arrays).
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

/** Prepared statements kept. */
const STATEMENT_CACHE_SIZE = 200;

const port = parentPort;
if (!port) throw new Error('sqlite-thread.mjs runs as a worker thread of the SQLite store');
/** @type {{ file: string, busyTimeoutMs: number }} */
const { file, busyTimeoutMs } = workerData;

/** @type {import('better-sqlite3').Database} */
let connection;
/** Why the connection could not be opened: every request is answered with it. */
let openFailure;
try {
  connection = new Database(file, { timeout: busyTimeoutMs });
  connection.pragma('journal_mode = WAL');
  // As the store's connection on the process's thread (sqlite.ts says why).
  connection.pragma('synchronous = NORMAL');
} catch (error) {
  openFailure = describe(error);
}

/** @type {Map<string, import('better-sqlite3').Statement>} */
const statements = new Map();

/** The texts kept by number (`keep`). @type {string[]} */
const texts = [];

/** @param {{ sql: string | number, keep?: number }} statement */
function textOf(statement) {
  if (typeof statement.sql === 'number') return /** @type {string} */ (texts[statement.sql]);
  if (statement.keep !== undefined) texts[statement.keep] = statement.sql;
  return statement.sql;
}

/** @param {string} sql */
function prepare(sql) {
  let statement = statements.get(sql);
  if (!statement) {
    statement = connection.prepare(sql);
    if (statements.size >= STATEMENT_CACHE_SIZE) statements.clear();
    statements.set(sql, statement);
  }
  return statement;
}

/** @param {unknown} value */
function bindable(value) {
  if (value instanceof Date) {
    const ms = value.getTime();
    if (Number.isNaN(ms)) throw Object.assign(new Error('Cannot bind an invalid Date.'), { kind: 'store' });
    return ms;
  }
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (value === undefined) return null;
  return value;
}

/**
 * @param {string} sql
 * @param {readonly unknown[]} [params]
 */
function run(sql, params = []) {
  const statement = prepare(sql);
  const values = params.map(bindable);
  if (statement.reader) return { rows: statement.all(...values), affectedRows: 0 };
  return { rows: [], affectedRows: statement.run(...values).changes };
}

function rollback() {
  if (!connection.inTransaction) return;
  try {
    connection.exec('ROLLBACK');
  } catch {
    // the connection's transaction ends with it; the first error is the one to report
  }
}

/**
 * @param {readonly { sql: string | number, keep?: number, params: readonly unknown[] }[]} batch
 * @param {readonly (number | undefined)[] | undefined} expectedRows
 */
function runBatch(batch, expectedRows) {
  run('BEGIN IMMEDIATE');
  try {
    const results = batch.map((statement) => run(textOf(statement), statement.params));
    expectedRows?.forEach((expected, index) => {
      const matched = results[index]?.affectedRows ?? 0;
      if (expected !== undefined && matched !== expected) {
        throw Object.assign(new Error('row count'), { kind: 'row-count', expected, matched });
      }
    });
    run('COMMIT');
    return results;
  } catch (error) {
    rollback();
    throw error;
  }
}

/** @param {any} request */
function handle(request) {
  switch (request.op) {
    case 'query':
      return run(textOf(request), request.params);
    case 'batch':
      return runBatch(request.statements, request.expectedRows);
    case 'rollback':
      return rollback();
    case 'close':
      statements.clear();
      connection.close();
      return undefined;
    default:
      throw new Error(`unknown request ${String(request.op)}`);
  }
}

/** What crosses back of an error: its message, SQLite's code, and what kind of failure it is. */
function describe(/** @type {any} */ error) {
  return {
    message: error instanceof Error ? error.message : String(error),
    code: typeof error?.code === 'string' ? error.code : undefined,
    kind: typeof error?.kind === 'string' ? error.kind : 'sqlite',
    expected: error?.expected,
    matched: error?.matched,
  };
}

/** @param {any} request */
function answer(request) {
  // A connection that never opened has nothing to close.
  if (openFailure) return request.op === 'close' ? { value: undefined } : { error: openFailure };
  try {
    return { value: handle(request) };
  } catch (error) {
    return { error: describe(error) };
  }
}

port.on('message', (request) => {
  port.postMessage({ id: request.id, ...answer(request) });
  if (request.op === 'close') port.close();
});
