/**
 * Prometheus metrics (prom-client), in a registry of each server's own so that several servers in one process do
 * not collide. Names follow Prometheus' conventions; Triton's nv_inference_* metrics measure the same things.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface ServeMetrics {
  registry: Registry;
  requests: Counter<'model' | 'protocol' | 'code'>;
  latency: Histogram<'model' | 'protocol'>;
  queueTime: Histogram<'model'>;
  computeTime: Histogram<'model'>;
  batchSize: Histogram<'model'>;
  inFlight: Gauge<'model'>;
  requestsInFlight: Gauge<'model'>;
  queueDepth: Gauge<'model'>;
}

const SECONDS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** `depth()` gives the queue depth and batches in flight per model when /metrics is scraped. */
export function createMetrics(depth: () => { model: string; queued: number; inFlight: number }[], defaultMetrics = true): ServeMetrics {
  const registry = new Registry();
  if (defaultMetrics) collectDefaultMetrics({ register: registry, prefix: 'tensorrt_node_' });
  const registers = [registry];
  return {
    registry,
    requests: new Counter({ name: 'tensorrt_node_requests_total', help: 'Inference and metadata requests by model, protocol and HTTP status code', labelNames: ['model', 'protocol', 'code'], registers }),
    latency: new Histogram({ name: 'tensorrt_node_request_duration_seconds', help: 'Time from request received to response sent (inference requests)', labelNames: ['model', 'protocol'], buckets: SECONDS, registers }),
    queueTime: new Histogram({ name: 'tensorrt_node_queue_duration_seconds', help: 'Time a request waited in the batcher queue', labelNames: ['model'], buckets: SECONDS, registers }),
    computeTime: new Histogram({ name: 'tensorrt_node_compute_duration_seconds', help: 'Time the backend took for one batch', labelNames: ['model'], buckets: SECONDS, registers }),
    batchSize: new Histogram({ name: 'tensorrt_node_batch_size', help: 'Samples per batch run by the backend', labelNames: ['model'], buckets: [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64, 128], registers }),
    inFlight: new Gauge({
      name: 'tensorrt_node_batches_in_flight', help: 'Batches running on the backend now', labelNames: ['model'], registers,
      collect() { this.reset(); for (const d of depth()) this.inc({ model: d.model }, d.inFlight); },
    }),
    requestsInFlight: new Gauge({ name: 'tensorrt_node_requests_in_flight', help: 'Inference requests accepted and not yet answered', labelNames: ['model'], registers }),
    queueDepth: new Gauge({
      name: 'tensorrt_node_queue_depth', help: 'Requests waiting in the batcher queue now', labelNames: ['model'], registers,
      collect() { this.reset(); for (const d of depth()) this.inc({ model: d.model }, d.queued); },
    }),
  };
}
