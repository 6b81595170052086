/**
 * `objectStore()`: where a job keeps outputs too big for the state database (archives, exports).
 * On AWS (`[objects] bucket` set) an S3 bucket; locally a folder under the data directory. Keys are
 * scoped by Piko to `jobs/<jobId>/`, so one job can never overwrite another's objects.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { getConfig } from '../config.ts';
import {
  AwsCallError,
  AwsThrottledError,
  awsErrorName,
  InputError,
  NonRetryableError,
  THROTTLING_ERRORS,
} from '../errors.ts';
import type { Resource } from './types.ts';

/** Options of {@link objectStore}. */
export interface ObjectStoreOptions {
  /**
   * The largest body `put` accepts, in bytes: a bigger one is refused before anything is sent.
   * @default 5_368_709_120 (5 GiB, the most one S3 PutObject takes)
   */
  readonly maxObjectBytes?: number;
}

/** What `put` may say about an object. */
export interface PutObjectOptions {
  /** The object's media type, kept by S3 (not by the local folder). @default 'application/octet-stream' */
  readonly contentType?: string;
}

/** An object as `head` describes it. */
export interface ObjectInfo {
  /** Its size in bytes. */
  readonly bytes: number;
}

/** A job's objects, lent to each of its runs. Every key is relative to the job's own `jobs/<jobId>/`. */
export interface ObjectStore {
  /** Where keys land: `s3://<bucket>/jobs/<jobId>/` or the job's local folder. */
  readonly location: string;
  /**
   * Stores `body` under `key`, replacing what was there (a retry rewrites the same object). Locally
   * the object appears whole or not at all (written to a temporary file, then renamed).
   * @throws NonRetryableError when the key is invalid, the body too big, or S3 refuses access.
   * @throws AwsThrottledError / AwsCallError when S3 throttles or fails after the SDK's retries.
   */
  put(key: string, body: Buffer | string, options?: PutObjectOptions): Promise<void>;
  /**
   * The object's bytes, or `undefined` when there is none. On AWS a role without `s3:ListBucket`
   * (Piko grants none) is answered `AccessDenied` for a missing key: that throws.
   */
  get(key: string): Promise<Buffer | undefined>;
  /** The object's size, or `undefined` when there is none (same caveat as `get`). */
  head(key: string): Promise<ObjectInfo | undefined>;
}

/** The `ObjectStore` of one job in one process. */
type Handle = ObjectStore;

/** An {@link objectStore} resource. */
export type ObjectStoreResource = Resource<ObjectStore, Handle>;

/** The most bytes S3 accepts in one PutObject. */
export const MAX_PUT_OBJECT_BYTES = 5 * 1024 ** 3;
/**
 * The longest key a job may use, in UTF-8 bytes: S3 allows 1,024 for the whole key, of which Piko's
 * `jobs/<jobId>/` takes the rest.
 */
export const MAX_OBJECT_KEY_BYTES = 900;
/** The local folder's name under the data directory. */
export const LOCAL_OBJECTS_DIR = 'objects';

const OPTION_KEYS: ReadonlySet<string> = new Set(['maxObjectBytes']);

/**
 * A resource lending each run its job's object store: S3 when `[objects] bucket`
 * (`PIKO_OBJECTS__BUCKET`) is set, as the stack sets it for every job that declares this resource,
 * else the folder `<data_dir>/objects/jobs/<jobId>/`. On S3, every object is written with a SHA-256
 * checksum S3 verifies and with S3-managed encryption; one S3 client serves the whole process and
 * retries as the SDK does.
 * @example resources: { outputs: objectStore() }, then `await outputs.put('2026-03-01.json.gz', gz)`
 * @throws InputError listing every invalid or unknown option.
 */
export function objectStore(options: ObjectStoreOptions = {}): ObjectStoreResource {
  const maxObjectBytes = checkOptions(options);
  return {
    kind: 'object-store',
    aws: { objectStore: true },
    async create({ jobId }) {
      const config = getConfig();
      const prefix = `jobs/${jobId}/`;
      if (config.objects.bucket !== undefined) {
        return s3Store(await processS3Client(), config.objects.bucket, prefix, maxObjectBytes);
      }
      return folderStore(path.resolve(config.piko.dataDir, LOCAL_OBJECTS_DIR, prefix), maxObjectBytes);
    },
    async acquire(handle) {
      return handle;
    },
    async release() {
      // Nothing per run: the store holds no connection.
    },
    async destroy() {
      // The S3 client is the process's, kept for its other jobs; the folder needs no closing.
    },
  };
}

function checkOptions(options: ObjectStoreOptions): number {
  const problems: string[] = [];
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.has(key))
      problems.push(`unknown option "${key}" (known: ${[...OPTION_KEYS].join(', ')})`);
  }
  const max = options.maxObjectBytes ?? MAX_PUT_OBJECT_BYTES;
  if (!Number.isInteger(max) || max < 1 || max > MAX_PUT_OBJECT_BYTES) {
    problems.push(`maxObjectBytes must be an integer from 1 to ${MAX_PUT_OBJECT_BYTES}, got ${String(max)}`);
  }
  if (problems.length > 0) throw new InputError(`objectStore: ${problems.join('; ')}`);
  return max;
}

/**
 * Refuses a key that could leave the job's prefix or that S3 and file systems disagree on.
 * @throws NonRetryableError saying what is wrong with the key.
 */
export function checkObjectKey(key: string): void {
  const problem = objectKeyProblem(key);
  if (problem) throw new NonRetryableError(`Invalid object key ${JSON.stringify(key)}: ${problem}`);
}

function objectKeyProblem(key: string): string | undefined {
  if (typeof key !== 'string' || key === '')
    return 'a key must be a non-empty string such as "2026-03-01.json.gz"';
  const bytes = Buffer.byteLength(key, 'utf8');
  if (bytes > MAX_OBJECT_KEY_BYTES) return `it has ${bytes} bytes; a key has at most ${MAX_OBJECT_KEY_BYTES}`;
  if (key.startsWith('/')) return 'it starts with "/"; keys are relative to the job\'s own prefix';
  if (key.endsWith('/')) return 'it ends with "/"; a key names an object, not a folder';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[\u0000-\u001f\u007f\\]/.test(key))
    return 'it contains a control character or "\\"; use "/" between parts';
  const parts = key.split('/');
  if (parts.some((part) => part === '..' || part === '.'))
    return 'it has a "." or ".." part; keys cannot leave the job\'s prefix';
  if (parts.some((part) => part === '')) return 'it has an empty part ("//")';
  if (parts.some((part) => part.startsWith('.piko-tmp-')))
    return 'parts starting with ".piko-tmp-" are Piko\'s temporary files';
  return undefined;
}

function checkBody(key: string, body: Buffer | string, max: number): Buffer {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  if (!Buffer.isBuffer(bytes)) {
    throw new NonRetryableError(`Object ${JSON.stringify(key)}: the body must be a Buffer or a string`);
  }
  if (bytes.length > max) {
    throw new NonRetryableError(
      `Object ${JSON.stringify(key)} has ${bytes.length} bytes, more than maxObjectBytes (${max}): split it into several objects`,
    );
  }
  return bytes;
}

/** The local backend: one file per object, written whole or not at all. */
function folderStore(dir: string, maxObjectBytes: number): ObjectStore {
  const file = (key: string) => {
    checkObjectKey(key);
    return path.join(dir, ...key.split('/'));
  };
  return {
    location: `${dir}${path.sep}`,
    async put(key, body) {
      const target = file(key);
      const bytes = checkBody(key, body, maxObjectBytes);
      await mkdir(path.dirname(target), { recursive: true });
      // In the target's folder, so the rename stays on one file system and is atomic.
      const temporary = path.join(path.dirname(target), `.piko-tmp-${randomBytes(8).toString('hex')}`);
      try {
        await writeFile(temporary, bytes);
        await rename(temporary, target);
      } catch (error) {
        await rm(temporary, { force: true });
        throw error;
      }
    },
    async get(key) {
      try {
        return await readFile(file(key));
      } catch (error) {
        if (isMissingFile(error)) return undefined;
        throw error;
      }
    },
    async head(key) {
      try {
        const info = await stat(file(key));
        return info.isFile() ? { bytes: info.size } : undefined;
      } catch (error) {
        if (isMissingFile(error)) return undefined;
        throw error;
      }
    },
  };
}

function isMissingFile(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

let client: Promise<S3Client> | undefined;

/**
 * The process's S3 client, created on first use. The SDK reads the region, the credentials (the
 * function's or task's role) and an endpoint override (`AWS_ENDPOINT_URL_S3`, used by tests) from
 * the environment. Loaded lazily: processes without a bucket never load the S3 SDK.
 */
function processS3Client(): Promise<S3Client> {
  client ??= import('@aws-sdk/client-s3').then(
    ({ S3Client }) =>
      // Path-style requests when an endpoint is overridden: a local endpoint has no bucket subdomains.
      new S3Client({ forcePathStyle: Boolean(process.env.AWS_ENDPOINT_URL_S3) }),
  );
  client.catch(() => {
    client = undefined;
  });
  return client;
}

/** The S3 backend: the job's objects under `prefix` in `bucket`. */
function s3Store(s3: S3Client, bucket: string, prefix: string, maxObjectBytes: number): ObjectStore {
  const sdk = import('@aws-sdk/client-s3');
  const objectKey = (key: string) => {
    checkObjectKey(key);
    return `${prefix}${key}`;
  };
  return {
    location: `s3://${bucket}/${prefix}`,
    async put(key, body, options = {}) {
      const Key = objectKey(key);
      const Body = checkBody(key, body, maxObjectBytes);
      const { PutObjectCommand } = await sdk;
      try {
        await s3.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key,
            Body,
            ContentType: options.contentType ?? 'application/octet-stream',
            // S3 checks the bytes it received against this and refuses the object on a mismatch.
            ChecksumAlgorithm: 'SHA256',
            ServerSideEncryption: 'AES256',
          }),
        );
      } catch (error) {
        throw s3Error('PutObject', bucket, Key, error);
      }
    },
    async get(key) {
      const Key = objectKey(key);
      const { GetObjectCommand } = await sdk;
      try {
        const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key }));
        return Buffer.from(await response.Body!.transformToByteArray());
      } catch (error) {
        if (isMissingObject(error)) return undefined;
        throw s3Error('GetObject', bucket, Key, error);
      }
    },
    async head(key) {
      const Key = objectKey(key);
      const { HeadObjectCommand } = await sdk;
      try {
        const response = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key }));
        return { bytes: response.ContentLength ?? 0 };
      } catch (error) {
        if (isMissingObject(error)) return undefined;
        throw s3Error('HeadObject', bucket, Key, error);
      }
    },
  };
}

function httpStatus(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
}

function isMissingObject(error: unknown): boolean {
  const name = awsErrorName(error);
  return (
    name === 'NoSuchKey' || name === 'NotFound' || (httpStatus(error) === 404 && name !== 'NoSuchBucket')
  );
}

/** S3 errors that no retry fixes: the grants, the bucket or the request are wrong. */
const PERMANENT_S3_ERRORS: ReadonlySet<string> = new Set([
  'AccessDenied',
  'Forbidden',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'NoSuchBucket',
  'InvalidRequest',
  'InvalidArgument',
  'BadDigest',
  'EntityTooLarge',
]);

/**
 * Maps an S3 failure to the class that decides what happens next: throttling and 5xx are
 * transient (the run is retried), refused access and bad requests are not.
 */
function s3Error(call: string, bucket: string, key: string, error: unknown): Error {
  const name = awsErrorName(error);
  const status = httpStatus(error);
  const where = `S3 ${call} of s3://${bucket}/${key} failed with ${name}${status ? ` (HTTP ${status})` : ''}`;
  if (THROTTLING_ERRORS.has(name) || name === 'SlowDown' || status === 503) {
    return new AwsThrottledError(
      `${where}: S3 is throttling after the SDK's retries; the run is retried`,
      name,
      {
        cause: error,
      },
    );
  }
  if (PERMANENT_S3_ERRORS.has(name) || (status !== undefined && status >= 400 && status < 500)) {
    const hint =
      name === 'AccessDenied' || status === 403
        ? 'check that the job declares objectStore() in its resources and was deployed (npx cdk deploy) so its role may write and read jobs/<jobId>/; a missing key also reads as AccessDenied to a role without s3:ListBucket'
        : 'the request cannot succeed as it is';
    return new NonRetryableError(`${where}: ${hint}`, { cause: error });
  }
  return new AwsCallError(`${where}; the run is retried`, name, { cause: error });
}
