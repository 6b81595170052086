/**
 * Racing dispatchers at full size: `test/race/dispatchers.test.ts` (5 dispatcher processes planning
 * and dispatching the same 3 jobs at once against one MariaDB database, then every interval checked:
 * one run, succeeded; one execution per run; one start per execution name) with more repetitions than
 * `npm test` runs (2), through `PIKO_RACE_REPETITIONS`. The same assertions: exits 1 when the test fails.
 *
 * Run: `npx tsx bench/racing-dispatchers.ts [--repetitions 6]`. The last line printed is one JSON object.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { parseArgs } from 'node:util';

const ROOT = path.resolve(import.meta.dirname, '..');
const FILE = 'test/race/dispatchers.test.ts';
const { values } = parseArgs({ options: { repetitions: { type: 'string', default: '6' } } });
const repetitions = Number(values.repetitions);
if (!Number.isInteger(repetitions) || repetitions < 1)
  throw new Error(`--repetitions must be a whole number >= 1, got ${values.repetitions}`);

const started = performance.now();
const child = spawnSync('npx', ['vitest', 'run', FILE], {
  cwd: ROOT,
  env: { ...process.env, CI: 'true', PIKO_RACE_REPETITIONS: String(repetitions) },
  stdio: ['ignore', 'pipe', 'inherit'],
  encoding: 'utf8',
});
const seconds = (performance.now() - started) / 1000;
// biome-ignore lint/suspicious/noControlCharactersInRegex: the colour codes vitest may print
const plain = child.stdout.replace(/\u001b\[[0-9;]*m/g, '');
const summary = plain.split('\n').find((line) => line.startsWith('racing dispatchers:')) ?? '';
console.log(summary || plain.slice(-4000));
const count = (pattern: RegExp) => Number(pattern.exec(summary)?.[1] ?? Number.NaN);
console.log(`${FILE}: exit ${child.status} in ${seconds.toFixed(1)} s`);
console.log(
  JSON.stringify({
    bench: 'racing-dispatchers',
    repetitions,
    processes: count(/× (\d+) processes/) * repetitions,
    intervals: count(/(\d+) intervals checked/),
    executions: count(/(\d+) executions/),
    duplicates: count(/duplicates (\d+)/),
    lost: count(/lost (\d+)/),
    passed: child.status === 0,
    seconds: Number(seconds.toFixed(1)),
  }),
);
if (child.status !== 0) process.exitCode = 1;
