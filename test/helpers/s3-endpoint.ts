/**
 * A local endpoint that speaks enough of the S3 REST protocol for Piko's object store: PutObject,
 * GetObject and HeadObject, path-style (`/<bucket>/<key>`), bodies kept in memory. It refuses what
 * real S3 would refuse in the ways Piko depends on: a request without a SigV4 `Authorization` header
 * for the expected region and service, another bucket, and a body whose SHA-256 does not match the
 * `x-amz-checksum-sha256` sent with it (as a header, or as an `aws-chunked` trailer).
 *
 * Point the AWS SDK at it with `AWS_ENDPOINT_URL_S3=<url>` (the SDK's service-specific endpoint
 * variable) and any `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`; Piko's client turns path-style on
 * when that variable is set.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Options of {@link startS3Endpoint}. */
export interface S3EndpointOptions {
  /** The only bucket that exists. @default 'piko-test-outputs' */
  readonly bucket?: string;
  /** The region requests must be signed for. @default 'us-east-1' */
  readonly region?: string;
  /** Called with each request as it is answered (the artifact tier records calls for IAM). @default - none */
  readonly onRequest?: (request: S3Request) => void;
}

/** One request as the endpoint saw it, in arrival order. */
export interface S3Request {
  /** `PutObject`, `GetObject`, `HeadObject`, or the HTTP method of anything else. */
  readonly operation: string;
  readonly bucket: string;
  readonly key: string;
  /** The status answered. */
  readonly status: number;
  /** Request headers, lowercase names. */
  readonly headers: Readonly<Record<string, string>>;
}

/** A failure to answer instead of the next request's normal response (S3's XML error body). */
export interface S3Fault {
  readonly status: number;
  /** S3's error code, such as `SlowDown` or `AccessDenied`. */
  readonly code: string;
}

/** A running endpoint. */
export interface S3Endpoint {
  /** `http://127.0.0.1:<port>`: the value for `AWS_ENDPOINT_URL_S3`. */
  readonly url: string;
  readonly bucket: string;
  readonly region: string;
  /** Stored bodies by key (without the bucket). Tests may read, seed or delete entries. */
  readonly objects: Map<string, Buffer>;
  /** Every request received. */
  readonly requests: S3Request[];
  /** Answered, first in first out, instead of the next requests' responses (to test error paths). */
  readonly faults: S3Fault[];
  close(): Promise<void>;
}

interface StoredMeta {
  readonly contentType: string;
  readonly sha256: string;
}

/** Starts an endpoint on a free port of 127.0.0.1. */
export async function startS3Endpoint(options: S3EndpointOptions = {}): Promise<S3Endpoint> {
  const bucket = options.bucket ?? 'piko-test-outputs';
  const region = options.region ?? 'us-east-1';
  const objects = new Map<string, Buffer>();
  const meta = new Map<string, StoredMeta>();
  const requests: S3Request[] = [];
  const faults: S3Fault[] = [];

  const server = createServer((request, response) => {
    void handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) reply(response, 500, 'InternalError', String(error));
      else response.destroy();
    });
  });

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const body = await readBody(request);
    const url = new URL(request.url ?? '/', 'http://localhost');
    const [, requestBucket = '', ...rest] = url.pathname.split('/');
    const key = decodeURIComponent(rest.join('/'));
    const headers = Object.fromEntries(
      Object.entries(request.headers).map(([name, value]) => [name, String(value)]),
    );
    const operation = operationOf(request.method ?? '', key);
    const record = (status: number) => {
      const entry = { operation, bucket: decodeURIComponent(requestBucket), key, status, headers };
      requests.push(entry);
      options.onRequest?.(entry);
    };
    const fail = (status: number, code: string, message: string) => {
      record(status);
      reply(response, status, request.method === 'HEAD' ? undefined : code, message);
    };

    const fault = faults.shift();
    if (fault) return fail(fault.status, fault.code, 'Injected by the test');
    const authProblem = checkAuthorization(headers.authorization, region);
    if (authProblem) return fail(403, 'AccessDenied', authProblem);
    if (decodeURIComponent(requestBucket) !== bucket) {
      return fail(404, 'NoSuchBucket', `The specified bucket does not exist: ${requestBucket}`);
    }

    if (operation === 'PutObject') {
      const decoded = decodePayload(headers, body);
      if (typeof decoded === 'string') return fail(400, 'InvalidRequest', decoded);
      const sha256 = createHash('sha256').update(decoded.bytes).digest('base64');
      if (decoded.checksum === undefined) {
        return fail(400, 'InvalidRequest', 'Piko sends x-amz-checksum-sha256 with every object; none came');
      }
      if (decoded.checksum !== sha256) {
        return fail(400, 'BadDigest', `The SHA256 you specified did not match the calculated checksum`);
      }
      objects.set(key, decoded.bytes);
      meta.set(key, { contentType: headers['content-type'] ?? 'binary/octet-stream', sha256 });
      record(200);
      response.writeHead(200, { etag: etag(decoded.bytes), 'x-amz-checksum-sha256': sha256 });
      response.end();
      return;
    }
    if (operation === 'GetObject' || operation === 'HeadObject') {
      const stored = objects.get(key);
      if (stored === undefined) return fail(404, 'NoSuchKey', 'The specified key does not exist.');
      record(200);
      response.writeHead(200, {
        'content-type': meta.get(key)?.contentType ?? 'binary/octet-stream',
        'content-length': String(stored.length),
        etag: etag(stored),
        // As S3 does when asked (the SDK asks, and then checks the body against it).
        ...(headers['x-amz-checksum-mode'] === 'ENABLED'
          ? { 'x-amz-checksum-sha256': meta.get(key)?.sha256 ?? '' }
          : {}),
      });
      response.end(operation === 'GetObject' ? stored : undefined);
      return;
    }
    fail(501, 'NotImplemented', `This test endpoint does not implement ${request.method} ${url.pathname}`);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    bucket,
    region,
    objects,
    requests,
    faults,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

function operationOf(method: string, key: string): string {
  if (key === '') return method;
  if (method === 'PUT') return 'PutObject';
  if (method === 'GET') return 'GetObject';
  if (method === 'HEAD') return 'HeadObject';
  return method;
}

/** Why a SigV4 `Authorization` header is not one for S3 in `region`, or `undefined` when it is. */
function checkAuthorization(header: string | undefined, region: string): string | undefined {
  if (!header) return 'Anonymous requests are refused: no Authorization header';
  const match =
    /^AWS4-HMAC-SHA256 Credential=[^/]+\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=[0-9a-f]{64}$/.exec(
      header,
    );
  if (!match) return `Not a SigV4 Authorization header: ${header}`;
  const [, , signedRegion, service, signedHeaders] = match;
  if (signedRegion !== region) return `Signed for region ${signedRegion}, expected ${region}`;
  if (service !== 's3') return `Signed for service ${service}, expected s3`;
  if (!signedHeaders!.split(';').includes('host')) return 'The host header is not signed';
  return undefined;
}

/**
 * The object's bytes and the SHA-256 checksum sent with them: from the header for a plain body, from
 * the trailer for an `aws-chunked` one (the SDK streams a body that way when it computes the
 * checksum as it sends).
 */
function decodePayload(
  headers: Readonly<Record<string, string>>,
  body: Buffer,
): { bytes: Buffer; checksum: string | undefined } | string {
  if (
    !(headers['content-encoding'] ?? '')
      .split(',')
      .map((part) => part.trim())
      .includes('aws-chunked')
  ) {
    return { bytes: body, checksum: headers['x-amz-checksum-sha256'] };
  }
  const chunks: Buffer[] = [];
  let offset = 0;
  for (;;) {
    const lineEnd = body.indexOf('\r\n', offset);
    if (lineEnd < 0) return 'aws-chunked body: a chunk header has no CRLF';
    const size = Number.parseInt(body.subarray(offset, lineEnd).toString('latin1').split(';')[0]!, 16);
    if (!Number.isFinite(size)) return 'aws-chunked body: a chunk size is not hexadecimal';
    offset = lineEnd + 2;
    if (size === 0) break;
    chunks.push(body.subarray(offset, offset + size));
    offset += size + 2;
  }
  const trailers = new Map(
    body
      .subarray(offset)
      .toString('latin1')
      .split('\r\n')
      .filter((line) => line.includes(':'))
      .map((line) => [
        line.slice(0, line.indexOf(':')).trim().toLowerCase(),
        line.slice(line.indexOf(':') + 1).trim(),
      ]),
  );
  const bytes = Buffer.concat(chunks);
  const declared = headers['x-amz-decoded-content-length'];
  if (declared !== undefined && Number(declared) !== bytes.length) {
    return `aws-chunked body: ${bytes.length} bytes, x-amz-decoded-content-length says ${declared}`;
  }
  return { bytes, checksum: trailers.get('x-amz-checksum-sha256') ?? headers['x-amz-checksum-sha256'] };
}

function etag(bytes: Buffer): string {
  return `"${createHash('md5').update(bytes).digest('hex')}"`;
}

function readBody(request: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}

function reply(response: ServerResponse, status: number, code: string | undefined, message: string): void {
  if (code === undefined) {
    response.writeHead(status);
    response.end();
    return;
  }
  const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${escapeXml(message)}</Message><RequestId>piko-test</RequestId></Error>`;
  response.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(xml) });
  response.end(xml);
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
