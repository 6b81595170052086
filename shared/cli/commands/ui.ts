import type { Command } from 'commander';
import type { PikoConfig } from '../../config.ts';
import { InputError, UiPortInUseError } from '../../errors.ts';
import type { ProgressEvent } from '../../local/progress.ts';
import { LocalRuntime } from '../../local/runtime.ts';
import type { JobRegistry } from '../../registry.ts';
import { openConfiguredStore, type ProcessServices } from '../../runner/process.ts';
import { LOCAL_DRIVERS } from '../../store/local.ts';
import type { StateStore } from '../../store/types.ts';
import { errorMessage } from '../../telemetry.ts';
import type { RuntimeHealth } from '../../ui/health.ts';
import { localRunLogs } from '../../ui/run-logs.ts';
import { resolveUiAddress, type UiAddress } from '../../ui/security.ts';
import { startUiServer, type UiServer } from '../../ui/server.ts';
import {
  type AwsFlags,
  awsOption,
  refuseAwsOnlyFlags,
  regionOption,
  stackNameOption,
} from '../aws/options.ts';
import { type CliContext, cliContext, withProcess } from '../context.ts';
import type { CliIo } from '../io.ts';
import { progressPrinter } from '../progress.ts';

/** Connections of the UI's own MySQL pool: pages read a little, and never hold the runtime's. */
const UI_POOL_SIZE = 3;

/** `--port` and `--host` of `piko ui` and `piko start`. */
export interface UiAddressFlags {
  readonly port?: string;
  readonly host?: string;
}

/** `--port` of a command that serves the UI. */
export const UI_PORT_OPTION = [
  '--port <port>',
  'port of the web UI (default [ui] port, 4310; 0 takes any free port)',
] as const;
/** `--host` of a command that serves the UI. */
export const UI_HOST_OPTION = [
  '--host <host>',
  'address of the web UI (default [ui] host, 127.0.0.1; any other needs [ui] token)',
] as const;

/** A UI serving one process's runtime, with the store connection it reads through. */
export interface ServedUi {
  readonly server: UiServer;
  /** Stops the server and closes its store connection. */
  close(): Promise<void>;
}

/**
 * Where the UI listens, from the flags over `[ui]` of the configuration.
 * @throws InputError for a bad port, or a host other than loopback without a configured token.
 */
export function uiAddress(config: PikoConfig, flags: UiAddressFlags): UiAddress {
  return resolveUiAddress({
    host: flags.host ?? config.ui.host,
    port: flags.port === undefined ? config.ui.port : parsePort(flags.port),
    configuredToken: config.ui.token,
  });
}

/**
 * Starts the web UI beside a runtime: opens the UI's own store connection, serves, and runs actions
 * through `runtime`.
 * @throws UiPortInUseError when the address is taken; what opening the store throws.
 */
export async function serveUi(options: {
  readonly config: PikoConfig;
  readonly jobs: JobRegistry;
  readonly address: UiAddress;
  readonly runtime: LocalRuntime;
  readonly health: () => RuntimeHealth;
  /** Whether `runtime` runs the backfills of the store (`piko start`; `piko ui` runs none). @default false */
  readonly runsBackfills?: boolean;
}): Promise<ServedUi> {
  const store = await openUiStore(options.config);
  let server: UiServer;
  try {
    server = await startUiServer({
      address: options.address,
      store,
      operatorStore: store,
      jobs: options.jobs,
      runner: options.runtime,
      runtime: options.health,
      runLogs: localRunLogs(options.config.piko.dataDir),
      backfillRunner: options.runsBackfills ? options.runtime.backfills : undefined,
      maxBackfillIntervals: options.config.piko.maxBackfillIntervals,
    });
  } catch (error) {
    await store.close();
    throw error;
  }
  return {
    server,
    async close() {
      try {
        await server.close();
      } finally {
        await store.close();
      }
    },
  };
}

/** The line that tells where the UI is and how to enable its actions. */
export function uiStartedEvent(server: UiServer, tokenConfigured: boolean): ProgressEvent {
  const text = tokenConfigured
    ? `web UI on ${server.url} (actions need the token of [ui] token)`
    : `web UI on ${server.urlWithToken} (open it to enable actions in that browser)`;
  return {
    event: 'ui-started',
    text,
    fields: { url: server.url, ...(tokenConfigured ? {} : { urlWithToken: server.urlWithToken }) },
  };
}

/**
 * The web UI of `piko start`: started beside the runtime without delaying it, told what the
 * runtime does, closed with the process. A taken port is said and the runtime goes on without it
 * (several runtimes may share one store); disabled with `--once` and `--no-ui`.
 */
export class RuntimeUi {
  readonly #config: PikoConfig;
  readonly #jobs: JobRegistry;
  readonly #address: UiAddress | undefined;
  readonly #print: (event: ProgressEvent) => void;
  #served: ServedUi | undefined;
  #starting: Promise<void> = Promise.resolve();
  /** Planning told before the UI listened. */
  readonly #early: ProgressEvent[] = [];

  /**
   * @param flags the command's `--port` and `--host`; undefined when the UI is off.
   * @throws InputError for a bad port, or a host other than loopback without a configured token.
   */
  constructor(context: CliContext, flags: UiAddressFlags | undefined, print: (event: ProgressEvent) => void) {
    this.#config = context.config;
    this.#jobs = context.jobs;
    this.#address = flags ? uiAddress(context.config, flags) : undefined;
    this.#print = print;
  }

  /**
   * A progress listener that tells the UI too. What the runtime plans before the UI listens is
   * kept and told once it does, so its counters miss nothing.
   */
  tee(listener: (event: ProgressEvent) => void): (event: ProgressEvent) => void {
    return (event) => {
      listener(event);
      if (this.#served) this.#served.server.onProgress(event);
      else if (this.#address && event.event === 'planned') this.#early.push(event);
    };
  }

  /** Starts serving in the background; says where, or why not. */
  start(runtime: LocalRuntime, health: () => RuntimeHealth): void {
    const address = this.#address;
    if (!address) return;
    this.#starting = serveUi({
      config: this.#config,
      jobs: this.#jobs,
      address,
      runtime,
      health,
      runsBackfills: true,
    }).then(
      (served) => {
        this.#served = served;
        for (const event of this.#early.splice(0)) served.server.onProgress(event);
        this.#print(uiStartedEvent(served.server, address.tokenConfigured));
      },
      (error: unknown) => {
        const reason = error instanceof UiPortInUseError ? error.message : `${errorMessage(error)}.`;
        this.#print({
          event: 'ui-unavailable',
          text: `web UI not started: ${reason} The runtime goes on without it.`,
          fields: { error: reason },
        });
      },
    );
  }

  /** `context`, whose process runtime closes the UI before itself. */
  closedWith(context: CliContext): CliContext {
    return {
      ...context,
      open: async (options) => {
        const opened = await context.open(options);
        return {
          ...opened,
          close: async () => {
            try {
              await this.close();
            } finally {
              await opened.close();
            }
          },
        };
      },
    };
  }

  /** Stops the UI (once it has started, or failed to). */
  async close(): Promise<void> {
    await this.#starting;
    await this.#served?.close();
    this.#served = undefined;
  }
}

/** `piko ui`: the web UI alone, over the store another process runs the jobs in. */
export function uiCommand(program: Command, io: CliIo): void {
  program
    .command('ui')
    .description('serve the web UI over the state store (another piko start may run the jobs); Ctrl-C stops')
    .option(...UI_PORT_OPTION)
    .option(...UI_HOST_OPTION)
    .option('--json', 'progress as JSON lines')
    .addOption(awsOption("serve the UI over the deployed stack, through its dispatcher's control events"))
    .addOption(regionOption())
    .addOption(stackNameOption())
    .action(async (flags: UiAddressFlags & AwsFlags & { json?: boolean }) => {
      const json = flags.json ?? false;
      const print = progressPrinter(io, json);
      if (!flags.aws) refuseAwsOnlyFlags(flags);
      const context = await cliContext({ json });
      const address = uiAddress(context.config, flags);
      if (flags.aws) {
        const { serveAwsUi } = await import('../aws/ui.ts');
        return serveAwsUi({
          context,
          flags,
          address,
          print,
          started: (server) => uiStartedEvent(server, context.config.ui.token !== undefined),
        });
      }
      const shutdown = new AbortController();
      await withProcess(
        context,
        async (opened: ProcessServices) => {
          let ui: ServedUi | undefined;
          // The UI's actions run here: a runtime that schedules nothing and runs what it is asked to.
          const runtime = new LocalRuntime({
            process: opened,
            onProgress: (event) => {
              print(event);
              ui?.server.onProgress(event);
            },
          });
          let stopping = false;
          ui = await serveUi({
            config: context.config,
            jobs: context.jobs,
            address,
            runtime,
            health: () => runtimeHealth(runtime, stopping),
          });
          print(uiStartedEvent(ui.server, context.config.ui.token !== undefined));
          const signal = await new Promise<NodeJS.Signals>((resolve) => {
            process.once('SIGINT', resolve);
            process.once('SIGTERM', resolve);
          });
          stopping = true;
          const graceSeconds = context.config.piko.shutdownGraceSeconds;
          print({
            event: 'stopping',
            text: `${signal}: the UI stops; runs it started get ${graceSeconds} s`,
            fields: { signal },
          });
          try {
            await runtime.stop(graceSeconds * 1_000, shutdown);
          } finally {
            await ui.close();
          }
          print({ event: 'stopped', text: 'UI stopped', fields: {} });
        },
        { shutdown: shutdown.signal },
      );
    });
}

/** What `/healthz` says of a local runtime. */
export function runtimeHealth(runtime: LocalRuntime, stopping: boolean): RuntimeHealth {
  const fatal = runtime.fatalError;
  if (fatal) return { state: 'failed', detail: fatal.message };
  return { state: stopping ? 'stopping' : 'running' };
}

/**
 * The UI's own connection to the configured store: a small MySQL pool, or a second SQLite connection
 * (WAL readers never block the runtime). The process has already opened, checked and migrated the
 * store, so this connection does neither again.
 */
function openUiStore(config: PikoConfig): Promise<StateStore> {
  return openConfiguredStore(
    { ...config, mysql: { ...config.mysql, poolSize: Math.min(UI_POOL_SIZE, config.mysql.poolSize) } },
    LOCAL_DRIVERS,
    { migrate: false, checkIntegrity: false },
  );
}

function parsePort(text: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65_535) {
    throw new InputError(
      `--port ${JSON.stringify(text)} is not a port: give a number from 1 to 65535 (0: any free port)`,
    );
  }
  return port;
}
