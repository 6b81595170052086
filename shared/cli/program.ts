import { Command, CommanderError } from 'commander';
import {
  BackfillRefusedError,
  ConfigError,
  DurationError,
  InputError,
  JobDefinitionError,
  ScheduleError,
  UnknownJobError,
} from '../errors.ts';
import { backfillCommand } from './commands/backfill.ts';
import { dispatchCommand } from './commands/dispatch.ts';
import { resetWatermarkCommand } from './commands/reset-watermark.ts';
import { runCommand } from './commands/run.ts';
import { runsCommand } from './commands/runs.ts';
import { startCommand } from './commands/start.ts';
import { stateCommands } from './commands/state.ts';
import { ticksCommand } from './commands/ticks.ts';
import { uiCommand } from './commands/ui.ts';
import { type CliIo, EXIT, processIo } from './io.ts';

/** Builds the `piko` command line with every command. */
export function buildProgram(io: CliIo): Command {
  const program = new Command('piko')
    .description('Piko: data jobs on cron over data intervals, caught up and backfilled')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.out(text.trimEnd()),
      writeErr: (text) => io.err(text.trimEnd()),
    });
  startCommand(program, io);
  runCommand(program, io);
  backfillCommand(program, io);
  stateCommands(program, io);
  dispatchCommand(program, io);
  resetWatermarkCommand(program, io);
  ticksCommand(program, io);
  runsCommand(program, io);
  uiCommand(program, io);
  for (const command of program.commands) command.exitOverride();
  return program;
}

/**
 * Runs the CLI with `argv` (without `node` and the script) and returns the exit code: 0 ok,
 * 1 some runs failed, 2 bad usage or input (message on stderr).
 */
export async function runCli(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? EXIT.ok : EXIT.badInput;
    }
    if (error instanceof ExitCodeError) return error.exitCode;
    if (isBadInput(error)) {
      io.err(`error: ${error.message}`);
      return EXIT.badInput;
    }
    io.err(`error: ${errorText(error)}`);
    return EXIT.runsFailed;
  }
}

/** Thrown by a command to end with a given exit code after it has printed its own message. */
export class ExitCodeError extends Error {
  constructor(readonly exitCode: number) {
    super(`exit ${exitCode}`);
  }
}

const BAD_INPUT = [
  InputError,
  ScheduleError,
  DurationError,
  ConfigError,
  JobDefinitionError,
  BackfillRefusedError,
  UnknownJobError,
];

function isBadInput(error: unknown): error is Error {
  return BAD_INPUT.some((type) => error instanceof type);
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
