/**
 * `tensorrt-node bench <model.engine>`: trtexec-style timing. Inputs are uploaded once; each iteration enqueues
 * the engine on its stream between two CUDA events and waits for it. Per-iteration latency is host wall time
 * (enqueue to completion, hrtime) and GPU compute time is the events' elapsed time; `--streams N` runs N
 * execution contexts concurrently, each on its own stream with its own buffers. Reports throughput and
 * latency min / max / mean / median / p90 / p95 / p99 like trtexec's performance summary.
 */
import type { Command } from 'commander';
import { DeviceBuffer, Event, Stream } from '../cuda';
import { action, io, requireCuda, requireTensorRT, toJson, UsageError } from './common';
import { addCacheBuildOptions, prepareEngine } from './cache';
import {
  fmtShape, formatMs, latencyStats, parseDuration, parseInputSpec, parseIntOption, parseShapes,
  type InputSpec, type LatencyStats, type ShapeMap,
} from './parse';
import { readInputFiles, prepareInputs } from './run';
import { bytesPerElement, elementCount } from './tensors';
import type { ContextLike, EngineLike } from './trt';

export interface BenchResult {
  engine: string;
  streams: number;
  iterationsPerStream: number[];
  totalInferences: number;
  wallMs: number;
  throughput: number;
  /** Host wall time of each iteration, enqueue to completion. */
  latencyMs: LatencyStats;
  /** CUDA-event time of each iteration on the GPU. */
  gpuComputeMs: LatencyStats;
  shapes: Record<string, number[]>;
}

/** A trtexec-like performance summary. */
export function formatBench(r: BenchResult): string {
  const row = (s: LatencyStats) => [
    `min = ${s.min.toFixed(5)} ms`, `max = ${s.max.toFixed(5)} ms`, `mean = ${s.mean.toFixed(5)} ms`,
    `median = ${s.median.toFixed(5)} ms`, `percentile(90%) = ${s.p90.toFixed(5)} ms`,
    `percentile(95%) = ${s.p95.toFixed(5)} ms`, `percentile(99%) = ${s.p99.toFixed(5)} ms`,
  ].join(', ');
  const L = [
    `=== Performance summary: ${r.engine} ===`,
    `Shapes: ${Object.entries(r.shapes).map(([k, v]) => `${k}:${fmtShape(v)}`).join(', ')}`,
    `Streams: ${r.streams}; inferences: ${r.totalInferences} in ${formatMs(r.wallMs)}`,
    `Throughput: ${r.throughput.toFixed(2)} qps`,
    `Latency: ${row(r.latencyMs)}`,
    `GPU Compute Time: ${row(r.gpuComputeMs)}`,
  ];
  return `${L.join('\n')}\n`;
}

interface BenchOptions {
  input?: InputSpec[];
  shapes?: ShapeMap;
  iterations: number;
  warmup: number;
  duration?: number;
  streams: number;
  seed: number;
  json?: boolean;
}

interface Worker {
  ctx: ContextLike;
  stream: Stream;
  start: Event;
  end: Event;
  buffers: DeviceBuffer[];
  latencies: number[];
  gpu: number[];
}

async function setUpWorker(engine: EngineLike, data: Record<string, ArrayBufferView>, shapes: Record<string, number[]>): Promise<Worker> {
  const ctx = engine.createExecutionContext();
  const w: Worker = { ctx, stream: new Stream({ nonBlocking: true }), start: new Event(), end: new Event(), buffers: [], latencies: [], gpu: [] };
  try {
    for (const t of engine.ioTensors.filter((x) => x.mode === 'input')) {
      if (t.location === 'host') {
        throw new UsageError(`input '${t.name}' is a shape tensor (host memory); bench supports device tensors only: use \`tensorrt-node run\``);
      }
      if (t.shape.some((d) => d < 0)) ctx.setInputShape(t.name, shapes[t.name]);
      const buf = await DeviceBuffer.from(data[t.name]);
      w.buffers.push(buf);
      ctx.setTensorAddress(t.name, buf);
    }
    for (const t of engine.ioTensors.filter((x) => x.mode === 'output')) {
      const shape = ctx.getTensorShape(t.name);
      if (shape.some((d) => d < 0)) {
        throw new UsageError(`output '${t.name}' has a data-dependent shape (${fmtShape(shape)}); bench needs outputs of known size`);
      }
      const buf = new DeviceBuffer(Math.max(1, elementCount(shape) * bytesPerElement(t.dtype)));
      w.buffers.push(buf);
      ctx.setTensorAddress(t.name, buf);
    }
  } catch (e) {
    disposeWorker(w);
    throw e;
  }
  return w;
}

function disposeWorker(w: Worker): void {
  w.ctx.dispose();
  for (const b of w.buffers) b.dispose();
  w.start.dispose();
  w.end.dispose();
  w.stream.dispose();
}

async function iterate(w: Worker, record: boolean): Promise<void> {
  const t0 = process.hrtime.bigint();
  w.start.record(w.stream);
  w.ctx.enqueue(w.stream);
  w.end.record(w.stream);
  await w.end.synchronize();
  if (record) {
    w.latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
    w.gpu.push(Event.elapsedTime(w.start, w.end));
  }
}

export function registerBench(program: Command): void {
  addCacheBuildOptions(program.command('bench'))
    .description("measure an engine's latency and throughput (like trtexec's performance summary)")
    .argument('<engine>', 'serialized TensorRT engine (.engine / .plan), or an ONNX model with --cache-dir')
    .option('--shapes <spec>', 'input shapes for dynamic inputs, e.g. input:8x3x224x224', (v, p?: ShapeMap) => parseShapes(v, p, '--shapes'))
    .option('--batch-shapes <spec>', 'alias of --shapes', (v, p?: ShapeMap) => parseShapes(v, p, '--batch-shapes'))
    .option('-i, --input <name=file.npy>', 'input data from a .npy file (default: random)', (v, p?: InputSpec[]) => parseInputSpec(v, p))
    .option('--iterations <n>', 'timed iterations per stream', parseIntOption('--iterations', 1), 100)
    .option('--warmup <n>', 'untimed iterations per stream first', parseIntOption('--warmup', 0), 10)
    .option('--duration <seconds>', 'keep iterating for at least this long (after --iterations)', parseDuration('--duration'))
    .option('--streams <n>', 'execution contexts run concurrently, one stream each', parseIntOption('--streams', 1, 64), 1)
    .option('--seed <n>', 'seed of the random inputs', parseIntOption('--seed', 0, 2 ** 32 - 1), 1)
    .option('--json', 'print the result as JSON')
    .action(
      action('bench', async (file: string, raw: BenchOptions & { batchShapes?: ShapeMap }) => {
        const o = raw;
        if (raw.batchShapes && raw.shapes) throw new UsageError('give --shapes or --batch-shapes, not both');
        const shapesGiven = raw.shapes ?? raw.batchShapes ?? {};
        const openEngine = prepareEngine(file, o, shapesGiven); // an engine file, or ONNX through --cache-dir
        const files = readInputFiles(o.input ?? []);
        requireTensorRT();
        requireCuda();
        const engine = await openEngine();
        const workers: Worker[] = [];
        try {
          const inputs = engine.ioTensors.filter((t) => t.mode === 'input');
          const prepared = prepareInputs(inputs, files, shapesGiven, o.seed);
          for (let s = 0; s < o.streams; s++) workers.push(await setUpWorker(engine, prepared.data, prepared.shapes));
          // warm-up
          await Promise.all(workers.map(async (w) => {
            for (let i = 0; i < o.warmup; i++) await iterate(w, false);
          }));
          const minMs = o.duration ?? 0;
          const t0 = process.hrtime.bigint();
          const elapsed = () => Number(process.hrtime.bigint() - t0) / 1e6;
          await Promise.all(workers.map(async (w) => {
            for (let i = 0; i < o.iterations || elapsed() < minMs; i++) await iterate(w, true);
          }));
          const wallMs = elapsed();
          const all = workers.flatMap((w) => w.latencies);
          const r: BenchResult = {
            engine: file,
            streams: o.streams,
            iterationsPerStream: workers.map((w) => w.latencies.length),
            totalInferences: all.length,
            wallMs,
            throughput: (all.length * 1000) / wallMs,
            latencyMs: latencyStats(all),
            gpuComputeMs: latencyStats(workers.flatMap((w) => w.gpu)),
            shapes: prepared.shapes,
          };
          io().out(o.json ? toJson(r) : formatBench(r));
        } finally {
          for (const w of workers) disposeWorker(w);
          engine.dispose();
        }
      }),
    );
}

