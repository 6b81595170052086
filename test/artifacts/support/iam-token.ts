/**
 * Checks an RDS IAM authentication token the way the service does: a SigV4-presigned
 * `GET https://<host>:<port>/?Action=connect&DBUser=<user>` for the service `rds-db`, signed with
 * credentials the verifier knows, for the expected host, port, user and region, not expired. The
 * signature is recomputed here with node:crypto (not with the SDK that made it).
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** What the token must be for. */
export interface ExpectedToken {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly region: string;
  readonly now: Date;
}

/** The secret of an access key the verifier accepts, and its session token. */
export interface KnownCredentials {
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

/** The verdict on a token. */
export type TokenVerdict =
  | { readonly valid: true; readonly accessKeyId: string }
  | { readonly valid: false; readonly reason: string };

/** IAM tokens live at most 15 minutes. */
export const MAX_TOKEN_EXPIRES_SECONDS = 900;
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** RFC 3986 encoding, as SigV4 canonicalizes query strings. */
function uriEncode(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

/** `20261201T120000Z` as a Date, or undefined. */
function parseAmzDate(text: string): Date | undefined {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(text);
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s] = match.map(Number) as number[];
  return new Date(Date.UTC(y!, mo! - 1, d!, h!, mi!, s!));
}

/** Verifies `token` against `expected`, looking the signing key up with `credentialsOf`. */
export function verifyIamToken(
  token: string,
  expected: ExpectedToken,
  credentialsOf: (accessKeyId: string) => KnownCredentials | undefined,
): TokenVerdict {
  const refuse = (reason: string): TokenVerdict => ({ valid: false, reason });
  if (token.includes('://')) return refuse('the token has a scheme');
  let url: URL;
  try {
    url = new URL(`https://${token}`);
  } catch {
    return refuse('the password is not an IAM auth token');
  }
  const params = url.searchParams;
  const signature = params.get('X-Amz-Signature');
  if (!signature || params.get('X-Amz-Algorithm') !== 'AWS4-HMAC-SHA256') {
    return refuse('the password is not a SigV4-presigned IAM auth token');
  }
  const hostHeader = `${expected.host}:${expected.port}`;
  if (url.host !== hostHeader || url.pathname !== '/') {
    return refuse(`the token is for ${url.host}${url.pathname}, not ${hostHeader}/`);
  }
  if (params.get('Action') !== 'connect') return refuse('the token is not for Action=connect');
  if (params.get('DBUser') !== expected.user) {
    return refuse(`the token is for user ${params.get('DBUser')}, not ${expected.user}`);
  }
  const credential = (params.get('X-Amz-Credential') ?? '').split('/');
  const [accessKeyId, shortDate, region, service, terminator] = credential;
  if (credential.length !== 5 || service !== 'rds-db' || terminator !== 'aws4_request') {
    return refuse('the token has no rds-db credential scope');
  }
  if (region !== expected.region) return refuse(`the token is signed for ${region}, not ${expected.region}`);
  const longDate = params.get('X-Amz-Date') ?? '';
  const signedAt = parseAmzDate(longDate);
  if (!signedAt || longDate.slice(0, 8) !== shortDate) return refuse('the token has no valid X-Amz-Date');
  const expires = Number(params.get('X-Amz-Expires'));
  if (!Number.isInteger(expires) || expires < 1 || expires > MAX_TOKEN_EXPIRES_SECONDS) {
    return refuse(`X-Amz-Expires must be 1 to ${MAX_TOKEN_EXPIRES_SECONDS}`);
  }
  if (expected.now.getTime() > signedAt.getTime() + expires * 1000) return refuse('the token has expired');
  if (signedAt.getTime() > expected.now.getTime() + 5 * 60_000)
    return refuse('the token is signed in the future');
  if (params.get('X-Amz-SignedHeaders') !== 'host') return refuse('the token must sign the host header only');
  const known = accessKeyId ? credentialsOf(accessKeyId) : undefined;
  if (!known) return refuse(`the access key ${accessKeyId} is not known`);
  if ((params.get('X-Amz-Security-Token') ?? undefined) !== known.sessionToken) {
    return refuse('the token carries another session token');
  }

  const canonicalQuery = [...params.entries()]
    .filter(([key]) => key !== 'X-Amz-Signature')
    .map(([key, value]) => [uriEncode(key), uriEncode(value)] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, value]) => `${key}=${value}`)
    .join('&');
  const canonicalRequest = ['GET', '/', canonicalQuery, `host:${hostHeader}\n`, 'host', EMPTY_SHA256].join(
    '\n',
  );
  const scope = `${shortDate}/${region}/rds-db/aws4_request`;
  const stringToSign = [
    'AWS4-HMAC-SHA256',
    longDate,
    scope,
    createHash('sha256').update(canonicalRequest).digest('hex'),
  ].join('\n');
  const signingKey = hmac(
    hmac(hmac(hmac(`AWS4${known.secretAccessKey}`, shortDate!), region!), 'rds-db'),
    'aws4_request',
  );
  const computed = hmac(signingKey, stringToSign).toString('hex');
  if (
    computed.length !== signature.length ||
    !timingSafeEqual(Buffer.from(computed), Buffer.from(signature))
  ) {
    return refuse('the signature does not match');
  }
  return { valid: true, accessKeyId: accessKeyId! };
}
