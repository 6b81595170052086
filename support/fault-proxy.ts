/**
 * A small fault-injecting TCP proxy (node:net) to put between a runtime and MariaDB: it forwards bytes
 * both ways until told to drop every connection (mid-transaction), stall (hold every byte for a while),
 * refuse new connections (accept and close them, or stop listening), and restore.
 */
import net from 'node:net';

/** How new connections are treated. */
export type ProxyMode =
  /** Forward. */
  | 'pass'
  /** Accept, then close at once (the client sees the connection lost during the handshake). */
  | 'refuse'
  /** Not listening: the client sees ECONNREFUSED. */
  | 'closed';

/** What happened so far. */
export interface ProxyStats {
  /** Connections accepted and forwarded. */
  accepted: number;
  /** Connections closed on arrival (`refuse`). */
  refused: number;
  /** Open connections destroyed by {@link FaultProxy.drop}. */
  dropped: number;
  /** Connections open now. */
  open: number;
  /** Bytes forwarded, both ways. */
  bytes: number;
}

interface Pair {
  readonly client: net.Socket;
  readonly upstream: net.Socket;
}

/**
 * A fault set off by what a client sends: queries travel as text (the store uses `query`, not prepared
 * statements), so a statement can be recognised by a piece of its SQL.
 */
export interface Trigger {
  /**
   * Matched against each chunk the client sends (as latin1 text); {@link queryStartingWith} matches
   * the start of a statement (`COMMIT`, not `… READ COMMITTED`).
   */
  readonly match: string | RegExp;
  /** `drop`: destroy that connection; `outage`: an {@link FaultProxy.outage} of `outageMs`, then restore. */
  readonly action: 'drop' | 'outage';
  /** `before`: the statement never reaches the server; `after`: it runs, but its answer is lost. @default 'before' */
  readonly when?: 'before' | 'after';
  /** How many matches set it off. @default 1 */
  readonly times?: number;
  /** Only with `outage`. @default 5000 */
  readonly outageMs?: number;
}

/**
 * A match for a statement that starts with `sql`: a query packet is its length (3 bytes), a sequence
 * number, the command byte 0x03 (COM_QUERY), then the SQL text.
 */
export function queryStartingWith(sql: string): string {
  return `\u0003${sql}`;
}

interface ArmedTrigger extends Trigger {
  left: number;
  fired: number;
}

export interface FaultProxyOptions {
  /** Where the database listens. @default 127.0.0.1 */
  readonly targetHost?: string;
  /** @default 3306 */
  readonly targetPort?: number;
  /** The proxy's port. @default a free port */
  readonly port?: number;
}

/** A TCP proxy with faults on demand. Create with {@link startFaultProxy}; always {@link FaultProxy.close}. */
export class FaultProxy {
  readonly stats: ProxyStats = { accepted: 0, refused: 0, dropped: 0, open: 0, bytes: 0 };
  readonly #targetHost: string;
  readonly #targetPort: number;
  readonly #pairs = new Set<Pair>();
  readonly #triggers: ArmedTrigger[] = [];
  #server: net.Server | undefined;
  #port = 0;
  #mode: ProxyMode = 'pass';
  #stalledUntil = 0;
  #stallTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: FaultProxyOptions = {}) {
    this.#targetHost = options.targetHost ?? '127.0.0.1';
    this.#targetPort = options.targetPort ?? 3306;
    this.#port = options.port ?? 0;
  }

  /** The port the proxy listens on (kept across {@link FaultProxy.refuse}`({ listen: false })`). */
  get port(): number {
    return this.#port;
  }

  get mode(): ProxyMode {
    return this.#mode;
  }

  /** Whether bytes are being held now. */
  get stalled(): boolean {
    return Date.now() < this.#stalledUntil;
  }

  /** `url` with its host and port replaced by the proxy's. */
  rewrite(url: string): string {
    const parsed = new URL(url);
    parsed.hostname = '127.0.0.1';
    parsed.port = String(this.#port);
    return parsed.toString();
  }

  async listen(): Promise<void> {
    if (this.#server || this.#closed) return;
    const server = net.createServer((client) => this.#accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.#port = (server.address() as net.AddressInfo).port;
    this.#server = server;
    if (this.#mode === 'closed') this.#mode = 'pass';
  }

  /** Destroys every open connection now, both sides, whatever it was doing (mid-query, mid-transaction). */
  drop(): number {
    const count = this.#pairs.size;
    for (const pair of this.#pairs) {
      pair.client.destroy();
      pair.upstream.destroy();
    }
    this.#pairs.clear();
    this.stats.dropped += count;
    this.stats.open = 0;
    return count;
  }

  /** Holds every byte, of open and new connections, for `ms`; then forwards what was held. */
  stall(ms: number): void {
    this.#stalledUntil = Math.max(this.#stalledUntil, Date.now() + ms);
    for (const pair of this.#pairs) this.#pause(pair);
    clearTimeout(this.#stallTimer);
    this.#stallTimer = setTimeout(() => this.#unstall(), this.#stalledUntil - Date.now());
  }

  /**
   * Refuses new connections: accepts and closes them (`listen: true`, the default), or stops listening
   * so that connecting fails with ECONNREFUSED. Open connections are left alone (see {@link drop}).
   */
  async refuse(options: { listen?: boolean } = {}): Promise<void> {
    if (options.listen === false) {
      this.#mode = 'closed';
      void this.#stopListening();
    } else {
      this.#mode = 'refuse';
    }
  }

  /** An outage: drops every connection and refuses new ones (not listening) until {@link restore}. */
  async outage(): Promise<void> {
    this.#mode = 'closed';
    const closed = this.#stopListening();
    this.drop();
    await closed;
  }

  /** Back to forwarding: listening again on the same port, nothing held. */
  async restore(): Promise<void> {
    this.#mode = 'pass';
    await this.listen();
    this.#unstall();
  }

  /** Arms a fault set off by a statement; returns a function telling how often it fired so far. */
  failOn(trigger: Trigger): () => number {
    const armed: ArmedTrigger = { ...trigger, left: trigger.times ?? 1, fired: 0 };
    this.#triggers.push(armed);
    return () => armed.fired;
  }

  /** Disarms every trigger of {@link failOn}. */
  clearTriggers(): void {
    this.#triggers.length = 0;
  }

  /** Stops listening and destroys every connection. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#stallTimer);
    this.drop();
    await this.#stopListening();
  }

  /**
   * Closes the listening socket at once (the port is free again right away); resolves when the server
   * has let go of its connections, which {@link drop} destroys.
   */
  #stopListening(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (!server) return Promise.resolve();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  }

  #accept(client: net.Socket): void {
    client.on('error', () => {});
    if (this.#mode !== 'pass') {
      this.stats.refused++;
      client.destroy();
      return;
    }
    this.stats.accepted++;
    const upstream = net.connect(this.#targetPort, this.#targetHost);
    upstream.on('error', () => {});
    upstream.setNoDelay(true);
    client.setNoDelay(true);
    const pair: Pair = { client, upstream };
    this.#pairs.add(pair);
    this.stats.open = this.#pairs.size;
    client.on('data', (chunk: Buffer) => {
      this.stats.bytes += chunk.length;
      const trigger = this.#triggered(chunk);
      if (trigger?.when !== 'after' && trigger) return this.#fire(trigger, pair);
      if (!upstream.destroyed) upstream.write(chunk);
      if (trigger) this.#fire(trigger, pair);
    });
    upstream.on('data', (chunk: Buffer) => {
      this.stats.bytes += chunk.length;
      if (!client.destroyed) client.write(chunk);
    });
    const end = () => {
      if (!this.#pairs.delete(pair)) return;
      this.stats.open = this.#pairs.size;
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end);
    upstream.on('close', end);
    if (this.stalled) this.#pause(pair);
  }

  #triggered(chunk: Buffer): ArmedTrigger | undefined {
    if (this.#triggers.length === 0) return undefined;
    const text = chunk.toString('latin1');
    for (const trigger of this.#triggers) {
      if (trigger.left <= 0) continue;
      const hit = typeof trigger.match === 'string' ? text.includes(trigger.match) : trigger.match.test(text);
      if (hit) {
        trigger.left--;
        trigger.fired++;
        return trigger;
      }
    }
    return undefined;
  }

  #fire(trigger: ArmedTrigger, pair: Pair): void {
    if (trigger.action === 'drop') {
      // Let what was written reach the server first (`after`), then cut both sides.
      setImmediate(() => {
        if (!this.#pairs.delete(pair)) return;
        this.stats.dropped++;
        this.stats.open = this.#pairs.size;
        pair.client.destroy();
        pair.upstream.destroy();
      });
      return;
    }
    void this.outage().then(() => {
      setTimeout(() => void this.restore(), trigger.outageMs ?? 5_000);
    });
  }

  #pause(pair: Pair): void {
    pair.client.pause();
    pair.upstream.pause();
  }

  #unstall(): void {
    this.#stalledUntil = 0;
    clearTimeout(this.#stallTimer);
    for (const pair of this.#pairs) {
      pair.client.resume();
      pair.upstream.resume();
    }
  }
}

/** Starts a proxy to MariaDB (127.0.0.1:3306 unless told otherwise), listening on a free port. */
export async function startFaultProxy(options: FaultProxyOptions = {}): Promise<FaultProxy> {
  const proxy = new FaultProxy(options);
  await proxy.listen();
  return proxy;
}
