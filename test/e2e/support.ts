/**
 * Helpers of the end-to-end tests: the real `piko` binary in a child process (optionally under
 * `faketime`), a fresh data directory, and the state store of each kind opened from the test process.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openStore } from '../../shared/store/local.ts';
import type { RunRecord, StateStore } from '../../shared/store/types.ts';
import { createTestDatabase, type TestDatabase } from '../../support/mysql.ts';

/** The repository root. */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** The real binary. */
export const PIKO_BIN = path.join(ROOT, 'bin', 'piko.mjs');
/** The end-to-end tests' jobs. */
export const FIXTURE_JOBS_DIR = path.join(ROOT, 'test', 'fixtures', 'jobs');
/** The example jobs users get. */
export const EXAMPLE_JOBS_DIR = path.join(ROOT, 'functions', 'jobs');

/** How a `piko` process ended. */
export interface PikoResult {
  /** Exit code; null when killed by a signal. */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A running `piko` process. */
export interface PikoProcess {
  /** Sends a signal to the node process itself (under faketime: faketime's child, not faketime). */
  kill(signal: NodeJS.Signals): Promise<void>;
  /** What the process has written to stdout so far. */
  stdout(): string;
  /** What the process has written to stderr so far (its log lines, with --json). */
  stderr(): string;
  /** Settles when the process has exited. */
  readonly done: Promise<PikoResult>;
}

/** Options of {@link startPiko}. */
export interface PikoOptions {
  /** PIKO_* and PIKO_TEST_* variables; the test process's own PIKO_* variables are never passed on. */
  readonly env: Readonly<Record<string, string>>;
  /** @default the repository root */
  readonly cwd?: string;
  /** Start the process's clock here and let it run on: `faketime -f '@<fakeTime>'`, in UTC. */
  readonly fakeTime?: string;
  /** Killed (and the result rejected) after this long. @default 60_000 */
  readonly timeoutMs?: number;
}

/** The environment of a child: the test's, without PIKO_* and vitest's variables, in UTC. */
function childEnv(extra: Readonly<Record<string, string>>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (name.startsWith('PIKO_') || name.startsWith('VITEST') || name === 'NODE_OPTIONS') continue;
    env[name] = value;
  }
  return { ...env, TZ: 'UTC', NODE_ENV: 'production', ...extra };
}

/** Starts `node bin/piko.mjs <args>`, under faketime when `fakeTime` is given. */
export function startPiko(args: readonly string[], options: PikoOptions): PikoProcess {
  const command = options.fakeTime
    ? { file: 'faketime', args: ['-f', `@${options.fakeTime}`, process.execPath, PIKO_BIN, ...args] }
    : { file: process.execPath, args: [PIKO_BIN, ...args] };
  const child = spawn(command.file, command.args, {
    cwd: options.cwd ?? ROOT,
    env: childEnv(options.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const nodePid = options.fakeTime ? childPidOf(child) : Promise.resolve(child.pid ?? -1);
  const timeoutMs = options.timeoutMs ?? 60_000;
  const done = new Promise<PikoResult>((resolve, reject) => {
    const timer = setTimeout(() => {
      void nodePid.then((pid) => {
        killQuietly(pid, 'SIGKILL');
        killQuietly(child.pid, 'SIGKILL');
      });
      reject(new Error(`piko ${args.join(' ')} did not exit within ${timeoutMs} ms\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
  return {
    async kill(signal) {
      killQuietly(await nodePid, signal);
    },
    stdout: () => stdout,
    stderr: () => stderr,
    done,
  };
}

/** Runs `piko <args>` to the end. */
export function runPiko(args: readonly string[], options: PikoOptions): Promise<PikoResult> {
  return startPiko(args, options).done;
}

/** The pid of faketime's child (faketime forks the command and does not forward signals). */
async function childPidOf(child: ChildProcess): Promise<number> {
  const pid = child.pid;
  if (pid === undefined) throw new Error('faketime did not start');
  for (let i = 0; i < 500; i++) {
    const children = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '');
    const first = children.trim().split(/\s+/)[0];
    if (first) return Number(first);
    await sleep(10);
  }
  throw new Error(`faketime (pid ${pid}) started no child within 5 s`);
}

function killQuietly(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined || pid <= 0) return;
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `probe` every `everyMs` until it returns a value other than undefined. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  options: { everyMs?: number; timeoutMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(options.everyMs ?? 10);
  }
}

/** A fresh temporary directory. */
export async function tempDir(prefix: string): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), `piko-e2e-${prefix}-`));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** The kinds of state store. */
export type StoreKind = 'sqlite' | 'mysql';

/**
 * One store's worth of state for one scenario: a data dir (with the SQLite file in it, or a fresh
 * MariaDB database), the PIKO_* variables that point `piko` at it, and a store opened on it from the
 * test process to read what `piko` wrote.
 */
export interface E2eState {
  readonly kind: StoreKind;
  readonly dataDir: string;
  /** PIKO_DATA_DIR, and PIKO_SQLITE__FILE or PIKO_MYSQL__DSN. */
  readonly env: Readonly<Record<string, string>>;
  /** Opened on first use (SQLite: the file exists once `piko` has started). */
  store(): Promise<StateStore>;
  /** Rows of a query on the state database. */
  rows<T>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  /** Closes the store, drops the database, removes the data dir. */
  cleanup(): Promise<void>;
}

/** A fresh state for `label` on a store of `kind`. */
export async function createE2eState(kind: StoreKind, label: string): Promise<E2eState> {
  const temp = await tempDir(label);
  const sqliteFile = path.join(temp.dir, 'piko.db');
  let database: TestDatabase | undefined;
  if (kind === 'mysql') database = await createTestDatabase(`e2e_${label}`);
  const env: Record<string, string> = { PIKO_DATA_DIR: temp.dir, PIKO_SQLITE__FILE: sqliteFile };
  if (database) {
    env.PIKO_MYSQL__DSN = database.dsn;
    // faketime moves the child's clock, not the server's: accept any distance from NOW(3) unless a
    // test (of clock skew) says otherwise.
    env.PIKO_MYSQL__SERVER_CLOCK_TOLERANCE_SECONDS = String(100 * 365 * 86_400);
  }
  let opened: Promise<StateStore> | undefined;
  const store = () => {
    opened ??= openStore(database ? { mysqlDsn: database.dsn, poolSize: 2 } : { sqliteFile });
    return opened;
  };
  return {
    kind,
    dataDir: temp.dir,
    env,
    store,
    async rows<T>(sql: string, params: readonly unknown[] = []) {
      const { rows } = await (await store()).database.query(sql, params);
      return rows as T[];
    },
    async cleanup() {
      try {
        if (opened) await (await opened).close();
      } finally {
        try {
          await database?.drop();
        } finally {
          await temp.remove();
        }
      }
    },
  };
}

/** A job's runs, oldest first; none while the tables do not exist yet. */
export async function runsOf(state: E2eState, jobId: string): Promise<RunRecord[]> {
  try {
    return await (await state.store()).listRuns(jobId);
  } catch {
    return [];
  }
}

/** How many of a job's runs have succeeded; 0 while the tables do not exist yet. */
export async function succeededCount(state: E2eState, jobId: string): Promise<number> {
  try {
    return (await (await state.store()).countRuns(jobId)).succeeded;
  } catch {
    return 0;
  }
}

/** The expected interval starts of an hourly schedule: `count` hours from `first`, as ISO strings. */
export function hourlyStarts(first: string, count: number): string[] {
  const start = new Date(first).getTime();
  return Array.from({ length: count }, (_, i) => new Date(start + i * 3_600_000).toISOString());
}

/** The lines of stdout, parsed as JSON. */
export function jsonLines(stdout: string): Record<string, unknown>[] {
  return stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}
