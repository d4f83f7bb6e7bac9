/**
 * KServe v2 / Open Inference Protocol over gRPC (`inference.GRPCInferenceService`, service-proto.ts) with
 * @grpc/grpc-js, on its own port next to serve's HTTP port (`tensorrt-node serve --grpc-port 8001`). It serves the
 * same repository through the same batchers and backends, and counts into the same Prometheus metrics
 * (protocol label `kserve-grpc`, code label the gRPC status name).
 *
 *   ServerLive, ServerReady          live / ready (ready false while draining or while no model is ready)
 *   ServerMetadata                   name, version, extensions
 *   ModelReady, ModelMetadata        per model (version '' = the served one)
 *   ModelInfer                       typed `contents` or `raw_input_contents`; answers `raw_output_contents`
 *   ModelConfig                      name, platform, backend, max_batch_size, inputs / outputs (dims without the
 *                                    batch dimension when max_batch_size > 0, as in Triton), dynamic batching,
 *                                    instance group
 *   ModelStatistics                  inference / execution counts, queue and compute time (from the metrics)
 *
 * Status codes: a client's mistake is INVALID_ARGUMENT (bad tensor, name, dtype, shape, version string) or
 * NOT_FOUND (no such model or version); UNAVAILABLE while draining, when the queue is full or the model is
 * unloading; DEADLINE_EXCEEDED past the request timeout; INTERNAL only for the server's own failures.
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import * as protobuf from 'protobufjs';
import { TensorRTError } from '../../errors';
import type { BatchResult } from '../batcher';
import type { ServeMetrics } from '../metrics';
import type { ModelVersion, Repository } from '../repository';
import { checkAgainstSpec, KSERVE_DTYPES, Tensor, TRITON_DTYPES } from '../tensor';
import { decodeInferRequest, encodeInferResponse, ModelInferRequest, parseVersion } from './codec';
import { GRPC_SERVICE_PROTO } from './service-proto';

export interface GrpcServeContext {
  repository: Repository;
  metrics: ServeMetrics;
  version: string;
  /** Server readiness: false while draining or while no model is ready; strict (every model loaded) unless `server` is false. */
  ready(server?: boolean): boolean;
  draining(): boolean;
  log(level: 'info' | 'warn' | 'error', obj: Record<string, unknown>, msg: string): void;
  /** Largest request message in bytes (the HTTP body limit). */
  maxMessageBytes: number;
}

export interface GrpcServer {
  /** Binds host:port (0: any free port); resolves with "host:port". */
  listen(host: string, port: number): Promise<string>;
  /** Refuses new calls, lets the calls in progress finish, closes the connections. */
  shutdown(): Promise<void>;
  /** Calls being served now. */
  readonly active: number;
}

let serviceDefinition: grpc.ServiceDefinition | null = null;

/** The service definition, parsed once from service-proto.ts. */
export function inferenceService(): grpc.ServiceDefinition {
  if (serviceDefinition) return serviceDefinition;
  const root = protobuf.parse(GRPC_SERVICE_PROTO, { keepCase: true }).root;
  const pkg = protoLoader.fromJSON(root.toJSON(), { keepCase: true, longs: String, enums: String, defaults: false, arrays: true, oneofs: true });
  serviceDefinition = pkg['inference.GRPCInferenceService'] as grpc.ServiceDefinition;
  return serviceDefinition;
}

const STATUS: Record<string, grpc.status> = {
  INVALID_ARGUMENT: grpc.status.INVALID_ARGUMENT,
  NOT_FOUND: grpc.status.NOT_FOUND,
  UNAVAILABLE: grpc.status.UNAVAILABLE,
  DEADLINE_EXCEEDED: grpc.status.DEADLINE_EXCEEDED,
};

/** The gRPC status of an error: TensorRTError codes map by name; anything else is the server's fault. */
export function grpcStatusFor(e: unknown): grpc.status {
  const code = e instanceof TensorRTError ? e.code : undefined;
  return (code && STATUS[code]) ?? grpc.status.INTERNAL;
}

function asServiceError(e: unknown): Partial<grpc.ServiceError> {
  return { code: grpcStatusFor(e), details: (e as Error)?.message ?? String(e) };
}

/** Sum and count of a histogram's series for one model (prom-client keeps them as `_sum` / `_count`). */
async function histogram(h: ServeMetrics['queueTime'], model: string): Promise<{ count: number; sum: number }> {
  const got = await h.get();
  let count = 0;
  let sum = 0;
  for (const v of got.values) {
    if (v.labels.model !== model) continue;
    if (v.metricName?.endsWith('_count')) count += v.value;
    else if (v.metricName?.endsWith('_sum')) sum += v.value;
  }
  return { count, sum };
}

export function createGrpcServer(ctx: GrpcServeContext): GrpcServer {
  const m = ctx.metrics;
  const server = new grpc.Server({
    'grpc.max_receive_message_length': ctx.maxMessageBytes,
    'grpc.max_send_message_length': -1,
  });
  let active = 0;

  /** Wraps one unary handler: counts it, maps errors to status codes, records the metrics. */
  function unary<Req, Res>(
    name: string, fn: (req: Req) => Promise<Res>, modelOf: (req: Req) => string = () => '', infer = false,
  ): grpc.handleUnaryCall<Req, Res> {
    return (call, callback) => {
      active++;
      const started = process.hrtime.bigint();
      const model = modelOf(call.request) ?? '';
      fn(call.request).then(
        (res) => {
          m.requests.inc({ model, protocol: 'kserve-grpc', code: 'OK' });
          if (infer) m.latency.observe({ model, protocol: 'kserve-grpc' }, Number(process.hrtime.bigint() - started) / 1e9);
          active--;
          callback(null, res);
        },
        (e) => {
          const err = asServiceError(e);
          m.requests.inc({ model, protocol: 'kserve-grpc', code: grpc.status[err.code!] ?? String(err.code) });
          if (err.code === grpc.status.INTERNAL) ctx.log('error', { err: e, rpc: name, model }, `${name} failed`);
          active--;
          callback(err as grpc.ServiceError, null);
        },
      );
    };
  }

  type NameReq = { name?: string; version?: string };
  const byName = (r: NameReq) => r.name ?? '';
  const get = (r: NameReq): ModelVersion => ctx.repository.get(r.name ?? '', parseVersion(r.version));
  const versionsOf = (model: string) => ctx.repository.all().filter((v) => v.model === model && v.state === 'AVAILABLE').map((v) => v.version).sort((a, b) => a - b);

  async function infer(mv: ModelVersion, tensors: Record<string, Tensor>): Promise<BatchResult> {
    const ordered = mv.backend.inputs.map((spec) => {
      const t = tensors[spec.name];
      if (!t) throw new TensorRTError('INVALID_ARGUMENT', `missing input '${spec.name}' (the model's inputs: ${mv.backend.inputs.map((s) => s.name).join(', ')})`);
      checkAgainstSpec(t, spec, mv.backend.maxBatchSize > 0);
      return t;
    });
    m.requestsInFlight.inc({ model: mv.model });
    try {
      const r = await mv.batcher.submit(ordered);
      m.queueTime.observe({ model: mv.model }, r.queueUs / 1e6);
      return r;
    } finally {
      m.requestsInFlight.dec({ model: mv.model });
    }
  }

  const impl: grpc.UntypedServiceImplementation = {
    ServerLive: unary('ServerLive', async () => ({ live: true })),
    ServerReady: unary('ServerReady', async () => ({ ready: ctx.ready() })),
    ServerMetadata: unary('ServerMetadata', async () => ({ name: 'tensorrt-node', version: ctx.version, extensions: [] })),
    ModelReady: unary('ModelReady', async (r: NameReq) => {
      const mv = get(r);
      return { ready: mv.state === 'AVAILABLE' && ctx.ready(false) }; // a model's readiness is its own
    }, byName),
    ModelMetadata: unary('ModelMetadata', async (r: NameReq) => {
      const mv = get(r);
      const t = (x: { name: string; dtype: keyof typeof KSERVE_DTYPES; shape: number[] }) => ({ name: x.name, datatype: KSERVE_DTYPES[x.dtype], shape: x.shape });
      return { name: mv.model, versions: versionsOf(mv.model).map(String), platform: mv.backend.platform, inputs: mv.backend.inputs.map(t), outputs: mv.backend.outputs.map(t) };
    }, byName),
    ModelConfig: unary('ModelConfig', async (r: NameReq) => {
      const mv = get(r);
      const batched = mv.backend.maxBatchSize > 0;
      const o = mv.batcher.options;
      const dims = (s: number[]) => (batched ? s.slice(1) : s);
      return {
        config: {
          name: mv.model,
          platform: mv.backend.platform,
          backend: mv.backend.kind,
          max_batch_size: batched ? Math.min(mv.backend.maxBatchSize, Math.max(1, o.maxBatchSize)) : 0,
          input: mv.backend.inputs.map((x) => ({ name: x.name, data_type: TRITON_DTYPES[x.dtype], dims: dims(x.shape) })),
          output: mv.backend.outputs.map((x) => ({ name: x.name, data_type: TRITON_DTYPES[x.dtype], dims: dims(x.shape) })),
          instance_group: [{ name: `${mv.model}_0`, count: o.instances, kind: mv.backend.kind === 'tensorrt' ? 'KIND_GPU' : 'KIND_CPU' }],
          ...(batched && o.maxBatchSize > 1 ? { dynamic_batching: { preferred_batch_size: o.preferredBatchSizes, max_queue_delay_microseconds: o.maxQueueDelayMicroseconds } } : {}),
        },
      };
    }, byName),
    ModelStatistics: unary('ModelStatistics', async (r: NameReq) => {
      const versions = r.name ? [get(r)] : ctx.repository.all().filter((v) => v.state === 'AVAILABLE');
      const model_stats = [];
      for (const mv of versions) {
        // The metrics are per model (all versions together): queue time is observed once per answered
        // request, compute time and batch size once per batch run.
        const queue = await histogram(m.queueTime, mv.model);
        const compute = await histogram(m.computeTime, mv.model);
        const samples = await histogram(m.batchSize, mv.model);
        const ns = (s: number) => String(Math.round(s * 1e9));
        model_stats.push({
          name: mv.model,
          version: String(mv.version),
          inference_count: String(samples.sum),
          execution_count: String(compute.count),
          inference_stats: {
            success: { count: String(queue.count) },
            queue: { count: String(queue.count), ns: ns(queue.sum) },
            compute_infer: { count: String(compute.count), ns: ns(compute.sum) },
          },
        });
      }
      return { model_stats };
    }, byName),
    ModelInfer: unary('ModelInfer', async (req: ModelInferRequest) => {
      if (ctx.draining()) throw new TensorRTError('UNAVAILABLE', 'the server is draining (shutting down); retry on another replica');
      const mv = ctx.repository.get(req.model_name ?? '', parseVersion(req.model_version));
      const { tensors, outputs } = decodeInferRequest(req, mv);
      const r = await infer(mv, tensors);
      return encodeInferResponse(mv, req.id, r.outputs, outputs);
    }, (r) => r.model_name ?? '', true),
  };
  server.addService(inferenceService(), impl);

  return {
    get active() {
      return active;
    },
    listen(host, port) {
      return new Promise((resolve, reject) => {
        const target = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
        server.bindAsync(target, grpc.ServerCredentials.createInsecure(), (err, bound) => {
          if (err) reject(new TensorRTError('IO_ERROR', `gRPC: cannot listen on ${target}: ${err.message}`, { cause: err }));
          else resolve(host.includes(':') ? `[${host}]:${bound}` : `${host}:${bound}`);
        });
      });
    },
    shutdown() {
      return new Promise((resolve) => server.tryShutdown(() => resolve()));
    },
  };
}
