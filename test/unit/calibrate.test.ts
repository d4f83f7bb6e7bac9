/**
 * @jest-environment ./test/unit/quantize.environment.js
 */
/**
 * calibrate(): every float tensor of a real model gets a scale, written through writeCache() in TensorRT's cache
 * format; percentile scales sit at or below min/max ones; bad calibrators are refused.
 */
import {
  calibrate, MinMaxCalibrator, PercentileCalibrator, parseCalibrationCache, type CalibratorLike,
} from '../../lib/calibration';
import * as collect from '../../lib/calibration/collect';
import { loadModel } from '../../lib/onnx';
import { TensorRTError } from '../../lib/errors';

let haveOrt = true;
try {
  require('onnxruntime-node');
} catch {
  haveOrt = false;
  console.log('calibrate tests skipped: onnxruntime-node (optional dependency) is not installed');
}
const maybe = haveOrt ? describe : describe.skip;

const data = require('../../scripts/bench/ocr-data.js') as { textLine(seed: number): Float32Array; CLS_MODEL: string };
const batches = () => [0, 1, 2, 3].map((s) => ({ x: { data: data.textLine(100 + s), shape: [1, 3, 48, 192] } }));

maybe('calibrate() on the PP-OCR classifier', () => {
  test('percentile: a scale for every float tensor, handed to writeCache in TensorRT format', async () => {
    let written: Uint8Array | null = null;
    const cal = new PercentileCalibrator({ batches: batches(), percentile: 99.9 });
    cal.writeCache = async (c: Uint8Array) => {
      written = c;
    };
    const r = await calibrate(data.CLS_MODEL, cal);
    expect(r.batches).toBe(4);
    expect(written).not.toBeNull();
    const cache = parseCalibrationCache(written!);
    expect(cache.algorithm).toBe('PercentileCalibration');
    const g = loadModel(data.CLS_MODEL).graph!;
    const outputs = (g.node ?? []).flatMap((n) => n.output ?? []);
    expect(cache.scales.has('x')).toBe(true);
    expect(cache.scales.has(g.output![0].name!)).toBe(true);
    // (almost) every node output is a float tensor here
    expect(cache.scales.size).toBeGreaterThan(outputs.length * 0.9);
    for (const [, s] of cache.scales) expect(s).toBeGreaterThan(0);
    // the cache holds exactly the returned scales (float32-rounded)
    for (const [t, s] of r.scales) expect(cache.scales.get(t)).toBeCloseTo(Math.fround(s), 12);

    const mm = new MinMaxCalibrator({ batches: batches() });
    mm.writeCache = async () => undefined;
    const rm = await calibrate(data.CLS_MODEL, mm);
    let below = 0;
    for (const [t, s] of r.scales) {
      expect(s).toBeLessThanOrEqual(rm.scales.get(t)! * (1 + 1e-6));
      if (s < rm.scales.get(t)! * 0.999) below++;
    }
    expect(below).toBeGreaterThan(0); // 99.9th percentile clips somewhere
  });

  test("the statistics run at onnxruntime's optimization level 'basic', as quantize()'s", async () => {
    const spy = jest.spyOn(collect, 'createOrtRunner');
    try {
      const mm = new MinMaxCalibrator({ batches: batches().slice(0, 1) });
      mm.writeCache = async () => undefined;
      await calibrate(data.CLS_MODEL, mm);
      expect(spy.mock.calls.map((c) => c[1])).toEqual([{ graphOptimizationLevel: 'basic' }]);
    } finally {
      spy.mockRestore();
    }
  });

  test('bad calibrators and empty data are refused with INVALID_ARGUMENT / UNSUPPORTED', async () => {
    await expect(calibrate(data.CLS_MODEL, {} as CalibratorLike)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    const empty = new MinMaxCalibrator({ batches: [] });
    await expect(calibrate(data.CLS_MODEL, empty)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    const legacy = { ...new MinMaxCalibrator({ batches: batches() }), algorithm: 'legacy', getBatch: () => null, readCache: () => null, writeCache: () => undefined } as unknown as CalibratorLike;
    const e = await calibrate(data.CLS_MODEL, legacy).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(TensorRTError);
    expect((e as TensorRTError).code).toBe('UNSUPPORTED');
  });
});
