/**
 * The dispatcher bundle's size and cold load time.
 *
 * Bundles `functions/dispatcher.ts` through the stack's own construct and options (PikoFunction with
 * CONTROL_FUNCTION: NodejsFunction with infra/bundling.ts's options), then loads the bundle in
 * fresh `node` processes, as a Lambda cold start does before the first event, against bare
 * `node -e 0`. The bundle carries everything it imports, the AWS SDK included (infra/bundling.ts), and
 * is loaded from an empty folder outside the repository, so nothing resolves the repository's packages.
 *
 * Run: npx tsx bench/dispatcher-cold.ts [runs]
 * Last line: {"bench":"dispatcher-cold","bytes":…,"cold_ms":…,"bare_node_ms":…}
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { App, Stack } from 'aws-cdk-lib';
import { CONTROL_FUNCTION } from '../infra/constructs/control-function.ts';
import { PikoFunction } from '../infra/constructs/piko-function.ts';

/** Bytes the bundle may have. */
const GOAL_BYTES = 1_000_000;
/** Milliseconds the bundle may add to a bare node start. */
const GOAL_EXTRA_MS = 150;
const runs = Number(process.argv[2] ?? 15);

const work = mkdtempSync(path.join(os.tmpdir(), 'piko-bench-dispatcher-'));
const outdir = path.join(work, 'cdk.out');

// Synthesizing a stack with the function bundles it exactly as `cdk synth` does.
const app = new App({ outdir });
const stack = new Stack(app, 'Bench');
new PikoFunction(stack, 'Dispatcher', CONTROL_FUNCTION);
app.synth();
const assetDirs = readdirSync(outdir).filter((entry) => entry.startsWith('asset.'));
if (assetDirs.length !== 1)
  throw new Error(`expected one bundled asset in ${outdir}, found ${assetDirs.length}`);
// As Lambda's /var/task: the asset folder alone.
const sandbox = path.join(work, 'lambda');
cpSync(path.join(outdir, assetDirs[0]!), sandbox, { recursive: true });
const bundle = path.join(sandbox, 'index.mjs');
if (!existsSync(bundle)) throw new Error(`no index.mjs in ${sandbox}`);
const bytes = statSync(bundle).size;

// What Lambda gives the function, with stand-in values (the module reads them at load time).
const environment: Record<string, string> = {
  ...(process.env as Record<string, string>),
  PIKO_MYSQL__DSN: 'mysql://piko_admin@proxy.invalid:3306/piko',
  PIKO_MYSQL__IAM_AUTH: 'true',
  PIKO_AWS__STACK_NAME: 'Piko',
  AWS_REGION: 'us-east-1',
  AWS_LAMBDA_FUNCTION_NAME: 'bench-dispatcher',
};
const load = `await import(${JSON.stringify(pathToFileURL(bundle).href)})`;

/** Wall time of a fresh node process, and the CPU time it reported (user + system, ms). */
function measure(args: string[], env: Record<string, string>): { wall: number; cpu: number } {
  const script = args[args.length - 1]!;
  // The CPU time is steadier than the wall time when other processes share the machine.
  const withCpu = [...args.slice(0, -1), `${script};const u=process.cpuUsage();console.log(u.user+u.system)`];
  const started = process.hrtime.bigint();
  const result = spawnSync(process.execPath, withCpu, {
    cwd: sandbox,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const wall = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.status !== 0) throw new Error(`node ${args.join(' ')} failed: ${result.stderr.toString()}`);
  return { wall, cpu: Number(result.stdout.toString().trim().split('\n').pop()) / 1000 };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

const env = { ...environment, NODE_OPTIONS: '' };
const kinds = {
  bare: ['--input-type=module', '-e', '0'],
  cold: ['--input-type=module', '-e', load],
  sourceMaps: ['--enable-source-maps', '--input-type=module', '-e', load],
};
type Kind = keyof typeof kinds;
const kindNames = Object.keys(kinds) as Kind[];
const samples = Object.fromEntries(
  kindNames.map((kind) => [kind, { wall: [], cpu: [] }]),
) as unknown as Record<Kind, { wall: number[]; cpu: number[] }>;
measure(kinds.cold, env); // warm the file system cache
// Interleaved, so a busy machine slows every kind of run alike.
for (let i = 0; i < runs; i++) {
  for (const kind of kindNames) {
    const { wall, cpu } = measure(kinds[kind], env);
    samples[kind].wall.push(wall);
    samples[kind].cpu.push(cpu);
  }
}
const wallOf = (kind: Kind) => Math.round(median(samples[kind].wall));
const cpuOf = (kind: Kind) => Math.round(median(samples[kind].cpu));
const bareMs = wallOf('bare');
const coldMs = wallOf('cold');

const row = (label: string, kind: Kind) =>
  console.log(`${label.padEnd(24)}${String(wallOf(kind)).padStart(7)}${String(cpuOf(kind)).padStart(8)}`);
console.log(`bundle: ${bytes} bytes (goal ≤ ${GOAL_BYTES})`);
console.log(`medians of ${runs} runs          wall ms  cpu ms`);
row('bare node', 'bare');
row('cold load', 'cold');
row('  --enable-source-maps', 'sourceMaps');
console.log(
  `cold load: ${coldMs - bareMs} ms wall, ${cpuOf('cold') - cpuOf('bare')} ms cpu above bare node (goal ≤ ${GOAL_EXTRA_MS}). ` +
    `Deployed ${CONTROL_FUNCTION.sourceMapStackTraces ? 'with' : 'without'} NODE_OPTIONS=--enable-source-maps; ` +
    'the bundled Step Functions SDK is evaluated on the first dispatch.',
);
rmSync(work, { recursive: true, force: true });
console.log(JSON.stringify({ bench: 'dispatcher-cold', bytes, cold_ms: coldMs, bare_node_ms: bareMs }));
