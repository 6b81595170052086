/**
 * The `piko` command line. `commands/` holds the commands, each in three steps: parse the flags, call
 * the planner, the control plane or the local runtime, print (graphile-worker's `src/cli.ts`);
 * `aws/` is the `--aws` half, loaded only when `--aws` is given. Beside them: `io.ts` (output, exit
 * codes), `parse.ts` (flag values), `progress.ts` and `status-printer.ts` (the printers),
 * `context.ts` (config, jobs, the opened services). The CLI may import anything in `shared/`;
 * nothing imports it but its entry point (`main.ts`) and tests, and no command imports this module.
 */
import { Command, CommanderError } from 'commander';
import { ExitCodeError, PikoError } from '../errors.ts';
import { backfillCommand } from './commands/backfill.ts';
import { backfillsCommand } from './commands/backfills.ts';
import { dispatchCommand } from './commands/dispatch.ts';
import { operatorCommands } from './commands/operator.ts';
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
  backfillsCommand(program, io);
  stateCommands(program, io);
  dispatchCommand(program, io);
  resetWatermarkCommand(program, io);
  ticksCommand(program, io);
  runsCommand(program, io);
  operatorCommands(program, io);
  uiCommand(program, io);
  for (const command of program.commands) {
    command.exitOverride();
    for (const sub of command.commands) sub.exitOverride();
  }
  return program;
}

/**
 * Runs the CLI with `argv` (without `node` and the script) and returns the exit code: 0 ok,
 * 1 some runs failed, 2 bad usage or input (message on stderr). The error decides: a Piko error's
 * `exitCode` (an {@link ExitCodeError} has printed its message already), 1 for any other error.
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
    if (!(error instanceof ExitCodeError)) io.err(`error: ${errorText(error)}`);
    return error instanceof PikoError ? error.exitCode : EXIT.runsFailed;
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
