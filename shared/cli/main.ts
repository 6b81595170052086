import { runCli } from './program.ts';

/**
 * Once the command has finished, how long the process may take to exit by itself. Past it, what is
 * left open (a socket to a database that froze, a timer of a stage that was abandoned at shutdown)
 * must not keep it alive: a stop is bounded (issue 10, item 4).
 */
const EXIT_AFTER_COMMAND_MS = 2_000;

// The process entry point of `piko`: everything else lives in program.ts so tests can run it in process.
const code = await runCli(process.argv.slice(2));
process.exitCode = code;
setTimeout(() => process.exit(code), EXIT_AFTER_COMMAND_MS).unref();
