/**
 * The heavy version of the event fuzz suites: `test/fuzz/dispatcher-event` and `test/fuzz/stage-event`
 * with 5 times the runs of `npm test` (`PIKO_FUZZ_SCALE=5`), from the fixed seed or `PIKO_FUZZ_SEED`.
 * Run: `npx tsx bench/fuzz-heavy.ts`. The last line printed is one JSON object; exits 1 when a
 * property failed.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..');
const SCALE = 5;
const FILES = ['test/fuzz/dispatcher-event.test.ts', 'test/fuzz/stage-event.test.ts'];

const results = FILES.map((file) => {
  const started = performance.now();
  const child = spawnSync('npx', ['vitest', 'run', file], {
    cwd: ROOT,
    env: { ...process.env, PIKO_FUZZ_SCALE: String(SCALE) },
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
  });
  const seconds = (performance.now() - started) / 1000;
  for (const line of child.stdout.split('\n')) if (line.startsWith('[fuzz]')) console.log(line);
  console.log(`${file}: exit ${child.status} in ${seconds.toFixed(1)} s`);
  return {
    file: path.basename(file, '.test.ts'),
    passed: child.status === 0,
    seconds: Number(seconds.toFixed(1)),
  };
});
console.log(JSON.stringify({ bench: 'fuzz-heavy', scale: SCALE, files: results }));
if (results.some((result) => !result.passed)) process.exitCode = 1;
