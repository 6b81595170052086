import { DAY_MS, HOUR_MS, SECOND_MS } from '../duration.ts';

/**
 * No UTC offset in the IANA database, local mean times included, reaches this far (the extremes are
 * about ±15:56), so a wall-clock time can only occur within this distance of the same UTC reading.
 */
export const MAX_UTC_OFFSET_MS = 18 * HOUR_MS;

/** The earliest instant a `Date` can hold (Unix milliseconds); Intl refuses anything before it. */
export const MIN_INSTANT_MS = -8.64e15;
/** The latest instant a `Date` can hold (Unix milliseconds); Intl refuses anything after it. */
export const MAX_INSTANT_MS = 8.64e15;

/**
 * Offsets are probed once per day: in the IANA database (2025) two changes that cancel each other
 * are never less than 95 hours apart (Africa/Freetown, 1939; a week since 1960), so daily probes
 * miss none, and bisection finds each change to the second.
 */
const PROBE_STEP_MS = DAY_MS;
/** Probed offsets are kept per chunk of this many days, so each day of a long walk costs a map lookup. */
const CHUNK_MS = 16 * DAY_MS;

/** A stretch of time with one UTC offset: `[start, end)`, local wall time = instant + `offset`. */
export interface OffsetSegment {
  readonly start: number;
  readonly end: number;
  /** Milliseconds added to UTC to get the wall clock. */
  readonly offset: number;
}

interface Chunk {
  /** Offset at the chunk's first instant. */
  readonly offset: number;
  /** Instants (ascending) from which `offsets[i]` applies, inside the chunk. */
  readonly changes: readonly number[];
  readonly offsets: readonly number[];
}

/**
 * The UTC offsets of one IANA timezone, learnt from Intl and cached. Intl is the only source of
 * timezone rules in Node, and it is slow (several microseconds a call), so it is asked about one
 * instant a day and the changes in between are found by bisection.
 */
export class ZoneOffsets {
  readonly #format: Intl.DateTimeFormat;
  readonly #chunks = new Map<number, Chunk>();

  /** @throws RangeError when Intl does not know the timezone. */
  constructor(timezone: string) {
    this.#format = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      hourCycle: 'h23',
      era: 'short',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
  }

  /**
   * The offsets in force during `[from, to)`, oldest first; the first and last segments are cut
   * to the range. Adjacent segments always have different offsets.
   */
  segments(from: number, to: number): OffsetSegment[] {
    const result: OffsetSegment[] = [];
    let index = Math.floor(from / CHUNK_MS);
    let chunk = this.#chunk(index);
    let offset = chunk.offset;
    let start = from;
    let i = 0;
    while (i < chunk.changes.length && chunk.changes[i]! <= from) offset = chunk.offsets[i++]!;
    for (;;) {
      for (; i < chunk.changes.length && chunk.changes[i]! < to; i++) {
        result.push({ start, end: chunk.changes[i]!, offset });
        start = chunk.changes[i]!;
        offset = chunk.offsets[i]!;
      }
      index++;
      if (index * CHUNK_MS >= to) break;
      chunk = this.#chunk(index);
      i = 0;
    }
    result.push({ start, end: to, offset });
    return result;
  }

  #chunk(index: number): Chunk {
    const cached = this.#chunks.get(index);
    if (cached) return cached;
    const start = index * CHUNK_MS;
    const changes: number[] = [];
    const offsets: number[] = [];
    const first = this.#probe(start);
    let previousAt = start;
    let previous = first;
    for (let at = start + PROBE_STEP_MS; at <= start + CHUNK_MS; at += PROBE_STEP_MS) {
      const offset = this.#probe(at);
      if (offset !== previous) this.#bisect(previousAt, previous, at, offset, changes, offsets);
      previousAt = at;
      previous = offset;
    }
    const chunk = { offset: first, changes, offsets };
    this.#chunks.set(index, chunk);
    return chunk;
  }

  /** Records every change in `(low, high]`, given the (different) offsets at both ends. */
  #bisect(
    low: number,
    lowOffset: number,
    high: number,
    highOffset: number,
    changes: number[],
    offsets: number[],
  ) {
    let from = low;
    let fromOffset = lowOffset;
    while (fromOffset !== highOffset) {
      let lo = from;
      let hi = high;
      let hiOffset = highOffset;
      while (hi - lo > SECOND_MS) {
        const mid = lo + Math.floor((hi - lo) / (2 * SECOND_MS)) * SECOND_MS;
        const offset = this.#probe(mid);
        if (offset === fromOffset) lo = mid;
        else [hi, hiOffset] = [mid, offset];
      }
      // Several changes inside one probe step (rare) are found one after another.
      changes.push(hi);
      offsets.push(hiOffset);
      from = hi;
      fromOffset = hiOffset;
    }
  }

  /**
   * The offset at a whole-second instant, clamped to where both the instant and its wall time fit in a
   * Date (no zone changes its offset near either end of that range): at the very ends the wall time
   * would not fit, read as NaN, and NaN never equals an offset, so bisection would never end.
   */
  #probe(instant: number): number {
    const at = Math.min(
      Math.max(instant, MIN_INSTANT_MS + MAX_UTC_OFFSET_MS),
      MAX_INSTANT_MS - MAX_UTC_OFFSET_MS,
    );
    const fields: Record<string, string> = {};
    for (const part of this.#format.formatToParts(at)) fields[part.type] = part.value;
    const year = Number(fields.year);
    const wall = new Date(0);
    // setUTCFullYear, unlike Date.UTC, does not read years 0–99 as 1900–1999.
    wall.setUTCFullYear(fields.era === 'BC' ? 1 - year : year, Number(fields.month) - 1, Number(fields.day));
    wall.setUTCHours(Number(fields.hour), Number(fields.minute), Number(fields.second), 0);
    return wall.getTime() - at;
  }
}

const zones = new Map<string, ZoneOffsets>();

/**
 * The shared offset cache of a timezone, or undefined when Intl does not know it. Shared so that
 * every schedule in one zone probes Intl only once per day of time it looks at; unknown names are
 * not remembered, so bad input cannot grow the map.
 */
export function zoneOffsets(timezone: string): ZoneOffsets | undefined {
  // Intl reads a missing timeZone as the host's zone: never let that through as a valid name.
  if (typeof timezone !== 'string' || timezone === '') return undefined;
  let zone = zones.get(timezone);
  if (zone === undefined) {
    try {
      zone = new ZoneOffsets(timezone);
    } catch {
      return undefined;
    }
    zones.set(timezone, zone);
  }
  return zone;
}

/**
 * Whether `timezone` is an IANA timezone name this runtime knows (e.g. `'Europe/London'`, `'UTC'`).
 * Intl's own aliases, such as `'US/Eastern'`, are accepted too.
 */
export function isValidTimezone(timezone: string): boolean {
  return zoneOffsets(timezone) !== undefined;
}
