/**
 * The web UI's HTTP server: `piko start` runs it beside the runtime, `piko ui` on its own. It reads
 * through its own store connection (a slow page never holds the runtime's), runs actions through
 * the runner it is given, and serves everything itself (no CDN, no build step).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import { UiPortInUseError } from '../errors.ts';
import type { JobRegistry } from '../registry.ts';
import type { StateReader, StateStore } from '../store/types.ts';
import type { IntervalAction, UiRunner } from './actions.ts';
import { type BackfillRunner, createUiApp } from './app.ts';
import type { RuntimeHealth } from './health.ts';
import { ChangeFeed, type RuntimeProgress } from './live.ts';
import { UiMetrics } from './metrics.ts';
import type { UiOperator } from './operator.ts';
import type { RunLogSource } from './run-logs.ts';
import type { UiAddress } from './security.ts';

/** What a UI server needs. */
export interface UiServerOptions {
  /** Where to listen and the action token (see `resolveUiAddress`). Port 0 takes any free port. */
  readonly address: UiAddress;
  /** The store pages read; the server does not close it. */
  readonly store: StateReader;
  /**
   * The same store, locally: backfills are recorded and steered there, and cancel and mark carried
   * out unless `operator` is given. @default none (`piko ui --aws`)
   */
  readonly operatorStore?: StateStore;
  /** Where cancel and mark are carried out. @default storeOperator(operatorStore), else none */
  readonly operator?: UiOperator;
  readonly jobs: JobRegistry;
  /** Runs intervals for the actions. */
  readonly runner: UiRunner;
  /** The runtime beside the UI, for `/healthz`. @default none */
  readonly runtime?: () => RuntimeHealth;
  /** @default DEFAULT_INTERVAL_ACTIONS */
  readonly intervalActions?: readonly IntervalAction[];
  /** Where an interval's page reads its run's logs. @default none (no logs section) */
  readonly runLogs?: RunLogSource;
  /** @default () => new Date() */
  readonly now?: () => Date;
  /** The runtime beside the UI that runs backfills (`piko start`). @default none: they wait for one */
  readonly backfillRunner?: BackfillRunner;
  /** `[piko] max_backfill_intervals`. @default the planner's */
  readonly maxBackfillIntervals?: number;
}

/** A running UI server. */
export interface UiServer {
  /** The address to open, without the token: `http://127.0.0.1:4310/`. */
  readonly url: string;
  /** The address with the token that enables actions in the browser that opens it. */
  readonly urlWithToken: string;
  readonly port: number;
  /** Tells the UI what the runtime of this process did: live pages update, counters count. */
  onProgress(event: RuntimeProgress): void;
  /** Stops listening, ends open event streams and connections. */
  close(): Promise<void>;
}

/**
 * Starts the UI server.
 * @throws UiPortInUseError when the address is taken (another runtime or UI on this machine).
 */
export async function startUiServer(options: UiServerOptions): Promise<UiServer> {
  const { address } = options;
  const feed = new ChangeFeed();
  const metrics = new UiMetrics(options.store, options.jobs, options.now);
  const { app, closeStreams } = createUiApp({
    store: options.store,
    operatorStore: options.operatorStore,
    operator: options.operator,
    jobs: options.jobs,
    runner: options.runner,
    token: address.token,
    boundHost: address.host,
    port: address.port,
    feed,
    metrics,
    runtime: options.runtime,
    intervalActions: options.intervalActions,
    runLogs: options.runLogs,
    now: options.now,
    backfillRunner: options.backfillRunner,
    maxBackfillIntervals: options.maxBackfillIntervals,
  });
  const server = createServer(getRequestListener(app.fetch));
  await listen(server, address.host, address.port);
  const port = (server.address() as AddressInfo).port;
  const host =
    address.host.includes(':') && !address.host.startsWith('[') ? `[${address.host}]` : address.host;
  const url = `http://${host}:${port}/`;
  let closing: Promise<void> | undefined;
  return {
    url,
    urlWithToken: `${url}?token=${encodeURIComponent(address.token)}`,
    port,
    onProgress(event) {
      metrics.onProgress(event);
      feed.notify();
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        closeStreams();
        feed.close();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      if (error.code === 'EADDRINUSE') reject(new UiPortInUseError(host, port));
      else reject(error);
    };
    const onListening = () => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}
