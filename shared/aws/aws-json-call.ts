/**
 * One call of an AWS JSON 1.1 API (ECS), signed with Signature Version 4 by node:crypto: for the one
 * ECS operation the dispatcher makes (StopTask), which no AWS SDK client in the bundle covers. It
 * reads the Lambda runtime's credentials and the SDK's endpoint settings from the environment, as the
 * SDK does, so the artifact tier's endpoints and test credentials apply to it as to the SDK clients.
 */
import { createHash, createHmac } from 'node:crypto';
import { AwsCallError, AwsCredentialsError, AwsThrottledError, THROTTLING_ERRORS } from '../errors.ts';

/** Credentials a call is signed with. */
export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** @default none (long-term keys) */
  readonly sessionToken?: string;
}

/** A request to sign. */
export interface SignableRequest {
  readonly method: string;
  /** The full URL, query included. */
  readonly url: string;
  /** Headers besides `host` and `x-amz-date`, which signing adds. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  /** The signing name of the service (`ecs`). */
  readonly service: string;
  readonly region: string;
  readonly credentials: AwsCredentials;
  readonly now: Date;
}

const sha256Hex = (data: string) => createHash('sha256').update(data, 'utf8').digest('hex');
const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data, 'utf8').digest();
/** RFC 3986 encoding, as SigV4 wants for query keys and values. */
const encode = (text: string) =>
  encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/**
 * The headers of a request signed with SigV4 (`authorization`, `x-amz-date`, `host`, and
 * `x-amz-security-token` with temporary credentials), every given header signed. Pure: the time is
 * `request.now`.
 */
export function signAwsRequest(request: SignableRequest): Record<string, string> {
  const url = new URL(request.url);
  const amzDate = request.now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
  const date = amzDate.slice(0, 8);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) headers[name.toLowerCase()] = value;
  headers.host = url.host;
  headers['x-amz-date'] = amzDate;
  if (request.credentials.sessionToken) headers['x-amz-security-token'] = request.credentials.sessionToken;
  const names = Object.keys(headers).sort();
  const canonicalHeaders = names
    .map((name) => `${name}:${headers[name]!.trim().replace(/\s+/g, ' ')}\n`)
    .join('');
  const signedHeaders = names.join(';');
  const query = [...url.searchParams.entries()]
    .map(([key, value]) => [encode(key), encode(value)] as const)
    .sort(([a, x], [b, y]) => (a === b ? (x < y ? -1 : 1) : a < b ? -1 : 1))
    .map(([key, value]) => `${key}=${value}`)
    .join('&');
  const canonicalRequest = [
    request.method,
    url.pathname || '/',
    query,
    canonicalHeaders,
    signedHeaders,
    sha256Hex(request.body),
  ].join('\n');
  const scope = `${date}/${request.region}/${request.service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256Hex(canonicalRequest)].join('\n');
  const key = hmac(
    hmac(hmac(hmac(`AWS4${request.credentials.secretAccessKey}`, date), request.region), request.service),
    'aws4_request',
  );
  const signature = createHmac('sha256', key).update(stringToSign, 'utf8').digest('hex');
  return {
    ...headers,
    authorization: `AWS4-HMAC-SHA256 Credential=${request.credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`,
  };
}

/** Where and as whom a JSON API is called. */
export interface AwsJsonClientOptions {
  /** The signing name and endpoint prefix (`ecs`). */
  readonly service: string;
  /** The SDK's service id for `AWS_ENDPOINT_URL_<ID>` (`ECS`). */
  readonly serviceId: string;
  /** The `X-Amz-Target` prefix (`AmazonEC2ContainerServiceV20141113`). */
  readonly targetPrefix: string;
  readonly region: string;
  /** @default the environment's (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), as Lambda sets them */
  readonly credentials?: () => AwsCredentials;
  /**
   * @default `AWS_ENDPOINT_URL_<serviceId>`, else `AWS_ENDPOINT_URL`, else the service's regional
   * endpoint
   */
  readonly endpoint?: string;
  /** Attempts of a call that was throttled or met a server error or a network failure. @default 3 */
  readonly maxAttempts?: number;
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
  /** @default () => new Date() */
  readonly now?: () => Date;
  /** Milliseconds before a retry: `attempt × retryDelayMs`. @default 200 */
  readonly retryDelayMs?: number;
}

/** The environment's credentials (the Lambda runtime sets them for the function's role). */
export function environmentCredentials(
  env: Readonly<Record<string, string | undefined>> = process.env,
): AwsCredentials {
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey) {
    throw new AwsCredentialsError(
      'No AWS credentials in the environment (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY): the Lambda runtime sets them for the function role',
      'CredentialsProviderError',
    );
  }
  const sessionToken = env.AWS_SESSION_TOKEN;
  return { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) };
}

/** The endpoint the SDK would use for a service: the environment's override, else the regional one. */
export function serviceEndpoint(
  service: string,
  serviceId: string,
  region: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): string {
  const override = env[`AWS_ENDPOINT_URL_${serviceId}`] ?? env.AWS_ENDPOINT_URL;
  if (override) return override;
  return `https://${service}.${region}.amazonaws.com${region.startsWith('cn-') ? '.cn' : ''}`;
}

/**
 * Calls an operation of an AWS JSON 1.1 API and answers its JSON result.
 * @throws AwsThrottledError when still throttled after the attempts; AwsCallError with the AWS
 *   error's name for any other error (`InvalidParameterException`, `AccessDeniedException`, …);
 *   AwsCredentialsError without credentials.
 */
export async function callAwsJson<T>(
  options: AwsJsonClientOptions,
  operation: string,
  input: unknown,
): Promise<T> {
  const endpoint = options.endpoint ?? serviceEndpoint(options.service, options.serviceId, options.region);
  const url = `${endpoint.replace(/\/+$/, '')}/`;
  const body = JSON.stringify(input);
  const maxAttempts = options.maxAttempts ?? 3;
  let last: AwsCallError | undefined;
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    if (attempt > 1)
      await new Promise((resolve) => setTimeout(resolve, (attempt - 1) * (options.retryDelayMs ?? 200)));
    const headers = signAwsRequest({
      method: 'POST',
      url,
      headers: {
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': `${options.targetPrefix}.${operation}`,
      },
      body,
      service: options.service,
      region: options.region,
      credentials: (options.credentials ?? environmentCredentials)(),
      now: (options.now ?? (() => new Date()))(),
    });
    // fetch sets `host` itself (the URL's, as signed); it may not be given.
    const { host: _, ...sent } = headers;
    let response: Response;
    try {
      response = await (options.fetch ?? fetch)(url, { method: 'POST', headers: sent, body });
    } catch (error) {
      last = new AwsCallError(`${operation} did not reach ${url}: ${String(error)}`, 'NetworkingError', {
        cause: error,
      });
      continue;
    }
    const text = await response.text();
    if (response.ok) return (text ? JSON.parse(text) : {}) as T;
    const name = awsJsonErrorName(response, text);
    const message = awsJsonErrorMessage(text);
    const what = `${options.serviceId} ${operation} failed (${name}): ${message}`;
    if (THROTTLING_ERRORS.has(name)) {
      last = new AwsThrottledError(`${what}; throttled through ${maxAttempts} attempts`, name);
      continue;
    }
    last = new AwsCallError(what, name);
    if (response.status < 500) throw last;
  }
  throw last ?? new AwsCallError(`${operation} was not attempted`, 'Error');
}

/** The error's name: `x-amzn-errortype` or the body's `__type`, without its namespace and suffix. */
function awsJsonErrorName(response: Response, text: string): string {
  let type = response.headers.get('x-amzn-errortype') ?? '';
  if (!type) {
    try {
      type = String((JSON.parse(text) as { __type?: unknown }).__type ?? '');
    } catch {
      type = '';
    }
  }
  const name = type.split(':')[0]!.split('#').pop() ?? '';
  return name || `HTTP${response.status}`;
}

function awsJsonErrorMessage(text: string): string {
  try {
    const body = JSON.parse(text) as { message?: unknown; Message?: unknown };
    return String(body.message ?? body.Message ?? text).slice(0, 500);
  } catch {
    return text.slice(0, 500);
  }
}
