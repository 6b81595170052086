import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Resource } from '#piko';

/** A running local price API: its base URL. */
export interface PriceSource {
  readonly baseUrl: string;
}

/**
 * The example's own HTTP source, so the fan-out job runs offline: a server on 127.0.0.1 (random port)
 * answering `GET /price?item=N&at=ISO` with a deterministic price after a few milliseconds, as a slow
 * upstream API would. Created once per process, like any resource; closed on shutdown.
 */
export function localPriceSource(options: { latencyMs?: number } = {}): Resource<PriceSource, Server> {
  const latencyMs = options.latencyMs ?? 5;
  return {
    kind: 'local-http-source',
    async create() {
      const server = createServer((request, response) => {
        const url = new URL(request.url ?? '/', 'http://localhost');
        const item = Number(url.searchParams.get('item') ?? 0);
        const at = Date.parse(url.searchParams.get('at') ?? '') || 0;
        setTimeout(() => {
          response.writeHead(200, { 'content-type': 'application/json' });
          response.end(JSON.stringify({ item, price: ((item * 7919 + at / 60_000) % 1000) / 10 }));
        }, latencyMs);
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      return server;
    },
    async acquire(server) {
      return { baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
    },
    async release() {},
    async destroy(server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
