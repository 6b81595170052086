import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StoreError } from '../../../shared/errors.ts';
import { type LeaseHolder, type LeaseStore, leaseStoreOf } from '../../../shared/store/leases.ts';
import type { StateStore } from '../../../shared/store/types.ts';

/** A migrated-or-not store on a fresh database, and how to close and remove it. */
export type LeaseStoreFactory = () => Promise<{ store: StateStore; cleanup(): Promise<void> }>;

const T0 = new Date('2026-05-01T10:00:00.000Z');
const TTL_MS = 30_000;
const later = (ms: number) => new Date(T0.getTime() + ms);
const holderA: LeaseHolder = {
  host: 'host-1 / boot 1234abcd / pidns 4026531836',
  pid: 4242,
  token: 'a'.repeat(24),
};
const holderB: LeaseHolder = { host: 'host-2', pid: 77, token: 'b'.repeat(24) };

/**
 * The lease table's conformance (migration 4, `shared/store/leases.ts`), against one real database
 * per test file. Tests keep apart by execution name.
 */
export function describeLeaseStore(name: string, factory: LeaseStoreFactory): void {
  describe(`execution leases on ${name}`, () => {
    let opened: Awaited<ReturnType<LeaseStoreFactory>> | undefined;
    let leases: LeaseStore;
    let sequence = 0;
    const newRef = () => ({ jobId: 'lease_job', executionName: `lease_job-s20260501-${++sequence}` });

    beforeAll(async () => {
      opened = await factory();
      await opened.store.migrate();
      leases = leaseStoreOf(opened.store);
    });

    afterAll(async () => {
      await opened?.cleanup();
    });

    it('creates one lease per execution and reads it back as written', async () => {
      const ref = newRef();

      expect(await leases.create(ref, holderA, T0, TTL_MS)).toBe(true);
      expect(await leases.create(ref, holderB, later(1), TTL_MS)).toBe(false);

      expect(await leases.get(ref)).toEqual({
        ...ref,
        holder: holderA,
        acquiredAt: T0,
        renewedAt: T0,
        expiresAt: later(TTL_MS),
        endedAt: null,
      });
      expect(await leases.get(newRef())).toBeUndefined();
    });

    it('takes a lease over only as it was read: a renewal in between keeps it with its holder', async () => {
      const ref = newRef();
      await leases.create(ref, holderA, T0, TTL_MS);
      const stale = (await leases.get(ref))!;
      await leases.renew(holderA, later(10_000), TTL_MS);

      expect(await leases.takeOver(stale, holderB, later(40_000), TTL_MS)).toBe(false);
      expect((await leases.get(ref))?.holder).toEqual(holderA);

      const current = (await leases.get(ref))!;
      expect(await leases.takeOver(current, holderB, later(41_000), TTL_MS)).toBe(true);
      expect(await leases.get(ref)).toEqual({
        ...ref,
        holder: holderB,
        acquiredAt: later(41_000),
        renewedAt: later(41_000),
        expiresAt: later(41_000 + TTL_MS),
        endedAt: null,
      });
      // The old read is stale now too: one takeover per read.
      expect(await leases.takeOver(current, holderA, later(42_000), TTL_MS)).toBe(false);
    });

    it('renews every unended lease of one holder and says which it still holds', async () => {
      const mine = [newRef(), newRef()];
      const ended = newRef();
      const theirs = newRef();
      for (const ref of [...mine, ended]) await leases.create(ref, holderA, T0, TTL_MS);
      await leases.create(theirs, holderB, T0, TTL_MS);
      await leases.end(ended, holderA, later(1_000));

      const held = await leases.renew(holderA, later(5_000), TTL_MS);

      expect(held).toEqual(expect.arrayContaining(mine));
      expect(held).not.toContainEqual(ended);
      expect(held).not.toContainEqual(theirs);
      expect((await leases.get(mine[0]!))?.expiresAt).toEqual(later(5_000 + TTL_MS));
      expect((await leases.get(ended))?.expiresAt).toEqual(later(TTL_MS));
      expect((await leases.get(theirs))?.expiresAt).toEqual(later(TTL_MS));
    });

    it('ends a lease for good: nobody takes it over, renews or releases it', async () => {
      const ref = newRef();
      await leases.create(ref, holderA, T0, TTL_MS);

      expect(await leases.end(ref, holderB, later(1))).toBe(false);
      expect(await leases.end(ref, holderA, later(2_000))).toBe(true);
      expect(await leases.end(ref, holderA, later(3_000))).toBe(false);

      const lease = (await leases.get(ref))!;
      expect(lease.endedAt).toEqual(later(2_000));
      expect(await leases.takeOver(lease, holderB, later(60_000), TTL_MS)).toBe(false);
      expect(await leases.release(ref, holderA)).toBe(false);
      expect(await leases.create(ref, holderB, later(60_000), TTL_MS)).toBe(false);
      expect((await leases.get(ref))?.holder).toEqual(holderA);
    });

    it('releases only its own unended lease, which anyone may then create again', async () => {
      const ref = newRef();
      await leases.create(ref, holderA, T0, TTL_MS);

      expect(await leases.release(ref, holderB)).toBe(false);
      expect(await leases.release(ref, holderA)).toBe(true);
      expect(await leases.get(ref)).toBeUndefined();
      expect(await leases.create(ref, holderB, later(1), TTL_MS)).toBe(true);
    });

    it('prunes leases that expired before a time, ended or not', async () => {
      const old = newRef();
      const oldEnded = newRef();
      const fresh = newRef();
      await leases.create(old, holderA, T0, TTL_MS);
      await leases.create(oldEnded, holderA, T0, TTL_MS);
      await leases.end(oldEnded, holderA, later(1));
      await leases.create(fresh, holderA, later(TTL_MS), TTL_MS);

      const pruned = await leases.prune(later(TTL_MS + 1));

      expect(pruned).toBeGreaterThanOrEqual(2);
      expect(await leases.get(old)).toBeUndefined();
      expect(await leases.get(oldEnded)).toBeUndefined();
      expect(await leases.get(fresh)).toBeDefined();
    });

    it('refuses names and holders the table cannot hold, with what to fix', async () => {
      await expect(leases.create({ jobId: '', executionName: 'x' }, holderA, T0, TTL_MS)).rejects.toThrow(
        new StoreError('Job id "" must have 1 to 64 characters.'),
      );
      await expect(
        leases.create({ jobId: 'job', executionName: 'x'.repeat(81) }, holderA, T0, TTL_MS),
      ).rejects.toThrow(`Execution name "${'x'.repeat(81)}" must have 1 to 80 characters.`);
      await expect(leases.create(newRef(), { ...holderA, token: '' }, T0, TTL_MS)).rejects.toThrow(
        "A lease holder's token must have 1 to 64 characters.",
      );
      await expect(leases.create(newRef(), { ...holderA, pid: -1 }, T0, TTL_MS)).rejects.toThrow(
        "A lease holder's pid must be a whole number from 0, got -1.",
      );
      await expect(leases.create(newRef(), holderA, T0, 0)).rejects.toThrow(
        'A lease must last more than 0 ms, got 0.',
      );
    });
  });
}
