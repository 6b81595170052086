/**
 * `piko start` as a child process, for the chaos, fault and race suites and `bench/chaos.ts`: spawns
 * `node bin/piko.mjs start --json` with the chaos jobs and a given store, collects its progress events,
 * and can wait for one or kill the process.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ChaosJobOptions, chaosJobEnv } from './chaos-jobs/chaos-upsert.ts';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const CHAOS_JOBS_DIR = path.join(REPO_ROOT, 'support/chaos-jobs');
const PIKO_BIN = path.join(REPO_ROOT, 'bin/piko.mjs');

/** The state store of a child. */
export type ChildStore =
  | { readonly kind: 'mysql'; readonly dsn: string }
  | { readonly kind: 'sqlite'; readonly file: string };

/** A progress line of `piko start --json`. */
export interface PikoEvent {
  readonly event: string;
  readonly time: string;
  readonly [field: string]: unknown;
}

export interface PikoProcessOptions {
  readonly store: ChildStore;
  /** Where rendered workflows are cached (and SQLite lives by default). */
  readonly dataDir: string;
  readonly job: ChaosJobOptions;
  /** `--once`: plan and run everything due, then exit. @default true */
  readonly once?: boolean;
  /**
   * The command and its arguments, instead of `start --json [--once]` (`backfill <job> --from … --json`).
   * @default start
   */
  readonly args?: readonly string[];
  /** More environment variables (`PIKO_SHUTDOWN_GRACE_SECONDS`, …). */
  readonly env?: Readonly<Record<string, string>>;
  /** Called with every progress event as it arrives. */
  readonly onEvent?: (event: PikoEvent) => void;
}

/** How a child ended. */
export interface PikoExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A running `piko start`. */
export class PikoProcess {
  readonly child: ChildProcess;
  readonly events: PikoEvent[] = [];
  /** Lines that were not JSON events (stderr included), last 200. */
  readonly otherLines: string[] = [];
  readonly exited: Promise<PikoExit>;
  readonly spawnedAt = Date.now();
  #exit: PikoExit | undefined;
  readonly #waiters = new Set<() => void>();

  constructor(options: PikoProcessOptions) {
    const env = childEnv();
    Object.assign(env, {
      PIKO_JOBS_DIR: CHAOS_JOBS_DIR,
      PIKO_DATA_DIR: options.dataDir,
      ...(options.store.kind === 'mysql'
        ? { PIKO_MYSQL__DSN: options.store.dsn }
        : { PIKO_SQLITE__FILE: options.store.file }),
      ...chaosJobEnv(options.job),
      ...options.env,
    });
    const args = [
      PIKO_BIN,
      ...(options.args ?? ['start', '--json', ...(options.once === false ? [] : ['--once'])]),
    ];
    this.child = spawn(process.execPath, args, { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const onLine = (line: string) => {
      if (!line.trim()) return;
      let event: PikoEvent | undefined;
      if (line.startsWith('{')) {
        try {
          event = JSON.parse(line) as PikoEvent;
        } catch {
          event = undefined;
        }
      }
      if (event && typeof event.event === 'string') {
        this.events.push(event);
        options.onEvent?.(event);
      } else {
        this.otherLines.push(line);
        if (this.otherLines.length > 200) this.otherLines.shift();
      }
      this.#notify();
    };
    lines(this.child.stdout!, onLine);
    lines(this.child.stderr!, onLine);
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        this.#exit = { code, signal };
        this.#notify();
        resolve(this.#exit);
      });
    });
  }

  /** Undefined while running. */
  get exit(): PikoExit | undefined {
    return this.#exit;
  }

  /** Events named `name` so far. */
  count(name: string): number {
    return this.events.filter((event) => event.event === name).length;
  }

  /** Resolves with the first event that matches (or undefined when the process exits or the time is up). */
  async waitFor(match: (event: PikoEvent) => boolean, timeoutMs = 60_000): Promise<PikoEvent | undefined> {
    let found: PikoEvent | undefined;
    await this.waitUntil(() => {
      found = this.events.find(match);
      return found !== undefined;
    }, timeoutMs);
    return found;
  }

  /** Resolves with true once `condition()` holds, checked at each new line; false when the process exits or the time is up. */
  async waitUntil(condition: () => boolean, timeoutMs = 60_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (condition()) return true;
      if (this.#exit || Date.now() >= deadline) return false;
      await new Promise<void>((resolve) => {
        const waiters = this.#waiters;
        function finish() {
          clearTimeout(timer);
          waiters.delete(finish);
          resolve();
        }
        const timer = setTimeout(finish, Math.max(0, deadline - Date.now()));
        waiters.add(finish);
      });
    }
  }

  /** SIGKILL, unless it already exited; resolves when it is gone. */
  async kill9(): Promise<PikoExit> {
    if (!this.#exit) this.child.kill('SIGKILL');
    return this.exited;
  }

  /** The last lines of output, for failure messages. */
  tail(count = 15): string {
    const all = [
      ...this.events.map(
        (event) => `${event.time?.slice(11, 23) ?? ''} ${event.event} ${JSON.stringify(event)}`,
      ),
      ...this.otherLines,
    ];
    return all.slice(-count).join('\n');
  }

  #notify(): void {
    for (const waiter of [...this.#waiters]) waiter();
    this.#waiters.clear();
  }
}

/** The test process's environment without Piko's and vitest's variables (a child must not inherit them). */
export function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (name.startsWith('PIKO_') || name.startsWith('VITEST') || name === 'NODE_OPTIONS') continue;
    env[name] = value;
  }
  return env;
}

export function spawnPiko(options: PikoProcessOptions): PikoProcess {
  return new PikoProcess(options);
}

function lines(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let buffer = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buffer += chunk;
    let newline = buffer.indexOf('\n');
    while (newline >= 0) {
      onLine(buffer.slice(0, newline));
      buffer = buffer.slice(newline + 1);
      newline = buffer.indexOf('\n');
    }
  });
  stream.on('end', () => {
    if (buffer) onLine(buffer);
    buffer = '';
  });
}

/** A small seeded PRNG (mulberry32), so a failing trial's random choices can be replayed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
