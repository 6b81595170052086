/**
 * Per-run log files of the local runtime: the lines a job writes through `ctx.log`, kept under the
 * data directory as JSON lines, one file per run (`<data_dir>/logs/<job>/<run id>.log`), every
 * attempt's lines in the same file with its attempt number. Bounded: a run's file stops at
 * `[logs] max_run_bytes` with one truncation marker, and the oldest files are removed once all of
 * them pass `[logs] max_total_bytes`. Lines are redacted before they are stored, buffered and
 * appended asynchronously (never a synchronous write per line), and a write that fails is said once
 * in a warning and never fails the run.
 *
 * The files are the disk of the process that ran the run: with a MySQL store shared by several
 * machines, `piko runs` and the UI on one machine do not see the logs of runs another one ran.
 */
import { appendFile, mkdir, readdir, readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { errorMessage, logger, redact, redactValue } from '../telemetry.ts';

/** Bytes of a run's file kept free for the truncation marker. */
const MARKER_RESERVE_BYTES = 512;
/** A sweep removes files until the total is at most this share of `max_total_bytes`, so it is not needed at every run. */
const SWEEP_TARGET_SHARE = 0.9;
/** The folder under the data directory. */
export const RUN_LOGS_FOLDER = 'logs';

/** The levels of a run's log lines. */
export type RunLogLevel = 'debug' | 'info' | 'warn' | 'error';

/** One stored line of a run's log. */
export interface RunLogLine {
  /** When it was written (ISO 8601). */
  readonly time: string;
  readonly level: RunLogLevel;
  /** The attempt of the stage that wrote it (1 for the first). */
  readonly attempt: number;
  /** The stage that wrote it (`'main'` for a job with a single handler). */
  readonly stage: string;
  /**
   * The run's generation when it wrote it: a rerun or a requeue of the run is the next one, its lines
   * in the same file. @default absent in lines written before it was recorded
   */
  readonly generation?: number;
  readonly message: string;
  /** The fields the handler gave, redacted; absent when none. */
  readonly fields?: Readonly<Record<string, unknown>>;
  /** True on the marker that says the run's later lines were not kept. */
  readonly truncated?: true;
}

/** The bounds of the stored logs (`[logs]` in settings.toml, whose defaults are 1 MiB and 256 MiB). */
export interface RunLogLimits {
  /** Bytes of one run's file at most, its truncation marker included (at least 4096). @default - required */
  readonly maxRunBytes: number;
  /** Bytes of every run's file together; the oldest are removed beyond it. @default - required */
  readonly maxTotalBytes: number;
}

/** The lines of one attempt, as the stage runner hands them over. */
export interface RunLogWriter {
  /** Keeps one line (buffered; written soon, in the background). Never throws. */
  write(line: Omit<RunLogLine, 'time' | 'truncated'> & { readonly time?: Date }): void;
  /** Writes what is buffered. Never rejects: a failed write is a warning. */
  close(): Promise<void>;
}

/** Where the stage runner sends a run's lines (the local runtime keeps them in files; Lambda has CloudWatch). */
export interface RunLogSink {
  /** A writer for the lines of one attempt of run `runId` of job `jobId`. */
  open(jobId: string, runId: number): RunLogWriter;
}

/** A run's stored log, as `piko runs --logs` and the UI read it. */
export interface StoredRunLog {
  /** The file (relative to the working directory when the data directory is). */
  readonly path: string;
  /** Undefined when the run has no log file (no line written, removed by the total bound, or run elsewhere). */
  readonly lines: readonly RunLogLine[] | undefined;
  /** True when the file ends with the truncation marker. */
  readonly truncated: boolean;
}

/** The log file of run `runId` of job `jobId` under `dataDir`. */
export function runLogPath(dataDir: string, jobId: string, runId: number): string {
  return join(dataDir, RUN_LOGS_FOLDER, jobId, `${runId}.log`);
}

/** Reads a run's stored log; lines that are not JSON (a write cut short) are left out. */
export async function readRunLog(dataDir: string, jobId: string, runId: number): Promise<StoredRunLog> {
  const path = runLogPath(dataDir, jobId, runId);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      return { path, lines: undefined, truncated: false };
    throw error;
  }
  const lines: RunLogLine[] = [];
  for (const raw of text.split('\n')) {
    if (raw.trim() === '') continue;
    try {
      const parsed = JSON.parse(raw) as RunLogLine;
      if (typeof parsed === 'object' && parsed !== null && typeof parsed.message === 'string')
        lines.push(parsed);
    } catch {
      // A line cut short by a crash mid-write: the others are still worth showing.
    }
  }
  return { path, lines, truncated: lines.some((line) => line.truncated === true) };
}

/**
 * The run log files of one data directory, shared by the process's stage runs. Call
 * {@link RunLogFiles.close} before the process exits so buffered lines reach the disk.
 */
export class RunLogFiles implements RunLogSink {
  readonly #dir: string;
  readonly #maxRunBytes: number;
  readonly #maxTotalBytes: number;
  readonly #open = new Set<FileWriter>();
  /** Files written by this process since the last sweep, and their bytes. */
  #writtenSinceSweep = 0;
  /** The total the last sweep left; undefined before the first. */
  #totalAtSweep: number | undefined;
  #sweeping: Promise<void> | undefined;

  /** @param dataDir `[piko] data_dir`; the files go under its `logs/` folder. */
  constructor(dataDir: string, limits: RunLogLimits) {
    this.#dir = join(dataDir, RUN_LOGS_FOLDER);
    this.#maxRunBytes = limits.maxRunBytes;
    this.#maxTotalBytes = limits.maxTotalBytes;
  }

  open(jobId: string, runId: number): RunLogWriter {
    const writer = new FileWriter(join(this.#dir, jobId), `${runId}.log`, this.#maxRunBytes, (bytes) => {
      this.#open.delete(writer);
      this.#writtenSinceSweep += bytes;
      this.#maybeSweep();
    });
    this.#open.add(writer);
    return writer;
  }

  /** Writes what every open writer buffers and waits for a sweep under way. Never rejects. */
  async close(): Promise<void> {
    await Promise.all([...this.#open].map((writer) => writer.close()));
    await this.#sweeping;
  }

  /** Sweeps when the files may have passed the total bound (and once at first, to learn the total). */
  #maybeSweep(): void {
    if (this.#sweeping) return;
    const total = this.#totalAtSweep;
    if (total !== undefined && total + this.#writtenSinceSweep <= this.#maxTotalBytes) return;
    this.#writtenSinceSweep = 0;
    this.#sweeping = this.sweep()
      .catch((error: unknown) =>
        logger.warn('run logs not swept: the oldest were not removed', {
          dir: this.#dir,
          error: errorMessage(error),
        }),
      )
      .finally(() => {
        this.#sweeping = undefined;
      });
  }

  /**
   * Removes the oldest run log files (by modification time) until all of them together hold at most
   * 90% of `max_total_bytes`; files open in this process are kept. Resolves with nothing.
   */
  async sweep(): Promise<void> {
    const files: { path: string; bytes: number; mtimeMs: number }[] = [];
    let jobs: string[];
    try {
      jobs = await readdir(this.#dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        this.#totalAtSweep = 0;
        return;
      }
      throw error;
    }
    for (const job of jobs) {
      let names: string[];
      try {
        names = await readdir(join(this.#dir, job));
      } catch {
        continue;
      }
      for (const name of names) {
        if (!name.endsWith('.log')) continue;
        const path = join(this.#dir, job, name);
        try {
          const info = await stat(path);
          files.push({ path, bytes: info.size, mtimeMs: info.mtimeMs });
        } catch {
          // Removed meanwhile (another process's sweep).
        }
      }
    }
    let total = files.reduce((sum, file) => sum + file.bytes, 0);
    if (total > this.#maxTotalBytes) {
      const open = new Set([...this.#open].map((writer) => writer.path));
      const target = this.#maxTotalBytes * SWEEP_TARGET_SHARE;
      for (const file of files.sort((a, b) => a.mtimeMs - b.mtimeMs)) {
        if (total <= target) break;
        if (open.has(file.path)) continue;
        try {
          await unlink(file.path);
          total -= file.bytes;
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'ENOENT') total -= file.bytes;
          else throw error;
        }
      }
    }
    this.#totalAtSweep = total;
  }
}

/** One attempt's writer: lines buffered, appended in order by one background flush at a time. */
class FileWriter implements RunLogWriter {
  readonly path: string;
  readonly #dir: string;
  readonly #maxBytes: number;
  readonly #onClosed: (bytes: number) => void;
  #pending: string[] = [];
  /** The file's size, learnt at the first flush (an earlier attempt, or a Fargate child, may have written it). */
  #size: number | undefined;
  #truncated = false;
  #written = 0;
  #flushing: Promise<void> = Promise.resolve();
  #scheduled = false;
  #failed = false;
  #closed = false;

  constructor(dir: string, name: string, maxBytes: number, onClosed: (bytes: number) => void) {
    this.#dir = dir;
    this.path = join(dir, name);
    this.#maxBytes = maxBytes;
    this.#onClosed = onClosed;
  }

  write(line: Omit<RunLogLine, 'time' | 'truncated'> & { readonly time?: Date }): void {
    if (this.#closed || this.#failed || this.#truncated) return;
    try {
      const fields =
        line.fields && Object.keys(line.fields).length > 0
          ? (redactValue(line.fields) as Record<string, unknown>)
          : undefined;
      const stored: RunLogLine = {
        time: (line.time ?? new Date()).toISOString(),
        level: line.level,
        attempt: line.attempt,
        stage: line.stage,
        ...(line.generation === undefined ? {} : { generation: line.generation }),
        message: redact(line.message),
        ...(fields ? { fields } : {}),
      };
      this.#pending.push(`${JSON.stringify(stored)}\n`);
    } catch (error) {
      // Fields JSON cannot hold (a cycle, a BigInt): the line is kept without them.
      this.#pending.push(
        `${JSON.stringify({
          time: new Date().toISOString(),
          level: line.level,
          attempt: line.attempt,
          stage: line.stage,
          ...(line.generation === undefined ? {} : { generation: line.generation }),
          message: redact(line.message),
          fields: { unserializable: errorMessage(error) },
        })}\n`,
      );
    }
    if (!this.#scheduled) {
      this.#scheduled = true;
      // One append per turn of the event loop at most, whatever the number of lines.
      setImmediate(() => {
        this.#scheduled = false;
        this.#flush();
      });
    }
  }

  close(): Promise<void> {
    if (this.#closed) return this.#flushing;
    this.#closed = true;
    this.#flush();
    return this.#flushing.then(() => this.#onClosed(this.#written));
  }

  #flush(): void {
    this.#flushing = this.#flushing.then(() => this.#append());
  }

  async #append(): Promise<void> {
    if (this.#pending.length === 0 || this.#failed) return;
    const lines = this.#pending;
    this.#pending = [];
    try {
      if (this.#size === undefined) {
        await mkdir(this.#dir, { recursive: true });
        this.#size = await stat(this.path).then(
          (info) => info.size,
          () => 0,
        );
        this.#truncated = this.#size >= this.#maxBytes - MARKER_RESERVE_BYTES;
      }
      if (this.#truncated) return;
      let chunk = '';
      let size = this.#size;
      for (const line of lines) {
        const bytes = Buffer.byteLength(line);
        if (size + bytes > this.#maxBytes - MARKER_RESERVE_BYTES) {
          chunk += this.#marker(line);
          this.#truncated = true;
          break;
        }
        chunk += line;
        size += bytes;
      }
      if (chunk === '') return;
      await appendFile(this.path, chunk);
      const bytes = Buffer.byteLength(chunk);
      this.#size += bytes;
      this.#written += bytes;
    } catch (error) {
      this.#failed = true;
      logger.warn("run log not written: this run's later lines are not kept, the run goes on", {
        path: this.path,
        error: errorMessage(error),
      });
    }
  }

  /** The line that ends a full file, with the attempt and stage of the first line left out. */
  #marker(dropped: string): string {
    let attempt = 0;
    let stage = '';
    try {
      ({ attempt, stage } = JSON.parse(dropped) as RunLogLine);
    } catch {
      // Any line this writer made parses; keep the defaults otherwise.
    }
    const marker: RunLogLine = {
      time: new Date().toISOString(),
      level: 'warn',
      attempt,
      stage,
      message: `log truncated: this run's log reached [logs] max_run_bytes (${this.#maxBytes} bytes); later lines are not kept`,
      truncated: true,
    };
    return `${JSON.stringify(marker)}\n`;
  }
}

/**
 * Where a run's log begins a generation (a rerun or a requeue of the run), for readers that mark it:
 * the index of each line whose generation differs from the line before, with that generation; none
 * when every line is of one generation (or says none).
 */
export function generationStarts(lines: readonly RunLogLine[]): Map<number, number> {
  const starts = new Map<number, number>();
  const generations = new Set(lines.map((line) => line.generation));
  if (generations.size < 2) return starts;
  lines.forEach((line, index) => {
    if (line.generation !== undefined && (index === 0 || lines[index - 1]!.generation !== line.generation)) {
      starts.set(index, line.generation);
    }
  });
  return starts;
}
