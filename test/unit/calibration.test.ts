/** Calibration algorithms (entropy / min-max / percentile), the streaming histogram, cache files, calibrators. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  AbsHistogram, klThreshold, klDivergence, percentileThreshold, computeAmax,
  float32ToHex, hexToFloat32, formatCalibrationCache, parseCalibrationCache,
  EntropyCalibrator, MinMaxCalibrator, PercentileCalibrator, createCalibrator, npyDirectoryCalibrator,
} from '../../lib/calibration';
import { writeNpyFile } from '../../lib/npy';
import { TensorRTError } from '../../lib/errors';

describe('KL-divergence threshold (entropy calibration)', () => {
  test('hand-computed case: hist [4,2,1,1] with 2 levels picks 3 bins (zero-bin fix off)', () => {
    // i=2: KL = 0.5 ln(0.75) + 0.5 ln(1.5) = 0.058892; i=3: 0.5 ln(0.875) + 0.5 ln(7/6) = 0.010310;
    // i=4: 0.5 ln(4/3) + 0.25 ln(2/3) = 0.042475  -> i = 3
    const r = klThreshold([4, 2, 1, 1], 0.5, 2, { zeroBinFix: false });
    expect(r.bin).toBe(3);
    expect(r.threshold).toBeCloseTo(1.5, 12);
    expect(r.divergence).toBeCloseTo(0.5 * Math.log(0.875) + 0.5 * Math.log(7 / 6), 12);
  });

  test('hand-computed case: the zero-bin fix (bin 0 := bin 1) turns [4,2,1,1] into [2,2,1,1] -> all 4 bins, KL 0', () => {
    // i=2: 0.056633, i=3: 1/3 ln(5/6) + 2/3 ln(10/9) = 0.009466, i=4: Q == P -> 0
    const r = klThreshold([4, 2, 1, 1], 0.5, 2);
    expect(r.bin).toBe(4);
    expect(r.threshold).toBeCloseTo(2, 12);
    expect(r.divergence).toBeCloseTo(0, 12);
  });

  test('no more non-empty bins than levels: everything is kept', () => {
    const h = new Float64Array(2048);
    h.fill(7, 0, 100);
    expect(klThreshold(h, 0.01)).toEqual({ threshold: 1, bin: 100, divergence: 0 });
    expect(klThreshold(new Float64Array(2048), 1).threshold).toBe(0);
  });

  test('2048 bins: a dense body and a sparse far tail are clipped near the end of the body', () => {
    const h = new Float64Array(2048);
    for (let i = 0; i < 400; i++) h[i] = Math.round(100000 * Math.exp(-i / 80)); // exponential body
    for (let i = 400; i < 2048; i += 97) h[i] = 1; // a handful of outliers up to the end of the range
    const w = 0.01;
    const r = klThreshold(h, w);
    expect(r.bin).toBeGreaterThan(200);
    expect(r.bin).toBeLessThan(900);
    // it is the minimum over all candidates, checked by brute force with an independent formulation
    let best = Infinity;
    let bestI = -1;
    const hh = Array.from(h);
    hh[0] = hh[1];
    for (let i = 128; i <= 2048; i++) {
      const p = hh.slice(0, i);
      p[i - 1] += hh.slice(i).reduce((a, b) => a + b, 0);
      const q = new Array<number>(i).fill(0);
      for (let k = 0; k < 128; k++) {
        const s = Math.floor((k * i) / 128);
        const e = k === 127 ? i : Math.floor(((k + 1) * i) / 128);
        const seg = hh.slice(s, e);
        const nz = seg.filter((v) => v !== 0).length;
        const avg = nz ? seg.reduce((a, b) => a + b, 0) / nz : 0;
        for (let j = s; j < e; j++) q[j] = hh[j] !== 0 ? avg : 0;
      }
      const kl = klDivergence(p, q);
      if (kl < best) {
        best = kl;
        bestI = i;
      }
    }
    expect(r.bin).toBe(bestI);
    expect(r.threshold).toBeCloseTo(bestI * w, 12);
  });

  test('klDivergence: identical distributions give 0, different ones > 0', () => {
    expect(klDivergence([1, 2, 3], [2, 4, 6])).toBeCloseTo(0, 15);
    expect(klDivergence([1, 1], [1, 3])).toBeCloseTo(0.5 * Math.log(0.5 / 0.25) + 0.5 * Math.log(0.5 / 0.75), 12);
  });
});

describe('AbsHistogram (streaming, bounded memory)', () => {
  test('bins |x|, tracks amax, skips NaN/Infinity', () => {
    const h = new AbsHistogram(128);
    h.add(Float32Array.of(-0.5, 1, NaN, 0));
    expect(h.range).toBe(1 + 2 ** -16); // just above the first max
    expect(h.amax).toBe(1);
    expect(h.total).toBe(3);
    expect(h.nonFinite).toBe(1);
    expect(h.counts[63]).toBe(1); // 0.5 * 128 / (1 + 2^-16) = 63.999
    expect(h.counts[127]).toBe(1); // the max lands in the last bin
    expect(h.counts[0]).toBe(1);
    h.add([Infinity, 2]);
    expect(h.nonFinite).toBe(2);
    expect(h.amax).toBe(2);
  });

  test('range growth doubles and merges bins exactly', () => {
    const h = new AbsHistogram(128);
    h.add([0.5, 1]);
    h.add([3]); // range 1 -> 2 -> 4 (times 1 + 2^-16)
    expect(h.range).toBe(4 * (1 + 2 ** -16));
    expect(h.counts[15]).toBe(1); // 0.5: bin 63 -> 31 -> 15
    expect(h.counts[31]).toBe(1); // 1.0: bin 127 -> 63 -> 31
    expect(h.counts[95]).toBe(1); // 3 * 128 / 4.00006
    expect(h.counts.reduce((a, b) => a + b, 0)).toBe(3);
    // the same bins as one histogram built at the final range at once
    const g = new AbsHistogram(128);
    g.add([4, 0.5, 1, 3]);
    expect(g.range).toBe(h.range);
    expect(Array.from(g.counts.slice(0, 127))).toEqual(Array.from(h.counts.slice(0, 127)));
  });

  test('memory does not depend on the number of batches', () => {
    const h = new AbsHistogram();
    const before = h.counts.byteLength;
    for (let b = 0; b < 200; b++) h.add(Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i * b) * (1 + b / 100)));
    expect(h.counts.byteLength).toBe(before);
    expect(h.total).toBe(200000);
  });

  test('rejects bad bin counts', () => {
    expect(() => new AbsHistogram(100)).toThrow(TensorRTError);
    expect(() => new AbsHistogram(129)).toThrow(/even integer/);
  });
});

describe('min/max and percentile', () => {
  test('minmax is max |x| over all batches', () => {
    const h = new AbsHistogram();
    h.add([-5, 2]);
    h.add([4.5, -0.1]);
    expect(computeAmax(h, 'minmax')).toBe(5);
  });

  test('percentile interpolates inside the crossing bin', () => {
    const h = new AbsHistogram();
    h.add(Float32Array.from({ length: 100 }, (_, i) => i + 1)); // 1..100
    const w = (100 * (1 + 2 ** -16)) / 2048; // range: the first max, just widened
    // 99 % of 100 values = 99 values: the 99th value (99) sits alone in bin floor(99 / w) = 2027, so the count
    // reaches 99 at that bin's upper edge: 2028 * w = 99.0249...
    expect(Math.floor(99 / w)).toBe(2027);
    expect(percentileThreshold(h, 99)).toBeCloseTo(2028 * w, 9);
    expect(percentileThreshold(h, 100)).toBe(100);
    // 50 %: value 50 is in bin floor(50 / w) = 1023 -> 1024 * w; 49.5 %: half-way into that bin -> 1023.5 * w
    expect(computeAmax(h, 'percentile', 50)).toBeCloseTo(1024 * w, 9);
    expect(computeAmax(h, 'percentile', 49.5)).toBeCloseTo(1023.5 * w, 9);
    expect(() => percentileThreshold(h, 0)).toThrow(/percentile/);
    expect(() => percentileThreshold(h, 100.5)).toThrow(/percentile/);
  });

  test('entropy never exceeds the observed max', () => {
    const h = new AbsHistogram();
    h.add(Float32Array.from({ length: 5000 }, (_, i) => ((i * 7919) % 1000) / 1000));
    const a = computeAmax(h, 'entropy');
    // a uniform distribution has nothing worth clipping: the divergence is least at the full range
    expect(a).toBe(h.amax);
    expect(h.amax).toBe(Math.fround(0.999));
  });
});

describe('TensorRT calibration cache format', () => {
  test('float32 hex as TensorRT writes it', () => {
    expect(float32ToHex(1 / 127)).toBe('3c010204');
    expect(float32ToHex(1)).toBe('3f800000');
    expect(hexToFloat32('3f800000')).toBe(1);
    expect(hexToFloat32('3c010204')).toBeCloseTo(1 / 127, 9);
  });

  test('round trip, header, names with ": " inside', () => {
    const scales = new Map([['input', 0.0123], ['conv1: out', 1 / 127], ['x', 2.5e-5]]);
    const buf = formatCalibrationCache(scales, 'entropy2', 100300);
    const text = buf.toString('utf8');
    expect(text.split('\n')[0]).toBe('TRT-100300-EntropyCalibration2');
    expect(text).toContain('conv1: out: 3c010204\n');
    const back = parseCalibrationCache(buf);
    expect(back.algorithm).toBe('EntropyCalibration2');
    expect(back.version).toBe(100300);
    expect([...back.scales.keys()]).toEqual([...scales.keys()]);
    for (const [k, v] of scales) expect(back.scales.get(k)).toBe(Math.fround(v));
    expect(formatCalibrationCache({ a: 1 }, 'minmax').toString()).toBe('TRT-100000-MinMaxCalibration\na: 3f800000\n');
  });

  test('reads TensorRT 8 style caches (CRLF tolerated)', () => {
    const c = parseCalibrationCache('TRT-8601-EntropyCalibration2\r\ninput: 3c010a14\r\n(Unnamed Layer* 3) [Activation]_output: 3d0c4e3e\r\n');
    expect(c.version).toBe(8601);
    expect(c.scales.get('input')).toBeCloseTo(0.0078759, 7);
    expect(c.scales.has('(Unnamed Layer* 3) [Activation]_output')).toBe(true);
  });

  test('malformed caches are PARSE_ERROR', () => {
    expect(() => parseCalibrationCache('hello\n')).toThrow(expect.objectContaining({ code: 'PARSE_ERROR' }));
    expect(() => parseCalibrationCache('TRT-100000-EntropyCalibration2\ninput 3c010a14\n')).toThrow(/line 2/);
    expect(() => parseCalibrationCache('TRT-100000-EntropyCalibration2\ninput: zz\n')).toThrow(TensorRTError);
  });
});

describe('calibrators', () => {
  test('algorithms and CalibratorLike surface', async () => {
    expect(new EntropyCalibrator({ batches: [] }).algorithm).toBe('entropy2');
    expect(new MinMaxCalibrator({ batches: [] }).algorithm).toBe('minmax');
    const p = new PercentileCalibrator({ batches: [], percentile: 99.9 });
    expect(p.algorithm).toBe('percentile');
    expect(p.percentile).toBe(99.9);
    expect(new PercentileCalibrator({ batches: [] }).percentile).toBe(99.99);
    expect(() => new PercentileCalibrator({ percentile: 0 })).toThrow(/percentile/);
    expect(() => new EntropyCalibrator({ batchSize: 0 })).toThrow(/batchSize/);
    expect(() => createCalibrator('nope' as 'entropy')).toThrow(/unknown calibration method/);
    expect(() => new EntropyCalibrator({ batches: 5 as unknown as [] })).toThrow(/iterable/);
  });

  test('from an async iterable: getBatch gives flat arrays, batchSize learnt from the first batch', async () => {
    async function* gen() {
      yield { x: { data: new Float32Array(6), shape: [2, 3] } };
      yield { x: { data: Float32Array.of(1, 2, 3, 4, 5, 6), shape: [2, 3] } };
    }
    const c = new MinMaxCalibrator({ batches: gen() });
    const b1 = await c.getBatch(['x']);
    expect(b1?.x).toBeInstanceOf(Float32Array);
    expect(c.batchSize).toBe(2);
    expect(c.lastBatchShapes).toEqual({ x: [2, 3] });
    const b2 = await c.getShapedBatch(['x']);
    expect(b2?.x.shape).toEqual([2, 3]);
    expect(Array.from(b2!.x.data as Float32Array)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(await c.getBatch(['x'])).toBeNull();
  });

  test('subclass overriding getBatch, with inputShapes', async () => {
    class Mine extends EntropyCalibrator {
      n = 0;
      override async getBatch() {
        return this.n++ < 1 ? { x: new Float32Array(12) } : null;
      }
    }
    const c = new Mine({ batchSize: 4, inputShapes: { x: [4, 3] } });
    expect(c.batchSize).toBe(4);
    const b = await c.getShapedBatch(['x']);
    expect(b?.x.shape).toEqual([4, 3]);
    expect(await c.getShapedBatch(['x'])).toBeNull();
  });

  test('a calibrator with neither getBatch nor batches says so', async () => {
    await expect(new EntropyCalibrator().getBatch(['x'])).rejects.toThrow(/override getBatch/);
  });

  test('cache file: readCache is null until writeCache wrote it', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trtn-cal-'));
    const file = path.join(dir, 'calib.cache');
    const c = new EntropyCalibrator({ batches: [], cacheFile: file });
    expect(c.readCache()).toBeNull();
    c.writeCache(formatCalibrationCache({ x: 0.5 }));
    expect(Buffer.from(c.readCache()!).toString()).toBe('TRT-100000-EntropyCalibration2\nx: 3f000000\n');
    expect(new EntropyCalibrator({ batches: [] }).readCache()).toBeNull();
    fs.rmSync(dir, { recursive: true });
  });
});

describe('.npy directory calibrator', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trtn-npy-'));
    fs.mkdirSync(path.join(dir, 'flat'));
    for (let i = 0; i < 12; i++) writeNpyFile(path.join(dir, 'flat', `b${i}.npy`), { dtype: 'float32', shape: [2, 2], data: Float32Array.of(i, 0, 0, -i) });
    for (const input of ['a', 'b']) {
      fs.mkdirSync(path.join(dir, 'multi', input), { recursive: true });
      for (let i = 0; i < 3; i++) writeNpyFile(path.join(dir, 'multi', input, `${i}.npy`), { dtype: 'float32', shape: [1, 3], data: Float32Array.of(i, i, i) });
    }
    fs.mkdirSync(path.join(dir, 'uneven', 'a'), { recursive: true });
    fs.mkdirSync(path.join(dir, 'uneven', 'b'), { recursive: true });
    writeNpyFile(path.join(dir, 'uneven', 'a', '0.npy'), { dtype: 'float32', shape: [1], data: Float32Array.of(1) });
    fs.mkdirSync(path.join(dir, 'int'));
    writeNpyFile(path.join(dir, 'int', '0.npy'), { dtype: 'int32', shape: [1, 2], data: Int32Array.of(1, 2) });
    fs.mkdirSync(path.join(dir, 'empty'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('flat directory: natural file order, batch size from the files, limit', async () => {
    const c = npyDirectoryCalibrator(path.join(dir, 'flat'), { method: 'minmax', limit: 11 });
    expect(c.algorithm).toBe('minmax');
    expect(c.source.count).toBe(11);
    const seen: number[] = [];
    for (let b = await c.getShapedBatch(['input0']); b; b = await c.getShapedBatch(['input0'])) seen.push((b.input0.data as Float32Array)[0]);
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]); // b10 after b9, not after b1
    expect(c.batchSize).toBe(2);
    c.reset();
    expect((await c.getBatch(['input0']))?.input0[0]).toBe(0);
    await expect(c.getShapedBatch(['p', 'q'])).rejects.toThrow(/single-input/);
  });

  test('one sub-folder per input', async () => {
    const c = npyDirectoryCalibrator(path.join(dir, 'multi'), { method: 'percentile', percentile: 99 });
    const b = await c.getShapedBatch(['b', 'a']);
    expect(Object.keys(b!).sort()).toEqual(['a', 'b']);
    expect(b!.a.shape).toEqual([1, 3]);
    await expect(c.getShapedBatch(['a', 'zz'])).rejects.toThrow(/no sub-folder for input\(s\) zz/);
  });

  test('bad directories: missing, empty, uneven, non-float32', async () => {
    expect(() => npyDirectoryCalibrator(path.join(dir, 'missing'))).toThrow(expect.objectContaining({ code: 'IO_ERROR' }));
    expect(() => npyDirectoryCalibrator(path.join(dir, 'empty'))).toThrow(/no .npy files/);
    expect(() => npyDirectoryCalibrator(path.join(dir, 'uneven'))).toThrow(/no .npy files|different numbers/);
    const c = npyDirectoryCalibrator(path.join(dir, 'int'));
    await expect(c.getShapedBatch(['x'])).rejects.toThrow(/must be float32, this file is int32/);
  });
});
