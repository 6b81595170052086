import { describe, expect, it } from 'vitest';
import { MAX_WAKE_WAIT_MS, wakeAt } from '../../../shared/planner/wake.ts';

const NOW = new Date('2026-03-10T08:15:00.000Z');
const at = (ms: number) => new Date(NOW.getTime() + ms);
/** A daily job's next tick: far after any requeue delay. */
const NEXT_DAILY_TICK = new Date('2026-03-11T00:00:00.000Z');

describe('wakeAt', () => {
  it('wakes at the first delayed run’s notBefore when no tick comes first', () => {
    // Arrange: a run requeued 10 s ago with a 20 s delay
    const delayedUntil = at(10_000);

    // Act
    const wake = wakeAt({ now: NOW, delayedUntil, nextTick: NEXT_DAILY_TICK });

    // Assert
    expect(wake).toEqual(new Date('2026-03-10T08:15:10.000Z'));
  });

  it('does not wake when nothing is delayed (or something live looks first: no delayedUntil)', () => {
    expect(wakeAt({ now: NOW, delayedUntil: undefined, nextTick: NEXT_DAILY_TICK })).toBeUndefined();
  });

  it('leaves the run to the next tick when the tick comes at or before its delay ends (±1 ms)', () => {
    const tick = at(30_000);
    expect(wakeAt({ now: NOW, delayedUntil: at(30_000), nextTick: tick })).toBeUndefined();
    expect(wakeAt({ now: NOW, delayedUntil: at(30_001), nextTick: tick })).toBeUndefined();
    expect(wakeAt({ now: NOW, delayedUntil: at(29_999), nextTick: tick })).toEqual(at(29_999));
  });

  it('wakes for a job whose schedule has no next tick', () => {
    expect(wakeAt({ now: NOW, delayedUntil: at(5_000), nextTick: undefined })).toEqual(at(5_000));
  });

  it('cuts a wait longer than the bound to the bound (asked again then)', () => {
    expect(MAX_WAKE_WAIT_MS).toBe(3_600_000);
    expect(wakeAt({ now: NOW, delayedUntil: at(MAX_WAKE_WAIT_MS + 1), nextTick: undefined })).toEqual(
      at(MAX_WAKE_WAIT_MS),
    );
    expect(
      wakeAt({ now: NOW, delayedUntil: at(90_000), nextTick: NEXT_DAILY_TICK, maxWaitMs: 60_000 }),
    ).toEqual(at(60_000));
  });

  it('never wakes before now (a store clock ahead of this one)', () => {
    expect(wakeAt({ now: NOW, delayedUntil: at(-250), nextTick: NEXT_DAILY_TICK })).toEqual(NOW);
  });
});
