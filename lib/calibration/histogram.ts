/**
 * Streaming statistics of one tensor and the three threshold (amax) algorithms: KL-divergence ("entropy", the
 * method of TensorRT's IInt8EntropyCalibrator2), min/max and percentile. Memory per tensor is fixed (one
 * histogram of `bins` float64 counts) whatever the number of batches.
 */
import { invalidArg } from '../errors';

/** Math through a module-level alias: global look-ups in hot loops are slow inside vm sandboxes (jest). */
const M = Math;

/** Number of histogram bins, as in TensorRT's entropy calibration. */
export const DEFAULT_BINS = 2048;
/** INT8 positive levels used by the KL search (values 0..127). */
export const QUANTIZED_LEVELS = 128;
const RANGE_MARGIN = 1 + 2 ** -16;

/**
 * Histogram of |x| over [0, range) with a fixed number of bins. When a batch holds a value beyond the range, the
 * range doubles (as often as needed) and adjacent bins merge pairwise: the re-binning is exact, so the result does
 * not depend on how the data was split into batches (beyond the initial range, set by the first batch).
 */
export class AbsHistogram {
  readonly bins: number;
  readonly counts: Float64Array;
  /** Upper edge of the last bin (0 until a non-zero value was seen). */
  range = 0;
  /** max |x| seen. */
  amax = 0;
  /** Elements seen (NaN excluded). */
  total = 0;
  /** NaN / infinite values skipped. */
  nonFinite = 0;

  constructor(bins = DEFAULT_BINS) {
    if (!Number.isInteger(bins) || bins < QUANTIZED_LEVELS || bins % 2 !== 0) {
      throw invalidArg(`histogram bins must be an even integer >= ${QUANTIZED_LEVELS}, got ${bins}`);
    }
    this.bins = bins;
    this.counts = new Float64Array(bins);
  }

  get binWidth(): number {
    return this.range / this.bins;
  }

  /** Adds the values of one batch. */
  add(data: ArrayLike<number>): void {
    const n = data.length;
    let m = 0;
    let bad = 0;
    for (let i = 0; i < n; i++) {
      const v = M.abs(data[i]);
      if (v > m) m = v;
      else if (!(v <= m)) bad++; // NaN
    }
    if (m === Infinity) {
      // Count infinities as non-finite; find the finite max.
      m = 0;
      bad = 0;
      for (let i = 0; i < n; i++) {
        const v = M.abs(data[i]);
        if (v === Infinity || v !== v) bad++;
        else if (v > m) m = v;
      }
    }
    this.nonFinite += bad;
    if (m > this.amax) this.amax = m;
    // The first range sits just above the first batch's max, so that no value lies on the closed upper edge
    // and doubling stays exact (a value keeps the bin it would have had in a histogram built at the final range).
    if (m > 0 && this.range === 0) this.range = m * RANGE_MARGIN;
    while (this.range > 0 && m > this.range) this.grow(); // m === range lands in the last bin (clamped)
    const counts = this.counts;
    const last = this.bins - 1;
    if (this.range === 0) {
      counts[0] += n - bad;
      this.total += n - bad;
      return;
    }
    const scale = this.bins / this.range;
    for (let i = 0; i < n; i++) {
      const v = M.abs(data[i]);
      if (!(v <= m)) continue; // NaN / Infinity
      let b = M.floor(v * scale);
      if (b > last) b = last;
      counts[b] += 1;
    }
    this.total += n - bad;
  }

  /** Doubles the range, merging bins pairwise. */
  private grow(): void {
    const c = this.counts;
    const half = this.bins / 2;
    for (let i = 0; i < half; i++) c[i] = c[2 * i] + c[2 * i + 1];
    c.fill(0, half);
    this.range *= 2;
  }

  /** Merges another histogram in (ranges are aligned by doubling the narrower one when they are power-of-two related; otherwise counts are re-binned by bin centres). */
  merge(other: AbsHistogram): void {
    if (other.bins !== this.bins) throw invalidArg('cannot merge histograms with different bin counts');
    if (other.total === 0) return;
    if (this.total === 0 || this.range === 0) {
      this.counts.set(other.counts);
      this.range = other.range;
    } else if (other.range > 0) {
      while (this.range < other.range) this.grow();
      const scale = this.bins / this.range;
      const w = other.range / other.bins;
      for (let i = 0; i < other.bins; i++) {
        if (other.counts[i] === 0) continue;
        const b = M.min(this.bins - 1, M.floor((i + 0.5) * w * scale));
        this.counts[b] += other.counts[i];
      }
    } else {
      this.counts[0] += other.counts[0];
    }
    this.total += other.total;
    this.nonFinite += other.nonFinite;
    this.amax = M.max(this.amax, other.amax);
  }
}

/**
 * KL-divergence threshold search over a histogram of |x| (`hist[i]` counts values in [i*w, (i+1)*w)), after the
 * method of TensorRT's entropy calibrator: for every candidate `i` from `levels` to the number of bins, the
 * reference distribution P is the first `i` bins with all the mass beyond folded into bin i-1; the candidate Q
 * is those `i` bins merged into `levels` groups and expanded back uniformly over the non-empty bins of each
 * group. The threshold is the upper edge `i * w` of the candidate with the smallest KL(P || Q). Before the
 * search the first bin (exact zeros of ReLUs pile up there) takes the count of the second (`zeroBinFix`).
 * Returns { threshold, bin: i, divergence }.
 */
export function klThreshold(
  hist: ArrayLike<number>,
  binWidth: number,
  levels = QUANTIZED_LEVELS,
  options: { zeroBinFix?: boolean } = {},
): { threshold: number; bin: number; divergence: number } {
  // Only bins up to the last non-empty one matter.
  let n = hist.length;
  while (n > 0 && hist[n - 1] === 0) n--;
  if (n === 0) return { threshold: 0, bin: 0, divergence: 0 };
  if (n <= levels) return { threshold: n * binWidth, bin: n, divergence: 0 };
  // The first bin holds the exact zeros (ReLU outputs, padding) besides values near 0; left as is, that spike
  // dominates the divergence of every candidate and drags the threshold down. It gets its neighbour's count.
  const h = Float64Array.from({ length: n }, (_, j) => hist[j]);
  if (options.zeroBinFix !== false && n > 1) h[0] = h[1];
  hist = h;
  // suffix sums for the outlier mass beyond each candidate
  const suffix = new Float64Array(n + 1);
  for (let i = n - 1; i >= 0; i--) suffix[i] = suffix[i + 1] + hist[i];
  const p = new Float64Array(n);
  const q = new Float64Array(n);
  let best = -1;
  let bestKl = Infinity;
  for (let i = levels; i <= n; i++) {
    for (let j = 0; j < i; j++) p[j] = hist[j];
    p[i - 1] += suffix[i];
    // Q: merge hist[0:i] into `levels` groups; group k covers bins [floor(k*i/levels), floor((k+1)*i/levels)).
    for (let k = 0; k < levels; k++) {
      const start = M.floor((k * i) / levels);
      const end = k === levels - 1 ? i : M.floor(((k + 1) * i) / levels);
      let sum = 0;
      let nonZero = 0;
      for (let j = start; j < end; j++) {
        sum += hist[j];
        if (hist[j] !== 0) nonZero++;
      }
      const v = nonZero > 0 ? sum / nonZero : 0;
      for (let j = start; j < end; j++) q[j] = hist[j] !== 0 ? v : 0;
    }
    const kl = klDivergence(p, q, i);
    if (kl < bestKl) {
      bestKl = kl;
      best = i;
    }
  }
  return { threshold: best * binWidth, bin: best, divergence: bestKl };
}

/**
 * KL(P || Q) of the first `n` entries after normalizing each to sum 1. Entries where P is 0 contribute
 * nothing; where P > 0 but Q is 0 (only possible at the folded outlier bin), Q is given a tiny mass (1e-12
 * of the total) so that the result stays finite but large.
 */
export function klDivergence(p: ArrayLike<number>, q: ArrayLike<number>, n = p.length): number {
  let ps = 0;
  let qs = 0;
  for (let j = 0; j < n; j++) {
    ps += p[j];
    qs += q[j];
  }
  if (ps === 0) return 0;
  if (qs === 0) return Infinity;
  let kl = 0;
  const eps = 1e-12;
  for (let j = 0; j < n; j++) {
    if (p[j] === 0) continue;
    const pj = p[j] / ps;
    const qj = q[j] > 0 ? q[j] / qs : eps;
    kl += pj * M.log(pj / qj);
  }
  return kl;
}

/**
 * The value below which `percentile` % of |x| lies, from the histogram, interpolating linearly inside the bin
 * that crosses the target count; never above the observed max.
 */
export function percentileThreshold(h: Pick<AbsHistogram, 'counts' | 'range' | 'total' | 'amax'>, percentile: number): number {
  if (!(percentile > 0 && percentile <= 100)) throw invalidArg(`percentile must be in (0, 100], got ${percentile}`);
  if (h.total === 0 || h.range === 0) return 0;
  if (percentile === 100) return h.amax;
  const target = (percentile / 100) * h.total;
  const w = h.range / h.counts.length;
  let cum = 0;
  for (let i = 0; i < h.counts.length; i++) {
    const c = h.counts[i];
    if (cum + c >= target && c > 0) {
      const frac = (target - cum) / c;
      return M.min(h.amax, (i + frac) * w);
    }
    cum += c;
  }
  return h.amax;
}

export type StatisticsMethod = 'entropy' | 'minmax' | 'percentile';

/** The amax (clipping threshold) of a tensor by the given method. */
export function computeAmax(h: AbsHistogram, method: StatisticsMethod, percentile = 99.99): number {
  switch (method) {
    case 'minmax':
      return h.amax;
    case 'percentile':
      return percentileThreshold(h, percentile);
    case 'entropy': {
      if (h.range === 0) return 0;
      const t = klThreshold(h.counts, h.binWidth).threshold;
      return M.min(t, h.amax);
    }
    default:
      throw invalidArg(`unknown calibration method ${String(method)}`);
  }
}
