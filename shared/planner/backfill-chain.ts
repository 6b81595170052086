/**
 * `--downstream` backfills driven by one backfill state machine execution (DESIGN.md §9, on AWS): the
 * downstream backfills are found once, by {@link downstreamBackfills}, before the upstream backfill is
 * planned (its re-armed runs would hide what re-runs), and recorded with it as its chain
 * (`BackfillChain`). Once the upstream backfill is done, each downstream one is planned and driven in
 * dependency order, one after the other, so a downstream job starts once all its upstream
 * backfills of the chain are done; its runs are re-armed `waiting`, as `piko backfill --downstream`
 * re-arms them locally. Every step is recorded before the next one starts, so a crash, a retry or a
 * new execution with the same request goes on where the chain was.
 */
import type { BackfillChain, BackfillChainLink, BackfillStatus, StateStore } from '../store/types.ts';
import {
  type BackfillLimits,
  type BackfillPlanResult,
  type BackfillRequest,
  backfillId,
  emptyBackfillCounts,
  planBackfill,
} from './backfill.ts';
import { type DownstreamBackfill, downstreamBackfills, type JobGraph } from './backfill-downstream.ts';

/** A backfill of a chain the backfill state machine drives. */
export interface ChainedBackfill {
  readonly jobId: string;
  readonly backfillId: string;
}

/** A downstream backfill of a chain, as `piko backfills` shows it. */
export interface ChainedBackfillStatus extends ChainedBackfill {
  readonly from: Date;
  readonly to: Date;
  /** `pending`: not started yet (it waits for the backfills before it in the chain). */
  readonly status: BackfillStatus | 'pending';
}

/** The downstream backfills of {@link downstreamBackfills}, as chain links, in dependency order. */
export function chainLinks(downstream: readonly DownstreamBackfill[]): BackfillChainLink[] {
  return downstream.flatMap((stale) =>
    stale.requests.map((request) => ({ jobId: stale.job.id, from: request.from, to: request.to })),
  );
}

/** The backfill request of a chain link: the one {@link downstreamBackfills} makes (`reprocess: 'all'`). */
export function chainLinkRequest(link: BackfillChainLink): BackfillRequest {
  return { jobId: link.jobId, from: link.from, to: link.to, reprocess: 'all' };
}

/** The backfill a root chain drives now: the root itself at -1, else its `current` link's. */
export function currentOfChain(
  rootId: string,
  rootJobId: string,
  chain: Extract<BackfillChain, { kind: 'root' }>,
): ChainedBackfill {
  const link = chain.downstream[chain.current];
  return link
    ? { jobId: link.jobId, backfillId: backfillId(chainLinkRequest(link)) }
    : { jobId: rootJobId, backfillId: rootId };
}

/** What {@link planChainedBackfill} did. */
export interface ChainedPlan {
  /** The upstream backfill's plan (nothing planned when the chain resumed past it). */
  readonly plan: BackfillPlanResult;
  /** The downstream backfills found now; undefined when an existing chain resumed. */
  readonly downstream: readonly DownstreamBackfill[] | undefined;
}

/**
 * Starts, or resumes, a `--downstream` backfill of `request`: when the backfill has a chain that has
 * not run to its end, it goes on with it (the upstream backfill planned on from its cursor unless it
 * is done); otherwise the downstream backfills are found now, before the upstream one is planned,
 * and recorded as its chain in the transaction that (re)starts it.
 */
export async function planChainedBackfill(
  store: StateStore,
  jobs: JobGraph,
  request: BackfillRequest,
  now: Date,
  limits: BackfillLimits,
  shouldStop: () => boolean,
): Promise<ChainedPlan> {
  const job = jobs.get(request.jobId);
  const id = backfillId(request);
  const record = await store.getBackfill(id);
  const chain = record ? await store.getBackfillChain(id) : null;
  if (record && chain?.kind === 'root' && !(record.status === 'done' && (await chainEnded(store, chain)))) {
    // planBackfill would start a done backfill over: the chain has moved past it.
    const plan =
      record.status === 'done'
        ? { backfillId: id, counts: emptyBackfillCounts(), done: true }
        : await planBackfill(store, job, request, now, limits, shouldStop);
    return { plan, downstream: undefined };
  }
  const downstream = await downstreamBackfills(store, jobs, job, request, now);
  const plan = await planBackfill(store, job, request, now, limits, shouldStop, {
    chain: { kind: 'root', downstream: chainLinks(downstream), current: -1 },
  });
  return { plan, downstream };
}

/**
 * The backfill the state machine drives after `finished` (done, or found done): the next one of its
 * chain, planned and recorded as the chain's current one; the chain's current one when `finished` is
 * an upstream backfill whose chain has moved past it (a resumed execution); undefined when the chain
 * has ended or `finished` is in none.
 */
export async function advanceChain(
  store: StateStore,
  jobs: JobGraph,
  finished: ChainedBackfill,
  now: Date,
  limits: BackfillLimits,
  shouldStop: () => boolean,
): Promise<ChainedBackfill | undefined> {
  const own = await store.getBackfillChain(finished.backfillId);
  if (!own) return undefined;
  const rootId = own.kind === 'member' ? own.root : finished.backfillId;
  const root = own.kind === 'root' ? own : await store.getBackfillChain(rootId);
  const rootRecord = await store.getBackfill(rootId);
  if (root?.kind !== 'root' || !rootRecord) return undefined;
  const current = currentOfChain(rootId, rootRecord.jobId, root);
  if (current.backfillId !== finished.backfillId) {
    // A downstream backfill of an older chain (or driven on its own) ends on its own.
    return rootId === finished.backfillId ? current : undefined;
  }
  const next = root.current + 1;
  const link = root.downstream[next];
  if (!link) return undefined;
  // Planned (its chain named) before the chain moves: a crash in between plans it again, which
  // goes on from its cursor.
  await planBackfill(store, jobs.get(link.jobId), chainLinkRequest(link), now, limits, shouldStop, {
    chain: { kind: 'member', root: rootId },
  });
  await store.withJob(jobs.get(rootRecord.jobId), (tx) =>
    tx.setBackfillChain(rootId, { ...root, current: next }),
  );
  return { jobId: link.jobId, backfillId: backfillId(chainLinkRequest(link)) };
}

/**
 * The upstream backfill whose chain drives `backfillId` now: itself when it has a chain, its root
 * when it is the current downstream backfill of one; undefined otherwise.
 */
export async function chainRootOf(store: StateStore, backfillId: string): Promise<string | undefined> {
  const own = await store.getBackfillChain(backfillId);
  if (own?.kind === 'root') return backfillId;
  if (own?.kind !== 'member') return undefined;
  const root = await store.getBackfillChain(own.root);
  const rootRecord = await store.getBackfill(own.root);
  if (root?.kind !== 'root' || !rootRecord) return undefined;
  return currentOfChain(own.root, rootRecord.jobId, root).backfillId === backfillId ? own.root : undefined;
}

/**
 * The downstream backfills of a root chain with where each is: those after the current one are
 * `pending` (a record of the same request from an earlier run does not count).
 */
export async function chainStatuses(
  store: StateStore,
  chain: Extract<BackfillChain, { kind: 'root' }>,
): Promise<ChainedBackfillStatus[]> {
  const statuses: ChainedBackfillStatus[] = [];
  for (const [index, link] of chain.downstream.entries()) {
    const id = backfillId(chainLinkRequest(link));
    const status = index <= chain.current ? ((await store.getBackfill(id))?.status ?? 'pending') : 'pending';
    statuses.push({ jobId: link.jobId, backfillId: id, from: link.from, to: link.to, status });
  }
  return statuses;
}

/** True when the chain's last downstream backfill is current and done (or it has none). */
async function chainEnded(store: StateStore, chain: Extract<BackfillChain, { kind: 'root' }>) {
  const last = chain.downstream.length - 1;
  if (last < 0) return true;
  if (chain.current !== last) return false;
  const lastId = backfillId(chainLinkRequest(chain.downstream[last]!));
  return (await store.getBackfill(lastId))?.status === 'done';
}
