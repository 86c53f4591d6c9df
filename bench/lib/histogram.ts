/**
 * A latency histogram with 1 % wide buckets from 1 µs to about 17 minutes: fixed memory however
 * many samples, percentiles accurate to 1 %.
 */
const BASE_MS = 0.001;
const GROWTH = 1.01;
const LOG_GROWTH = Math.log(GROWTH);
const BUCKETS = Math.ceil(Math.log(1e6 / BASE_MS) / LOG_GROWTH) + 1;

export class Histogram {
  readonly #counts = new Float64Array(BUCKETS);
  #count = 0;
  #sum = 0;
  #max = 0;

  get count(): number {
    return this.#count;
  }

  get max(): number {
    return this.#max;
  }

  get mean(): number {
    return this.#count === 0 ? 0 : this.#sum / this.#count;
  }

  record(ms: number): void {
    const index = ms <= BASE_MS ? 0 : Math.min(BUCKETS - 1, Math.floor(Math.log(ms / BASE_MS) / LOG_GROWTH) + 1);
    this.#counts[index]! += 1;
    this.#count += 1;
    this.#sum += ms;
    if (ms > this.#max) this.#max = ms;
  }

  merge(other: Histogram): void {
    for (let i = 0; i < BUCKETS; i++) this.#counts[i]! += other.#counts[i]!;
    this.#count += other.#count;
    this.#sum += other.#sum;
    if (other.#max > this.#max) this.#max = other.#max;
  }

  /** The latency (ms) below which `p` percent of the samples fall; 0 without samples. */
  percentile(p: number): number {
    if (this.#count === 0) return 0;
    const rank = Math.max(1, Math.ceil((p / 100) * this.#count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.#counts[i]!;
      if (seen >= rank) {
        // The bucket's geometric middle, never above the largest sample seen.
        const upper = BASE_MS * GROWTH ** i;
        return Math.min(this.#max, i === 0 ? BASE_MS : upper / Math.sqrt(GROWTH));
      }
    }
    return this.#max;
  }
}
