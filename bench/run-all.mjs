#!/usr/bin/env node
/**
 * Runs every `bench/*.ts` in turn (by name) with `npx tsx`, passing their output through, then prints
 * the JSON object each one printed as its last line, one per line.
 *
 *   npm run bench                  every benchmark
 *   npm run bench -- ticks plan    only those whose file name contains one of the words
 *
 * Exits 1 when a benchmark failed or its last line was not a JSON object (it is then listed as
 * `{"bench":…,"error":…}`), else 0.
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const benchDir = path.dirname(fileURLToPath(import.meta.url));
const root = path.dirname(benchDir);
const filters = process.argv.slice(2);
const files = readdirSync(benchDir)
  .filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))
  .filter((file) => filters.length === 0 || filters.some((word) => file.includes(word)))
  .sort();

/** Runs one benchmark, echoing its output; resolves with its exit code and last non-empty stdout line. */
function run(file) {
  return new Promise((resolve) => {
    const child = spawn('npx', ['tsx', path.join('bench', file)], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let last = '';
    let partial = '';
    child.stdout.on('data', (chunk) => {
      process.stdout.write(chunk);
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) if (line.trim()) last = line.trim();
    });
    child.on('error', (error) => resolve({ code: 1, last, error }));
    child.on('close', (code, signal) => {
      if (partial.trim()) last = partial.trim();
      resolve({
        code: code ?? (signal ? 1 : 0),
        last,
        error: signal ? new Error(`killed by ${signal}`) : undefined,
      });
    });
  });
}

const results = [];
let failed = false;
for (const file of files) {
  const name = path.basename(file, '.ts');
  console.log(`\n=== bench/${file} ===`);
  const started = performance.now();
  const { code, last, error } = await run(file);
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  let parsed;
  try {
    parsed = JSON.parse(last);
  } catch {
    parsed = undefined;
  }
  if (code === 0 && parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
    results.push(parsed);
    console.log(`=== bench/${file}: done in ${seconds} s ===`);
  } else {
    failed = true;
    const reason =
      error?.message ?? (code !== 0 ? `exit code ${code}` : 'the last line is not a JSON object');
    results.push({ bench: name, error: reason });
    console.log(`=== bench/${file}: FAILED (${reason}) after ${seconds} s ===`);
  }
}

console.log(`\n=== results (${results.length} benchmark${results.length === 1 ? '' : 's'}) ===`);
for (const result of results) console.log(JSON.stringify(result));
process.exitCode = failed ? 1 : 0;
