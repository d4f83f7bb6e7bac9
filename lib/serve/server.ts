/**
 * `createServer(options)`: serves a model repository (or one model file) over HTTP with TF Serving's REST API and
 * KServe's v2 protocol on one port, built on Fastify (routing, body limits, pino JSON logs) and prom-client
 * (`/metrics`).
 *
 * A request's way through: this file (Fastify, body as raw bytes, labels for metrics) -> protocols/tfserving.ts or
 * protocols/kserve-v2.ts (route, JSON / binary decoding into typed tensors via tensor.ts) -> `infer` below (checks
 * against the model's inputs) -> batcher.ts (queue, merge, split) -> backends/onnxruntime.ts or backends/tensorrt.ts
 * -> back in the protocol file (encoding).
 *
 * ```ts
 * const server = await createServer({ model: 'models/', logger: true });
 * await server.listen({ port: 8501 });
 * process.on('SIGTERM', () => server.close().then(() => process.exit(0)));  // drains first
 * ```
 * To mount it in an application's own HTTP stack: `await server.app.ready()` and hand requests to
 * `server.app.routing(req, res)`, or take its Fastify instance `server.app` as it is.
 */
import Fastify, { FastifyInstance, FastifyRequest, FastifyServerOptions, LogController } from 'fastify';
import * as net from 'net';
import { invalidArg, TensorRTError } from '../errors';
import type { BatchResult } from './batcher';
import { createMetrics, ServeMetrics } from './metrics';
import { registerKServeV2 } from './protocols/kserve-v2';
import { registerTfServing } from './protocols/tfserving';
import { defaultBackend, ModelVersion, Repository, RepositoryDefaults } from './repository';
import { checkAgainstSpec, Tensor } from './tensor';

export interface ServeOptions {
  /** A model repository directory (`<model>/<version>/model.onnx` ...) or one model file. */
  model: string;
  /** Fastify's logger: true for JSON logs at info level, a pino options object, or false (default). */
  logger?: FastifyServerOptions['logger'];
  /** Log every request and response (Fastify's request logging; default false: start-up, models, errors only). */
  logRequests?: boolean;
  /** Largest request body in bytes (default 64 MiB); larger ones get 413. */
  bodyLimit?: number;
  /** Scan the repository for new versions this often (ms; 0 = never; default 0). */
  pollIntervalMs?: number;
  /** Batching, instances, backend... for every model (config.json overrides per model). */
  defaults?: Partial<RepositoryDefaults>;
  /** prom-client's default process metrics in /metrics (default true). */
  processMetrics?: boolean;
  /** Version reported by GET /v2. */
  version?: string;
}

/** What the protocol modules get from the server. */
export interface ProtocolContext {
  repository: Repository;
  version: string;
  ready(): boolean;
  /** Records the protocol / model of a request for the metrics (`infer`: an inference request). */
  label(req: FastifyRequest, protocol: string, model?: string, infer?: boolean): void;
  /** Checks the decoded tensors against the model's inputs and runs them through its batcher. */
  infer(req: FastifyRequest, mv: ModelVersion, tensors: Record<string, Tensor>): Promise<BatchResult>;
}

interface Label {
  protocol: string;
  model: string;
  infer: boolean;
}

const LABEL = Symbol('tensorrt-node.serve.label');

/** How long the drain waits with no request in progress before it closes the remaining (idle) connections. */
const QUIET_MS = 100;

export interface TensorRTServer {
  app: FastifyInstance;
  repository: Repository;
  metrics: ServeMetrics;
  /** Starts listening (default 127.0.0.1:8501); resolves with the address. */
  listen(options?: { host?: string; port?: number }): Promise<string>;
  /**
   * Graceful stop: readiness turns 503, no new connections are accepted, every in-flight and queued request is
   * answered, then the models are unloaded.
   */
  close(): Promise<void>;
  readonly draining: boolean;
}

/** A listen failure as a TensorRTError: the address is the caller's mistake (INVALID_ARGUMENT) or busy (IO_ERROR). */
function listenError(e: unknown, host: string, port: number): TensorRTError {
  const err = e as NodeJS.ErrnoException;
  const where = `${host}:${port}`;
  switch (err.code) {
    case 'EADDRINUSE': return new TensorRTError('IO_ERROR', `cannot listen on ${where}: the address is already in use (another server on that port?)`, { cause: e });
    case 'EACCES': return new TensorRTError('IO_ERROR', `cannot listen on ${where}: permission denied (ports below 1024 need privileges)`, { cause: e });
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NONAME': return new TensorRTError('INVALID_ARGUMENT', `cannot listen on ${where}: '${host}' is not an IP address or a resolvable host name`, { cause: e });
    case 'EADDRNOTAVAIL': return new TensorRTError('INVALID_ARGUMENT', `cannot listen on ${where}: '${host}' is not an address of this machine`, { cause: e });
    default: return new TensorRTError('IO_ERROR', `cannot listen on ${where}: ${err.message}`, { cause: e });
  }
}

export async function createServer(options: ServeOptions): Promise<TensorRTServer> {
  if (!options || typeof options.model !== 'string' || !options.model) throw invalidArg('createServer: options.model (a repository directory or a model file) is required');
  const bodyLimit = options.bodyLimit ?? 64 * 1024 * 1024;
  const app = Fastify({ logger: options.logger ?? false, logController: new LogController({ disableRequestLogging: !options.logRequests }), bodyLimit, forceCloseConnections: 'idle', return503OnClosing: true,
    // the router's own 400s (a malformed percent-escape in the URL...) in the protocols' {"error": ...} form
    frameworkErrors: (err, _req, reply) => {
      const r = reply as unknown as { code(n: number): { type(t: string): { send(b: unknown): unknown } } };
      void r.code((err as { statusCode?: number }).statusCode ?? 400).type('application/json').send({ error: err.message });
    },
  });
  let draining = false;
  let metrics: ServeMetrics | null = null;

  const repository = new Repository(options.model, {
    defaults: options.defaults,
    pollIntervalMs: options.pollIntervalMs ?? 0,
    onBatch: (model) => (size, us) => {
      metrics?.batchSize.observe({ model }, size);
      metrics?.computeTime.observe({ model }, us / 1e6);
    },
    log: (level, obj, msg) => app.log[level](obj, msg),
  });
  metrics = createMetrics(
    () => repository.all().map((v) => ({ model: v.model, queued: v.batcher.queueDepth, inFlight: v.batcher.inFlight })),
    options.processMetrics ?? true,
  );
  const m = metrics;
  const def = defaultBackend();
  app.log.info(
    { defaultBackend: def.backend, why: def.reason, onnxruntime: def.onnxruntime },
    `default backend: ${def.backend} (${def.reason})`,
  );
  await repository.start();

  // Bodies arrive as raw bytes: the protocols parse JSON themselves (JSON.parse, then one copy into typed arrays)
  // and split binary-extension bodies.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  const ctx: ProtocolContext = {
    repository,
    version: options.version ?? 'unknown',
    ready: () => !draining && repository.ready,
    label(req, protocol, model = '', infer = false) {
      (req as unknown as Record<symbol, Label>)[LABEL] = { protocol, model, infer };
    },
    async infer(req, mv, tensors) {
      const ordered = mv.backend.inputs.map((spec) => {
        const t = tensors[spec.name];
        if (!t) throw invalidArg(`missing input '${spec.name}' (the model's inputs: ${mv.backend.inputs.map((s) => s.name).join(', ')})`);
        checkAgainstSpec(t, spec, mv.backend.maxBatchSize > 0);
        return t;
      });
      void req;
      m.requestsInFlight.inc({ model: mv.model });
      try {
        const r = await mv.batcher.submit(ordered);
        m.queueTime.observe({ model: mv.model }, r.queueUs / 1e6);
        return r;
      } finally {
        m.requestsInFlight.dec({ model: mv.model });
      }
    },
  };

  // Requests being read, run or answered (for the drain), from the first byte parsed to the response's close.
  let active = 0;
  app.addHook('onRequest', async (req, reply) => {
    active++;
    reply.raw.once('close', () => active--);
    if (draining) reply.header('connection', 'close'); // keep-alive clients reconnect to another replica
    void req; // (hook signature)
  });
  app.addHook('onResponse', async (req, reply) => {
    const l = (req as unknown as Record<symbol, Label | undefined>)[LABEL];
    if (!l) return;
    m.requests.inc({ model: l.model, protocol: l.protocol, code: String(reply.statusCode) });
    if (l.infer) m.latency.observe({ model: l.model, protocol: l.protocol }, reply.elapsedTime / 1000);
  });

  app.setErrorHandler((err, req, reply) => {
    const e = err as Error & { statusCode?: number; code?: string };
    let status = e instanceof TensorRTError ? 0 : (e.statusCode ?? 500);
    if (e instanceof TensorRTError) status = e.code === 'INVALID_ARGUMENT' ? 400 : e.code === 'NOT_FOUND' ? 404 : e.code === 'UNAVAILABLE' ? 503 : 500;
    let msg = e.message;
    if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') msg = `the request body is larger than the limit of ${bodyLimit} bytes (--max-body-size)`;
    if (status >= 500) req.log.error({ err }, 'request failed');
    void reply.code(status).type('application/json').send({ error: msg });
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).type('application/json').send({
      error: `no route ${req.method} ${req.url}; expected /v1/models/<model>[:predict|/metadata], /v2/models/<model>[/infer|/ready], /v2/health/{live,ready} or /metrics`,
    });
  });

  registerTfServing(app, ctx);
  registerKServeV2(app, ctx);
  app.get('/metrics', async (_req, reply) => {
    reply.type(m.registry.contentType);
    return m.registry.metrics();
  });

  const server: TensorRTServer = {
    app,
    repository,
    metrics: m,
    get draining() {
      return draining;
    },
    async listen(o = {}) {
      const host = o.host ?? '127.0.0.1';
      const port = o.port ?? 8501;
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw invalidArg(`port must be an integer from 0 to 65535; got ${String(port)}`);
      let addr: string;
      try {
        addr = await app.listen({ host, port });
      } catch (e) {
        // Nothing may keep the process alive after a failed listen: unload the models and close the app.
        await app.close().catch(() => {});
        await repository.close().catch(() => {});
        throw listenError(e, host, port);
      }
      const models = repository.all().map((v) => ({ model: v.model, version: v.version, backend: v.backend.kind, platform: v.backend.platform }));
      app.log.info({ address: addr, models }, `serving ${models.length} model(s) at ${addr} (TF Serving REST /v1, KServe v2 /v2, /metrics)`);
      return addr;
    },
    async close() {
      if (draining) return;
      draining = true;
      app.log.info('draining: no new connections; finishing in-flight and queued requests');
      // Stop listening, but keep the open connections: Node's http close() would also drop idle ones at once,
      // including those whose request bytes have arrived and are not parsed yet. Those are accepted requests:
      // wait until no request has been in progress for a quiet period, then close the rest.
      const srv = app.server;
      if (srv.listening) net.Server.prototype.close.call(srv);
      let quietSince = 0;
      while (true) {
        const busy = active > 0 || repository.all().some((v) => v.batcher.queueDepth > 0 || v.batcher.inFlight > 0);
        const now = Date.now();
        if (busy) quietSince = 0;
        else if (!quietSince) quietSince = now;
        else if (now - quietSince >= QUIET_MS) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      await app.close();
      await repository.close();
      app.log.info('drained');
    },
  };
  return server;
}
