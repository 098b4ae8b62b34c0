/**
 * A streaming latency histogram whose old samples fade with a half-life.
 *
 * Buckets are log-spaced (8 per doubling, about 9% wide) from 1/16 ms to about 37 hours, so
 * memory is fixed (248 numbers) and a quantile is within a few percent whatever the scale.
 *
 * Decay uses "forward decay" (Cormode et al., 2009): instead of shrinking every bucket as time
 * passes, a new sample is added with weight 2^((now - landmark) / halfLife). Relative weights are
 * then exactly those of exponential decay, recording stays O(1), and a quantile does not depend
 * on when it is asked. When weights grow large, every bucket is rescaled once and the landmark
 * moves (amortised O(1)).
 *
 * Imports: nothing.
 */

const bucketsPerDoubling = 8;
/** log2 of the lowest bucket's lower edge: 2^-4 ms. */
const lowestLog2 = -4;
/** log2 of the highest bucket's upper edge: 2^27 ms, about 37 hours. */
const highestLog2 = 27;
const bucketCount = (highestLog2 - lowestLog2) * bucketsPerDoubling;
/** Rescale once the newest weight passes 2^rescaleAtLog2 (far from float overflow at 2^1023). */
const rescaleAtLog2 = 256;

function bucketOf(valueMs: number): number {
  if (!(valueMs > 0)) return 0;
  const index = Math.floor((Math.log2(valueMs) - lowestLog2) * bucketsPerDoubling);
  return index < 0 ? 0 : index >= bucketCount ? bucketCount - 1 : index;
}

export class LatencyHistogram {
  private readonly weights = new Float64Array(bucketCount);
  /** Smallest and largest sample seen in each bucket, so tight clusters come back exactly. */
  private readonly lowest = new Float64Array(bucketCount).fill(Number.POSITIVE_INFINITY);
  private readonly highest = new Float64Array(bucketCount);
  private totalWeight = 0;
  private landmark: number | undefined;
  private readonly halfLifeMs: number;
  /** Raw samples recorded, never decayed (for "enough samples yet?"). */
  count = 0;
  /** Quantile answers since the last record; plan() asks for the same few quantiles often. */
  private cachedQ: number[] = [];
  private cachedValue: number[] = [];

  /** @param halfLifeMs after this long a sample weighs half as much as a new one, ms. */
  constructor(halfLifeMs: number) {
    if (!(halfLifeMs > 0) || !Number.isFinite(halfLifeMs)) throw new RangeError('halfLifeMs must be a finite number above 0');
    this.halfLifeMs = halfLifeMs;
  }

  /** Adds one sample taken at `now` (ms since epoch, or any monotonic clock). */
  record(valueMs: number, now: number): void {
    if (!Number.isFinite(valueMs) || valueMs < 0) return;
    if (this.landmark === undefined) this.landmark = now;
    let exponent = (now - this.landmark) / this.halfLifeMs;
    if (exponent > rescaleAtLog2) {
      this.rescale(now);
      exponent = 0;
    }
    // A sample older than the landmark (clock went back) just weighs less; no harm done.
    const weight = 2 ** exponent;
    const index = bucketOf(valueMs);
    this.weights[index] += weight;
    if (valueMs < this.lowest[index]) this.lowest[index] = valueMs;
    if (valueMs > this.highest[index]) this.highest[index] = valueMs;
    this.totalWeight += weight;
    this.count++;
    if (this.cachedQ.length > 0) {
      this.cachedQ.length = 0;
      this.cachedValue.length = 0;
    }
  }

  /** The `q` quantile (0..1) of the decayed distribution, ms; undefined when empty. */
  quantile(q: number): number | undefined {
    if (this.count === 0 || !(this.totalWeight > 0)) return undefined;
    const cached = this.cachedQ.indexOf(q);
    if (cached !== -1) return this.cachedValue[cached];
    const value = this.computeQuantile(q < 0 ? 0 : q > 1 ? 1 : q);
    if (this.cachedQ.length < 8) {
      this.cachedQ.push(q);
      this.cachedValue.push(value);
    }
    return value;
  }

  private computeQuantile(q: number): number {
    const wanted = q * this.totalWeight;
    let below = 0;
    let last = 0;
    for (let index = 0; index < bucketCount; index++) {
      const weight = this.weights[index];
      if (weight === 0) continue;
      last = index;
      if (below + weight >= wanted) {
        // Interpolate geometrically (matching the log spacing) between the smallest and largest
        // sample the bucket has seen: exact for a tight cluster, within the bucket otherwise.
        const fraction = (wanted - below) / weight;
        const low = this.lowest[index];
        const high = this.highest[index];
        return low > 0 && high > low ? low * (high / low) ** fraction : high;
      }
      below += weight;
    }
    return this.highest[last];
  }

  private rescale(now: number): void {
    const factor = 2 ** (-(now - (this.landmark as number)) / this.halfLifeMs);
    let total = 0;
    for (let index = 0; index < bucketCount; index++) {
      // Weights that underflow to 0 are samples thousands of half-lives old: gone, as they should be.
      const weight = this.weights[index] * factor;
      this.weights[index] = weight;
      if (weight === 0) {
        this.lowest[index] = Number.POSITIVE_INFINITY;
        this.highest[index] = 0;
      }
      total += weight;
    }
    this.totalWeight = total;
    this.landmark = now;
  }
}
