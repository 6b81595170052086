/**
 * Redaction by shape, not only by the secrets Piko registered: query-string keys, Authorization
 * headers, AWS keys by name and by form, DSN passwords, PEM private keys and JWTs; and config fields
 * a job marks secret(), redacted from logs, recorded errors and the CLI's error lines.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { processIo } from '../../shared/cli/io.ts';
import { InputError } from '../../shared/errors.ts';
import { defineJob, parseJobConfig, secret } from '../../shared/job.ts';
import { configureTelemetry, errorMessage, logger, redact } from '../../shared/telemetry.ts';

/** A JWT made of a real header and payload (`{"alg":"HS256"}`, `{"sub":"1234"}`) and a signature. */
const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.Zm9vYmFyYmF6LXNpZ25hdHVyZQ';
const PEM =
  '-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAx1\nq2w3e4r5t6y7u8\n-----END RSA PRIVATE KEY-----';

describe('redact, by the shape of a secret', () => {
  it.each([
    [
      'api_key in a query string',
      'GET https://api.example.com/v1?api_key=k3y-9f8e7d&page=2 failed',
      'GET https://api.example.com/v1?api_key=<redacted>&page=2 failed',
    ],
    [
      'apikey, token, access_token, secret, password, signature',
      '?apikey=a1b2c3&token=t0k3n&access_token=at-1234&secret=s3cr3t&password=hunter22&signature=ab12cd',
      '?apikey=<redacted>&token=<redacted>&access_token=<redacted>&secret=<redacted>&password=<redacted>&signature=<redacted>',
    ],
    [
      'X-Amz-Signature and X-Amz-Security-Token',
      'https://b.s3.amazonaws.com/k?X-Amz-Signature=0a1b2c3d&X-Amz-Security-Token=IQoJb3JpZ2lu%2Fxyz&x=1',
      'https://b.s3.amazonaws.com/k?X-Amz-Signature=<redacted>&X-Amz-Security-Token=<redacted>&x=1',
    ],
    [
      'a percent-encoded query string',
      'next=https%3A%2F%2Fx%3Fapi_key%3Dk3y-9f8e7d%26page%3D2',
      'next=https%3A%2F%2Fx%3Fapi_key%3D<redacted>%26page%3D2',
    ],
    [
      'Authorization: Bearer',
      'request failed: Authorization: Bearer abc.def-123_456',
      'request failed: Authorization: Bearer <redacted>',
    ],
    [
      'Authorization: Basic in JSON headers',
      '{"headers":{"Authorization":"Basic dXNlcjpwYXNzd29yZA=="}}',
      '{"headers":{"Authorization":"Basic <redacted>"}}',
    ],
    [
      'AWS secret key and session token by name',
      'aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\nAWS_SESSION_TOKEN=FwoGZXIvYXdzEJr//+x=',
      'aws_secret_access_key = <redacted>\nAWS_SESSION_TOKEN=<redacted>',
    ],
    [
      'secretAccessKey and sessionToken in escaped JSON',
      '{\\"secretAccessKey\\":\\"wJalrXUtnFEMI/K7MDENG\\",\\"sessionToken\\":\\"FwoGZX\\"}',
      '{\\"secretAccessKey\\":\\"<redacted>\\",\\"sessionToken\\":\\"<redacted>\\"}',
    ],
    [
      'AWS access key ids, long-term and temporary',
      'keys AKIAIOSFODNN7EXAMPLE, ASIAIOSFODNN7EXAMPLE',
      'keys <redacted>, <redacted>',
    ],
    [
      'a DSN password',
      'connect mysql://piko:hunter22@db.example.com:3306/piko failed',
      'connect mysql://<redacted>@db.example.com:3306/piko failed',
    ],
    [
      'a key-value DSN password',
      'Server=db;User Id=sa;Password=p@ss-w0rd;Database=x',
      'Server=db;User Id=sa;Password=<redacted>;Database=x',
    ],
    ['a PEM private key', `key ${PEM} loaded`, 'key -----BEGIN RSA PRIVATE KEY-----<redacted> loaded'],
    ['a JWT', `token rejected: ${JWT} (expired)`, 'token rejected: <redacted> (expired)'],
  ])('%s', (_name, text, expected) => {
    expect(redact(text)).toBe(expected);
  });

  it('leaves words that only look like secret names alone', () => {
    const text = 'tokens: 3, password reset sent, the secret sauce, signatures=4';
    expect(redact(text)).toBe(text);
  });
});

describe('config fields marked secret()', () => {
  const KEY = 'sk-live-6f1d2c3b4a59';
  const job = defineJob({
    id: 'secret_config',
    schedule: { cron: '0 * * * *' },
    config: z.object({
      region: z.string().default('eu'),
      apiKey: secret(z.string()).default(''),
      upstream: z.object({ password: z.string().meta({ secret: true }).optional() }).default({}),
      code: secret(z.string().regex(/^[a-z]+$/)).optional(),
    }),
    handler: () => null,
  });
  let lines: string[] = [];
  afterEach(() => {
    vi.restoreAllMocks();
    configureTelemetry({ logLevel: 'info', json: false });
  });
  function capture(): void {
    lines = [];
    for (const stream of [process.stdout, process.stderr]) {
      vi.spyOn(stream, 'write').mockImplementation((chunk: string | Uint8Array) => {
        lines.push(String(chunk));
        return true;
      });
    }
  }

  it('are redacted from logs and recorded errors once the config is parsed', () => {
    // Arrange
    const config = parseJobConfig(job, { apiKey: KEY, upstream: { password: 'pa55-w0rd-x' } });
    configureTelemetry({ logLevel: 'debug', json: true });
    capture();

    // Act
    logger.info('calling the upstream', { config });
    logger.info(`key ${config.apiKey} and ${config.upstream.password}`);
    const recorded = errorMessage(new Error(`401 for key ${KEY}`));
    vi.restoreAllMocks();

    // Assert
    expect(config.apiKey).toBe(KEY);
    expect(recorded).toBe('401 for key <redacted>');
    const output = lines.join('');
    expect(output).toContain('"region":"eu"');
    expect(output).not.toContain(KEY);
    expect(output).not.toContain('pa55-w0rd-x');
  });

  it('are redacted from the error of an invalid override and from the CLI error line', () => {
    // Arrange / Act
    const refusal = (() => {
      try {
        parseJobConfig(job, { apiKey: 'sk-other-secret-1', code: 'NOT-LOWER-CASE-9' });
      } catch (error) {
        return error as InputError;
      }
      throw new Error('the override was accepted');
    })();
    capture();
    processIo.err(`error: the override ${JSON.stringify({ apiKey: 'sk-other-secret-1' })} was refused`);
    vi.restoreAllMocks();

    // Assert
    expect(refusal).toBeInstanceOf(InputError);
    expect(refusal.message).toBe(
      'Invalid config for job "secret_config": code: Invalid string: must match pattern /^[a-z]+$/',
    );
    expect(lines).toEqual(['error: the override {"apiKey":"<redacted>"} was refused\n']);
    expect(redact('code NOT-LOWER-CASE-9 was wrong')).toBe('code <redacted> was wrong');
  });
});
