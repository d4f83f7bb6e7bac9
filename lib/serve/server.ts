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
import type { Readable } from 'stream';
import { invalidArg, TensorRTError } from '../errors';
import { decodeContentEncoding, readBody } from './body';
import { createGrpcServer, GrpcServer } from './grpc/server';
import { holdJsonWorkers } from './json-offload';
import { createMetrics, ServeMetrics } from './metrics';
import type { ProtocolContext } from './protocols/context';
import { registerKServeV2 } from './protocols/kserve-v2';
import { registerTfServing } from './protocols/tfserving';
import { defaultBackend, type ModelVersion, Repository, RepositoryDefaults } from './repository';
import { checkAgainstSpec } from './tensor';

export type { ProtocolContext };

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
  /** /v2/health/ready 503 while any model failed to load (Triton's strict readiness; default true). */
  strictReadiness?: boolean;
  /** Time to receive a whole request, headers and body, in ms (Node's requestTimeout; default 30000; 0 = none): 408 and close beyond. */
  bodyTimeoutMs?: number;
  /** Time to receive a request's headers, in ms (Node's headersTimeout; default 10000): 408 and close beyond. */
  headersTimeoutMs?: number;
}

interface Label {
  protocol: string;
  model: string;
  infer: boolean;
}

const LABEL = Symbol('tensorrt-node.serve.label');
const ADMITTED = Symbol('tensorrt-node.serve.admitted');

/** How long the drain waits with no request in progress before it closes the remaining (idle) connections. */
const QUIET_MS = 100;

export interface TensorRTServer {
  app: FastifyInstance;
  repository: Repository;
  metrics: ServeMetrics;
  /**
   * Starts listening (default 127.0.0.1:8501); resolves with the address. `grpcPort` also serves KServe v2 over
   * gRPC on that port (0: any free one; see grpc/server.ts), its address then in `grpcAddress`.
   */
  listen(options?: { host?: string; port?: number; grpcPort?: number }): Promise<string>;
  readonly grpcAddress: string | null;
  /**
   * Graceful stop: readiness turns 503, no new connections are accepted, every in-flight and queued request is
   * answered, then the models are unloaded.
   */
  close(): Promise<void>;
  readonly draining: boolean;
}

/** A listen failure as a TensorRTError: the address is the caller's mistake (INVALID_ARGUMENT) or busy (IO_ERROR). */
/** What Fastify's listen line says instead of "Server listening at ...": dropped by the logger's hook. */
const QUIET_LISTEN = '\u0000tensorrt-node: listen line';

/** Fastify's logger option with a pino hook that drops the QUIET_LISTEN line (our start line says it, once). */
function withoutListenLine(logger: FastifyServerOptions['logger']): FastifyServerOptions['logger'] {
  if (!logger) return logger;
  const base = (logger === true ? {} : logger) as Record<string, unknown> & { hooks?: { logMethod?: (this: unknown, args: unknown[], method: (...a: unknown[]) => void, level: number) => void } };
  if (typeof base !== 'object' || typeof (base as { info?: unknown }).info === 'function') return logger; // a logger instance: left as given
  const theirs = base.hooks?.logMethod;
  return {
    ...base,
    hooks: {
      ...base.hooks,
      logMethod(this: unknown, args: unknown[], method: (...a: unknown[]) => void, level: number) {
        if (args.includes(QUIET_LISTEN)) return;
        if (theirs) theirs.call(this, args, method, level);
        else method.apply(this, args);
      },
    },
  } as FastifyServerOptions['logger'];
}

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
  const bodyTimeoutMs = options.bodyTimeoutMs ?? 30000;
  const headersTimeoutMs = Math.min(options.headersTimeoutMs ?? 10000, bodyTimeoutMs || Infinity);
  const app = Fastify({
    // Node checks both timeouts every connectionsCheckingInterval ms (its default 30 s would let them run late)
    http: { headersTimeout: headersTimeoutMs, requestTimeout: bodyTimeoutMs, connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(Math.min(headersTimeoutMs, bodyTimeoutMs || Infinity) / 4))) },
    requestTimeout: bodyTimeoutMs,
    logger: withoutListenLine(options.logger ?? false), logController: new LogController({ disableRequestLogging: !options.logRequests }), bodyLimit, forceCloseConnections: 'idle', return503OnClosing: true,
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
    `default backend: ${def.backend}`,
  );
  await repository.start();

  // Bodies arrive as raw bytes (body.ts: read as they arrive, Content-Encoding undone): the protocols parse JSON
  // themselves (large bodies off the event loop, json-offload.ts) and split binary-extension bodies.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (req: FastifyRequest, payload: Readable) =>
    readBody(payload, req.headers, bodyLimit).then((body) => decodeContentEncoding(body, req.headers, bodyLimit)));

  const ctx: ProtocolContext = {
    repository,
    version: options.version ?? 'unknown',
    // strict (Triton's default): not ready while any model of the repository failed to load
    ready: (whole = true) => !draining && repository.ready && (!whole || options.strictReadiness === false || repository.failures().length === 0),
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
      leave(req); // in the batcher's queue from here on: counted there
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

  // Every open connection, and how many requests on it have their whole body and no finished response yet (for
  // the drain: such a connection is busy; any other one — idle, half-sent headers or body — is not).
  // Requests admitted towards a model version and not yet in its batcher's queue (see the onRequest hook).
  const admitted = new Map<ModelVersion, number>();
  const admit = (req: FastifyRequest, mv: ModelVersion) => {
    (req as unknown as Record<symbol, ModelVersion | undefined>)[ADMITTED] = mv;
    admitted.set(mv, (admitted.get(mv) ?? 0) + 1);
  };
  const leave = (req: FastifyRequest) => {
    const r = req as unknown as Record<symbol, ModelVersion | undefined>;
    const mv = r[ADMITTED];
    if (!mv) return;
    r[ADMITTED] = undefined;
    const n = (admitted.get(mv) ?? 1) - 1;
    if (n > 0) admitted.set(mv, n);
    else admitted.delete(mv);
  };
  /** The model version an inference URL names (KServe v2 `.../infer`, TF Serving `...:predict`); null otherwise. */
  const inferTarget = (url: string): ModelVersion | null => {
    const p = url.split('?', 1)[0]!;
    const k = /^\/v2\/models\/([^/]+)(?:\/versions\/(\d+))?\/infer$/.exec(p) ?? /^\/v1\/models\/([^/:]+)(?:\/versions\/(\d+))?:predict$/.exec(p);
    if (!k) return null;
    try {
      return repository.get(decodeURIComponent(k[1]!), k[2] === undefined ? undefined : Number(k[2]));
    } catch {
      return null; // unknown model or version, a bad escape: the route answers it
    }
  };
  const conns = new Map<net.Socket, { busy: number; bytes: number; since: number }>();
  app.server.on('connection', (sock: net.Socket) => {
    conns.set(sock, { busy: 0, bytes: 0, since: Date.now() });
    lastConnection = Date.now();
    sock.once('close', () => conns.delete(sock));
  });
  let lastConnection = 0;
  app.addHook('onRequest', async (req, reply) => {
    if (draining) {
      // While draining: every request still gets an answer, but the connection closes after it (keep-alive clients
      // reconnect to another replica); inference requests get 503 at once, before their body is read.
      reply.header('connection', 'close');
      if (req.method === 'POST' && /^\/v[12]\/models\//.test(req.url)) {
        return reply.code(503).header('Retry-After', '1').type('application/json').send({ error: 'the server is shutting down; retry on another replica' });
      }
      return;
    }
    // Overload is refused on the request line, before the body is read, parsed and decoded (issue 26.4): a model
    // whose queue plus the requests already admitted towards it (body arriving or being decoded) reach its
    // maxQueueSize answers 503 + Retry-After at once; the batcher's own check stays behind it.
    const mv = req.method === 'POST' ? inferTarget(req.url) : null;
    if (!mv) return;
    const waiting = (admitted.get(mv) ?? 0) + mv.batcher.queueDepth;
    if (waiting >= mv.batcher.options.maxQueueSize) {
      m.requests.inc({ model: mv.model, protocol: req.url.startsWith('/v2/') ? 'kserve' : 'tfserving', code: '503' });
      // Connection: close: the body is never read (the client stops sending it; no bytes of it are taken for the next request)
      return reply.code(503).header('Retry-After', String(mv.batcher.options.retryAfterSeconds)).header('connection', 'close').type('application/json')
        .send({ error: `the model's queue is full (${mv.batcher.options.maxQueueSize} requests waiting or arriving); retry later` });
    }
    admit(req, mv);
  });
  app.addHook('onResponse', async (req) => leave(req));
  app.addHook('onRequestAbort', async (req) => leave(req));
  app.addHook('preHandler', async (req, reply) => {
    const c = conns.get(req.raw.socket);
    if (!c) return;
    c.busy++;
    reply.raw.once('close', () => c.busy--);
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

  let grpc: GrpcServer | null = null;
  let grpcAddress: string | null = null;
  // Nothing may keep the process alive after a failed listen: close the app and unload the models.
  const releaseJsonWorkers = holdJsonWorkers();
  const abandon = async () => {
    await app.close().catch(() => {});
    await repository.close().catch(() => {});
    await releaseJsonWorkers();
  };
  const server: TensorRTServer = {
    app,
    repository,
    metrics: m,
    get draining() {
      return draining;
    },
    get grpcAddress() {
      return grpcAddress;
    },
    async listen(o = {}) {
      const host = o.host ?? '127.0.0.1';
      const port = o.port ?? 8501;
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw invalidArg(`port must be an integer from 0 to 65535; got ${String(port)}`);
      if (o.grpcPort !== undefined && (!Number.isInteger(o.grpcPort) || o.grpcPort < 0 || o.grpcPort > 65535)) {
        throw invalidArg(`grpcPort must be an integer from 0 to 65535; got ${String(o.grpcPort)}`);
      }
      let addr: string;
      try {
        // Fastify's own "Server listening at" line is dropped (QUIET_LISTEN, see withoutListenLine): the start
        // line is ours below, once, with the address and the models as fields
        addr = await app.listen({ host, port, listenTextResolver: () => QUIET_LISTEN });
      } catch (e) {
        await abandon();
        throw listenError(e, host, port);
      }
      if (o.grpcPort !== undefined && !grpc) {
        grpc = createGrpcServer({
          repository, metrics: m, version: ctx.version, ready: (whole?: boolean) => ctx.ready(whole), draining: () => draining, maxMessageBytes: bodyLimit,
          log: (level, obj, msg) => app.log[level](obj, msg),
        });
        try {
          grpcAddress = await grpc.listen(host, o.grpcPort);
        } catch (e) {
          await grpc.shutdown().catch(() => {});
          grpc = null;
          await abandon();
          throw listenError(e, host, o.grpcPort);
        }
        app.log.info({ grpcAddress }, `KServe v2 gRPC (inference.GRPCInferenceService) at ${grpcAddress}`);
      }
      const models = repository.all().map((v) => ({ model: v.model, version: v.version, backend: v.backend.kind, platform: v.backend.platform }));
      app.log.info({ address: addr, models }, `serving ${models.length} model(s) at ${addr} (TF Serving REST /v1, KServe v2 /v2, /metrics)`);
      return addr;
    },
    async close() {
      if (draining) return;
      draining = true;
      app.log.info('draining: no new connections; finishing in-flight and queued requests');
      // 1. The listener stays open until no connection has arrived for QUIET_MS: closing it at once would reset the
      //    connections in its backlog, whose requests clients have already sent (readiness is 503 meanwhile, and new
      //    inference requests get 503 + Connection: close). Then it closes.
      // 2. Connections with a request whose body has arrived stay until it is answered; every other connection
      //    (idle keep-alive, half-sent headers or body) is closed once nothing arrived on it for QUIET_MS.
      // 3. Done when no connection is left and no batcher holds a request.
      const srv = app.server;
      lastConnection = Math.max(lastConnection, Date.now());
      const grpcDone = grpc ? grpc.shutdown() : Promise.resolve(); // new calls: UNAVAILABLE; calls in progress finish
      for (;;) {
        const now = Date.now();
        if (srv.listening && now - lastConnection >= QUIET_MS) net.Server.prototype.close.call(srv);
        for (const [sock, c] of conns) {
          if (c.busy > 0) continue;
          if (sock.bytesRead !== c.bytes) {
            c.bytes = sock.bytesRead;
            c.since = now;
          } else if (now - c.since >= QUIET_MS) {
            sock.destroy();
            conns.delete(sock);
          }
        }
        const queued = repository.all().some((v) => v.batcher.queueDepth > 0 || v.batcher.inFlight > 0);
        if (!srv.listening && conns.size === 0 && !queued) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      await app.close();
      await grpcDone;
      await repository.close();
      await releaseJsonWorkers();
      app.log.info('drained');
    },
  };
  return server;
}
