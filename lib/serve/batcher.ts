/**
 * Dynamic batching for one model version (Triton's dynamic batcher, in Node): requests wait in a bounded FIFO
 * queue; whenever one of the model's `instances` is free, the queued requests whose non-batch shapes and dtypes
 * equal the oldest one's are merged along dimension 0, up to `maxBatchSize` samples; the merged batch runs on that
 * instance (one batch in flight per instance) and the outputs are split back along dimension 0.
 *
 * When to run a batch that is not full: at once when its size is one of `preferredBatchSizes` (the largest one
 * reachable), else once the oldest request has waited `maxQueueDelayMicroseconds` (0: at once, so batches form
 * only from what queues up while every instance is busy, which costs a lone request nothing).
 *
 * A full queue rejects with UNAVAILABLE (HTTP 503 + Retry-After); a request still without its result after
 * `timeoutMs` rejects with DEADLINE_EXCEEDED (HTTP 504) and leaves the queue. `drain()` resolves once the queue is
 * empty and nothing is in flight; `close()` refuses new requests.
 *
 * String (BYTES) tensors batch as the others do: their arrays of strings are concatenated along dimension 0 and
 * split back.
 */
import { performance } from 'perf_hooks';
import { TensorRTError } from '../errors';
import { allocDisposable, ARRAYS, fmtShape, ServeArray, ServeDType, Tensor, TensorSpec, volume } from './tensor';
import * as is from '../validate';

/** What the batcher runs batches on (see backends/). */
export interface Backend {
  /** TF Serving / Triton platform name: 'onnxruntime_onnx' or 'tensorrt_plan'. */
  readonly platform: string;
  /** 'onnxruntime' or 'tensorrt'. */
  readonly kind: string;
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
  /** Largest batch the model takes (dimension 0 of every input and output); 0: the model has no batch dimension. */
  readonly maxBatchSize: number;
  /** Runs one batch on instance `instance` (0 .. instances-1); inputs in the order of `inputs`, outputs of `outputs`. */
  run(inputs: Tensor[], instance: number): Promise<Tensor[]>;
  dispose(): Promise<void>;
}

export interface BatcherOptions {
  /** Samples per batch at most; 0 or 1 turns batching off (every request runs alone). */
  maxBatchSize: number;
  maxQueueDelayMicroseconds: number;
  preferredBatchSizes: number[];
  /** Batches in flight at once (execution contexts / sessions runs). */
  instances: number;
  /** Requests waiting at most; one more gets UNAVAILABLE. */
  maxQueueSize: number;
  /** Per-request timeout in ms (0: none). */
  timeoutMs: number;
  /** Seconds suggested in Retry-After when the queue is full. */
  retryAfterSeconds: number;
}

export interface BatchResult {
  outputs: Tensor[];
  /** Microseconds in the queue, in the backend, and the size of the batch this request ran in. */
  queueUs: number;
  computeUs: number;
  batchSize: number;
}

/** Called once per batch run (metrics). */
export type BatchObserver = (size: number, computeUs: number) => void;

interface Pending {
  inputs: Tensor[];
  batch: number;
  key: string;
  enqueued: number;
  resolve: (r: BatchResult) => void;
  reject: (e: unknown) => void;
  timer: NodeJS.Timeout | null;
  done: boolean;
}

export class Batcher {
  private queue: Pending[] = [];
  private busy = 0;
  private delayTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private drainWaiters: (() => void)[] = [];
  readonly options: BatcherOptions;

  constructor(readonly backend: Backend, options: BatcherOptions, private readonly observe: BatchObserver = () => {}) {
    checkBatcherArgs(backend, options, observe);
    const max = backend.maxBatchSize > 0 ? Math.min(options.maxBatchSize, backend.maxBatchSize) : 0;
    this.options = { ...options, maxBatchSize: max, preferredBatchSizes: options.preferredBatchSizes.filter((p) => p <= max).sort((a, b) => b - a) };
  }

  get queueDepth(): number {
    return this.queue.length;
  }

  get inFlight(): number {
    return this.busy;
  }

  /**
   * Queues one request (inputs in the backend's input order, already checked against the model) and resolves with
   * its own slice of the batch's outputs.
   */
  submit(inputs: Tensor[]): Promise<BatchResult> {
    if (this.closed) return Promise.reject(new TensorRTError('UNAVAILABLE', 'the model version is unloading or the server is shutting down; retry'));
    if (this.queue.length >= this.options.maxQueueSize) {
      const e = new TensorRTError('UNAVAILABLE', `the model's queue is full (${this.options.maxQueueSize} requests waiting); retry later`);
      (e as TensorRTError & { retryAfter?: number }).retryAfter = this.options.retryAfterSeconds;
      return Promise.reject(e);
    }
    const batched = this.backend.maxBatchSize > 0;
    const batch = batched ? inputs[0]!.shape[0]! : 1;
    if (batched && this.options.maxBatchSize > 0 && batch > this.options.maxBatchSize) {
      return Promise.reject(new TensorRTError('INVALID_ARGUMENT', `batch of ${batch} is larger than the model's maximum batch size ${this.options.maxBatchSize}`));
    }
    if (batched) {
      for (const t of inputs) {
        if (t.shape[0] !== batch) {
          return Promise.reject(new TensorRTError('INVALID_ARGUMENT', `every input needs the same batch size (dimension 0): '${inputs[0]!.name}' has ${batch}, '${t.name}' has ${t.shape[0]}`));
        }
      }
    }
    // Requests merge only when every input's dtype and non-batch dimensions are equal.
    let key = '';
    for (const t of inputs) key += `${t.dtype}${fmtShape(batched ? t.shape.slice(1) : t.shape)};`;
    return new Promise<BatchResult>((resolve, reject) => {
      const p: Pending = { inputs, batch, key, enqueued: performance.now(), resolve, reject, timer: null, done: false };
      if (this.options.timeoutMs > 0) {
        p.timer = setTimeout(() => {
          if (p.done) return;
          p.done = true;
          const i = this.queue.indexOf(p);
          if (i >= 0) this.queue.splice(i, 1);
          reject(new TensorRTError('DEADLINE_EXCEEDED', `no result within the request timeout of ${this.options.timeoutMs} ms`));
          this.checkDrained();
        }, this.options.timeoutMs);
      }
      this.queue.push(p);
      this.schedule();
    });
  }

  /** Runs batches while an instance is free and the queue holds a batch that is due. */
  private schedule(): void {
    while (this.busy < this.options.instances && this.queue.length > 0) {
      const picked = this.pick();
      if (!picked) return;
      this.dispatch(picked);
    }
  }

  /** The next batch to run, or null when it should wait for more requests (a timer is then set). */
  private pick(): Pending[] | null {
    const head = this.queue[0]!;
    const max = this.options.maxBatchSize;
    if (max <= 1) return this.queue.splice(0, 1);
    const items: Pending[] = [];
    const sums: number[] = [];
    let total = 0;
    for (const p of this.queue) {
      if (p.key !== head.key || total + p.batch > max) continue;
      items.push(p);
      total += p.batch;
      sums.push(total);
      if (total === max) break;
    }
    let take = items.length;
    let due = total >= max || this.closed;
    if (!due && this.options.preferredBatchSizes.length) {
      for (const pref of this.options.preferredBatchSizes) {
        const i = sums.indexOf(pref);
        if (i >= 0) {
          take = i + 1;
          due = true;
          break;
        }
      }
    }
    if (!due) {
      const waitedUs = (performance.now() - head.enqueued) * 1000;
      const left = this.options.maxQueueDelayMicroseconds - waitedUs;
      if (left > 0) {
        if (!this.delayTimer) {
          this.delayTimer = setTimeout(() => {
            this.delayTimer = null;
            this.schedule();
          }, Math.max(1, Math.ceil(left / 1000)));
        }
        return null;
      }
    }
    const chosen = items.slice(0, take);
    const set = new Set(chosen);
    this.queue = this.queue.filter((p) => !set.has(p));
    return chosen;
  }

  private dispatch(items: Pending[]): void {
    const instance = this.freeInstance();
    this.busy++;
    const started = performance.now();
    let inputs: Tensor[];
    try {
      if (items.length === 1) inputs = items[0]!.inputs;
      else {
        inputs = mergeInputs(items.map((p) => p.inputs), allocDisposable); // the batch's own arrays: the backend may take them
      }
    } catch (e) {
      this.finish(items, instance, null, e, started);
      return;
    }
    this.backend.run(inputs, instance).then(
      (outs) => this.finish(items, instance, outs, null, started),
      (e) => this.finish(items, instance, null, e, started),
    );
  }

  private instanceBusy: boolean[] = [];

  private freeInstance(): number {
    for (let i = 0; i < this.options.instances; i++) {
      if (!this.instanceBusy[i]) {
        this.instanceBusy[i] = true;
        return i;
      }
    }
    throw new TensorRTError('INTERNAL', 'no free instance although one was counted free');
  }

  private finish(items: Pending[], instance: number, outs: Tensor[] | null, err: unknown, started: number): void {
    const now = performance.now();
    const computeUs = (now - started) * 1000;
    this.instanceBusy[instance] = false;
    this.busy--;
    const size = items.reduce((a, p) => a + p.batch, 0);
    this.observe(size, computeUs);
    let parts: Tensor[][] | null = null;
    if (outs) {
      try {
        parts = items.length === 1 ? [outs] : splitOutputs(outs, items.map((p) => p.batch));
      } catch (e) {
        err = e;
      }
    }
    items.forEach((p, i) => {
      if (p.timer) clearTimeout(p.timer);
      if (p.done) return;
      p.done = true;
      if (parts) p.resolve({ outputs: parts[i]!, queueUs: (started - p.enqueued) * 1000, computeUs, batchSize: size });
      else p.reject(err);
    });
    this.schedule();
    this.checkDrained();
  }

  private checkDrained(): void {
    if (this.queue.length === 0 && this.busy === 0 && this.drainWaiters.length) {
      const w = this.drainWaiters;
      this.drainWaiters = [];
      for (const f of w) f();
    }
  }

  /** Refuses new requests from now on; queued ones still run (without waiting for the queue delay). */
  close(): void {
    this.closed = true;
    if (this.delayTimer) {
      clearTimeout(this.delayTimer);
      this.delayTimer = null;
    }
    this.schedule();
  }

  /** Refuses new requests and rejects every queued one with UNAVAILABLE (batches in flight still finish). */
  abort(reason: string): void {
    this.close();
    const q = this.queue;
    this.queue = [];
    for (const p of q) {
      if (p.timer) clearTimeout(p.timer);
      if (p.done) continue;
      p.done = true;
      p.reject(new TensorRTError('UNAVAILABLE', reason));
    }
    this.checkDrained();
  }

  /** Resolves once every queued and in-flight request has finished. */
  drain(): Promise<void> {
    if (this.queue.length === 0 && this.busy === 0) return Promise.resolve();
    return new Promise((r) => {
      this.drainWaiters.push(r);
      this.schedule();
    });
  }
}

/** Concatenates each input of several requests along dimension 0. */
/** The argument checks of `new Batcher` (lib/validate.ts's vocabulary). */
function checkBatcherArgs(backend: unknown, options: unknown, observe: unknown): void {
  const b = is.object(backend, 'Batcher: backend', 'a Backend');
  is.number(b.maxBatchSize, 'Batcher: backend.maxBatchSize', { lo: 0 });
  is.func(b.run, 'Batcher: backend.run');
  const o = is.object(options, 'Batcher options', 'BatcherOptions');
  is.number(o.maxBatchSize, 'Batcher option maxBatchSize', { lo: 0 });
  is.arrayOf(o.preferredBatchSizes, 'Batcher option preferredBatchSizes', (v, w) => is.number(v, w, { lo: 0 }), 'an array of batch sizes');
  is.func(observe, 'Batcher: observe');
}

export function mergeInputs(requests: Tensor[][], alloc: (dtype: ServeDType, count: number) => ServeArray = (d, n) => (d === 'string' ? new Array<string>(n) : new ARRAYS[d](n))): Tensor[] {
  const first = requests[0]!;
  return first.map((t, j) => {
    let n = 0;
    let b = 0;
    for (const r of requests) {
      n += r[j]!.data.length;
      b += r[j]!.shape[0]!;
    }
    const data = alloc(t.dtype, n);
    let off = 0;
    for (const r of requests) {
      const src = r[j]!.data;
      if (Array.isArray(src)) for (let i = 0; i < src.length; i++) (data as string[])[off + i] = src[i]!; // string tensors
      else (data as Float32Array).set(src as Float32Array, off);
      off += src.length;
    }
    return { name: t.name, dtype: t.dtype, shape: [b, ...t.shape.slice(1)], data };
  });
}

/** Splits each output along dimension 0 into the requests' batch sizes (views, no copies; string tensors: copies). */
export function splitOutputs(outs: Tensor[], sizes: number[]): Tensor[][] {
  const total = sizes.reduce((a, b) => a + b, 0);
  const res: Tensor[][] = sizes.map(() => []);
  for (const t of outs) {
    if (t.shape[0] !== total) {
      throw new TensorRTError('INTERNAL', `output '${t.name}' has ${t.shape[0]} rows for a batch of ${total}: the model's dimension 0 is not its batch dimension (set maxBatchSize 0 in config.json)`);
    }
    const inner = volume(t.shape.slice(1));
    let row = 0;
    sizes.forEach((s, i) => {
      const d = t.data;
      const data = (Array.isArray(d) ? d.slice(row * inner, (row + s) * inner) : d.subarray(row * inner, (row + s) * inner)) as ServeArray;
      res[i]!.push({ name: t.name, dtype: t.dtype, shape: [s, ...t.shape.slice(1)], data });
      row += s;
    });
  }
  return res;
}
