/**
 * The nightly_archive example job, unit-tested with `runJobOnce`: its three stages in order in this
 * process (the Fargate stage too), its own object store (the local folder under a temporary data
 * directory), the manifest record kept in memory.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runJobOnce } from '#piko';
import { nightlyArchive } from '../../../functions/jobs/nightly-archive.ts';

const INTERVAL = { start: '2026-03-01T10:00:00Z', end: '2026-03-01T11:00:00Z' };
const KEY = '2026-03-01T10:00:00.000Z.json.gz';

describe('nightly_archive', () => {
  let dataDir: string;
  beforeAll(async () => {
    // The object store reads the data directory from the process's config on first use.
    dataDir = await mkdtemp(path.join(tmpdir(), 'piko-nightly-archive-'));
    process.env.PIKO_DATA_DIR = dataDir;
  });
  afterAll(async () => {
    delete process.env.PIKO_DATA_DIR;
    await rm(dataDir, { recursive: true, force: true });
  });

  it('plans, compresses one megabyte into the object store and publishes its manifest', async () => {
    const { output, records, logs } = await runJobOnce(nightlyArchive, {
      interval: INTERVAL,
      config: { megabytes: 1 },
    });

    const archive = await readFile(path.join(dataDir, 'objects', 'jobs', 'nightly_archive', KEY));
    const sha256 = createHash('sha256').update(archive).digest('hex');
    const text = gunzipSync(archive);
    const lines = text.toString().split('\n').filter(Boolean);
    expect(text).toHaveLength(1024 * 1024);
    expect(records).toEqual({
      archive_manifest: [
        {
          start: '2026-03-01T10:00:00.000Z',
          key: KEY,
          bytes: archive.length,
          sha256,
          rows: lines.length,
          uncompressedBytes: 1024 * 1024,
          compressedBy: process.pid,
        },
      ],
    });
    expect(output).toEqual({ key: KEY, sha256, compressedBy: process.pid, publishedBy: process.pid });
    expect(logs).toEqual([
      {
        level: 'debug',
        stage: 'publish',
        message: 'archive published',
        fields: { key: KEY, bytes: archive.length },
      },
    ]);
  });

  it('fails the publish stage when the archive is not the one its manifest describes', async () => {
    const failing = runJobOnce(nightlyArchive, {
      interval: INTERVAL,
      config: { megabytes: 1 },
      resources: {
        outputs: {
          location: 'memory://',
          put: async () => {},
          get: async () => undefined,
          head: async () => undefined,
        },
      },
    });

    await expect(failing).rejects.toThrow(
      /^archive memory:\/\/2026-03-01T10:00:00\.000Z\.json\.gz has not been found, but its manifest says \d+ bytes$/,
    );
  });
});
