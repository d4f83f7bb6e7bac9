/**
 * Large JSON request bodies parsed off the event loop (issue 25.6).
 *
 * `JSON.parse` of a 60 MiB body takes over a second on one core; on the JS thread that second is a frozen server
 * (health probes, every other request). Bodies of `OFFLOAD_BYTES` or more are parsed in a worker thread instead.
 * Sending the parsed object back would cost nearly as much again (a structured clone of millions of numbers is
 * deserialized on the JS thread), so the worker packs every large rectangular list of numbers (or of booleans)
 * into a `Packed` value — its shape and a Float64Array (or Uint8Array) that is transferred, not copied. A Float64Array
 * holds every JSON number exactly as JSON.parse gives it, so the decoders in tensor.ts check packed values with
 * the same rules and messages as nested lists (tensor.ts: fromNested, fromFlat).
 *
 * The worker's code is a self-contained string (no module to resolve: the same under dist/ and under ts-jest).
 * Workers are few (at most 2; up to 4 with the busy offload on 8+ cores: MAX_WORKERS), created on first use, unref'ed, and ended when the last server holding them closes.
 */
import { Worker } from 'worker_threads';
import { invalidArg, TensorRTError } from '../errors';
import { CORES, MANY_CORES, manyCores } from './cores';

/**
 * Bodies at least this large are parsed in a worker (about 20 ms of JSON.parse on one core here).
 * `TENSORRT_NODE_JSON_OFFLOAD_BYTES` changes it (`Infinity`: never; the benchmark's baseline).
 */
export const OFFLOAD_BYTES = offloadBytes(process.env.TENSORRT_NODE_JSON_OFFLOAD_BYTES);

function offloadBytes(v: string | undefined): number {
  if (v === undefined || v === '') return 1 << 20;
  const n = Number(v);
  if (!(n >= 0)) throw invalidArg(`TENSORRT_NODE_JSON_OFFLOAD_BYTES must be a number of bytes or Infinity; got '${v}'`);
  return n;
}
/** Lists with fewer elements stay plain arrays (their clone is cheap). */
const PACK_MIN = 256;
/** Deeper containers than this are refused in the worker (tensor.ts's MAX_NESTING is 64 for lists). */
export const MAX_DEPTH = 128;

/** The marker key of a packed list (a plain object after the structured clone). */
export const PACKED_KEY = '\u0000tensorrt-node.packed';

/** A rectangular nested list of numbers (Float64Array) or of booleans (Uint8Array, 0/1), row-major. */
export interface Packed {
  [PACKED_KEY]: true;
  shape: number[];
  data: Float64Array | Uint8Array;
  bool: boolean;
}

export function isPacked(v: unknown): v is Packed {
  return v !== null && typeof v === 'object' && (v as Record<string, unknown>)[PACKED_KEY] === true;
}

const WORKER_SOURCE = `
'use strict';
const { parentPort, workerData } = require('worker_threads');
const { PACKED_KEY, PACK_MIN, MAX_DEPTH } = workerData;
class TooDeep extends Error {}
// The shape of a rectangular list whose leaves are all numbers (kind 'n') or all booleans (kind 'b'); null otherwise.
function shapeOf(v) {
  const shape = [];
  let x = v;
  while (Array.isArray(x)) {
    if (shape.length > MAX_DEPTH) throw new TooDeep();
    shape.push(x.length);
    if (x.length === 0) return null;
    x = x[0];
  }
  const kind = typeof x === 'number' ? 'n' : typeof x === 'boolean' ? 'b' : null;
  if (!kind || shape.length === 0) return null;
  let n = 1;
  for (const d of shape) n *= d;
  return { shape, kind, n };
}
function fill(v, depth, s, out, pos) {
  if (depth === s.shape.length - 1) {
    if (!Array.isArray(v) || v.length !== s.shape[depth]) return -1;
    for (let i = 0; i < v.length; i++) {
      const e = v[i];
      if (s.kind === 'n') { if (typeof e !== 'number') return -1; out[pos++] = e; }
      else { if (typeof e !== 'boolean') return -1; out[pos++] = e ? 1 : 0; }
    }
    return pos;
  }
  if (!Array.isArray(v) || v.length !== s.shape[depth]) return -1;
  for (let i = 0; i < v.length; i++) { pos = fill(v[i], depth + 1, s, out, pos); if (pos < 0) return -1; }
  return pos;
}
function pack(v, depth, transfer) {
  if (depth > MAX_DEPTH) throw new TooDeep();
  if (Array.isArray(v)) {
    const s = v.length ? shapeOf(v) : null;
    if (s && s.n >= PACK_MIN) {
      const out = s.kind === 'n' ? new Float64Array(s.n) : new Uint8Array(s.n);
      if (fill(v, 0, s, out, 0) === s.n) {
        transfer.push(out.buffer);
        return { [PACKED_KEY]: true, shape: s.shape, data: out, bool: s.kind === 'b' };
      }
    }
    // ragged or mixed: its parts packed where they can be (the decoders then say what is wrong)
    for (let i = 0; i < v.length; i++) if (v[i] !== null && typeof v[i] === 'object') v[i] = pack(v[i], depth + 1, transfer);
    return v;
  }
  if (v !== null && typeof v === 'object') {
    // a tensor's shape stays a list (the protocols check it as one)
    for (const k of Object.keys(v)) if (k !== 'shape' && v[k] !== null && typeof v[k] === 'object') v[k] = pack(v[k], depth + 1, transfer);
  }
  return v;
}
parentPort.on('message', ({ id, bytes }) => {
  let value;
  try {
    value = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch (e) {
    parentPort.postMessage({ id, error: 'json', message: String(e && e.message) });
    return;
  }
  const transfer = [];
  try {
    value = pack(value, 0, transfer);
  } catch (e) {
    parentPort.postMessage({ id, error: e instanceof TooDeep || e instanceof RangeError ? 'deep' : 'internal', message: String(e && e.message) });
    return;
  }
  parentPort.postMessage({ id, value }, transfer);
});
`;

interface Pending {
  resolve(v: unknown): void;
  reject(e: unknown): void;
}

interface JsonWorker {
  worker: Worker;
  pending: Map<number, Pending>;
}

const workers: JsonWorker[] = [];
let nextId = 1;
let turn = 0;

/**
 * When on, medium bodies (turns.ts's TURN_BYTES up to OFFLOAD_BYTES) go to a worker as well **when the event loop is
 * busy with others** (another parse waiting for its turn, or one in a worker), so that the workers parse side by
 * side; a lone request is still parsed on the loop at once (no hop: the lowest latency). **On by default on machines
 * of MANY_CORES (8) or more** (cores.ts), where the event loop's JSON.parse was the server's ceiling (one core: 235–240
 * requests/s of 538 kB bodies from c=16 to c=256 on the GPU host's 16 cores; with it, c=64 JSON throughput 2.71x the
 * hand-written server's, from 1.73x); off below, where offloading medium bodies cost goodput (0.47 of peak at 512
 * connections on 2 cores). `TENSORRT_NODE_JSON_OFFLOAD_BUSY=1` or `0` forces it either way.
 */
export const OFFLOAD_WHEN_BUSY = offloadWhenBusy(process.env.TENSORRT_NODE_JSON_OFFLOAD_BUSY);

function offloadWhenBusy(v: string | undefined): boolean {
  if (v === undefined || v === '') return manyCores;
  if (v === '1' || v === '0') return v === '1';
  throw invalidArg(`TENSORRT_NODE_JSON_OFFLOAD_BUSY must be 1 or 0; got '${v}'`);
}

/**
 * Workers: up to 2 (one core left to the event loop); with OFFLOAD_WHEN_BUSY on a machine of MANY_CORES or more, a
 * quarter of its cores up to 4 (what the 16-core figures were measured with).
 */
const MAX_WORKERS = OFFLOAD_WHEN_BUSY && CORES >= MANY_CORES ? Math.min(4, Math.floor(CORES / 4)) : Math.max(1, Math.min(2, CORES - 1));

/** Bodies being parsed in the workers now. */
export function jsonWorkersPending(): number {
  let n = 0;
  for (const w of workers) n += w.pending.size;
  return n;
}

function spawnWorker(): JsonWorker {
  const w: JsonWorker = { worker: new Worker(WORKER_SOURCE, { eval: true, workerData: { PACKED_KEY, PACK_MIN, MAX_DEPTH } }), pending: new Map() };
  w.worker.unref();
  w.worker.on('message', (m: { id: number; value?: unknown; error?: string; message?: string }) => {
    const p = w.pending.get(m.id);
    if (!p) return;
    w.pending.delete(m.id);
    if (m.error === undefined) p.resolve(m.value);
    else p.reject(m);
  });
  const fail = (e: unknown) => {
    const i = workers.indexOf(w);
    if (i >= 0) workers.splice(i, 1);
    for (const p of w.pending.values()) p.reject({ error: 'internal', message: `the JSON worker thread failed: ${(e as Error)?.message ?? String(e)}` });
    w.pending.clear();
  };
  w.worker.on('error', fail);
  w.worker.on('exit', (code) => fail(new Error(`exited with code ${code}`)));
  workers.push(w);
  return w;
}

function pick(): JsonWorker {
  if (workers.length < MAX_WORKERS) {
    const idle = workers.find((w) => w.pending.size === 0);
    if (idle) return idle;
    return spawnWorker();
  }
  turn = (turn + 1) % workers.length;
  return workers.reduce((a, b) => (b.pending.size < a.pending.size ? b : a), workers[turn]!);
}

/**
 * Parses a JSON request body; one of `OFFLOAD_BYTES` or more in a worker thread, its large numeric lists packed
 * (see `Packed`). Errors are those of `parseJsonBody` in tensor.ts: INVALID_ARGUMENT for bad JSON or nesting.
 */
export function parseJsonOffThread(body: Buffer, what: string, maxNesting: number): Promise<unknown> {
  const w = pick();
  const id = nextId++;
  // the worker gets its own copy of the bytes when the Buffer shares its memory (Node's pool), else the memory itself
  const own = body.byteOffset === 0 && body.byteLength === body.buffer.byteLength && body.buffer instanceof ArrayBuffer;
  const bytes = own ? new Uint8Array(body.buffer, 0, body.byteLength) : new Uint8Array(body);
  return new Promise((resolve, reject) => {
    w.pending.set(id, {
      resolve,
      reject: (m: { error?: string; message?: string }) => {
        if (m.error === 'json') reject(invalidArg(`${what} is not valid JSON: ${m.message}`));
        else if (m.error === 'deep') reject(invalidArg(`${what}: lists nested deeper than ${maxNesting} levels (a tensor's rank is far lower)`));
        else reject(new TensorRTError('INTERNAL', m.message ?? 'the JSON worker thread failed'));
      },
    });
    w.worker.postMessage({ id, bytes }, [bytes.buffer as ArrayBuffer]);
  });
}

let holders = 0;

/**
 * A server's hold on the JSON workers: the returned release ends them once no server of this process holds them
 * (later requests would start new ones). They are unref'ed: they never keep the process alive either way.
 */
export function holdJsonWorkers(): () => Promise<void> {
  holders++;
  let released = false;
  return async () => {
    if (released) return;
    released = true;
    if (--holders > 0) return;
    const all = workers.splice(0);
    await Promise.all(all.map((w) => w.worker.terminate().catch(() => 0)));
  };
}
