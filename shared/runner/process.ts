import path from 'node:path';
import type { PikoConfig } from '../config.ts';
import type { JobRegistry } from '../registry.ts';
import { ResourceRegistry } from '../resources/lending.ts';
import type { StoreDrivers } from '../store/drivers.ts';
import { RunLogFiles } from '../store/run-logs.ts';
import { DEFAULT_REQUEUE_POLICY, type RequeuePolicy, type StateStore } from '../store/types.ts';
import type { StageRunnerDeps } from './stage-runner.ts';

/**
 * The services one process (a Lambda container, a Fargate task, a CLI command) opens once and shares:
 * config, store, jobs, resources. What runs on them is elsewhere (the local runtime is `LocalRuntime`).
 */
export interface ProcessServices extends StageRunnerDeps {
  readonly config: PikoConfig;
  readonly store: StateStore;
  readonly jobs: JobRegistry;
  readonly resources: ResourceRegistry;
  /** Destroys the resources and closes the store. */
  close(): Promise<void>;
}

/**
 * Opens the store the config names (MySQL when `mysql.dsn` is set, else SQLite, if `drivers` can),
 * migrated unless `migrate` is false, its SQLite file checked unless `checkIntegrity` is false.
 */
export async function openConfiguredStore(
  config: PikoConfig,
  drivers: StoreDrivers,
  options: { readonly migrate?: boolean; readonly checkIntegrity?: boolean } = {},
): Promise<StateStore> {
  const { mysql } = config;
  const store = await drivers.openStore({
    mysqlDsn: mysql.dsn,
    sqliteFile: config.sqlite.file,
    poolSize: mysql.poolSize,
    queryTimeoutSeconds: mysql.queryTimeoutSeconds,
    iamAuth: mysql.iamAuth && mysql.region ? { region: mysql.region } : undefined,
    requeuePolicy: requeuePolicyOf(config),
    checkIntegrity: options.checkIntegrity,
  });
  if (options.migrate ?? true) await store.migrate();
  return store;
}

/** The requeue policy the `[piko]` settings give (`max_requeues`, `requeue_delay_seconds`). */
export function requeuePolicyOf(config: PikoConfig): RequeuePolicy {
  const baseDelayMs = config.piko.requeueDelaySeconds * 1_000;
  return {
    maxRequeues: config.piko.maxRequeues,
    baseDelayMs,
    maxDelayMs: Math.max(baseDelayMs, DEFAULT_REQUEUE_POLICY.maxDelayMs),
  };
}

/** Options of {@link openProcessServices}. */
export interface ProcessServicesOptions {
  /**
   * The databases this process can open: `MYSQL_DRIVERS` on AWS, `LOCAL_DRIVERS`
   * (`store/local.ts`) in the local runtime and the CLI.
   */
  readonly drivers: StoreDrivers;
  /** Apply migrations first (the local runtime does; Lambdas rely on the deploy's custom resource). @default true */
  readonly migrate?: boolean;
  /** Aborts when the process is asked to stop. @default - never */
  readonly shutdown?: AbortSignal;
  /**
   * Keep each run's `ctx.log` lines under `<piko.data_dir>/logs/`, bounded by `[logs]` (the local
   * runtime, its Fargate children and the CLI do; on AWS the lines are in CloudWatch). @default false
   */
  readonly keepRunLogs?: boolean;
}

/** Opens the store and a resource registry for the given jobs. */
export async function openProcessServices(
  config: PikoConfig,
  jobs: JobRegistry,
  options: ProcessServicesOptions,
): Promise<ProcessServices> {
  const store = await openConfiguredStore(config, options.drivers, { migrate: options.migrate });
  const resources = new ResourceRegistry({ openSqliteDatabase: options.drivers.openSqliteDatabase });
  const runLogs = options.keepRunLogs ? new RunLogFiles(config.piko.dataDir, config.logs) : undefined;
  return {
    config,
    store,
    jobs,
    resources,
    runLogs,
    shutdown: options.shutdown,
    cancelPollMs: config.piko.cancelPollSeconds * 1_000,
    outputDir: path.join(config.piko.dataDir, 'output'),
    async close() {
      try {
        await runLogs?.close();
        await resources.destroyAll();
      } finally {
        await store.close();
      }
    },
  };
}
