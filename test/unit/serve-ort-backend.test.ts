/**
 * @jest-environment ./test/unit/quantize.environment.js
 */
/**
 * serve's onnxruntime backend on its own (worker threads woken by futexes, tensors transferred) and the batcher's
 * dispatch at concurrency 1. Oracle: PP-OCR cls run in-process by onnxruntime-node with the same session options.
 */
import { createOnnxRuntimeBackend, onnxRuntimeSessionOptions } from '../../lib/serve/backends/onnxruntime';
import { Batcher, type Backend } from '../../lib/serve/batcher';
import { allocDisposable, markDisposable, takeDisposable, type Tensor } from '../../lib/serve/tensor';
import { TensorRTError } from '../../lib/errors';
import { CLS, ocr, tryOrt } from './serve-helpers';

const ort = tryOrt();
if (!ort) console.log('serve onnxruntime backend tests skipped: onnxruntime-node (optional dependency) is not installed');
const d = ort ? describe : describe.skip;

const line = (seed: number): Tensor => ({ name: 'x', dtype: 'float32', shape: [1, 3, 48, 192], data: ocr.textLine(seed) });

d('serve onnxruntime backend', () => {
  let backend: Backend;
  let oracle: import('onnxruntime-node').InferenceSession;
  const expected = async (x: Tensor) => {
    const r = await oracle.run({ x: new ort!.Tensor('float32', x.data as Float32Array, x.shape) });
    return Array.from(r[oracle.outputNames[0]!]!.data as Float32Array);
  };

  beforeAll(async () => {
    backend = await createOnnxRuntimeBackend(CLS, { instances: 2 });
    oracle = await ort!.InferenceSession.create(CLS, onnxRuntimeSessionOptions({}));
  });
  afterAll(async () => {
    await oracle?.release();
  });

  test("answers what onnxruntime gives in-process; the caller's arrays stay intact (copied, not transferred)", async () => {
    const x = line(3);
    const before = Array.from(x.data as Float32Array);
    const [y] = await backend.run([x], 0);
    expect(y!.shape).toEqual([1, 2]);
    expect(Array.from(y!.data as Float32Array)).toEqual(await expected(line(3)));
    expect(x.data.length).toBe(before.length); // not detached
    expect(Array.from(x.data as Float32Array)).toEqual(before);
  });

  test("serve's own arrays (markDisposable) are transferred to the worker, not copied, and their buffers recycled", async () => {
    const x = line(4);
    markDisposable(x.data);
    const [y] = await backend.run([x], 1);
    expect(Array.from(y!.data as Float32Array)).toEqual(await expected(line(4)));
    expect(x.data.length).toBe(0); // detached: its buffer went to the worker thread
    // ... and came back with the result, for the next request of that size (a recycled buffer, not zero-filled)
    const next = allocDisposable('float32', 3 * 48 * 192);
    expect(Array.from(next as Float32Array)).toEqual(Array.from(ocr.textLine(4)));
    expect(takeDisposable(next)).toBe(true);
    // only arrays spanning their whole buffer are marked; a view into a larger buffer never is
    const view = new Float32Array(new ArrayBuffer(64), 16, 4);
    markDisposable(view);
    expect(takeDisposable(view)).toBe(false);
  });

  test('runs on both instances at once, each result to its own request; many in a row', async () => {
    const xs = Array.from({ length: 12 }, (_, i) => line(10 + i));
    const want = await Promise.all(xs.map((x) => expected(x)));
    const got: number[][] = [];
    for (let i = 0; i < xs.length; i += 2) {
      const [a, b] = await Promise.all([backend.run([xs[i]!], 0), backend.run([xs[i + 1]!], 1)]);
      got.push(Array.from(a[0]!.data as Float32Array), Array.from(b[0]!.data as Float32Array));
    }
    expect(got).toEqual(want);
  });

  test('a run that fails on its input is INVALID_ARGUMENT (runError: input-caused, docs/serving.md) and the instance keeps working; after dispose, runs reject', async () => {
    const bad: Tensor = { name: 'x', dtype: 'int32', shape: [1, 3, 48, 192], data: new Int32Array(3 * 48 * 192) }; // the model takes float32
    await expect(backend.run([bad], 0)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/onnxruntime: .*data type/i) });
    const [y] = await backend.run([line(5)], 0);
    expect(Array.from(y!.data as Float32Array)).toEqual(await expected(line(5)));
    await backend.dispose();
    await expect(backend.run([line(5)], 0)).rejects.toBeInstanceOf(TensorRTError);
  });
});

describe('Batcher at concurrency 1', () => {
  test('a lone request goes to an idle instance at once: no timer, not even with fake timers', async () => {
    jest.useFakeTimers();
    try {
      const runs: number[] = [];
      const backend: Backend = {
        platform: 'test_double', kind: 'test-double', // test double of serve's own Backend contract
        inputs: [{ name: 'x', dtype: 'float32', shape: [-1, 2] }],
        outputs: [{ name: 'x', dtype: 'float32', shape: [-1, 2] }],
        maxBatchSize: 8,
        async run(inputs) {
          runs.push(inputs[0]!.shape[0]!);
          return inputs;
        },
        async dispose() {},
      };
      const b = new Batcher(backend, { maxBatchSize: 8, maxQueueDelayMicroseconds: 0, preferredBatchSizes: [4], instances: 1, maxQueueSize: 10, timeoutMs: 0, retryAfterSeconds: 1 });
      const p = b.submit([{ name: 'x', dtype: 'float32', shape: [1, 2], data: new Float32Array([1, 2]) }]);
      expect(runs).toEqual([1]); // dispatched inside submit(), before any timer could fire
      const r = await p;
      expect(r.batchSize).toBe(1);
      expect(Array.from(r.outputs[0]!.data as Float32Array)).toEqual([1, 2]);
    } finally {
      jest.useRealTimers();
    }
  });
});
