import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import * as z from 'zod';
import { getConfig } from '../../shared/config.ts';
import { defineJob, fargate, lambda, type RunContext } from '../../shared/job.ts';
import { defineRecord, jsonLinesSink } from '../../shared/sinks/index.ts';

/** One archived interval. */
export const ArchiveManifest = defineRecord(
  'archive_manifest',
  z.object({
    start: z.string(),
    file: z.string(),
    sha256: z.string(),
    bytes: z.number().int(),
    compressedBytes: z.number().int(),
    compressedBy: z.number().int(),
  }),
);

const ArchiveConfig = z.object({
  megabytes: z.number().int().min(1).max(512).default(24),
  /** @default '<piko.data_dir>/output/archives' */
  outputDir: z.string().optional(),
});
type Context = RunContext<z.infer<typeof ArchiveConfig>>;

const Plan = z.object({ seed: z.number(), megabytes: z.number() });
const Compressed = z.object({
  file: z.string(),
  sha256: z.string(),
  bytes: z.number(),
  compressedBytes: z.number(),
  pid: z.number(),
});

/**
 * Pattern (c), a CPU-heavy Fargate stage between two Lambda stages: plan the export (Lambda),
 * generate, gzip and hash tens of MB (Fargate; locally a child process), publish the manifest (Lambda).
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
  sinks: [jsonLinesSink(ArchiveManifest, { file: 'archive-manifest.jsonl' })],
  stages: [
    lambda('plan', (ctx: Context) => ({
      seed: ctx.interval.start.getTime() / 3_600_000,
      megabytes: ctx.config.megabytes,
    })),
    fargate('compress', { cpu: 2048, memoryMiB: 4096 }, async (ctx: Context) => {
      const { seed, megabytes } = Plan.parse(ctx.input);
      const data = generate(seed, megabytes);
      const compressed = gzipSync(data, { level: 6 });
      const outputDir = ctx.config.outputDir ?? path.join(getConfig().piko.dataDir, 'output', 'archives');
      const file = path.join(outputDir, `${ctx.interval.start.toISOString().replace(/[:.]/g, '-')}.gz`);
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, compressed);
      return {
        file,
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
          file: result.file,
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
