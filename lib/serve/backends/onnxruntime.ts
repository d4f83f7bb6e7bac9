/**
 * The `onnxruntime` backend: onnxruntime-node (an optional dependency) running `.onnx` models on the CPU. It is
 * serve's default wherever TensorRT or a GPU is absent. Each of the model's `instances` is a worker thread with its
 * own InferenceSession, one batch in flight on each, so that no inference runs on the event loop's thread.
 */
import { MessageChannel, MessagePort, receiveMessageOnPort, Worker } from 'worker_threads';
import { ONNXRUNTIME_NODE_ADVICE, TensorRTError } from '../../errors';
import { saveModel } from '../../onnx';
import { convertTensorFlow } from '../../tensorflow';
import type { Backend } from '../batcher';
import { allocDisposable, isServeDType, recycle, ServeArray, takeDisposable, Tensor, TensorSpec } from '../tensor';
import * as is from '../../validate';

export interface OnnxRuntimeBackendOptions {
  /** Worker threads, each with its own session and one batch in flight (default 1). */
  instances?: number;
  /** Batch size cap when the model's dimension 0 is dynamic (default 8); 0: no batch dimension. */
  maxBatchSize?: number;
  /** onnxruntime intra-op threads per run (default: onnxruntime's, one per core). */
  intraOpNumThreads?: number;
  /**
   * Let onnxruntime's idle pool threads spin (its default). Off by default here: spinning threads take the cores
   * the server's event loop needs to read and answer requests.
   */
  allowSpinning?: boolean;
  /** SavedModel tags and signature for a SavedModel directory (default serve, serving_default). */
  tensorflow?: { tags?: string[]; signature?: string; signatureKeys?: boolean };
}

// The module object only (sessions run in worker threads): not typed by onnxruntime-node's declarations, which need
// the DOM library and would make every consumer of tensorrt-node's types depend on them (issue 10, no skipLibCheck).
type Ort = { readonly [name: string]: unknown };
let ortModule: Ort | null = null;

/** onnxruntime-node, or UNSUPPORTED saying how to get it. */
export function loadOnnxRuntime(): Ort {
  if (ortModule) return ortModule;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- onnxruntime-node is an optional dependency, loaded when this backend is chosen
    ortModule = require('onnxruntime-node') as Ort;
    return ortModule;
  } catch (e) {
    throw new TensorRTError('UNSUPPORTED', `the onnxruntime backend needs onnxruntime-node, which cannot be loaded (${(e as Error).message.split('\n')[0]}): ${ONNXRUNTIME_NODE_ADVICE}`, { cause: e });
  }
}

/** Whether onnxruntime-node can be loaded here. */
export function onnxRuntimeAvailable(): boolean {
  try {
    loadOnnxRuntime();
    return true;
  } catch {
    return false;
  }
}

interface OrtValueMeta {
  name: string;
  isTensor?: boolean;
  type?: string;
  shape?: (number | string)[];
}

function specOf(m: OrtValueMeta, file: string): TensorSpec {
  if (m.isTensor === false || !m.type || !isServeDType(m.type) || !m.shape) {
    throw new TensorRTError('UNSUPPORTED', `${file}: '${m.name}' has type ${m.type ?? 'unknown'}; serve handles numeric, bool and string tensors`);
  }
  return { name: m.name, dtype: m.type, shape: m.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : -1)) };
}

/**
 * The ONNX model (a path or its bytes) for a model file: `.onnx` as it is; TensorFlow models (`model.json` TF.js
 * graph models, `model.pb` frozen graphs) converted in memory by the TensorFlow converter (lib/tensorflow), which
 * keeps TF's input/output names, dtypes and NHWC layout, so clients send what they sent to TF Serving.
 */
export async function onnxForModel(file: string, tensorflow: { tags?: string[]; signature?: string; signatureKeys?: boolean } = {}): Promise<string | Uint8Array> {
  if (/\.onnx$/i.test(file)) return file;
  return saveModel(convertTensorFlow(file, tensorflow).model);
}

/**
 * The code of one instance's worker thread. onnxruntime-node's `session.run` computes on the thread that calls it
 * (it only defers the call with setImmediate), so each instance runs its own InferenceSession in a worker thread:
 * the event loop keeps reading and answering requests while a batch computes.
 *
 * The hop between the threads is made cheap, because at concurrency 1 it is paid twice per request (issue 14's
 * overhead target): the messages travel on MessagePorts that nobody listens on, and each side wakes the other with
 * a futex on a SharedArrayBuffer (Atomics.notify) instead of the port's event-loop wake-up; the receiver takes the
 * message with receiveMessageOnPort. The worker sleeps in Atomics.wait (it has nothing else to do); the event loop
 * waits with Atomics.waitAsync, never blocking. Tensors move as transferred ArrayBuffers, not structured-clone
 * copies. Measured on the 2-core VM (docs/serving.md, run F): the round trip of a 110 kB input and its result
 * between two idle threads, p50 ~120 us with postMessage and 'message' events, ~30-50 us this way.
 * ctl[0]: requests posted by the main thread, ctl[1]: results posted by the worker (both only ever increase).
 */
const WORKER_SOURCE = `
const { parentPort, workerData, receiveMessageOnPort } = require('worker_threads');
const ort = require(workerData.ortPath);
const { ctl, requests, results } = workerData;
function post(m, transfer) {
  try {
    results.postMessage(m, transfer);
  } catch (e) {
    results.postMessage(m); // a buffer that cannot be transferred: copied
  }
  Atomics.add(ctl, 1, 1);
  Atomics.notify(ctl, 1);
}
(async () => {
  let session;
  try {
    session = await ort.InferenceSession.create(workerData.model, workerData.sessionOptions);
  } catch (e) {
    parentPort.postMessage({ type: 'error', message: String(e && e.message || e) });
    return;
  }
  parentPort.postMessage({ type: 'ready', inputMetadata: session.inputMetadata, outputMetadata: session.outputMetadata });
  let seen = 0;
  for (;;) {
    // a timed wait, so that a lost wake-up could only delay, never hang (worker.terminate() interrupts it too)
    if (Atomics.load(ctl, 0) === seen) Atomics.wait(ctl, 0, seen, 1000);
    const got = receiveMessageOnPort(requests);
    if (!got) continue;
    seen++;
    const m = got.message;
    if (m.type === 'release') {
      await session.release();
      post({ type: 'released' }, []);
      return;
    }
    let reply;
    const transfer = new Set();
    try {
      const feeds = {};
      for (const t of m.inputs) feeds[t.name] = new ort.Tensor(t.dtype, t.data, t.shape);
      const r = await session.run(feeds, m.outputs, { logSeverityLevel: 4 });
      const outs = m.outputs.map((n) => ({ name: n, dims: Array.from(r[n].dims, Number), data: r[n].data }));
      for (const o of outs) if (o.data.buffer instanceof ArrayBuffer) transfer.add(o.data.buffer);
      // the input buffers go back for reuse (tensor.ts's POOL), unless an output shares one
      const back = new Set();
      for (const t of m.inputs) if (t.data.buffer instanceof ArrayBuffer && !transfer.has(t.data.buffer)) back.add(t.data.buffer);
      for (const b of back) transfer.add(b);
      reply = { type: 'result', id: m.id, outputs: outs, inputs: [...back] };
    } catch (e) {
      reply = { type: 'result', id: m.id, error: String(e && e.message || e) };
    }
    post(reply, [...transfer]);
  }
})();
`;

interface WorkerResult {
  type: string;
  id?: number;
  error?: string;
  message?: string;
  outputs?: { name: string; dims: number[]; data: ServeArray }[];
  /** The run's input buffers, handed back for reuse. */
  inputs?: ArrayBuffer[];
  inputMetadata?: OrtValueMeta[];
  outputMetadata?: OrtValueMeta[];
}

/** Atomics.waitAsync (ES2024; in Node since 16), typed here: the project's TypeScript lib is older. */
const waitAsync = (Atomics as unknown as {
  waitAsync(a: Int32Array, index: number, value: number, timeoutMs?: number): { async: boolean; value: Promise<string> | string };
}).waitAsync;

/**
 * A tensor's data in an ArrayBuffer that can be transferred: its own when serve made it for this request or batch
 * (decoded copies, merged batches: tensor.ts's DISPOSABLE), else a copy (the caller's array stays as it is), into a
 * recycled buffer where one of that size is free.
 */
function ownCopy(t: Tensor): ServeArray {
  if (takeDisposable(t.data) || Array.isArray(t.data)) return t.data; // strings are cloned on the way (not transferable)
  const c = allocDisposable(t.dtype, t.data.length);
  takeDisposable(c);
  (c as Float32Array).set(t.data as Float32Array);
  return c;
}

class OrtWorker {
  readonly worker: Worker;
  private pending = new Map<number, { resolve: (r: WorkerResult) => void; reject: (e: unknown) => void }>();
  private nextId = 1;
  private dead: Error | null = null;
  readonly ready: Promise<WorkerResult>;
  private readonly ctl = new Int32Array(new SharedArrayBuffer(8));
  private readonly requests: MessagePort;
  private readonly results: MessagePort;
  private resultsSeen = 0;
  private pumping = false;

  constructor(model: string | Uint8Array, sessionOptions: unknown, ortPath: string) {
    const req = new MessageChannel();
    const res = new MessageChannel();
    this.requests = req.port1;
    this.results = res.port1;
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { model, sessionOptions, ortPath, ctl: this.ctl, requests: req.port2, results: res.port2 },
      transferList: [req.port2, res.port2],
    });
    this.worker.unref();
    let readyResolve!: (r: WorkerResult) => void;
    let readyReject!: (e: unknown) => void;
    this.ready = new Promise((res, rej) => {
      readyResolve = res;
      readyReject = rej;
    });
    this.worker.on('message', (m: WorkerResult) => {
      if (m.type === 'ready') readyResolve(m);
      else if (m.type === 'error') readyReject(new Error(m.message));
    });
    const fail = (e: Error) => {
      this.dead = e;
      readyReject(e);
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`the onnxruntime worker thread exited (code ${code})`)));
  }

  private post(m: unknown, transfer: ArrayBuffer[]): void {
    this.requests.postMessage(m, transfer);
    Atomics.add(this.ctl, 0, 1);
    Atomics.notify(this.ctl, 0);
  }

  /** Takes the worker's results while any is awaited: Atomics.waitAsync on ctl[1], then receiveMessageOnPort. */
  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.pending.size > 0 && !this.dead) {
        const w = waitAsync(this.ctl, 1, this.resultsSeen);
        if (w.async) await w.value;
        this.resultsSeen = Atomics.load(this.ctl, 1);
        for (let got = receiveMessageOnPort(this.results); got; got = receiveMessageOnPort(this.results)) {
          const m = got.message as WorkerResult;
          for (const b of m.inputs ?? []) recycle(b); // the batch's input buffers, back for the next request
          const p = this.pending.get(m.id!);
          this.pending.delete(m.id!);
          p?.resolve(m);
        }
      }
    } finally {
      this.pumping = false;
    }
  }

  run(inputs: Tensor[], outputs: string[]): Promise<WorkerResult> {
    if (this.dead) return Promise.reject(new TensorRTError('INTERNAL', `onnxruntime worker: ${this.dead.message}`));
    const id = this.nextId++;
    // Each input in a buffer of its own (serve's own arrays as they are, others copied once), transferred.
    const data = inputs.map((t) => ownCopy(t));
    const p = new Promise<WorkerResult>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
    });
    try {
      this.post({ type: 'run', id, outputs, inputs: inputs.map((t, i) => ({ name: t.name, dtype: t.dtype, shape: t.shape, data: data[i] })) }, data.flatMap((d) => (Array.isArray(d) ? [] : [d.buffer as ArrayBuffer]))); // strings: cloned
    } catch (e) {
      this.pending.delete(id);
      return Promise.reject(new TensorRTError('INTERNAL', `onnxruntime worker: cannot send the batch: ${(e as Error).message}`, { cause: e }));
    }
    void this.pump();
    return p;
  }

  async release(): Promise<void> {
    if (this.dead) return;
    const seen = Atomics.load(this.ctl, 1);
    this.post({ type: 'release' }, []);
    const w = waitAsync(this.ctl, 1, seen, 2000);
    if (w.async) await w.value;
    this.dead = new Error('released');
    this.requests.close();
    this.results.close();
    await this.worker.terminate();
  }
}

/**
 * The onnxruntime session options of each instance (also what the serve benchmark gives its in-process baseline, so
 * that both compute alike).
 */
export function onnxRuntimeSessionOptions(options: Pick<OnnxRuntimeBackendOptions, 'intraOpNumThreads' | 'allowSpinning'> = {}): Record<string, unknown> {
  // logSeverityLevel 4 (fatal only): onnxruntime's own log lines are coloured text on stderr, which would land
  // in the server's JSON log; its errors reach the caller as exceptions (and the client as the answer) instead
  const sessionOptions: Record<string, unknown> = { executionProviders: ['cpu'], logSeverityLevel: 4 };
  if (options.intraOpNumThreads) sessionOptions.intraOpNumThreads = options.intraOpNumThreads;
  const spin = options.allowSpinning ? '1' : '0';
  sessionOptions.extra = { session: { intra_op: { allow_spinning: spin }, inter_op: { allow_spinning: spin } } };
  return sessionOptions;
}

/**
 * How an onnxruntime run failure is classified (docs/serving.md, "Errors"). serve checks every input's dtype, rank
 * and static dimensions against the model before a run, so a kernel that then fails on the batch ("Non-zero status
 * code returned while running <Op> node", invalid dimensions or shapes) failed on what the client sent: its
 * dynamic dimensions (a 0, an image too small for the model's strides) or its values. That is INVALID_ARGUMENT
 * (HTTP 400) with onnxruntime's message. Resource failures (allocation, out of memory) and anything else
 * onnxruntime says are the backend's fault: INTERNAL (HTTP 500, logged at error level).
 */
export function runError(message: string): TensorRTError {
  const msg = message.trim();
  const resource = /fail(ed)? to allocate|bad_alloc|out of memory|memory allocation/i.test(msg);
  const inputCaused = /Non-zero status code returned while running|Got invalid dimensions|Invalid input shape|Invalid rank|invalid dimensions|Unexpected input data type/i.test(msg);
  if (inputCaused && !resource) return new TensorRTError('INVALID_ARGUMENT', `the model cannot run on this input: onnxruntime: ${msg}`);
  return new TensorRTError('INTERNAL', `onnxruntime run failed: ${msg}`);
}

export async function createOnnxRuntimeBackend(file: string, options: OnnxRuntimeBackendOptions = {}): Promise<Backend> {
  is.path(file, 'createOnnxRuntimeBackend: the model file');
  is.object(options, 'createOnnxRuntimeBackend options');
  loadOnnxRuntime(); // UNSUPPORTED with the install hint when missing
  const ortPath = require.resolve('onnxruntime-node');
  const model = await onnxForModel(file, options.tensorflow);
  const sessionOptions = onnxRuntimeSessionOptions(options);
  const n = Math.max(1, options.instances ?? 1);
  const workers = Array.from({ length: n }, () => new OrtWorker(model, sessionOptions, ortPath));
  let meta: WorkerResult;
  try {
    meta = (await Promise.all(workers.map((w) => w.ready)))[0]!;
  } catch (e) {
    await Promise.all(workers.map((w) => w.worker.terminate()));
    throw new TensorRTError('PARSE_ERROR', `onnxruntime cannot load ${file}: ${(e as Error).message}`, { cause: e });
  }
  if (!Array.isArray(meta.inputMetadata) || !Array.isArray(meta.outputMetadata)) {
    await Promise.all(workers.map((w) => w.worker.terminate()));
    throw new TensorRTError('UNSUPPORTED', 'onnxruntime-node >= 1.22 is needed (session input/output metadata)');
  }
  let inputs: TensorSpec[];
  let outputs: TensorSpec[];
  try {
    inputs = meta.inputMetadata.map((m) => specOf(m, file));
    outputs = meta.outputMetadata.map((m) => specOf(m, file));
  } catch (e) {
    await Promise.all(workers.map((w) => w.worker.terminate()));
    throw e;
  }
  const dynamicBatch = [...inputs, ...outputs].every((t) => t.shape.length > 0 && t.shape[0] === -1);
  const maxBatchSize = dynamicBatch ? (options.maxBatchSize ?? 8) : 0;
  const outNames = outputs.map((o) => o.name);
  return {
    platform: 'onnxruntime_onnx',
    kind: 'onnxruntime',
    inputs,
    outputs,
    maxBatchSize,
    async run(ins: Tensor[], instance: number): Promise<Tensor[]> {
      const r = await workers[instance % n]!.run(ins, outNames);
      // Shapes and dtypes were checked against the model before: what is left is the model's own failure.
      if (r.error !== undefined) throw runError(r.error);
      return outputs.map((o, i) => ({ name: o.name, dtype: o.dtype, shape: r.outputs![i]!.dims, data: r.outputs![i]!.data }));
    },
    async dispose() {
      await Promise.all(workers.map((w) => w.release()));
    },
  };
}
