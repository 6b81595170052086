import { redact } from '../telemetry.ts';

/** Where a CLI command writes: injected so tests can capture output and exit codes. */
export interface CliIo {
  /** Writes one line to standard output. */
  out(line: string): void;
  /** Writes one line to standard error. */
  err(line: string): void;
  /**
   * Waits until standard output can take more (a slow pipe has drained what it holds), so a long
   * listing never piles up in memory. Resolves false once the reader has gone (`| head` is done,
   * EPIPE): the command then stops writing and ends normally.
   * @default - never waits, always true (outputs that do not push back, such as tests' arrays)
   */
  ready?(): Promise<boolean>;
}

/** True for the errors a write gets once the reading end of a pipe has closed. */
function isBrokenPipe(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'EPIPE' || code === 'ERR_STREAM_DESTROYED';
}

/**
 * Standard output with back-pressure and a quiet end on EPIPE: `piko … | head` stops Piko without
 * an unhandled 'error' event; any other write error is rethrown by the next {@link CliIo.ready}.
 */
class ProcessStdout {
  #watching = false;
  #closed = false;
  #error: Error | undefined;

  write(line: string): void {
    this.#watch();
    if (!this.#closed) process.stdout.write(`${line}\n`);
  }

  async ready(): Promise<boolean> {
    this.#watch();
    if (!this.#closed && !this.#error && process.stdout.writableNeedDrain) {
      await new Promise<void>((resolve) => {
        const done = () => {
          process.stdout.off('drain', done).off('close', done).off('error', done);
          resolve();
        };
        process.stdout.on('drain', done).on('close', done).on('error', done);
      });
    }
    if (this.#error) throw this.#error;
    return !this.#closed;
  }

  /** Listens for write errors once, before the first write (a write error without a listener crashes Node). */
  #watch(): void {
    if (this.#watching) return;
    this.#watching = true;
    process.stdout.on('error', (error) => {
      if (this.#closed) return;
      if (isBrokenPipe(error)) this.#closed = true;
      else this.#error = error;
    });
  }
}

const stdout = new ProcessStdout();

/** The process's standard streams; error lines are redacted (they may quote configs, DSNs, tokens). */
export const processIo: CliIo = {
  out: (line) => stdout.write(line),
  err: (line) => process.stderr.write(`${redact(line)}\n`),
  ready: () => stdout.ready(),
};

/** Exit codes of every command (declared with the errors whose `exitCode` they are). */
export { EXIT } from '../errors.ts';
