import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ExecutionLeases,
  type HeartbeatFailure,
  holderAliveHere,
  type LeaseChange,
  leaseHost,
  leaseStanding,
  newLeaseHolder,
} from '../../../shared/local/leases.ts';
import {
  type ExecutionLease,
  type ExecutionRef,
  type LeaseHolder,
  type LeaseStore,
  leaseStoreOf,
} from '../../../shared/store/leases.ts';
import type { StateStore } from '../../../shared/store/types.ts';
import { createTempSqliteStore } from '../../helpers/sqlite.ts';

const T0 = new Date('2026-05-01T10:00:00.000Z');
const TTL_MS = 30_000;
const HEARTBEAT_MS = 10_000;
const at = (ms: number) => new Date(T0.getTime() + ms);
const elsewhere: LeaseHolder = { host: 'other-host', pid: 4242, token: 'e'.repeat(24) };

/** A pid that is certainly not running: a child that has exited (and been reaped). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  await new Promise((resolve) => child.on('exit', resolve));
  return child.pid!;
}

describe('leaseStanding', () => {
  const self = { host: 'h', pid: 1, token: 's'.repeat(24) };
  const lease = (over: Partial<ExecutionLease> = {}): ExecutionLease => ({
    jobId: 'job',
    executionName: 'job-s1',
    holder: elsewhere,
    acquiredAt: T0,
    renewedAt: T0,
    expiresAt: at(TTL_MS),
    endedAt: null,
    ...over,
  });
  const alive = () => true;
  const dead = () => false;

  it('tells every standing apart, expiry to the millisecond', () => {
    expect(leaseStanding(undefined, self, T0, alive)).toBe('none');
    expect(leaseStanding(lease({ endedAt: at(1) }), self, T0, alive)).toBe('ended');
    expect(leaseStanding(lease({ holder: self }), self, at(TTL_MS * 2), alive)).toBe('mine');
    expect(leaseStanding(lease(), self, at(TTL_MS - 1), alive)).toBe('held');
    expect(leaseStanding(lease(), self, at(TTL_MS), alive)).toBe('expired');
  });

  it('voids the unexpired lease of a dead holder on the same host at once, never one on another host', () => {
    const sameHost = { ...elsewhere, host: self.host };

    expect(leaseStanding(lease({ holder: sameHost }), self, T0, dead)).toBe('dead');
    expect(leaseStanding(lease({ holder: sameHost }), self, T0, alive)).toBe('held');
    expect(leaseStanding(lease(), self, T0, dead)).toBe('held');
    // Ended stays ended, whoever held it.
    expect(leaseStanding(lease({ holder: sameHost, endedAt: at(1) }), self, T0, dead)).toBe('ended');
  });
});

describe('holderAliveHere', () => {
  it("knows this process's runtimes, an earlier process with this pid, and other processes", async () => {
    const holder = newLeaseHolder();

    expect(holder).toEqual({
      host: leaseHost(),
      pid: process.pid,
      token: expect.stringMatching(/^[0-9a-f]{24}$/),
    });
    expect(holderAliveHere(holder)).toBe(true);
    expect(holderAliveHere({ ...holder, token: 'f'.repeat(24) })).toBe(false);
    expect(holderAliveHere({ ...holder, pid: process.ppid })).toBe(true);
    expect(holderAliveHere({ ...holder, pid: await deadPid() })).toBe(false);
  });
});

describe('ExecutionLeases', () => {
  let opened: Awaited<ReturnType<typeof createTempSqliteStore>>;
  let store: StateStore;
  let sequence = 0;
  const newRef = (): ExecutionRef => ({ jobId: 'job', executionName: `job-s20260501-${++sequence}` });

  beforeAll(async () => {
    opened = await createTempSqliteStore();
    store = opened.store;
    await store.migrate();
  });

  afterAll(async () => {
    await opened.cleanup();
  });

  /** A runtime's leases on the test store, with its own clock; `changes` collects what onChange was told. */
  function runtime(
    options: { holder?: LeaseHolder; isAlive?: () => boolean; leases?: LeaseStore; start?: number } = {},
  ) {
    let now = T0.getTime() + (options.start ?? 0);
    const changes: { ref: ExecutionRef; change: LeaseChange }[] = [];
    const heartbeatErrors: HeartbeatFailure[] = [];
    const leases = new ExecutionLeases({
      store: options.leases ?? leaseStoreOf(store),
      ttlMs: TTL_MS,
      heartbeatMs: HEARTBEAT_MS,
      clock: () => new Date(now),
      holder: options.holder,
      isAlive: options.isAlive,
      onChange: (ref, change) => changes.push({ ref, change }),
      onHeartbeatError: (failure) => heartbeatErrors.push(failure),
    });
    return {
      leases,
      changes,
      heartbeatErrors,
      setClock: (ms: number) => {
        now = T0.getTime() + ms;
      },
    };
  }

  it('takes a free lease, refuses one another live runtime holds, and takes it over once it expired', async () => {
    // Arrange
    const ref = newRef();
    const a = runtime();
    const b = runtime({ holder: elsewhere });

    // Act + Assert
    expect(await a.leases.acquire(ref)).toEqual({ acquired: true });
    expect(a.leases.holds(ref)).toBe(true);
    expect(await b.leases.acquire(ref)).toEqual({
      acquired: false,
      lease: expect.objectContaining({ holder: a.leases.holder }),
      standing: 'held',
    });

    b.setClock(TTL_MS);
    expect(await b.leases.acquire(ref)).toEqual({
      acquired: true,
      from: { lease: expect.objectContaining({ holder: a.leases.holder }), standing: 'expired' },
    });

    // A's next heartbeat finds it gone, and from then on A starts nothing of it.
    a.setClock(TTL_MS + 1);
    await a.leases.heartbeat();
    expect(a.changes).toEqual([
      { ref, change: { kind: 'lost', reason: 'another runtime took it over after it expired' } },
    ]);
    expect(a.leases.holds(ref)).toBe(false);
    expect(a.leases.held).toBe(0);
    expect(b.leases.holds(ref)).toBe(true);
  });

  it('takes over at once the unexpired lease of a process on this host that is gone', async () => {
    const ref = newRef();
    const gone = { host: leaseHost(), pid: await deadPid(), token: 'd'.repeat(24) };
    await leaseStoreOf(store).create(ref, gone, T0, TTL_MS);
    const b = runtime({ start: 1 });

    expect(await b.leases.acquire(ref)).toEqual({
      acquired: true,
      from: { lease: expect.objectContaining({ holder: gone }), standing: 'dead' },
    });
    expect((await b.leases.standing(ref)).standing).toBe('mine');
  });

  it('leaves an ended execution alone, and a stopped one free for anyone', async () => {
    const ended = newRef();
    const stopped = newRef();
    const a = runtime();
    const b = runtime({ holder: elsewhere, start: TTL_MS * 10 });
    await a.leases.acquire(ended);
    await a.leases.acquire(stopped);

    await a.leases.finish(ended, 'ended');
    await a.leases.finish(stopped, 'stopped');

    expect(await b.leases.acquire(ended)).toEqual({
      acquired: false,
      lease: expect.objectContaining({ endedAt: T0 }),
      standing: 'ended',
    });
    expect(await b.leases.acquire(stopped)).toEqual({ acquired: true });
    expect(a.leases.held).toBe(0);
  });

  it('renews what it holds at each heartbeat', async () => {
    const ref = newRef();
    const a = runtime();
    await a.leases.acquire(ref);

    a.setClock(HEARTBEAT_MS);
    await a.leases.heartbeat();

    expect((await a.leases.standing(ref)).lease?.expiresAt).toEqual(at(HEARTBEAT_MS + TTL_MS));
    a.setClock(HEARTBEAT_MS + TTL_MS - HEARTBEAT_MS - 1);
    expect(a.leases.holds(ref)).toBe(true);
    expect(a.changes).toEqual([]);
  });

  it('holds new stages back while the heartbeat cannot reach the store, until it renews the lease', async () => {
    // Arrange: a store whose renewals fail (the database stopped answering), then answer again.
    const ref = newRef();
    const real = leaseStoreOf(store);
    let storeDown = true;
    const flaky: LeaseStore = {
      ...bind(real),
      renew: (...args) =>
        storeDown ? Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:3306')) : real.renew(...args),
    };
    const a = runtime({ leases: flaky });
    await a.leases.acquire(ref);

    // Act + Assert: one failed beat is tolerated; stages may start until ttl - heartbeat.
    a.setClock(HEARTBEAT_MS);
    await a.leases.heartbeat();
    expect(a.changes).toEqual([]);
    a.setClock(TTL_MS - HEARTBEAT_MS - 1);
    expect(a.leases.holds(ref)).toBe(true);
    a.setClock(TTL_MS - HEARTBEAT_MS);
    expect(a.leases.holds(ref)).toBe(false);
    await a.leases.heartbeat();
    expect(a.changes).toEqual([
      {
        ref,
        change: {
          kind: 'at-risk',
          reason:
            'its heartbeat has not reached the state store for 20 s (connect ECONNREFUSED 127.0.0.1:3306)',
        },
      },
    ]);
    const waiting = a.leases.whenHeld(ref);

    // The store answers again before the lease expired: nobody took it, its stages go on.
    storeDown = false;
    a.setClock(TTL_MS - 1);
    await a.leases.heartbeat();
    expect(await waiting).toBe(true);
    expect(a.leases.holds(ref)).toBe(true);
    expect(a.changes.map(({ change }) => change.kind)).toEqual(['at-risk', 'renewed']);
    const b = runtime({ holder: elsewhere, start: TTL_MS });
    expect(await b.leases.acquire(ref)).toEqual(
      expect.objectContaining({ acquired: false, standing: 'held' }),
    );
  });

  it('reports each heartbeat that cannot reach the store, with how long they have failed in a row', async () => {
    // Arrange: renewals that fail, then work, then fail again
    const ref = newRef();
    const real = leaseStoreOf(store);
    let storeDown = true;
    const down = new Error('SQLITE_FULL: database or disk is full');
    const flaky: LeaseStore = {
      ...bind(real),
      renew: (...args) => (storeDown ? Promise.reject(down) : real.renew(...args)),
    };
    const a = runtime({ leases: flaky });
    await a.leases.acquire(ref);

    // Act: three failed beats, one that gets through, one failed again
    for (const ms of [HEARTBEAT_MS, 2 * HEARTBEAT_MS, 3 * HEARTBEAT_MS]) {
      a.setClock(ms);
      await a.leases.heartbeat();
    }
    storeDown = false;
    a.setClock(3 * HEARTBEAT_MS + 1);
    await a.leases.heartbeat();
    storeDown = true;
    a.setClock(4 * HEARTBEAT_MS);
    await a.leases.heartbeat();

    // Assert: the run of failures starts again after the beat that got through
    expect(a.heartbeatErrors).toEqual([
      { error: down, failures: 1, failingForMs: 0, held: [ref] },
      { error: down, failures: 2, failingForMs: HEARTBEAT_MS, held: [ref] },
      { error: down, failures: 3, failingForMs: 2 * HEARTBEAT_MS, held: [ref] },
      { error: down, failures: 1, failingForMs: 0, held: [ref] },
    ]);
    await a.leases.finish(ref, 'stopped').catch(() => undefined);
  });

  it('tells waiting stages the lease is lost when another runtime took it while the store was out of reach', async () => {
    const ref = newRef();
    const real = leaseStoreOf(store);
    let storeDown = true;
    const flaky: LeaseStore = {
      ...bind(real),
      renew: (...args) => (storeDown ? Promise.reject(new Error('Lost connection')) : real.renew(...args)),
    };
    const a = runtime({ leases: flaky });
    await a.leases.acquire(ref);
    a.setClock(TTL_MS - HEARTBEAT_MS);
    await a.leases.heartbeat();
    const waiting = a.leases.whenHeld(ref);
    const aborted = new AbortController();
    const abandoned = a.leases.whenHeld(ref, aborted.signal);

    // B takes the expired lease over; then A's heartbeat gets through.
    const b = runtime({ holder: elsewhere, start: TTL_MS });
    expect((await b.leases.acquire(ref)).acquired).toBe(true);
    aborted.abort();
    storeDown = false;
    a.setClock(TTL_MS + 1);
    await a.leases.heartbeat();

    expect(await abandoned).toBe(false);
    expect(await waiting).toBe(false);
    expect(a.changes.map(({ change }) => change.kind)).toEqual(['at-risk', 'lost']);
    expect(a.leases.held).toBe(0);
    expect(await a.leases.whenHeld(ref)).toBe(false);
  });

  it('keeps the lease of an ended execution until the store has recorded the end', async () => {
    // Arrange: the end cannot be written at first (the store is out of reach).
    const ref = newRef();
    const real = leaseStoreOf(store);
    let storeDown = true;
    const flaky: LeaseStore = {
      ...bind(real),
      end: (...args) => (storeDown ? Promise.reject(new Error('Lost connection')) : real.end(...args)),
    };
    const a = runtime({ leases: flaky });
    const b = runtime({ holder: elsewhere });
    await a.leases.acquire(ref);

    // Act + Assert: the end fails; the heartbeat renews the lease, so B never takes it over.
    await expect(a.leases.finish(ref, 'ended')).rejects.toThrow('Lost connection');
    a.setClock(HEARTBEAT_MS);
    await a.leases.heartbeat();
    b.setClock(TTL_MS + 1);
    expect(await b.leases.acquire(ref)).toEqual(
      expect.objectContaining({ acquired: false, standing: 'held' }),
    );

    storeDown = false;
    a.setClock(2 * HEARTBEAT_MS);
    await a.leases.heartbeat();
    expect(await b.leases.acquire(ref)).toEqual(
      expect.objectContaining({ acquired: false, standing: 'ended' }),
    );
    expect((await real.get(ref))?.endedAt).toEqual(at(2 * HEARTBEAT_MS));
  });

  it('refuses a heartbeat too slow for its lease', () => {
    expect(
      () => new ExecutionLeases({ store: leaseStoreOf(store), ttlMs: 10_000, heartbeatMs: 6_000 }),
    ).toThrow('A lease of 10000 ms needs a heartbeat of more than 0 ms and at most half of it, got 6000 ms.');
  });
});

/** The store's methods bound to it, to build a store that fails one of them. */
function bind(store: LeaseStore): LeaseStore {
  return {
    create: store.create.bind(store),
    get: store.get.bind(store),
    takeOver: store.takeOver.bind(store),
    renew: store.renew.bind(store),
    end: store.end.bind(store),
    release: store.release.bind(store),
    prune: store.prune.bind(store),
  };
}
