/**
 * A test certificate authority made with `openssl`, and server certificates it issues: the private
 * MariaDB's and the IAM proxy's. The sandboxes trust the CA through `NODE_EXTRA_CA_CERTS`, so the
 * functions verify the server as they would verify RDS Proxy's certificate on AWS.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';

/** The CA: its certificate (PEM file) and key. */
export interface TestCa {
  readonly dir: string;
  /** PEM certificate: what `NODE_EXTRA_CA_CERTS` and `--ssl-ca` point at. */
  readonly certFile: string;
  readonly keyFile: string;
  /** The certificate's PEM text. */
  readonly cert: string;
}

/** A server certificate and key issued by a {@link TestCa}. */
export interface ServerCertificate {
  readonly certFile: string;
  readonly keyFile: string;
  readonly cert: string;
  readonly key: string;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Creates a CA in `dir` (EC P-256 keys: fast to make). */
export function createTestCa(dir: string): TestCa {
  mkdirSync(dir, { recursive: true });
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'ca.key'], dir);
  openssl(
    [
      'req',
      '-x509',
      '-new',
      '-key',
      'ca.key',
      '-sha256',
      '-days',
      '2',
      '-subj',
      '/CN=Piko artifact test CA',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
      '-out',
      'ca.pem',
    ],
    dir,
  );
  const certFile = path.join(dir, 'ca.pem');
  return { dir, certFile, keyFile: path.join(dir, 'ca.key'), cert: readFileSync(certFile, 'utf8') };
}

/** Issues a server certificate for `hosts` (DNS names or IP addresses; the first is the CN). */
export function issueServerCertificate(
  ca: TestCa,
  name: string,
  hosts: readonly string[],
): ServerCertificate {
  const keyFile = path.join(ca.dir, `${name}.key`);
  const csrFile = path.join(ca.dir, `${name}.csr`);
  const certFile = path.join(ca.dir, `${name}.pem`);
  const extFile = path.join(ca.dir, `${name}.ext`);
  const san = hosts.map((host) => (isIP(host) ? `IP:${host}` : `DNS:${host}`)).join(',');
  writeFileSync(
    extFile,
    `subjectAltName=${san}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n`,
  );
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', keyFile], ca.dir);
  openssl(['req', '-new', '-key', keyFile, '-subj', `/CN=${hosts[0]}`, '-out', csrFile], ca.dir);
  openssl(
    [
      'x509',
      '-req',
      '-in',
      csrFile,
      '-CA',
      ca.certFile,
      '-CAkey',
      ca.keyFile,
      '-CAcreateserial',
      '-days',
      '2',
      '-sha256',
      '-extfile',
      extFile,
      '-out',
      certFile,
    ],
    ca.dir,
  );
  return { certFile, keyFile, cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') };
}
