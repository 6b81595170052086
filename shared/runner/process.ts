import path from 'node:path';
import type { PikoConfig } from '../config.ts';
import type { JobRegistry } from '../registry.ts';
import { ResourceRegistry } from '../resources/lending.ts';
import { openStore } from '../store/index.ts';
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

/** Opens the store the config names (MySQL when `mysql.dsn` is set, else SQLite), migrated. */
export async function openConfiguredStore(config: PikoConfig, migrate = true): Promise<StateStore> {
  const { mysql } = config;
  const store = await openStore({
    mysqlDsn: mysql.dsn,
    sqliteFile: config.sqlite.file,
    poolSize: mysql.poolSize,
    queryTimeoutSeconds: mysql.queryTimeoutSeconds,
    iamAuth: mysql.iamAuth && mysql.region ? { region: mysql.region } : undefined,
    requeuePolicy: requeuePolicyOf(config),
  });
  if (migrate) await store.migrate();
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

/**
 * Opens the store and a resource registry for the given jobs.
 * @param migrate apply migrations first (the local runtime does; Lambdas rely on the deploy's custom resource). @default true
 */
export async function openProcessServices(
  config: PikoConfig,
  jobs: JobRegistry,
  options: { migrate?: boolean; shutdown?: AbortSignal } = {},
): Promise<ProcessServices> {
  const store = await openConfiguredStore(config, options.migrate ?? true);
  const resources = new ResourceRegistry();
  return {
    config,
    store,
    jobs,
    resources,
    shutdown: options.shutdown,
    outputDir: path.join(config.piko.dataDir, 'output'),
    async close() {
      try {
        await resources.destroyAll();
      } finally {
        await store.close();
      }
    },
  };
}
