import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TimeoutError } from '../../../shared/errors.ts';
import { ResourceRegistry } from '../../../shared/resources/lending.ts';
import type { Resource } from '../../../shared/resources/types.ts';

interface Counts {
  creates: number;
  acquires: number;
  releases: number;
  destroys: number;
  /** Values lent and not yet given back. */
  out: number;
}

interface FakeOptions {
  /** Waits this long in `create`. @default 0 */
  readonly createDelayMs?: number;
  /** `create` throws on its first call. @default false */
  readonly failFirstCreate?: boolean;
  /** `acquire` throws. @default false */
  readonly failAcquire?: boolean;
  /** `acquire` ignores its signal and waits for `grant()`. @default false */
  readonly manualAcquire?: boolean;
  /** `destroy` throws. @default false */
  readonly failDestroy?: boolean;
}

/** A resource that counts what is done to it; its values are `<name>#<n>`. */
function fakeResource(name: string, options: FakeOptions = {}) {
  const counts: Counts = { creates: 0, acquires: 0, releases: 0, destroys: 0, out: 0 };
  const pending: (() => void)[] = [];
  const resource: Resource<string, { readonly id: number }> = {
    kind: 'fake',
    async create() {
      counts.creates += 1;
      if (options.failFirstCreate && counts.creates === 1) throw new Error(`${name}: cannot connect`);
      await new Promise((resolve) => setTimeout(resolve, options.createDelayMs ?? 0));
      return { id: counts.creates };
    },
    async acquire() {
      counts.acquires += 1;
      if (options.failAcquire) throw new Error(`${name}: exhausted`);
      if (options.manualAcquire) await new Promise<void>((resolve) => pending.push(resolve));
      counts.out += 1;
      return `${name}#${counts.acquires}`;
    },
    async release() {
      counts.releases += 1;
      counts.out -= 1;
    },
    async destroy() {
      counts.destroys += 1;
      if (options.failDestroy) throw new Error(`${name}: already closed`);
    },
  };
  return { resource, counts, grant: () => pending.shift()?.() };
}

const never = new AbortController().signal;
const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

describe('ResourceRegistry', () => {
  let registry: ResourceRegistry;
  beforeEach(() => {
    registry = new ResourceRegistry();
  });
  afterEach(async () => {
    await registry.destroyAll();
  });

  it('creates each handle once, even for concurrent first borrows', async () => {
    const db = fakeResource('db', { createDelayMs: 10 });
    const resources = { db: db.resource };
    const local = new ResourceRegistry();

    const [a, b] = await Promise.all([
      local.borrow('job', resources, never),
      local.borrow('job', resources, never),
    ]);

    expect(db.counts.creates).toBe(1);
    expect(db.counts.acquires).toBe(2);
    expect([a.values.db, b.values.db]).toEqual(['db#1', 'db#2']);
    await a.release();
    await b.release();
    await local.destroyAll();
    expect(db.counts).toEqual({ creates: 1, acquires: 2, releases: 2, destroys: 1, out: 0 });
  });

  it('creates a handle per job for the same resource', async () => {
    const db = fakeResource('db');
    const local = new ResourceRegistry();

    await (await local.borrow('job_a', { db: db.resource }, never)).release();
    await (await local.borrow('job_b', { db: db.resource }, never)).release();
    await local.destroyAll();

    expect(db.counts).toMatchObject({ creates: 2, destroys: 2 });
  });

  it('lends every resource by name and gives each back once', async () => {
    const db = fakeResource('db');
    const cache = fakeResource('cache');

    const loan = await registry.borrow('job', { db: db.resource, cache: cache.resource }, never);
    await loan.release();
    await loan.release();

    expect(loan.values).toEqual({ cache: 'cache#1', db: 'db#1' });
    expect(db.counts).toMatchObject({ acquires: 1, releases: 1, out: 0 });
    expect(cache.counts).toMatchObject({ acquires: 1, releases: 1, out: 0 });
  });

  it('gives the first resource back when acquiring the second fails', async () => {
    const first = fakeResource('a_first');
    const second = fakeResource('b_second', { failAcquire: true });

    const borrowing = registry.borrow('job', { a: first.resource, b: second.resource }, never);

    await expect(borrowing).rejects.toThrow('b_second: exhausted');
    expect(first.counts).toMatchObject({ acquires: 1, releases: 1, out: 0 });
  });

  it('gives resources back when the handler throws', async () => {
    const db = fakeResource('db');

    const running = registry.withResources('job', { db: db.resource }, never, async ({ db: value }) => {
      expect(value).toBe('db#1');
      throw new Error('handler failed');
    });

    await expect(running).rejects.toThrow('handler failed');
    expect(db.counts).toMatchObject({ acquires: 1, releases: 1, out: 0 });
  });

  it('returns what the handler returns and gives resources back', async () => {
    const db = fakeResource('db');

    const result = await registry.withResources(
      'job',
      { db: db.resource },
      never,
      ({ db: value }) => `used ${value}`,
    );

    expect(result).toBe('used db#1');
    expect(db.counts.out).toBe(0);
  });

  it('gives resources back on timeout although the handler never settles, and ignores its late result', async () => {
    const db = fakeResource('db');
    const controller = new AbortController();
    let settleLate: (err: Error) => void = () => {};

    const running = registry.withResources(
      'job',
      { db: db.resource },
      controller.signal,
      () => new Promise<never>((_resolve, reject) => (settleLate = reject)),
    );
    await tick();
    controller.abort(new TimeoutError('handler ran longer than 5m'));

    await expect(running).rejects.toThrow('handler ran longer than 5m');
    expect(db.counts).toMatchObject({ acquires: 1, releases: 1, out: 0 });
    settleLate(new Error('late failure after the timeout'));
    await tick();
    expect(db.counts).toMatchObject({ acquires: 1, releases: 1, out: 0 });
  });

  it('gives up waiting for a resource when the signal aborts, and gives back the value that arrives later', async () => {
    const db = fakeResource('db', { manualAcquire: true });
    const controller = new AbortController();

    const borrowing = registry.borrow('job', { db: db.resource }, controller.signal);
    await tick();
    controller.abort(new TimeoutError('waited too long for db'));

    await expect(borrowing).rejects.toThrow('waited too long for db');
    db.grant();
    await tick();
    expect(db.counts).toMatchObject({ acquires: 1, releases: 1, out: 0 });
  });

  it('borrows nothing with a signal that has already aborted', async () => {
    const db = fakeResource('db');

    const borrowing = registry.borrow(
      'job',
      { db: db.resource },
      AbortSignal.abort(new TimeoutError('too late')),
    );

    await expect(borrowing).rejects.toThrow('too late');
    expect(db.counts).toMatchObject({ creates: 0, acquires: 0 });
  });

  it('tries again to create a handle whose creation failed', async () => {
    const db = fakeResource('db', { failFirstCreate: true });

    await expect(registry.borrow('job', { db: db.resource }, never)).rejects.toThrow('db: cannot connect');
    const loan = await registry.borrow('job', { db: db.resource }, never);
    await loan.release();

    expect(db.counts).toMatchObject({ creates: 2, acquires: 1, releases: 1 });
  });

  it('refuses a different resource under a name that already has a handle', async () => {
    await (await registry.borrow('job', { db: fakeResource('db').resource }, never)).release();

    const borrowing = registry.borrow('job', { db: fakeResource('other').resource }, never);

    await expect(borrowing).rejects.toThrow(
      'Resource "db" of job "job" was redefined: a job\'s resources are created once per process',
    );
  });

  it('destroys every handle on shutdown, even when one fails, and lends nothing afterwards', async () => {
    const local = new ResourceRegistry();
    const db = fakeResource('db', { failDestroy: true });
    const cache = fakeResource('cache');
    await (await local.borrow('job', { db: db.resource, cache: cache.resource }, never)).release();
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);

    await local.destroyAll();

    expect(stderr).toHaveBeenCalledWith(
      expect.stringMatching(
        / WARN {2}Could not destroy a resource resource=job\/db kind=fake error="db: already closed"\n$/,
      ),
    );
    stderr.mockRestore();
    expect(db.counts.destroys).toBe(1);
    expect(cache.counts.destroys).toBe(1);
    await expect(local.borrow('job', { db: db.resource }, never)).rejects.toThrow(
      'Cannot borrow resource "db" of job "job": the resources were destroyed',
    );
  });
});
