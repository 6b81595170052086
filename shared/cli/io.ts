/** Where a CLI command writes: injected so tests can capture output and exit codes. */
export interface CliIo {
  /** Writes one line to standard output. */
  out(line: string): void;
  /** Writes one line to standard error. */
  err(line: string): void;
}

/** The process's standard streams. */
export const processIo: CliIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/** Exit codes of every command: 0 ok, 1 some runs failed, 2 bad usage or input. */
export const EXIT = { ok: 0, runsFailed: 1, badInput: 2 } as const;
