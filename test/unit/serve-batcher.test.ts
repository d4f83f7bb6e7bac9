/**
 * The dynamic batcher and the tensor codecs of `serve`, without a model: the backend here is a test double of serve's
 * own Backend contract (it records the batches it is given and answers each row with its own sum), named as such.
 * The FP16 conversion is checked against IEEE 754 binary16's documented example values.
 */
import { Batcher, type Backend, type BatcherOptions } from '../../lib/serve/batcher';
import { floatToHalf, fromFlat, fromNested, halfToFloat, Tensor } from '../../lib/serve/tensor';
import { TensorRTError } from '../../lib/errors';

/** Test double of the Backend contract: output row i = sum of input row i; resolves when `release()` is called. */
function recordingBackend(maxBatchSize = 8) {
  const batches: number[][] = [];
  const pending: (() => void)[] = [];
  const backend: Backend = {
    platform: 'test_double', kind: 'test-double',
    inputs: [{ name: 'x', dtype: 'float32', shape: [-1, -1] }],
    outputs: [{ name: 'y', dtype: 'float32', shape: [-1] }],
    maxBatchSize,
    run(inputs: Tensor[]) {
      const x = inputs[0]!;
      const [b, n] = x.shape as [number, number];
      batches.push([b, n]);
      const y = new Float32Array(b);
      for (let i = 0; i < b; i++) for (let j = 0; j < n; j++) y[i]! += (x.data as Float32Array)[i * n + j]!;
      return new Promise((resolve) => pending.push(() => resolve([{ name: 'y', dtype: 'float32', shape: [b], data: y }])));
    },
    async dispose() {},
  };
  return { backend, batches, release: () => pending.splice(0).forEach((f) => f()) };
}

const OPTS: BatcherOptions = { maxBatchSize: 8, maxQueueDelayMicroseconds: 0, preferredBatchSizes: [], instances: 1, maxQueueSize: 100, timeoutMs: 0, retryAfterSeconds: 1 };
const req = (rows: number, n: number, v: number): Tensor[] => [{ name: 'x', dtype: 'float32', shape: [rows, n], data: new Float32Array(rows * n).fill(v) }];
const tick = () => new Promise((r) => setImmediate(r));

describe('Batcher', () => {
  test('merges what queues while the instance is busy, never mixing non-batch shapes; splits results back', async () => {
    const t = recordingBackend();
    const b = new Batcher(t.backend, OPTS);
    const first = b.submit(req(1, 2, 1));
    await tick();
    const rest = [b.submit(req(2, 2, 2)), b.submit(req(1, 3, 5)), b.submit(req(3, 2, 3)), b.submit(req(1, 3, 7))];
    t.release();
    await tick();
    t.release();
    await tick();
    t.release();
    const r = await Promise.all([first, ...rest]);
    expect(t.batches).toEqual([[1, 2], [5, 2], [2, 3]]); // shape-[*,2] requests merged, shape-[*,3] ones apart
    expect(r.map((x) => Array.from(x.outputs[0]!.data as Float32Array))).toEqual([[2], [4, 4], [15], [6, 6, 6], [21]]);
    expect(r.map((x) => x.batchSize)).toEqual([1, 5, 2, 5, 2]);
  });

  test('caps batches at maxBatchSize, takes a preferred size at once, waits maxQueueDelay for more', async () => {
    const t = recordingBackend();
    const b = new Batcher(t.backend, { ...OPTS, maxBatchSize: 4, preferredBatchSizes: [2], maxQueueDelayMicroseconds: 50_000, instances: 2 });
    const all = [1, 2, 3, 4, 5].map((v) => b.submit(req(1, 1, v)));
    await tick();
    expect(t.batches).toEqual([[2, 1], [2, 1]]); // preferred size 2 reached: dispatched at once, on both instances
    t.release();
    await tick();
    expect(t.batches.length).toBe(2); // the fifth waits for the queue delay (50 ms)
    await new Promise((r) => setTimeout(r, 80));
    expect(t.batches).toEqual([[2, 1], [2, 1], [1, 1]]);
    t.release();
    expect((await Promise.all(all)).map((x) => (x.outputs[0]!.data as Float32Array)[0])).toEqual([1, 2, 3, 4, 5]);
    await expect(b.submit(req(5, 1, 0))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/maximum batch size 4/) });
  });

  test('full queue: UNAVAILABLE with retryAfter; timeout: DEADLINE_EXCEEDED; drain waits for everything', async () => {
    const t = recordingBackend();
    const b = new Batcher(t.backend, { ...OPTS, maxBatchSize: 0, maxQueueSize: 2, timeoutMs: 100 });
    const settle = (p: Promise<unknown>) => p.then(() => ({ code: 'OK' }), (x: TensorRTError) => ({ code: x.code }));
    const a = settle(b.submit(req(1, 1, 1))); // runs
    await tick();
    const q1 = settle(b.submit(req(1, 1, 2)));
    const q2 = settle(b.submit(req(1, 1, 3)));
    const e = await b.submit(req(1, 1, 4)).catch((x: TensorRTError & { retryAfter?: number }) => x);
    expect(e).toBeInstanceOf(TensorRTError);
    expect([(e as TensorRTError).code, (e as { retryAfter?: number }).retryAfter]).toEqual(['UNAVAILABLE', 1]);
    // queued past the timeout, and in flight past it
    expect(await Promise.all([q1, q2, a])).toEqual([{ code: 'DEADLINE_EXCEEDED' }, { code: 'DEADLINE_EXCEEDED' }, { code: 'DEADLINE_EXCEEDED' }]);
    let drained = false;
    const d = b.drain().then(() => (drained = true));
    await tick();
    expect(drained).toBe(false); // the batch of `a` is still on the backend
    t.release();
    await d;
    b.close();
    await expect(b.submit(req(1, 1, 1))).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  });
});

describe('tensor codecs', () => {
  test('FP16 against IEEE 754 binary16 reference values', () => {
    const cases: [number, number][] = [
      [1, 0x3c00], [-2, 0xc000], [65504, 0x7bff], [2 ** -14, 0x0400], [2 ** -24, 0x0001], [0.333251953125, 0x3555],
      [0, 0x0000], [-0, 0x8000], [Infinity, 0x7c00], [-Infinity, 0xfc00], [1 + 2 ** -10, 0x3c01], [65520, 0x7c00],
    ];
    for (const [v, h] of cases) {
      expect([v, floatToHalf(v)]).toEqual([v, h]);
      if (h !== 0x7c00 || v === Infinity) expect(Object.is(halfToFloat(h), v === 65520 ? Infinity : v)).toBe(true);
    }
    expect(floatToHalf(1 + 2 ** -11)).toBe(0x3c00); // ties to even
    expect(floatToHalf(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(Number.isNaN(halfToFloat(floatToHalf(NaN)))).toBe(true);
  });

  test('every KServe datatype decodes from JSON, with range and type checks', () => {
    expect(Array.from(fromFlat([1, -2], 'int8', 'x') as Int8Array)).toEqual([1, -2]);
    expect(Array.from(fromFlat([255], 'uint8', 'x') as Uint8Array)).toEqual([255]);
    expect(Array.from(fromFlat([2147483647], 'int32', 'x') as Int32Array)).toEqual([2147483647]);
    expect(Array.from(fromFlat([1, '9007199254740993'], 'int64', 'x') as BigInt64Array)).toEqual([1n, 9007199254740993n]);
    expect(Array.from(fromFlat([true, false, 1], 'bool', 'x') as Uint8Array)).toEqual([1, 0, 1]);
    expect(Array.from(fromFlat([1.5], 'float16', 'x') as Uint16Array)).toEqual([0x3e00]);
    expect(Array.from(fromFlat([[1, 2], [3, 4]], 'float32', 'x') as Float32Array)).toEqual([1, 2, 3, 4]);
    expect(() => fromFlat([256], 'uint8', 'x')).toThrow(/256 is out of range for UINT8 \[0, 255\]/);
    expect(() => fromFlat([1.5], 'int32', 'x')).toThrow(/expected integers \(INT32\)/);
    expect(() => fromFlat(['1'], 'bool', 'x')).toThrow(/expected true\/false \(BOOL\)/);
    expect(() => fromNested([[1, 2], [3]], 'float32', 'x', -1)).toThrow(/ragged/);
    expect(fromNested([[[1], [2]]], 'float32', 'x', -1).shape).toEqual([1, 2, 1]);
  });
});
