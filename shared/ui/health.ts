/** `/healthz`: the runtime alive and the state store reachable, or a non-200 answer saying which is not. */
import type { StateReader } from '../store/types.ts';
import { errorMessage } from '../telemetry.ts';

/** The runtime beside the UI, as `/healthz` reports it. */
export interface RuntimeHealth {
  /** `running`; `stopping` after a signal; `failed` once it gave up (a corrupt or failing store). */
  readonly state: 'running' | 'stopping' | 'failed';
  /** Why it failed. */
  readonly detail?: string;
}

/** How long the store may take to answer the health check. */
export const HEALTH_STORE_TIMEOUT_MS = 3_000;

/** The answer of `/healthz`. */
export interface HealthReport {
  /** True when the runtime runs (or there is none: `piko ui`) and the store answered. */
  readonly ok: boolean;
  readonly runtime: RuntimeHealth['state'] | 'none';
  readonly store: 'reachable' | 'unreachable';
  /** What went wrong, without secrets. */
  readonly problems: readonly string[];
}

/** Checks the runtime and asks the store for its job rows, within {@link HEALTH_STORE_TIMEOUT_MS}. */
export async function checkHealth(
  store: StateReader,
  runtime: (() => RuntimeHealth) | undefined,
  timeoutMs = HEALTH_STORE_TIMEOUT_MS,
): Promise<HealthReport> {
  const problems: string[] = [];
  const state = runtime?.();
  if (state && state.state !== 'running') {
    problems.push(`runtime ${state.state}${state.detail ? `: ${state.detail}` : ''}`);
  }
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  let reachable = true;
  try {
    await Promise.race([store.listJobs(), timedOut]);
  } catch (error) {
    reachable = false;
    problems.push(`state store unreachable: ${errorMessage(error)}`);
  } finally {
    clearTimeout(timer);
  }
  return {
    ok: problems.length === 0,
    runtime: state?.state ?? 'none',
    store: reachable ? 'reachable' : 'unreachable',
    problems,
  };
}
