/**
 * Peak memory of `piko ticks` writing 10 years of minutely intervals (5.26 million JSON lines, about
 * 370 MB) into a slow pipe: the real CLI as a child process, its stdout read in 64 KiB chunks with a
 * 1 ms pause after each, its peak resident set (`VmHWM` in /proc) sampled until it exits.
 * Run: `npx tsx bench/ticks-pipe.ts`. Goal: under 200 MB. The last line printed is one JSON object.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..');
const FROM = '2026-01-01T00:00:00Z';
const TO = '2036-01-01T00:00:00Z';
/** Minutes from 2026-01-01 to 2036-01-01 (leap days in 2028 and 2032): every one of them is printed. */
const EXPECTED_LINES = (10 * 365 + 2) * 1440;
const GOAL_MB = 200;
const SAMPLE_MS = 50;

/** The process's peak resident set so far, MB; undefined once it has exited. */
function peakRssMb(pid: number): number | undefined {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

const started = performance.now();
const child = spawn(
  process.execPath,
  [
    path.join(ROOT, 'bin/piko.mjs'),
    'ticks',
    '--cron',
    '* * * * *',
    '--from',
    FROM,
    '--to',
    TO,
    '--json',
    '--limit',
    String(EXPECTED_LINES),
  ],
  { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
);
const pid = child.pid ?? 0;
let peakMb = 0;
const sampler = setInterval(() => {
  peakMb = Math.max(peakMb, peakRssMb(pid) ?? 0);
}, SAMPLE_MS);

let lines = 0;
let bytes = 0;
child.stdout.on('data', (chunk: Buffer) => {
  bytes += chunk.length;
  for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++;
  peakMb = Math.max(peakMb, peakRssMb(pid) ?? 0);
  // The slow reader: the pipe fills while it waits, and the CLI must wait for it.
  child.stdout.pause();
  setTimeout(() => child.stdout.resume(), 1);
});
const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
clearInterval(sampler);
const seconds = (performance.now() - started) / 1000;

console.log(`piko ticks '* * * * *' ${FROM} → ${TO} --json through a slow pipe (1 ms pause per 64 KiB read)`);
console.log(
  `  ${lines.toLocaleString('en-US')} lines, ${(bytes / 1e6).toFixed(0)} MB in ${seconds.toFixed(1)} s, exit ${code}`,
);
console.log(`  peak RSS of the CLI process ${peakMb.toFixed(0)} MB (goal < ${GOAL_MB} MB)`);
console.log(
  JSON.stringify({
    bench: 'ticks-pipe',
    lines,
    expected_lines: EXPECTED_LINES,
    exit_code: code,
    seconds: Number(seconds.toFixed(1)),
    peak_rss_mb: Math.round(peakMb),
    goal_mb: GOAL_MB,
  }),
);
if (code !== 0 || lines !== EXPECTED_LINES || peakMb >= GOAL_MB) process.exitCode = 1;
