/**
 * `tensorrt-node serve <repository | model file>`: TF Serving REST + KServe v2 on one port (see docs/serving.md).
 * SIGTERM / SIGINT: stop accepting, answer every accepted request, exit 0; past --drain-timeout, exit 1 saying
 * how many requests were still unanswered.
 */
import type { Command } from 'commander';
import { invalidArg } from '../errors';
import { createServer } from '../serve/server';
import { action, checkInputPath, io } from './common';

function intOpt(name: string, min = 0, max = Number.MAX_SAFE_INTEGER) {
  return (v: string): number => {
    if (!/^\d+$/.test(v) || Number(v) < min) throw invalidArg(`--${name}: '${v}' is not an integer >= ${min}`);
    if (Number(v) > max) throw invalidArg(`--${name}: '${v}' is larger than ${max}`);
    return Number(v);
  };
}

export interface ServeCliOptions {
  host: string;
  port: number;
  grpcPort?: number;
  backend: string;
  tagSet?: string;
  signatureDef?: string;
  maxBatchSize?: number;
  batching: boolean;
  maxQueueDelayUs?: number;
  preferredBatchSize?: string;
  instances?: number;
  maxQueueSize?: number;
  timeout?: number;
  pollInterval: number;
  drainTimeout: number;
  maxBodySize: number;
  intraOpThreads?: number;
  allowSpinning?: boolean;
  cacheDir?: string;
  logLevel: string;
  logRequests?: boolean;
  bodyTimeout: number;
  headersTimeout: number;
  strictReadiness: boolean;
}

function boolOpt(name: string) {
  return (v: string | undefined): boolean => {
    if (v === undefined || v === 'true') return true;
    if (v === 'false') return false;
    throw invalidArg(`--${name}: '${v}' is not true or false`);
  };
}

export function registerServe(program: Command, version: string): void {
  program
    .command('serve')
    .description('serve a model repository or model file over HTTP: TF Serving REST (/v1) and KServe v2 (/v2) on one port, dynamic batching, /metrics')
    .argument('<model>', 'repository directory (<model>/<version>/model.{engine,onnx,pb,json} or <model>/<version>/saved_model.pb + variables/), one model file or a SavedModel directory')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port (0: any free port)', intOpt('port', 0, 65535), 8501)
    .option('--grpc-port <port>', 'also serve KServe v2 over gRPC (inference.GRPCInferenceService) on this port (0: any free port; default: off)', intOpt('grpc-port', 0, 65535))
    .option('--backend <name>', 'auto (tensorrt where TensorRT and a GPU exist, else onnxruntime), tensorrt or onnxruntime', 'auto')
    .option('--max-batch-size <n>', 'largest merged batch (default 8; the engine profile caps it)', intOpt('max-batch-size'))
    .option('--no-batching', 'run every request alone')
    .option('--max-queue-delay-us <us>', 'how long a partial batch waits for more requests (default 0)', intOpt('max-queue-delay-us'))
    .option('--preferred-batch-size <list>', 'comma-separated batch sizes to run as soon as reached, e.g. 4,8')
    .option('--instances <n>', 'batches in flight per model (execution contexts)', intOpt('instances', 1))
    .option('--max-queue-size <n>', 'queued requests per model before 503 (default 256)', intOpt('max-queue-size', 1))
    .option('--timeout <ms>', 'per-request timeout in ms, 0 = none (default 30000)', intOpt('timeout'))
    .option('--poll-interval <s>', 'seconds between repository scans for new versions (0: never)', intOpt('poll-interval'), 0)
    .option('--drain-timeout <s>', 'seconds to finish accepted requests after SIGTERM/SIGINT', intOpt('drain-timeout'), 30)
    .option('--max-body-size <bytes>', 'largest request body (413 beyond)', intOpt('max-body-size', 1), 64 * 1024 * 1024)
    .option('--body-timeout <s>', 'seconds to receive a whole request, headers and body (408 and close beyond; 0 = none)', intOpt('body-timeout'), 30)
    .option('--headers-timeout <s>', "seconds to receive a request's headers (408 and close beyond)", intOpt('headers-timeout', 1), 10)
    .option('--strict-readiness [bool]', '/v2/health/ready is 503 while any model failed to load (Triton\'s strict readiness); --strict-readiness=false: ready once one model is', boolOpt('strict-readiness'), true)
    .option('--intra-op-threads <n>', 'onnxruntime threads per run (default: one per core)', intOpt('intra-op-threads', 1))
    .option('--allow-spinning', "onnxruntime's idle pool threads spin (its session.intra_op.allow_spinning): lower latency at low load, more CPU (default on machines of 8+ cores)")
    .option('--no-allow-spinning', "onnxruntime's idle pool threads sleep (the default below 8 cores)")
    .option('--cache-dir <dir>', 'engine cache of the tensorrt backend (default $TENSORRT_NODE_CACHE_DIR, else <tmpdir>/tensorrt-node-engines)')
    .option('--tag-set <list>', 'SavedModel MetaGraph tags, comma-separated (default serve)')
    .option('--signature-def <key>', 'SavedModel signature to serve (default serving_default)')
    .option('--log-requests', 'log every request and response (JSON, pino)')
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent', 'info')
    .action(
      action('serve', async (model: string, o: ServeCliOptions) => {
        checkInputPath(model, 'model repository'); // the one form of a missing path (lib/cli/common.ts)
        if (!['auto', 'tensorrt', 'onnxruntime'].includes(o.backend)) throw invalidArg(`--backend must be auto, tensorrt or onnxruntime; got '${o.backend}'`);
        if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(o.logLevel)) throw invalidArg(`--log-level: unknown level '${o.logLevel}'`);
        let preferred: number[] | undefined;
        if (o.preferredBatchSize !== undefined) {
          preferred = o.preferredBatchSize.split(',').map((s) => {
            if (!/^\d+$/.test(s.trim()) || Number(s) < 1) throw invalidArg(`--preferred-batch-size: '${s}' is not a positive integer`);
            return Number(s);
          });
        }
        const defaults: Record<string, unknown> = { backend: o.backend, batching: o.batching };
        if (o.maxBatchSize !== undefined) defaults.maxBatchSize = o.maxBatchSize;
        if (o.maxQueueDelayUs !== undefined) defaults.maxQueueDelayMicroseconds = o.maxQueueDelayUs;
        if (preferred) defaults.preferredBatchSizes = preferred;
        if (o.instances !== undefined) defaults.instances = o.instances;
        if (o.maxQueueSize !== undefined) defaults.maxQueueSize = o.maxQueueSize;
        if (o.timeout !== undefined) defaults.timeoutMs = o.timeout;
        if (o.intraOpThreads !== undefined) defaults.intraOpNumThreads = o.intraOpThreads;
        if (o.allowSpinning !== undefined) defaults.allowSpinning = o.allowSpinning;
        if (o.cacheDir !== undefined) defaults.cacheDir = o.cacheDir;
        if (o.tagSet !== undefined) defaults.tagSet = o.tagSet.split(',').map((t) => t.trim()).filter((t) => t);
        if (o.signatureDef !== undefined) defaults.signatureDef = o.signatureDef;
        const server = await createServer({
          model,
          logger: { level: o.logLevel },
          logRequests: o.logRequests ?? false,
          bodyLimit: o.maxBodySize,
          pollIntervalMs: o.pollInterval * 1000,
          defaults,
          version,
          bodyTimeoutMs: o.bodyTimeout * 1000,
          headersTimeoutMs: o.headersTimeout * 1000,
          strictReadiness: o.strictReadiness,
        });
        await server.listen({ host: o.host, port: o.port, grpcPort: o.grpcPort });
        await new Promise<void>((resolve) => {
          const stop = (signal: string) => {
            process.removeAllListeners('SIGTERM');
            process.removeAllListeners('SIGINT');
            server.app.log.info({ signal, drainTimeoutSeconds: o.drainTimeout }, `${signal}: draining`);
            const t = setTimeout(() => {
              const all = server.repository.all();
              const left = all.reduce((a, v) => a + v.batcher.queueDepth + v.batcher.inFlight, 0);
              server.app.log.error({ unanswered: left }, `drain timeout (${o.drainTimeout} s) passed; exiting with requests unanswered`);
              // Queued requests get 503 now. The process must not exit while a batch runs: exiting tears down the
              // onnxruntime worker threads, and a worker whose session.run returns into a terminated isolate
              // aborts the whole process (onnxruntime-node throws a Napi::Error that nothing catches: exit 134).
              // So exit once every instance is idle (a batch's run time), or after 10 s more at the latest.
              for (const v of all) v.batcher.abort('the server is shutting down (drain timeout passed); retry on another replica');
              const until = Date.now() + 10000;
              const poll = setInterval(() => {
                if (all.every((v) => v.batcher.inFlight === 0) || Date.now() > until) {
                  clearInterval(poll);
                  process.exit(1);
                }
              }, 5);
            }, o.drainTimeout * 1000);
            t.unref();
            server.close().then(
              () => {
                clearTimeout(t);
                resolve();
              },
              (e) => {
                server.app.log.error({ err: e }, 'drain failed');
                io().exitCode = 2;
                resolve();
              },
            );
          };
          process.once('SIGTERM', () => stop('SIGTERM'));
          process.once('SIGINT', () => stop('SIGINT'));
        });
      }),
    );
}
