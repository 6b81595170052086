/**
 * The redaction the secrets test relies on, in process: signed RDS IAM tokens in every encoding a
 * message may carry them in, and the Piko logger in both formats with secrets in the message, in
 * attributes (nested, in arrays, as URL objects) and in errors (message, cause, own properties).
 */
import { Signer } from '@aws-sdk/rds-signer';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createIamTokenProvider } from '../../shared/store/mysql/index.ts';
import { configureTelemetry, errorMessage, logger, redact, registerSecret } from '../../shared/telemetry.ts';
import { FuzzCounts } from '../fuzz/arbitraries.ts';

const counts = new FuzzCounts('redaction');

/** Fake static credentials: SigV4 presigning needs no network. */
const credentialsArb = fc.record({
  accessKeyId: fc.stringMatching(/^AKIA[A-Z0-9]{16}$/),
  secretAccessKey: fc.base64String({ minLength: 40, maxLength: 40 }),
  sessionToken: fc.option(
    fc.base64String({ minLength: 20, maxLength: 60 }).filter((t) => t.length >= 20),
    {
      nil: undefined,
    },
  ),
});

async function sign(
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string },
  user = 'piko',
) {
  return new Signer({
    hostname: 'proxy.example.com',
    port: 3306,
    username: user,
    region: 'eu-west-1',
    credentials,
  }).getAuthToken();
}

/** The parts of a token that grant access: what must never be printed. */
function secretPartsOf(token: string): string[] {
  const params = new URLSearchParams(token.slice(token.indexOf('?')));
  return ['X-Amz-Signature', 'X-Amz-Credential', 'X-Amz-Security-Token']
    .map((name) => params.get(name))
    .filter((value): value is string => value !== null)
    .flatMap((value) => [value, encodeURIComponent(value)]);
}

/** Ways a token ends up inside a message. */
const ENCODINGS: Record<string, (token: string) => string> = {
  raw: (token) => token,
  'percent-encoded': (token) => encodeURIComponent(token),
  'in JSON': (token) => JSON.stringify({ token }),
  'in JSON twice': (token) => JSON.stringify(JSON.stringify({ token })),
  '& escaped': (token) => token.replace(/&/g, '\\u0026'),
  'as a DSN password': (token) => `mysql://piko:${encodeURIComponent(token)}@proxy.example.com:3306/piko`,
  quoted: (token) => `'${token}'`,
  'upper case': (token) => token.toUpperCase(),
};

describe('redact', () => {
  it('removes the signature, credential and session token of any unregistered IAM token, in any encoding', async () => {
    await fc.assert(
      fc.asyncProperty(
        credentialsArb,
        fc.constantFrom(...Object.keys(ENCODINGS)),
        fc.string(),
        fc.string(),
        async (credentials, encoding, before, after) => {
          counts.tick('unregistered IAM token in a message');
          const token = await sign(credentials);
          const text = redact(`${before}${ENCODINGS[encoding]!(token)}${after}`);
          for (const secret of [...secretPartsOf(token), credentials.accessKeyId])
            expect(text.toUpperCase(), encoding).not.toContain(secret.toUpperCase());
        },
      ),
      { numRuns: 200 },
    );
  });

  it('removes a token signed through createIamTokenProvider from error messages, whole or as its query string', async () => {
    await fc.assert(
      fc.asyncProperty(credentialsArb, async (credentials) => {
        counts.tick('registered IAM token');
        const token = await createIamTokenProvider({ getAuthToken: () => sign(credentials) })();
        const bare = token.slice(token.indexOf('?') + 1);
        for (const text of [token, encodeURIComponent(token), `Access denied: ${bare}`]) {
          const redacted = errorMessage(new Error(text));
          for (const secret of secretPartsOf(token).filter((part) => !part.includes('%')))
            expect(redacted).not.toContain(secret);
        }
      }),
      { numRuns: 50 },
    );
  });
});

describe('the Piko logger', () => {
  const password = 'Lg-9f8e7d6c!p@ss:/#';
  const dsn = `mysql://piko:${encodeURIComponent(password)}@db.example.com:3306/piko`;
  let lines: string[] = [];

  function capture(): void {
    lines = [];
    for (const stream of [process.stdout, process.stderr]) {
      vi.spyOn(stream, 'write').mockImplementation((chunk: string | Uint8Array) => {
        lines.push(String(chunk));
        return true;
      });
    }
  }

  afterEach(() => {
    vi.restoreAllMocks();
    configureTelemetry({ logLevel: 'info', json: false });
  });

  for (const json of [false, true]) {
    it(`prints no secret in ${json ? 'JSON' : 'readable'} lines: message, attributes, URLs and errors`, async () => {
      // Arrange
      registerSecret(password);
      const token = await sign({
        accessKeyId: 'AKIALOGGERTEST000001',
        secretAccessKey: 'x'.repeat(40),
        sessionToken: 'IQoJb3JpZ2luLOGGERTEST/+=',
      });
      const error = Object.assign(new Error(`cannot connect to ${dsn}`, { cause: `token ${token}` }), {
        dsn,
        token,
      });
      configureTelemetry({ logLevel: 'debug', json });
      capture();

      // Act
      logger.info(`connecting to ${dsn} with ${token}`);
      logger.debug('options', { dsn, nested: { list: [dsn, { token }] }, url: new URL(dsn), password });
      logger.warn('failed', error);
      logger.error('failed', { error, cause: new Error('outer', { cause: new Error(`inner ${dsn}`) }) });
      vi.restoreAllMocks();

      // Assert
      const output = lines.join('');
      expect(output).toContain('connecting to mysql://');
      expect(lines.length).toBeGreaterThanOrEqual(4);
      for (const secret of [
        password,
        encodeURIComponent(password),
        ...secretPartsOf(token),
        'AKIALOGGERTEST000001',
      ])
        expect(output).not.toContain(secret);
    });
  }
});
