import { describe, expect, it } from 'vitest';
import { compileSchedule } from '../../../shared/schedule/index.ts';
import {
  describeIntervals,
  mergeIntervals,
  overlappingIntervals,
  shortInstant,
} from '../../../shared/schedule/overlap.ts';

const at = (iso: string) => new Date(iso);
const hourly = compileSchedule('0 * * * *', 'UTC');
const berlinDaily = compileSchedule('0 0 * * *', 'Europe/Berlin');
/** The Berlin day that contains `instant`. */
function berlinDay(instant: string) {
  const [day] = overlappingIntervals(berlinDaily, {
    start: at(instant),
    end: new Date(at(instant).getTime() + 1),
  });
  return day!;
}

describe('overlapping intervals', () => {
  it.each([
    ['2026-03-29', 23, '2026-03-28T23:00:00.000Z', '2026-03-29T22:00:00.000Z'],
    ['2026-03-30', 24, '2026-03-29T22:00:00.000Z', '2026-03-30T22:00:00.000Z'],
    ['2026-10-25', 25, '2026-10-24T22:00:00.000Z', '2026-10-25T23:00:00.000Z'],
  ] as const)('a Berlin day %s overlaps %i hourly UTC intervals', (day, hours, start, end) => {
    // Arrange
    const interval = berlinDay(`${day}T12:00:00+02:00`);

    // Act
    const overlapping = [...overlappingIntervals(hourly, interval)];

    // Assert
    expect(interval).toEqual({ start: at(start), end: at(end) });
    expect(overlapping).toHaveLength(hours);
    expect(overlapping[0]?.start).toEqual(at(start));
    expect(overlapping[overlapping.length - 1]?.end).toEqual(at(end));
  });

  it('counts an upstream interval that shares one millisecond, and not one that only touches the range', () => {
    const range = { start: at('2026-05-01T10:00:00.000Z'), end: at('2026-05-01T11:00:00.000Z') };
    expect([...overlappingIntervals(hourly, range)]).toEqual([range]);
    const inside = { start: at('2026-05-01T10:59:59.999Z'), end: at('2026-05-01T11:00:00.001Z') };
    expect([...overlappingIntervals(hourly, inside)].map((interval) => interval.start)).toEqual([
      at('2026-05-01T10:00:00.000Z'),
      at('2026-05-01T11:00:00.000Z'),
    ]);
    expect([...overlappingIntervals(hourly, { start: range.end, end: range.end })]).toEqual([]);
  });

  it('a Berlin week across the spring change overlaps 7 Berlin days, one of 23 hours', () => {
    const weekly = compileSchedule('0 0 * * 1', 'Europe/Berlin');
    const [week] = overlappingIntervals(weekly, {
      start: at('2026-03-25T12:00:00Z'),
      end: at('2026-03-25T12:00:00.001Z'),
    });
    const days = [...overlappingIntervals(berlinDaily, week!)];
    expect(week).toEqual({ start: at('2026-03-22T23:00:00Z'), end: at('2026-03-29T22:00:00Z') });
    expect(days.map((day) => (day.end.getTime() - day.start.getTime()) / 3_600_000)).toEqual([
      24, 24, 24, 24, 24, 24, 23,
    ]);
  });

  it('a New York day overlaps the two Tokyo days it straddles', () => {
    const newYork = compileSchedule('0 0 * * *', 'America/New_York');
    const tokyo = compileSchedule('0 0 * * *', 'Asia/Tokyo');
    const [day] = overlappingIntervals(newYork, {
      start: at('2026-06-10T12:00:00Z'),
      end: at('2026-06-10T12:00:00.001Z'),
    });
    expect([...overlappingIntervals(tokyo, day!)].map((interval) => interval.start.toISOString())).toEqual([
      '2026-06-09T15:00:00.000Z',
      '2026-06-10T15:00:00.000Z',
    ]);
  });
});

describe('merged intervals', () => {
  it('merges adjacent intervals and starts a new range at a gap', () => {
    const hour = (h: number) => ({
      start: at(`2026-05-01T0${h}:00:00Z`),
      end: at(`2026-05-01T0${h + 1}:00:00Z`),
    });
    const merged = mergeIntervals([hour(1), hour(2), hour(3), hour(5)]);
    expect(merged).toEqual([
      { start: hour(1).start, end: hour(3).end, count: 3 },
      { start: hour(5).start, end: hour(5).end, count: 1 },
    ]);
    expect(describeIntervals([hour(1), hour(2), hour(3), hour(5)])).toBe(
      '2026-05-01T01:00Z–2026-05-01T04:00Z, 2026-05-01T05:00Z–2026-05-01T06:00Z',
    );
    expect(describeIntervals([hour(1), hour(3), hour(5)], 2)).toBe(
      '2026-05-01T01:00Z–2026-05-01T02:00Z, 2026-05-01T03:00Z–2026-05-01T04:00Z … and 1 more range',
    );
  });

  it('shows seconds and milliseconds only when they are not zero', () => {
    expect(shortInstant(at('2026-05-01T01:00:00Z'))).toBe('2026-05-01T01:00Z');
    expect(shortInstant(at('2026-05-01T01:00:30Z'))).toBe('2026-05-01T01:00:30Z');
    expect(shortInstant(at('2026-05-01T01:00:00.250Z'))).toBe('2026-05-01T01:00:00.250Z');
  });
});
