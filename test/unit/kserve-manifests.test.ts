/**
 * deploy/kserve/*.yaml and deploy/Dockerfile: parsed (the `yaml` package) and checked for the fields KServe needs
 * (https://kserve.github.io/website/docs/concepts/resources/servingruntime and its InferenceService API): kinds and
 * API versions, the container named kserve-container, the model at /mnt/models, protocol versions, ports matching
 * the arguments, probes on /v2/health/*, Prometheus annotations, GPU resources, the InferenceServices pointing at
 * the runtime with a model format it supports and a storage URI. The container's arguments are checked against
 * serve's own CLI (`serve --help`). No cluster runs them here: this is the static check only.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { parseAllDocuments } from 'yaml';

const DEPLOY = path.join(__dirname, '..', '..', 'deploy');
const bin = path.join(__dirname, '..', '..', 'dist', 'cli', 'index.js');

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed YAML of arbitrary Kubernetes kinds
type Doc = any;
function load(file: string): Doc[] {
  const docs = parseAllDocuments(fs.readFileSync(path.join(DEPLOY, file), 'utf8'));
  for (const d of docs) expect(d.errors).toEqual([]);
  return docs.map((d) => d.toJS());
}

const argValue = (args: string[], flag: string) => {
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : undefined;
};

describe('KServe manifests (static check; no cluster ran them)', () => {
  const [rt] = load('kserve/servingruntime.yaml');
  const isvcs = load('kserve/inferenceservice.yaml');
  const c = rt.spec.containers[0];

  test('ServingRuntime: kind, API version, formats, protocols', () => {
    expect([rt.apiVersion, rt.kind, rt.metadata.name]).toEqual(['serving.kserve.io/v1alpha1', 'ServingRuntime', 'tensorrt-node']);
    expect(rt.spec.supportedModelFormats.length).toBeGreaterThan(0);
    for (const f of rt.spec.supportedModelFormats) expect(f).toEqual(expect.objectContaining({ name: expect.any(String), version: expect.any(String) }));
    expect(rt.spec.supportedModelFormats.map((f: { name: string }) => f.name)).toEqual(expect.arrayContaining(['onnx', 'tensorrt']));
    expect(rt.spec.protocolVersions).toEqual(expect.arrayContaining(['v2', 'grpc-v2']));
    expect(rt.spec.containers).toHaveLength(1);
    expect(c.name).toBe('kserve-container'); // KServe injects the model mount and env into the container of this name
  });

  test('container: model at /mnt/models, ports equal to --port / --grpc-port, probes on /v2/health/*, GPU', () => {
    expect(c.args[0]).toBe('/mnt/models');
    const http = Number(argValue(c.args, '--port'));
    const grpc = Number(argValue(c.args, '--grpc-port'));
    expect(argValue(c.args, '--host')).toBe('0.0.0.0');
    const ports = Object.fromEntries(c.ports.map((p: { name: string; containerPort: number }) => [p.name, p.containerPort]));
    expect(ports).toEqual({ http1: http, h2c: grpc }); // Knative / KServe port names for HTTP/1 and gRPC (h2c)
    expect(c.livenessProbe.httpGet).toEqual({ path: '/v2/health/live', port: http });
    expect(c.readinessProbe.httpGet).toEqual({ path: '/v2/health/ready', port: http });
    expect(c.resources.limits['nvidia.com/gpu']).toBe('1');
    expect(rt.spec.annotations).toEqual({ 'prometheus.kserve.io/port': String(http), 'prometheus.kserve.io/path': '/metrics' });
  });

  const d = fs.existsSync(bin) ? test : test.skip;
  if (!fs.existsSync(bin)) console.log('kserve manifest CLI check skipped: dist/ is not built (npm run build:ts)');
  d("every flag in the container's arguments is one of serve's options, and the drain fits the grace period", () => {
    const help = spawnSync(process.execPath, [bin, 'serve', '--help'], { encoding: 'utf8' }).stdout;
    for (const flag of c.args.filter((a: string) => a.startsWith('--'))) expect([flag, help.includes(`${flag} `)]).toEqual([flag, true]);
    for (const isvc of isvcs) expect(Number(argValue(c.args, '--drain-timeout'))).toBeLessThan(isvc.spec.predictor.terminationGracePeriodSeconds);
  });

  test('InferenceServices: on this runtime, a format it supports, a storage URI (object store and PVC), GPU, Prometheus scraping', () => {
    expect(isvcs).toHaveLength(2);
    const formats = rt.spec.supportedModelFormats.map((f: { name: string }) => f.name);
    for (const isvc of isvcs) {
      expect([isvc.apiVersion, isvc.kind]).toEqual(['serving.kserve.io/v1beta1', 'InferenceService']);
      const m = isvc.spec.predictor.model;
      expect(m.runtime).toBe(rt.metadata.name);
      expect(formats).toContain(m.modelFormat.name);
      expect(rt.spec.protocolVersions).toContain(m.protocolVersion);
      expect(m.storageUri).toMatch(/^(s3|gs|https?|pvc):\/\/\S+/);
      expect(m.resources.limits['nvidia.com/gpu']).toBe('1');
      expect(isvc.metadata.annotations).toMatchObject({ 'serving.kserve.io/enable-prometheus-scraping': 'true', 'prometheus.io/port': rt.spec.annotations['prometheus.kserve.io/port'], 'prometheus.io/path': '/metrics' });
    }
    expect(isvcs.map((i: Doc) => i.spec.predictor.model.storageUri.split(':')[0])).toEqual(['s3', 'pvc']);
  });

  test('Dockerfile: runs serve on /mnt/models with the ports and image of the runtime', () => {
    const df = fs.readFileSync(path.join(DEPLOY, 'Dockerfile'), 'utf8');
    const entry = JSON.parse(/^ENTRYPOINT (\[.*\])$/m.exec(df)![1]!);
    const cmd: string[] = JSON.parse(/^CMD (\[.*\])$/m.exec(df)![1]!);
    expect(entry).toEqual(['node', '/opt/tensorrt-node/dist/cli/index.js', 'serve']);
    expect(cmd[0]).toBe('/mnt/models');
    expect(/^EXPOSE (.*)$/m.exec(df)![1]!.split(/\s+/).map(Number)).toEqual([Number(argValue(c.args, '--port')), Number(argValue(c.args, '--grpc-port'))]);
    expect(df).toContain(`-t ${c.image} `);
    expect(/^USER (\d+)$/m.exec(df)![1]).toBe(String(c.securityContext.runAsUser));
  });
});
