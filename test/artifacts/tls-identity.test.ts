/**
 * The functions verify the proxy's TLS certificate as they must on AWS: a certificate of a CA they do
 * not trust is refused, and so is a certificate of a trusted CA for another host name (on AWS, any
 * public certificate of any domain chains to a CA Node trusts: only the name check tells the proxy
 * from an impostor).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type ArtifactStack, startArtifactStack } from './support/artifact-stack.ts';
import { createTestCa, issueServerCertificate } from './support/test-ca.ts';

const stacks: ArtifactStack[] = [];
const otherCaDir = mkdtempSync(path.join(tmpdir(), 'piko-other-ca-'));
afterAll(async () => {
  for (const stack of stacks) await stack.stop();
  rmSync(otherCaDir, { recursive: true, force: true });
});

async function migrateWith(
  proxyCertificate: NonNullable<Parameters<typeof startArtifactStack>[0]>['proxyCertificate'],
) {
  const stack = await startArtifactStack({ proxyCertificate });
  stacks.push(stack);
  const migrate = await stack.openFunction('Migrations/Handler');
  const result = await migrate.invoke({ RequestType: 'Create', ResourceProperties: {} });
  return { result, stack };
}

describe('TLS to the proxy (bundle in a Lambda sandbox)', () => {
  it('refuses a certificate of a CA it does not trust', async () => {
    const other = createTestCa(otherCaDir);
    const { result, stack } = await migrateWith((_ca, host) =>
      issueServerCertificate(other, 'impostor', [host]),
    );
    expect(result.ok).toBe(false);
    expect(result.ok ? '' : result.error.errorMessage).toMatch(
      /self-signed certificate in certificate chain|unable to verify/,
    );
    expect(stack.proxy.logins()).toEqual([]);
  }, 240_000);

  it('refuses a certificate of the trusted CA issued for another host name', async () => {
    const { result, stack } = await migrateWith((ca) =>
      issueServerCertificate(ca, 'wrong-host', ['db.other.example']),
    );
    expect(result.ok, 'the function accepted a certificate for db.other.example').toBe(false);
    expect(result.ok ? '' : result.error.errorMessage).toMatch(
      /does not match certificate's altnames|ERR_TLS_CERT_ALTNAME_INVALID/,
    );
    expect(stack.proxy.logins()).toEqual([]);
  }, 240_000);
});
