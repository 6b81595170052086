/** A small fixed-memory histogram of wait times, for p50/p95/p99 of pool waits in benchmarks. */

/** Summary of recorded waits, in milliseconds. Percentiles are accurate to about 2%. */
export interface WaitStats {
  /** Waits recorded. */
  readonly count: number;
  /** Mean wait (exact). */
  readonly meanMs: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly p99Ms: number;
  /** Longest wait (exact). */
  readonly maxMs: number;
}

/** Bucket `i` holds waits up to `GROWTH^i - 1` ms: buckets grow by 2%, from sub-millisecond up. */
const GROWTH = 1.02;
/** 1,200 buckets reach 1.02^1200 ms, about 2 × 10^10 ms: far beyond any wait. */
const BUCKETS = 1_200;
const LOG_GROWTH = Math.log(GROWTH);

/**
 * Records durations in log-spaced buckets (2% wide), so memory stays constant however many waits
 * are recorded; count, mean and max are exact.
 */
export class WaitHistogram {
  readonly #buckets = new Uint32Array(BUCKETS);
  #count = 0;
  #sumMs = 0;
  #maxMs = 0;

  /** Records one wait of `ms` milliseconds (negative values count as 0). */
  record(ms: number): void {
    const value = Math.max(0, ms);
    const index = Math.min(BUCKETS - 1, Math.ceil(Math.log1p(value) / LOG_GROWTH));
    this.#buckets[index]! += 1;
    this.#count += 1;
    this.#sumMs += value;
    this.#maxMs = Math.max(this.#maxMs, value);
  }

  /** The `q`-quantile (0 < q ≤ 1) of the recorded waits, in ms; 0 when nothing was recorded. */
  quantile(q: number): number {
    if (this.#count === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.#count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.#buckets[i]!;
      if (seen >= rank) return Math.min(this.#maxMs, GROWTH ** i - 1);
    }
    return this.#maxMs;
  }

  /** Count, mean, p50, p95, p99 and max of the recorded waits. */
  snapshot(): WaitStats {
    return {
      count: this.#count,
      meanMs: this.#count === 0 ? 0 : this.#sumMs / this.#count,
      p50Ms: this.quantile(0.5),
      p95Ms: this.quantile(0.95),
      p99Ms: this.quantile(0.99),
      maxMs: this.#maxMs,
    };
  }

  /** Forgets every recorded wait. */
  reset(): void {
    this.#buckets.fill(0);
    this.#count = 0;
    this.#sumMs = 0;
    this.#maxMs = 0;
  }
}
