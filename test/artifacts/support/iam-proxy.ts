/**
 * A stand-in for RDS Proxy with IAM authentication and required TLS, in front of the private
 * MariaDB. To the client it speaks the MySQL protocol as the proxy does: a v10 greeting, TLS (the
 * test server certificate), an auth switch to `mysql_clear_password`, and a password that must be a
 * SigV4-presigned `connect` token for this host, port, user and region, signed with the test
 * credentials and not expired (`iam-token.ts`). Anything else is refused with MySQL error 1045, as
 * the proxy refuses it. Only then does it log in to the backend as that user with the password the
 * test set (TLS, `mysql_native_password`) and splice the two connections.
 *
 * End-to-end IAM authentication (the proxy's `DefaultAuthScheme: IAM_AUTH`): on Aurora, a user made
 * `IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS'` has no password, and the proxy logs in as it
 * with a token of its own role. MariaDB has no such plugin, so the stand-in plays Aurora's part: it
 * rewrites that clause, in the statements clients send, to a password only it knows, and logs in
 * with it for that user (`iamUsers()`). A user with neither a backend password nor that plugin is
 * refused, as Aurora refuses the proxy's token for it.
 *
 * Packet formats: MySQL client/server protocol, connection phase (Protocol::HandshakeV10,
 * SSLRequest, HandshakeResponse41, AuthSwitchRequest, OK/ERR packets).
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { createSecureContext, TLSSocket, connect as tlsConnect } from 'node:tls';
import type { AwsIdentities } from './aws-identities.ts';
import { TEST_ACCOUNT, TEST_PARTITION } from './cfn-resolver.ts';
import { verifyIamToken } from './iam-token.ts';
import type { ServerCertificate } from './test-ca.ts';
import type { DatabaseUser } from './tls-mariadb.ts';

/** Capability flags (MySQL `CLIENT_*`). */
const CLIENT = {
  LONG_PASSWORD: 0x1,
  FOUND_ROWS: 0x2,
  LONG_FLAG: 0x4,
  CONNECT_WITH_DB: 0x8,
  PROTOCOL_41: 0x200,
  SSL: 0x800,
  TRANSACTIONS: 0x2000,
  SECURE_CONNECTION: 0x8000,
  MULTI_STATEMENTS: 0x10000,
  MULTI_RESULTS: 0x20000,
  PS_MULTI_RESULTS: 0x40000,
  PLUGIN_AUTH: 0x80000,
  CONNECT_ATTRS: 0x100000,
  PLUGIN_AUTH_LENENC_CLIENT_DATA: 0x200000,
  SESSION_TRACK: 0x800000,
  DEPRECATE_EOF: 0x1000000,
} as const;

/** What the proxy offers: what both MySQL 8 and MariaDB 10.11 support, no compression, no query attributes. */
const PROXY_CAPABILITIES =
  CLIENT.LONG_PASSWORD |
  CLIENT.FOUND_ROWS |
  CLIENT.LONG_FLAG |
  CLIENT.CONNECT_WITH_DB |
  CLIENT.PROTOCOL_41 |
  CLIENT.SSL |
  CLIENT.TRANSACTIONS |
  CLIENT.SECURE_CONNECTION |
  CLIENT.MULTI_STATEMENTS |
  CLIENT.MULTI_RESULTS |
  CLIENT.PS_MULTI_RESULTS |
  CLIENT.PLUGIN_AUTH |
  CLIENT.CONNECT_ATTRS |
  CLIENT.PLUGIN_AUTH_LENENC_CLIENT_DATA |
  CLIENT.SESSION_TRACK |
  CLIENT.DEPRECATE_EOF;

const UTF8MB4_GENERAL_CI = 45;
const SERVER_STATUS_AUTOCOMMIT = 0x2;
/** MySQL's "access denied" error, the proxy's answer to a bad token. */
const ER_ACCESS_DENIED = 1045;
/** What RDS Proxy answers a client that does not use TLS when TLS is required. */
const ER_SECURE_TRANSPORT_REQUIRED = 3159;

/** Options of {@link startIamProxy}. */
export interface IamProxyOptions {
  /** The address it listens on. */
  readonly host: string;
  /**
   * The host name tokens must be signed for: the template's proxy endpoint, a DNS name the sandboxes
   * resolve to {@link IamProxyOptions.host}. @default host
   */
  readonly endpoint?: string;
  /** @default 3306 (RDS Proxy always listens there, and the template's DSN says so) */
  readonly port?: number;
  readonly certificate: ServerCertificate;
  /** The region tokens must be signed for. */
  readonly region: string;
  /** The proxy's resource id (`prx-…`): recorded calls are on `dbuser:<id>/<user>`. */
  readonly proxyResourceId: string;
  /** The MariaDB behind it (TLS verified against `backendCa`). */
  readonly backend: {
    readonly host: string;
    readonly port: number;
    readonly ca: string;
    readonly users: readonly DatabaseUser[];
  };
  /** Knows the test credentials; every accepted connection is recorded there as `rds-db:connect`. */
  readonly identities: AwsIdentities;
  /**
   * Decides `rds-db:connect` for a verified token, as IAM does on AWS at connect time.
   * @default allows every verified token (the IAM simulation checks the recorded calls afterwards)
   */
  readonly authorize?: (call: { accessKeyId: string; resource: string }) => boolean | Promise<boolean>;
  /** @default () => new Date() */
  readonly now?: () => Date;
  /**
   * What the greeting reports. @default the backend's own version (as the proxy's clients see the
   * engine's), read from its greeting at start
   */
  readonly serverVersion?: string;
}

/** One refused or accepted login, for tests. */
export interface ProxyLogin {
  readonly user: string;
  readonly accepted: boolean;
  /** Why it was refused. */
  readonly reason?: string;
}

/** A running proxy. */
export interface IamProxy {
  /** The address it listens on. */
  readonly host: string;
  /** The host name clients connect to and sign tokens for. */
  readonly endpoint: string;
  readonly port: number;
  /** `arn:aws:rds-db:<region>:<account>:dbuser:<proxy id>/<user>`. */
  dbUserArn(user: string): string;
  /** Every login attempt so far. */
  logins(): readonly ProxyLogin[];
  /** The users created `IDENTIFIED WITH AWSAuthenticationPlugin` through this proxy so far. */
  iamUsers(): readonly string[];
  close(): Promise<void>;
}

/** A packet: its sequence id and payload. */
interface Packet {
  readonly seq: number;
  readonly payload: Buffer;
}

/** Reads MySQL packets from a socket until {@link PacketReader.detach}. */
class PacketReader {
  #buffer = Buffer.alloc(0);
  #waiting: ((packet: Packet) => void)[] = [];
  #failed: ((error: Error) => void)[] = [];
  readonly #socket: Socket;
  readonly #onData = (chunk: Buffer) => {
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    this.#drain();
  };
  readonly #onEnd = () => {
    for (const fail of this.#failed) fail(new Error('connection closed'));
    this.#waiting = [];
    this.#failed = [];
  };

  constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('data', this.#onData);
    socket.on('close', this.#onEnd);
    socket.on('error', this.#onEnd);
  }

  #drain() {
    while (this.#waiting.length > 0 && this.#buffer.length >= 4) {
      const length = this.#buffer.readUIntLE(0, 3);
      if (this.#buffer.length < 4 + length) return;
      const packet = { seq: this.#buffer[3]!, payload: this.#buffer.subarray(4, 4 + length) };
      this.#buffer = this.#buffer.subarray(4 + length);
      this.#failed.shift();
      this.#waiting.shift()!(packet);
    }
  }

  next(): Promise<Packet> {
    return new Promise((resolve, reject) => {
      this.#waiting.push(resolve);
      this.#failed.push(reject);
      this.#drain();
    });
  }

  /** Stops reading; returns bytes received but not read. */
  detach(): Buffer {
    this.#socket.off('data', this.#onData);
    this.#socket.off('close', this.#onEnd);
    this.#socket.off('error', this.#onEnd);
    return this.#buffer;
  }
}

function packet(seq: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(4);
  header.writeUIntLE(payload.length, 0, 3);
  header[3] = seq & 0xff;
  return Buffer.concat([header, payload]);
}

function errPacket(code: number, sqlState: string, message: string): Buffer {
  const head = Buffer.alloc(3);
  head[0] = 0xff;
  head.writeUInt16LE(code, 1);
  return Buffer.concat([head, Buffer.from(`#${sqlState}`, 'ascii'), Buffer.from(message, 'utf8')]);
}

function nullTerminated(text: string): Buffer {
  return Buffer.concat([Buffer.from(text, 'utf8'), Buffer.from([0])]);
}

function lengthEncoded(value: number): Buffer {
  if (value < 251) return Buffer.from([value]);
  if (value < 0x10000) {
    const b = Buffer.alloc(3);
    b[0] = 0xfc;
    b.writeUInt16LE(value, 1);
    return b;
  }
  const b = Buffer.alloc(4);
  b[0] = 0xfd;
  b.writeUIntLE(value, 1, 3);
  return b;
}

/** Reads a length-encoded integer at `offset`: [value, next offset]. */
function readLengthEncoded(buffer: Buffer, offset: number): [number, number] {
  const first = buffer[offset]!;
  if (first < 0xfb) return [first, offset + 1];
  if (first === 0xfc) return [buffer.readUInt16LE(offset + 1), offset + 3];
  if (first === 0xfd) return [buffer.readUIntLE(offset + 1, 3), offset + 4];
  return [Number(buffer.readBigUInt64LE(offset + 1)), offset + 9];
}

function readNullTerminated(buffer: Buffer, offset: number): [string, number] {
  const end = buffer.indexOf(0, offset);
  const stop = end < 0 ? buffer.length : end;
  return [buffer.subarray(offset, stop).toString('utf8'), stop + 1];
}

/** Protocol::HandshakeV10 with a 20-byte scramble. */
function greeting(connectionId: number, scramble: Buffer, serverVersion: string, plugin: string): Buffer {
  const caps = Buffer.alloc(4);
  caps.writeUInt32LE(PROXY_CAPABILITIES >>> 0);
  const id = Buffer.alloc(4);
  id.writeUInt32LE(connectionId);
  const status = Buffer.alloc(2);
  status.writeUInt16LE(SERVER_STATUS_AUTOCOMMIT);
  return Buffer.concat([
    Buffer.from([10]),
    nullTerminated(serverVersion),
    id,
    scramble.subarray(0, 8),
    Buffer.from([0]),
    caps.subarray(0, 2),
    Buffer.from([UTF8MB4_GENERAL_CI]),
    status,
    caps.subarray(2, 4),
    Buffer.from([scramble.length + 1]),
    Buffer.alloc(10),
    scramble.subarray(8),
    Buffer.from([0]),
    nullTerminated(plugin),
  ]);
}

/** The fields of a HandshakeResponse41 the proxy uses. */
interface HandshakeResponse {
  readonly capabilities: number;
  readonly charset: number;
  readonly user: string;
  readonly database: string | undefined;
  readonly attributes: Buffer | undefined;
}

function parseHandshakeResponse(payload: Buffer): HandshakeResponse {
  const capabilities = payload.readUInt32LE(0);
  const charset = payload[8]!;
  let offset = 32;
  const [user, afterUser] = readNullTerminated(payload, offset);
  offset = afterUser;
  if (capabilities & CLIENT.PLUGIN_AUTH_LENENC_CLIENT_DATA) {
    const [length, next] = readLengthEncoded(payload, offset);
    offset = next + length;
  } else if (capabilities & CLIENT.SECURE_CONNECTION) {
    offset += 1 + payload[offset]!;
  } else {
    offset = readNullTerminated(payload, offset)[1];
  }
  let database: string | undefined;
  if (capabilities & CLIENT.CONNECT_WITH_DB && offset < payload.length) {
    [database, offset] = readNullTerminated(payload, offset);
  }
  if (capabilities & CLIENT.PLUGIN_AUTH && offset < payload.length) {
    offset = readNullTerminated(payload, offset)[1];
  }
  let attributes: Buffer | undefined;
  if (capabilities & CLIENT.CONNECT_ATTRS && offset < payload.length) {
    const [length, next] = readLengthEncoded(payload, offset);
    attributes = payload.subarray(offset, next + length);
  }
  return { capabilities, charset, user, database: database || undefined, attributes };
}

/** mysql_native_password: SHA1(password) XOR SHA1(scramble + SHA1(SHA1(password))). */
function nativePassword(password: string, scramble: Buffer): Buffer {
  const sha1 = (data: Buffer) => createHash('sha1').update(data).digest();
  const stage1 = sha1(Buffer.from(password, 'utf8'));
  const stage2 = sha1(stage1);
  const mix = sha1(Buffer.concat([scramble, stage2]));
  return Buffer.from(stage1.map((byte, i) => byte ^ mix[i]!));
}

/** Logs in to the backend as the client's user over TLS and returns the socket and the backend's OK. */
async function backendLogin(
  options: IamProxyOptions['backend'],
  client: HandshakeResponse,
  password: string,
): Promise<{ socket: TLSSocket; ok: Buffer; rest: Buffer }> {
  const plain = netConnect({ host: options.host, port: options.port });
  await new Promise<void>((resolve, reject) => {
    plain.once('connect', resolve);
    plain.once('error', reject);
  });
  let reader = new PacketReader(plain);
  const hello = await reader.next();
  if (hello.payload[0] === 0xff) throw new Error(`backend refused: ${hello.payload.subarray(9).toString()}`);
  // Protocol::HandshakeV10: version, id, scramble part 1, filler, caps, charset, status, caps, length, reserved, part 2.
  let offset = readNullTerminated(hello.payload, 1)[1] + 4;
  const part1 = hello.payload.subarray(offset, offset + 8);
  offset += 8 + 1;
  const backendCaps = hello.payload.readUInt16LE(offset) | (hello.payload.readUInt16LE(offset + 5) << 16);
  offset += 2 + 1 + 2 + 2;
  const scrambleLength = hello.payload[offset]!;
  offset += 1 + 10;
  const part2 = hello.payload.subarray(offset, offset + Math.max(13, scrambleLength - 8) - 1);
  const scramble = Buffer.concat([part1, part2]).subarray(0, 20);

  const capabilities =
    ((client.capabilities & PROXY_CAPABILITIES & backendCaps) | CLIENT.SSL | CLIENT.PLUGIN_AUTH) >>> 0;
  const head = Buffer.alloc(32);
  head.writeUInt32LE(capabilities, 0);
  head.writeUInt32LE(16 * 1024 * 1024, 4);
  head[8] = client.charset;
  plain.write(packet(1, head));
  reader.detach();
  const socket = tlsConnect({
    socket: plain,
    ca: options.ca,
    servername: undefined,
    rejectUnauthorized: true,
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', resolve);
    socket.once('error', reject);
  });
  reader = new PacketReader(socket);
  const token = nativePassword(password, scramble);
  const response = Buffer.concat([
    head,
    nullTerminated(client.user),
    capabilities & CLIENT.PLUGIN_AUTH_LENENC_CLIENT_DATA
      ? lengthEncoded(token.length)
      : Buffer.from([token.length]),
    token,
    capabilities & CLIENT.CONNECT_WITH_DB ? nullTerminated(client.database ?? '') : Buffer.alloc(0),
    nullTerminated('mysql_native_password'),
    capabilities & CLIENT.CONNECT_ATTRS ? (client.attributes ?? Buffer.from([0])) : Buffer.alloc(0),
  ]);
  socket.write(packet(2, response));
  let answer = await reader.next();
  if (answer.payload[0] === 0xfe) {
    // Auth switch (to mysql_native_password with a new scramble).
    const [plugin, at] = readNullTerminated(answer.payload, 1);
    if (plugin !== 'mysql_native_password') throw new Error(`backend asks for ${plugin}`);
    const fresh = answer.payload.subarray(at, at + 20);
    socket.write(packet(answer.seq + 1, nativePassword(password, fresh)));
    answer = await reader.next();
  }
  if (answer.payload[0] !== 0x00) {
    throw new Error(`backend login of ${client.user} failed: ${answer.payload.subarray(9).toString()}`);
  }
  return { socket, ok: answer.payload, rest: reader.detach() };
}

/** The server version in the backend's greeting. */
async function backendVersion(options: IamProxyOptions['backend']): Promise<string> {
  const socket = netConnect({ host: options.host, port: options.port });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const hello = await new PacketReader(socket).next();
    return readNullTerminated(hello.payload, 1)[0];
  } finally {
    socket.destroy();
  }
}

/** `CREATE USER … 'name'@'host' IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS'`, Aurora MySQL's IAM user. */
const IAM_USER_CLAUSE =
  /(CREATE USER(?: IF NOT EXISTS)? '([A-Za-z0-9_]+)'@'[^']*') IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS'/gi;
/** MySQL's COM_QUERY command byte. */
const COM_QUERY = 0x03;
/** A packet of this payload length continues in the next one. */
const MAX_PACKET_PAYLOAD = 0xffffff;

/**
 * The statement with Aurora's IAM user clause replaced by a password, `passwordOf(user)`: what the
 * stand-in sends MariaDB in its place.
 */
export function rewriteIamUserStatement(sql: string, passwordOf: (user: string) => string): string {
  return sql.replace(
    IAM_USER_CLAUSE,
    (_clause, create: string, user: string) => `${create} IDENTIFIED BY '${passwordOf(user)}'`,
  );
}

/**
 * Client → backend bytes after login, packet by packet: a COM_QUERY that fits one packet goes
 * through {@link rewriteIamUserStatement}; everything else passes unchanged.
 */
function clientPacketRewriter(passwordOf: (user: string) => string): (chunk: Buffer) => Buffer {
  let pending = Buffer.alloc(0);
  let continuing = false;
  return (chunk) => {
    pending = Buffer.concat([pending, chunk]);
    const out: Buffer[] = [];
    while (pending.length >= 4) {
      const length = pending.readUIntLE(0, 3);
      if (pending.length < 4 + length) break;
      const whole = pending.subarray(0, 4 + length);
      const payload = whole.subarray(4);
      pending = pending.subarray(4 + length);
      const single = !continuing && length < MAX_PACKET_PAYLOAD;
      continuing = length === MAX_PACKET_PAYLOAD;
      if (single && payload[0] === COM_QUERY) {
        const sql = payload.subarray(1).toString('utf8');
        const rewritten = rewriteIamUserStatement(sql, passwordOf);
        out.push(
          rewritten === sql
            ? whole
            : packet(whole[3]!, Buffer.concat([Buffer.from([COM_QUERY]), Buffer.from(rewritten, 'utf8')])),
        );
      } else {
        out.push(whole);
      }
    }
    return Buffer.concat(out);
  };
}

/** Starts the proxy on `host:port`. */
export async function startIamProxy(options: IamProxyOptions): Promise<IamProxy> {
  const port = options.port ?? 3306;
  const serverVersion = options.serverVersion ?? (await backendVersion(options.backend));
  const now = options.now ?? (() => new Date());
  const secureContext = createSecureContext({ cert: options.certificate.cert, key: options.certificate.key });
  const region = options.region;
  const dbUserArn = (user: string) =>
    `arn:${TEST_PARTITION}:rds-db:${region}:${TEST_ACCOUNT}:dbuser:${options.proxyResourceId}/${user}`;
  const logins: ProxyLogin[] = [];
  /** Aurora's IAM users, by name: the password the stand-in gave each in MariaDB. */
  const iamPasswords = new Map<string, string>();
  const iamPasswordOf = (user: string) => {
    if (!iamPasswords.has(user)) iamPasswords.set(user, randomBytes(16).toString('hex'));
    return iamPasswords.get(user)!;
  };
  const sockets = new Set<Socket>();
  let nextConnectionId = 1;

  async function serve(socket: Socket): Promise<void> {
    const scramble = Buffer.from(randomBytes(20).map((byte) => (byte % 94) + 33));
    let reader = new PacketReader(socket);
    socket.write(packet(0, greeting(nextConnectionId++, scramble, serverVersion, 'mysql_native_password')));
    const first = await reader.next();
    const flags = first.payload.readUInt32LE(0);
    if (!(flags & CLIENT.SSL) || first.payload.length > 32) {
      socket.end(
        packet(
          first.seq + 1,
          errPacket(ER_SECURE_TRANSPORT_REQUIRED, 'HY000', 'This RDS Proxy requires TLS connections'),
        ),
      );
      logins.push({ user: '', accepted: false, reason: 'no TLS' });
      return;
    }
    // The TLS ClientHello may have come with the SSLRequest: feed TLS through a stream that starts
    // with what the reader already holds.
    const early = reader.detach();
    const raw = new Duplex({
      read() {},
      write(chunk: Buffer, _encoding, callback) {
        socket.write(chunk, callback);
      },
      final(callback) {
        socket.end();
        callback();
      },
    });
    if (early.length > 0) raw.push(early);
    socket.on('data', (chunk: Buffer) => raw.push(chunk));
    socket.on('end', () => raw.push(null));
    socket.on('close', () => raw.destroy());
    const secure = new TLSSocket(raw, { isServer: true, secureContext });
    sockets.add(secure as unknown as Socket);
    reader = new PacketReader(secure);
    const responsePacket = await reader.next();
    const client = parseHandshakeResponse(responsePacket.payload);
    // As RDS Proxy with IAM auth: the password must come in clear (over TLS), to be checked as a token.
    secure.write(
      packet(
        responsePacket.seq + 1,
        Buffer.concat([
          Buffer.from([0xfe]),
          nullTerminated('mysql_clear_password'),
          scramble,
          Buffer.from([0]),
        ]),
      ),
    );
    const authPacket = await reader.next();
    const password = readNullTerminated(authPacket.payload, 0)[0];
    const refuse = (reason: string) => {
      logins.push({ user: client.user, accepted: false, reason });
      secure.end(
        packet(
          authPacket.seq + 1,
          errPacket(
            ER_ACCESS_DENIED,
            '28000',
            `Access denied for user '${client.user}'@'${socket.remoteAddress ?? 'unknown'}' (using password: ${password ? 'YES' : 'NO'})`,
          ),
        ),
      );
    };
    const verdict = verifyIamToken(
      password,
      { host: options.endpoint ?? options.host, port, user: client.user, region, now: now() },
      (accessKeyId) => options.identities.byAccessKey(accessKeyId)?.credentials,
    );
    if (!verdict.valid) return refuse(verdict.reason);
    const resource = dbUserArn(client.user);
    options.identities.record({ action: 'rds-db:connect', resource, accessKeyId: verdict.accessKeyId });
    if (options.authorize && !(await options.authorize({ accessKeyId: verdict.accessKeyId, resource }))) {
      return refuse(`IAM denies rds-db:connect on ${resource}`);
    }
    const backendPassword =
      options.backend.users.find((candidate) => candidate.user === client.user)?.password ??
      iamPasswords.get(client.user);
    if (backendPassword === undefined) return refuse(`no backend credentials for ${client.user}`);
    const backend = await backendLogin(options.backend, client, backendPassword);
    sockets.add(backend.socket);
    logins.push({ user: client.user, accepted: true });
    secure.write(packet(authPacket.seq + 1, backend.ok));
    const rewrite = clientPacketRewriter(iamPasswordOf);
    const rest = reader.detach();
    if (rest.length > 0) backend.socket.write(rewrite(rest));
    if (backend.rest.length > 0) secure.write(backend.rest);
    secure.on('data', (chunk: Buffer) => {
      const bytes = rewrite(chunk);
      if (bytes.length > 0 && !backend.socket.write(bytes)) {
        secure.pause();
        backend.socket.once('drain', () => secure.resume());
      }
    });
    secure.on('end', () => backend.socket.end());
    backend.socket.pipe(secure);
    const closeBoth = () => {
      secure.destroy();
      backend.socket.destroy();
    };
    secure.on('close', closeBoth);
    backend.socket.on('close', closeBoth);
    secure.on('error', closeBoth);
    backend.socket.on('error', closeBoth);
  }

  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    serve(socket).catch(() => socket.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });

  return {
    host: options.host,
    endpoint: options.endpoint ?? options.host,
    port,
    dbUserArn,
    logins: () => [...logins],
    iamUsers: () => [...iamPasswords.keys()],
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/**
 * Listens the proxy on port 3306 of a random loopback address (127.x.y.z, never 127.0.0.1, where the
 * shared MariaDB is), trying again when another test took the address.
 */
export async function startIamProxyOnFreeLoopback(
  options: Omit<IamProxyOptions, 'host' | 'certificate'> & {
    /** The certificate for the proxy's endpoint (or address, without one). */
    readonly certificateFor: (host: string) => ServerCertificate;
  },
): Promise<IamProxy> {
  for (let attempt = 0; ; attempt++) {
    const bytes = randomBytes(3);
    const host = `127.${1 + (bytes[0]! % 254)}.${bytes[1]}.${1 + (bytes[2]! % 254)}`;
    try {
      return await startIamProxy({
        ...options,
        host,
        certificate: options.certificateFor(options.endpoint ?? host),
      });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 20) throw error;
    }
  }
}
