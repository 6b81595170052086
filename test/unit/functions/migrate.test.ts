import { describe, expect, it } from 'vitest';
import { CONNECT_RETRY_DELAYS_MS, migrateWhenReachable } from '../../../functions/migrate.ts';
import { StoreError, StoreUnavailableError } from '../../../shared/errors.ts';

/** A store whose `migrate()` fails with each of `failures` in turn, then succeeds. */
function storeFailing(...failures: Error[]) {
  let calls = 0;
  return {
    get calls() {
      return calls;
    },
    async migrate() {
      calls++;
      const failure = failures.shift();
      if (failure) throw failure;
      return { applied: [1, 2] };
    },
  };
}

const refused = () =>
  new StoreUnavailableError('Cannot use MySQL at proxy:3306/piko: connect ECONNREFUSED 10.0.0.1:3306');
const unresolved = () =>
  new StoreError('Cannot use MySQL at proxy:3306/piko: getaddrinfo ENOTFOUND proxy', {
    cause: Object.assign(new Error('getaddrinfo ENOTFOUND proxy'), { code: 'ENOTFOUND' }),
  });

describe('migrateWhenReachable', () => {
  it('waits out a proxy that is not reachable yet, then migrates', async () => {
    const store = storeFailing(unresolved(), refused());
    const waits: number[] = [];
    const result = await migrateWhenReachable(store, CONNECT_RETRY_DELAYS_MS, async (ms) => waits.push(ms));
    expect(result).toEqual({ applied: [1, 2] });
    expect(store.calls).toBe(3);
    expect(waits).toEqual([2_000, 4_000]);
  });

  it('gives up after the last delay with an error naming the attempts and the last failure', async () => {
    const store = storeFailing(refused(), refused(), refused());
    const waits: number[] = [];
    const error = await migrateWhenReachable(store, [10, 20], async (ms) => waits.push(ms)).catch(
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect((error as Error).message).toBe(
      'Could not reach the state database after 3 attempts over 0 s: StoreUnavailableError: Cannot use MySQL at ' +
        'proxy:3306/piko: connect ECONNREFUSED 10.0.0.1:3306. Check that the RDS Proxy and its target are ' +
        'available, and retry the deploy.',
    );
    expect(waits).toEqual([10, 20]);
  });

  it('fails at once on anything but a connection error', async () => {
    const denied = new StoreError('MySQL query failed (ER_TABLEACCESS_DENIED_ERROR): CREATE command denied');
    const store = storeFailing(denied);
    const waits: number[] = [];
    await expect(
      migrateWhenReachable(store, CONNECT_RETRY_DELAYS_MS, async (ms) => waits.push(ms)),
    ).rejects.toBe(denied);
    expect(store.calls).toBe(1);
    expect(waits).toEqual([]);
  });
});
