/**
 * objectStore(): its options and keys, the local folder backend on a real directory, and the S3
 * backend through the real AWS SDK against a local endpoint speaking the S3 REST protocol.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadConfig, type PikoConfig } from '../../../shared/config.ts';
import { AwsCallError, AwsThrottledError, InputError, NonRetryableError } from '../../../shared/errors.ts';
import { type ObjectStore, objectStore } from '../../../shared/resources/object-store.ts';
import { type S3Endpoint, startS3Endpoint } from '../../helpers/s3-endpoint.ts';

const current = vi.hoisted(() => ({ config: undefined as PikoConfig | undefined }));
vi.mock('../../../shared/config.ts', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../../../shared/config.ts')>();
  return { ...actual, getConfig: () => current.config! };
});

const signal = new AbortController().signal;

async function borrow(jobId: string): Promise<ObjectStore> {
  const resource = objectStore();
  return resource.acquire(await resource.create({ jobId, name: 'outputs' }), signal);
}

/** The message and class of what `work` rejects with. */
async function failure(work: Promise<unknown>): Promise<Error> {
  const outcome = await work.then(
    () => undefined,
    (error: unknown) => error,
  );
  if (!(outcome instanceof Error)) throw new Error('expected a rejection');
  return outcome;
}

describe('objectStore options and keys', () => {
  it('refuses unknown options and a bad maxObjectBytes, all at once', () => {
    expect(() => objectStore({ maxObjectBytes: 0, bucket: 'x' } as never)).toThrow(InputError);
    expect(() => objectStore({ maxObjectBytes: 0, bucket: 'x' } as never)).toThrow(
      'objectStore: unknown option "bucket" (known: maxObjectBytes); maxObjectBytes must be an integer from 1 to 5368709120, got 0',
    );
  });

  it('asks the stack for the object store grants', () => {
    expect(objectStore().aws).toEqual({ objectStore: true });
    expect(objectStore().kind).toBe('object-store');
  });

  it('refuses keys that would leave the job’s prefix or that S3 and file systems read differently', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'piko-objects-keys-'));
    current.config = loadConfig({ cwd: dataDir, env: { PIKO_DATA_DIR: dataDir } });
    const store = await borrow('nightly_archive');
    const message = async (key: string) => (await failure(store.put(key, 'x'))).message;

    expect(await failure(store.put('../other_job/x', 'x'))).toBeInstanceOf(NonRetryableError);
    expect(await message('../other_job/x')).toBe(
      'Invalid object key "../other_job/x": it has a "." or ".." part; keys cannot leave the job\'s prefix',
    );
    expect(await message('/etc/passwd')).toBe(
      'Invalid object key "/etc/passwd": it starts with "/"; keys are relative to the job\'s own prefix',
    );
    expect(await message('')).toBe(
      'Invalid object key "": a key must be a non-empty string such as "2026-03-01.json.gz"',
    );
    expect(await message('a//b')).toBe('Invalid object key "a//b": it has an empty part ("//")');
    expect(await message('dir/')).toBe(
      'Invalid object key "dir/": it ends with "/"; a key names an object, not a folder',
    );
    expect(await message('a\\b')).toBe(
      'Invalid object key "a\\\\b": it contains a control character or "\\"; use "/" between parts',
    );
    expect(await message('k'.repeat(901))).toBe(
      `Invalid object key "${'k'.repeat(901)}": it has 901 bytes; a key has at most 900`,
    );
    expect((await failure(store.get('a/../../b'))).message).toContain('it has a "." or ".." part');
    expect(readdirSync(dataDir)).toEqual([]);
    rmSync(dataDir, { recursive: true, force: true });
  });
});

describe('objectStore on a local folder (no bucket configured)', () => {
  let dataDir: string;
  beforeEach(() => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'piko-objects-'));
    current.config = loadConfig({ cwd: dataDir, env: { PIKO_DATA_DIR: path.join(dataDir, 'data') } });
    return () => rmSync(dataDir, { recursive: true, force: true });
  });

  it('writes under <data_dir>/objects/jobs/<jobId>/ and reads back, leaving no temporary file', async () => {
    const archive = await borrow('nightly_archive');
    const other = await borrow('store_totals');

    await archive.put('2026-03-01T00:00:00.000Z.json.gz', Buffer.from([1, 2, 3]));
    await archive.put('2026-03-01T00:00:00.000Z.json.gz', 'replaced', { contentType: 'text/plain' });
    await other.put('2026-03-01T00:00:00.000Z.json.gz', 'other job');

    const folder = path.join(dataDir, 'data', 'objects', 'jobs', 'nightly_archive');
    expect(archive.location).toBe(`${folder}${path.sep}`);
    expect(readdirSync(folder)).toEqual(['2026-03-01T00:00:00.000Z.json.gz']);
    expect(readFileSync(path.join(folder, '2026-03-01T00:00:00.000Z.json.gz'), 'utf8')).toBe('replaced');
    expect((await archive.get('2026-03-01T00:00:00.000Z.json.gz'))?.toString()).toBe('replaced');
    expect((await other.get('2026-03-01T00:00:00.000Z.json.gz'))?.toString()).toBe('other job');
    expect(await archive.head('2026-03-01T00:00:00.000Z.json.gz')).toEqual({ bytes: 8 });
  });

  it('answers undefined for a missing object and creates nested keys', async () => {
    const store = await borrow('nightly_archive');

    expect(await store.get('missing.json')).toBeUndefined();
    expect(await store.head('nested/missing.json')).toBeUndefined();
    await store.put('2026/03/01.json', '{}');
    expect((await store.get('2026/03/01.json'))?.toString()).toBe('{}');
  });

  it('refuses a body above maxObjectBytes before writing anything', async () => {
    const resource = objectStore({ maxObjectBytes: 4 });
    const store = await resource.acquire(
      await resource.create({ jobId: 'nightly_archive', name: 'outputs' }),
      signal,
    );

    const error = await failure(store.put('big.bin', Buffer.alloc(5)));

    expect(error).toBeInstanceOf(NonRetryableError);
    expect(error.message).toBe(
      'Object "big.bin" has 5 bytes, more than maxObjectBytes (4): split it into several objects',
    );
    expect(await store.head('big.bin')).toBeUndefined();
  });
});

describe('objectStore on S3 (bucket configured), through a local S3 endpoint', () => {
  let endpoint: S3Endpoint;
  const saved = { ...process.env };
  beforeAll(async () => {
    endpoint = await startS3Endpoint({ bucket: 'piko-job-outputs', region: 'eu-west-1' });
    Object.assign(process.env, {
      AWS_ENDPOINT_URL_S3: endpoint.url,
      AWS_REGION: 'eu-west-1',
      AWS_ACCESS_KEY_ID: 'AKIDPIKOTEST',
      AWS_SECRET_ACCESS_KEY: 'piko-test-secret',
    });
    delete process.env.AWS_PROFILE;
    delete process.env.AWS_SESSION_TOKEN;
  });
  afterAll(async () => {
    for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name];
    Object.assign(process.env, saved);
    await endpoint.close();
  });
  beforeEach(() => {
    current.config = loadConfig({ cwd: os.tmpdir(), env: { PIKO_OBJECTS__BUCKET: 'piko-job-outputs' } });
    endpoint.requests.length = 0;
    endpoint.faults.length = 0;
  });

  it('puts under jobs/<jobId>/ with a SHA-256 checksum and S3-managed encryption, and gets it back', async () => {
    const store = await borrow('nightly_archive');
    const body = Buffer.from('{"rows":3}\n'.repeat(1000));

    await store.put('2026-03-01T00:00:00.000Z.json.gz', body, { contentType: 'application/gzip' });
    const back = await store.get('2026-03-01T00:00:00.000Z.json.gz');
    const info = await store.head('2026-03-01T00:00:00.000Z.json.gz');

    expect(store.location).toBe('s3://piko-job-outputs/jobs/nightly_archive/');
    expect(back?.equals(body)).toBe(true);
    expect(info).toEqual({ bytes: body.length });
    expect([...endpoint.objects.keys()]).toEqual(['jobs/nightly_archive/2026-03-01T00:00:00.000Z.json.gz']);
    const [put, get, head] = endpoint.requests;
    expect(endpoint.requests.map((r) => [r.operation, r.bucket, r.key, r.status])).toEqual([
      ['PutObject', 'piko-job-outputs', 'jobs/nightly_archive/2026-03-01T00:00:00.000Z.json.gz', 200],
      ['GetObject', 'piko-job-outputs', 'jobs/nightly_archive/2026-03-01T00:00:00.000Z.json.gz', 200],
      ['HeadObject', 'piko-job-outputs', 'jobs/nightly_archive/2026-03-01T00:00:00.000Z.json.gz', 200],
    ]);
    expect(put?.headers).toMatchObject({
      'content-type': 'application/gzip',
      'x-amz-server-side-encryption': 'AES256',
      'x-amz-checksum-sha256': createHash('sha256').update(body).digest('base64'),
    });
    expect(put?.headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDPIKOTEST\/\d{8}\/eu-west-1\/s3\//,
    );
    expect(get?.headers.authorization).toMatch(/\/eu-west-1\/s3\/aws4_request/);
    expect(head?.headers.authorization).toMatch(/\/eu-west-1\/s3\/aws4_request/);
  });

  it('answers undefined for a missing key (NoSuchKey) and keeps jobs apart', async () => {
    const archive = await borrow('nightly_archive');
    const totals = await borrow('store_totals');
    await totals.put('same-name.json', 'totals');

    expect(await archive.get('same-name.json')).toBeUndefined();
    expect(await archive.head('same-name.json')).toBeUndefined();
    expect(endpoint.objects.get('jobs/store_totals/same-name.json')?.toString()).toBe('totals');
  });

  it('maps refused access to NonRetryableError, with what to check', async () => {
    const store = await borrow('nightly_archive');
    endpoint.faults.push({ status: 403, code: 'AccessDenied' });

    const error = await failure(store.put('a.json', '{}'));

    expect(error).toBeInstanceOf(NonRetryableError);
    expect(error.message).toBe(
      'S3 PutObject of s3://piko-job-outputs/jobs/nightly_archive/a.json failed with AccessDenied (HTTP 403): ' +
        'check that the job declares objectStore() in its resources and was deployed (npx cdk deploy) so its role may ' +
        'write and read jobs/<jobId>/; a missing key also reads as AccessDenied to a role without s3:ListBucket',
    );
    expect(endpoint.requests).toHaveLength(1);
  });

  it('retries throttling as the SDK does, then maps it to AwsThrottledError (retryable)', async () => {
    const store = await borrow('nightly_archive');
    endpoint.faults.push(...Array.from({ length: 3 }, () => ({ status: 503, code: 'SlowDown' })));

    const error = await failure(store.get('a.json'));

    expect(error).toBeInstanceOf(AwsThrottledError);
    expect(error).not.toBeInstanceOf(NonRetryableError);
    expect(error.message).toBe(
      "S3 GetObject of s3://piko-job-outputs/jobs/nightly_archive/a.json failed with SlowDown (HTTP 503): S3 is throttling after the SDK's retries; the run is retried",
    );
    expect(endpoint.requests.map((r) => r.status)).toEqual([503, 503, 503]);
  }, 30_000);

  it('maps a 500 to a retryable AwsCallError after the SDK’s retries, and succeeds when one retry passes', async () => {
    const store = await borrow('nightly_archive');
    endpoint.faults.push(...Array.from({ length: 3 }, () => ({ status: 500, code: 'InternalError' })));
    const error = await failure(store.put('a.json', '{}'));
    expect(error).toBeInstanceOf(AwsCallError);
    expect(error).not.toBeInstanceOf(AwsThrottledError);
    expect(error.message).toBe(
      'S3 PutObject of s3://piko-job-outputs/jobs/nightly_archive/a.json failed with InternalError (HTTP 500); the run is retried',
    );

    endpoint.requests.length = 0;
    endpoint.faults.push({ status: 500, code: 'InternalError' });
    await store.put('a.json', '{"ok":true}');
    expect(endpoint.requests.map((r) => r.status)).toEqual([500, 200]);
    expect(endpoint.objects.get('jobs/nightly_archive/a.json')?.toString()).toBe('{"ok":true}');
  }, 30_000);
});

describe('the local S3 endpoint (test/helpers/s3-endpoint.ts)', () => {
  it('refuses unsigned requests, another region, another bucket and a body that does not match its checksum', async () => {
    const endpoint = await startS3Endpoint({ bucket: 'piko-job-outputs', region: 'eu-west-1' });
    try {
      const put = (headers: Record<string, string>, bucket = 'piko-job-outputs') =>
        fetch(`${endpoint.url}/${bucket}/jobs/x/a.txt`, { method: 'PUT', body: 'hello', headers });
      const signed = (region: string) =>
        `AWS4-HMAC-SHA256 Credential=AKID/20261201/${region}/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=${'0'.repeat(64)}`;
      const sha = createHash('sha256').update('hello').digest('base64');

      const unsigned = await put({ 'x-amz-checksum-sha256': sha });
      const otherRegion = await put({ authorization: signed('us-east-1'), 'x-amz-checksum-sha256': sha });
      const otherBucket = await put(
        { authorization: signed('eu-west-1'), 'x-amz-checksum-sha256': sha },
        'other',
      );
      const badDigest = await put({ authorization: signed('eu-west-1'), 'x-amz-checksum-sha256': 'AAAA' });
      const noChecksum = await put({ authorization: signed('eu-west-1') });
      const good = await put({ authorization: signed('eu-west-1'), 'x-amz-checksum-sha256': sha });

      expect([unsigned, otherRegion, otherBucket, badDigest, noChecksum, good].map((r) => r.status)).toEqual([
        403, 403, 404, 400, 400, 200,
      ]);
      expect(await badDigest.text()).toContain('<Code>BadDigest</Code>');
      expect([...endpoint.objects.keys()]).toEqual(['jobs/x/a.txt']);
    } finally {
      await endpoint.close();
    }
  });
});
