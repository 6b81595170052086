import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import * as z from 'zod';
import { defineJob, fargate, lambda, type RunContext } from '../../shared/job.ts';
import { defineRecord, upsertSink } from '../../shared/sinks/index.ts';

/** Archive bytes per chunk row: base64 of 48,000 bytes is 64,000 characters, within a MySQL TEXT. */
export const ARCHIVE_CHUNK_BYTES = 48_000;

/**
 * A piece of an archive (gzip bytes, base64, in `seq` order). Archives live in the state database so
 * that they outlast the Fargate task: on AWS its `/tmp` vanishes with it; locally the state database is
 * the project's (`.piko/piko.db` by default).
 */
export const ArchiveChunk = defineRecord(
  'archive_chunk',
  z.object({
    start: z.string().max(32),
    seq: z.number().int(),
    data: z.string().max(Math.ceil(ARCHIVE_CHUNK_BYTES / 3) * 4),
  }),
);

/** One archived interval: what to read back (`chunks` rows of `archive_chunks`) and how to check it. */
export const ArchiveManifest = defineRecord(
  'archive_manifest',
  z.object({
    start: z.string().max(32),
    chunks: z.number().int(),
    sha256: z.string(),
    bytes: z.number().int(),
    compressedBytes: z.number().int(),
    compressedBy: z.number().int(),
  }),
);

const ArchiveConfig = z.object({
  megabytes: z.number().int().min(1).max(512).default(24),
});
type Context = RunContext<z.infer<typeof ArchiveConfig>>;

const Plan = z.object({ seed: z.number(), megabytes: z.number() });
const Compressed = z.object({
  chunks: z.number(),
  sha256: z.string(),
  bytes: z.number(),
  compressedBytes: z.number(),
  pid: z.number(),
});

/**
 * Pattern (c), a CPU-heavy Fargate stage between two Lambda stages: plan the export (Lambda),
 * generate, gzip and hash tens of MB and store the archive in the state database (Fargate; locally a
 * child process), publish the manifest (Lambda).
 */
export const nightlyArchive = defineJob({
  id: 'nightly_archive',
  description: 'hourly: plan (Lambda) → gzip + sha256 of 24 MB (Fargate) → publish manifest (Lambda)',
  schedule: { cron: '0 * * * *' },
  start: '2026-01-01T00:00:00Z',
  catchupWindow: '2h',
  concurrency: 2,
  retry: { attempts: 2, backoff: '5s' },
  timeout: '5m',
  config: ArchiveConfig,
  sinks: [
    // A retry rewrites the same rows: upserts by key leave one archive per interval.
    upsertSink(ArchiveChunk, { table: 'archive_chunks', key: ['start', 'seq'], batchSize: 50 }),
    upsertSink(ArchiveManifest, { table: 'archive_manifests', key: ['start'] }),
  ],
  stages: [
    lambda('plan', (ctx: Context) => ({
      seed: ctx.interval.start.getTime() / 3_600_000,
      megabytes: ctx.config.megabytes,
    })),
    fargate('compress', { cpu: 2048, memoryMiB: 4096 }, (ctx: Context) => {
      const { seed, megabytes } = Plan.parse(ctx.input);
      const data = generate(seed, megabytes);
      const compressed = gzipSync(data, { level: 6 });
      const start = ctx.interval.start.toISOString();
      let chunks = 0;
      for (let offset = 0; offset < compressed.length; offset += ARCHIVE_CHUNK_BYTES) {
        const piece = compressed.subarray(offset, offset + ARCHIVE_CHUNK_BYTES);
        ctx.emit(ArchiveChunk.of({ start, seq: chunks++, data: piece.toString('base64') }));
      }
      return {
        chunks,
        sha256: createHash('sha256').update(data).digest('hex'),
        bytes: data.length,
        compressedBytes: compressed.length,
        pid: process.pid,
      };
    }),
    lambda('publish', (ctx: Context) => {
      const result = Compressed.parse(ctx.input);
      ctx.emit(
        ArchiveManifest.of({
          start: ctx.interval.start.toISOString(),
          chunks: result.chunks,
          sha256: result.sha256,
          bytes: result.bytes,
          compressedBytes: result.compressedBytes,
          compressedBy: result.pid,
        }),
      );
      return { sha256: result.sha256, compressedBy: result.pid, publishedBy: process.pid };
    }),
  ],
});

/** Deterministic, partly compressible data: log-like lines with a pseudo-random part. */
function generate(seed: number, megabytes: number): Buffer {
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
  return data;
}
