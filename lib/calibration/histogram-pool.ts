/**
 * Histogram updates off the JS thread: worker_threads that each own the AbsHistograms of a share of the tensors
 * (tensor k goes to worker k mod n). A tensor's batches reach its worker in order (one worker per tensor, FIFO
 * messages), so the histograms are exactly those built in-thread; the JS thread meanwhile reads the next batch and
 * feeds the runner (onnxruntime's threads or the GPU), so the statistics pass keeps more than one core busy.
 *
 * The workers load the compiled histogram module (dist/calibration/histogram.js, or the .js beside this file when
 * running from dist). Where none exists (running the TypeScript sources without a build) `createHistogramPool`
 * returns null and the caller updates the histograms in-thread.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Worker } from 'worker_threads';
import { AbsHistogram } from './histogram';

const WORKER_SOURCE = `
const { parentPort, workerData } = require('worker_threads');
const { AbsHistogram } = require(workerData.module);
const hs = new Map();
parentPort.on('message', (m) => {
  if (m.type === 'add') {
    let h = hs.get(m.tensor);
    if (!h) hs.set(m.tensor, (h = new AbsHistogram(workerData.bins)));
    h.add(m.data);
  } else if (m.type === 'ack') {
    parentPort.postMessage({ type: 'ack', batch: m.batch });
  } else if (m.type === 'done') {
    parentPort.postMessage({ type: 'done', histograms: [...hs].map(([t, h]) => ({ tensor: t, counts: h.counts, range: h.range, amax: h.amax, total: h.total, nonFinite: h.nonFinite })) });
  }
});
`;

/** Path of the compiled histogram module the workers load, or null. */
function compiledHistogramModule(): string | null {
  const here = path.join(__dirname, 'histogram.js');
  if (__filename.endsWith('.js') && fs.existsSync(here)) return here;
  const dist = path.join(__dirname, '..', '..', 'dist', 'calibration', 'histogram.js');
  return fs.existsSync(dist) ? dist : null;
}

/** Default worker count: the cores beside the JS thread (at least 1, at most 4). */
export function defaultStatisticsWorkers(): number {
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.max(1, Math.min(4, cores - 1));
}

export interface HistogramPool {
  /** Queues |x| of one batch of `tensor` (the data is copied). */
  add(tensor: string, data: Float32Array): void;
  /** Marks the end of batch `batch`; resolves when the previous batch's updates are done (bounds the queue). */
  endBatch(batch: number): Promise<void>;
  /** Waits for every update and returns the histograms (the workers end). */
  finish(): Promise<Map<string, AbsHistogram>>;
  /** Ends the workers (after an error). */
  terminate(): Promise<void>;
}

/** A pool of `workers` worker threads for the histograms of `tensors`, or null when no compiled module exists. */
export function createHistogramPool(tensors: string[], bins: number, workers: number): HistogramPool | null {
  const module = compiledHistogramModule();
  if (!module || workers < 1) return null;
  const pool = Array.from({ length: Math.min(workers, Math.max(1, tensors.length)) }, () => new Worker(WORKER_SOURCE, { eval: true, workerData: { module, bins } }));
  const owner = new Map<string, Worker>();
  tensors.forEach((t, k) => owner.set(t, pool[k % pool.length]));
  let failure: Error | null = null;
  const acks = new Map<number, number>(); // batch -> workers that acknowledged it
  const waiters = new Map<number, () => void>();
  const done: { tensor: string; counts: Float64Array; range: number; amax: number; total: number; nonFinite: number }[] = [];
  let finished = 0;
  let onFinished: (() => void) | null = null;
  for (const w of pool) {
    w.on('message', (m: { type: string; batch?: number; histograms?: typeof done }) => {
      if (m.type === 'ack') {
        const n = (acks.get(m.batch!) ?? 0) + 1;
        acks.set(m.batch!, n);
        if (n === pool.length) waiters.get(m.batch!)?.();
      } else if (m.type === 'done') {
        done.push(...m.histograms!);
        if (++finished === pool.length) onFinished?.();
      }
    });
    w.on('error', (e) => {
      failure = e;
      for (const f of waiters.values()) f();
      onFinished?.();
    });
  }
  const wait = (batch: number) =>
    new Promise<void>((resolve) => {
      if ((acks.get(batch) ?? 0) === pool.length || failure) resolve();
      else waiters.set(batch, resolve);
    });
  return {
    add(tensor, data) {
      owner.get(tensor)?.postMessage({ type: 'add', tensor, data });
    },
    async endBatch(batch) {
      for (const w of pool) w.postMessage({ type: 'ack', batch });
      if (batch > 1) await wait(batch - 1);
      acks.delete(batch - 1);
      waiters.delete(batch - 1);
      if (failure) throw failure;
    },
    async finish() {
      await new Promise<void>((resolve) => {
        onFinished = resolve;
        for (const w of pool) w.postMessage({ type: 'done' });
      });
      await Promise.all(pool.map((w) => w.terminate()));
      if (failure) throw failure;
      const out = new Map<string, AbsHistogram>();
      for (const t of tensors) out.set(t, new AbsHistogram(bins));
      for (const d of done) {
        const h = out.get(d.tensor)!;
        h.counts.set(d.counts);
        h.range = d.range;
        h.amax = d.amax;
        h.total = d.total;
        h.nonFinite = d.nonFinite;
      }
      return out;
    },
    async terminate() {
      await Promise.all(pool.map((w) => w.terminate()));
    },
  };
}
