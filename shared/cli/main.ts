import { runCli } from './program.ts';

// The process entry point of `piko`: everything else lives in program.ts so tests can run it in process.
const code = await runCli(process.argv.slice(2));
process.exitCode = code;
