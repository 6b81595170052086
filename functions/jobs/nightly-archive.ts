import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import * as z from 'zod';
import {
  type BorrowedResources,
  defineJob,
  defineRecord,
  fargate,
  lambda,
  objectStore,
  type RunContext,
  upsertSink,
} from '#piko';

/**
 * One archived interval: where its gzip archive is in the job's object store, and how to check it.
 * The archive itself is an object (S3 on AWS, `<data_dir>/objects/jobs/nightly_archive/` locally):
 * the state database keeps only this row.
 */
export const ArchiveManifest = defineRecord(
  'archive_manifest',
  z.object({
    start: z.string().max(32),
    /** The object's key, relative to the job's prefix `jobs/nightly_archive/`. */
    key: z.string().max(256),
    /** Bytes of the gzip object. */
    bytes: z.number().int(),
    /** SHA-256 of the gzip object, hex. */
    sha256: z.string().length(64),
    /** Lines in the archive. */
    rows: z.number().int(),
    uncompressedBytes: z.number().int(),
    compressedBy: z.number().int(),
  }),
);

const ArchiveConfig = z.object({
  megabytes: z.number().int().min(1).max(512).default(24),
});
type Context = RunContext<z.infer<typeof ArchiveConfig>>;
const resources = { outputs: objectStore() };
type Resources = BorrowedResources<typeof resources>;

const Plan = z.object({ seed: z.number(), megabytes: z.number() });
const Manifest = ArchiveManifest.schema;

/** The archive's key for an interval: one object per interval, rewritten whole by a retry. */
export function archiveKey(intervalStart: Date): string {
  return `${intervalStart.toISOString()}.json.gz`;
}

/**
 * Pattern (c), a CPU-heavy Fargate stage between two Lambda stages: plan the export (Lambda),
 * generate, gzip and hash tens of MB and put the archive in the job's object store, recording a
 * small manifest in the state database (Fargate; locally a child process), check and publish it
 * (Lambda). Outputs that outlast the task go to an object store, never to the task's `/tmp`.
 */
export const nightlyArchive = defineJob({
  id: 'nightly_archive',
  description:
    'hourly: plan (Lambda) → gzip + sha256 of 24 MB to the object store (Fargate) → publish (Lambda)',
  schedule: { cron: '0 * * * *' },
  start: '2026-01-01T00:00:00Z',
  catchupWindow: '2h',
  concurrency: 2,
  retry: { attempts: 2, backoff: '5s' },
  timeout: '5m',
  config: ArchiveConfig,
  resources,
  // A retry rewrites the same object and the same row: one archive per interval.
  sinks: [upsertSink(ArchiveManifest, { table: 'archive_manifests', key: ['start'] })],
  stages: [
    lambda('plan', (ctx: Context) => ({
      seed: ctx.interval.start.getTime() / 3_600_000,
      megabytes: ctx.config.megabytes,
    })),
    fargate('compress', { cpu: 2048, memoryMiB: 4096 }, async (ctx: Context, { outputs }: Resources) => {
      const { seed, megabytes } = Plan.parse(ctx.input);
      const { data, rows } = generate(seed, megabytes);
      const compressed = gzipSync(data, { level: 6 });
      const key = archiveKey(ctx.interval.start);
      await outputs.put(key, compressed, { contentType: 'application/gzip' });
      const manifest = ArchiveManifest.of({
        start: ctx.interval.start.toISOString(),
        key,
        bytes: compressed.length,
        sha256: createHash('sha256').update(compressed).digest('hex'),
        rows,
        uncompressedBytes: data.length,
        compressedBy: process.pid,
      });
      ctx.emit(manifest);
      return manifest.value;
    }),
    lambda('publish', async (ctx: Context, { outputs }: Resources) => {
      const manifest = Manifest.parse(ctx.input);
      const stored = await outputs.head(manifest.key);
      if (stored?.bytes !== manifest.bytes) {
        throw new Error(
          `archive ${outputs.location}${manifest.key} has ${stored ? `${stored.bytes} bytes` : 'not been found'}, ` +
            `but its manifest says ${manifest.bytes} bytes`,
        );
      }
      ctx.log.debug('archive published', { key: manifest.key, bytes: manifest.bytes });
      return {
        key: manifest.key,
        sha256: manifest.sha256,
        compressedBy: manifest.compressedBy,
        publishedBy: process.pid,
      };
    }),
  ],
});

/** Deterministic, partly compressible data: log-like lines with a pseudo-random part. */
function generate(seed: number, megabytes: number): { data: Buffer; rows: number } {
  const size = megabytes * 1024 * 1024;
  const data = Buffer.allocUnsafe(size);
  let state = (seed * 2654435761) >>> 0 || 1;
  let offset = 0;
  let line = 0;
  while (offset < size) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    const text = `${line++} event=order store=${state % 97} amount=${(state % 100000) / 100} id=${state.toString(36)}\n`;
    offset += data.write(text, offset);
  }
  return { data, rows: line };
}
