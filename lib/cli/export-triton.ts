/**
 * `tensorrt-node export-triton <repo-out> --model <repository | model file>`: writes a Triton Inference Server
 * model repository: `<repo-out>/<model>/config.pbtxt` and `<repo-out>/<model>/<version>/model.plan` (TensorRT
 * engines) or `model.onnx` (ONNX models, platform onnxruntime_onnx), with the batching and instance settings of
 * serve's config.json. ONNX inputs and outputs are read from the model itself (no runtime needed); an engine's
 * are left to Triton's auto-complete (TensorRT plans need no I/O in config.pbtxt), since reading them needs TensorRT.
 * Every file is written to a temporary name and renamed into place.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { Command } from 'commander';
import { invalidArg, TensorRTError } from '../errors';
import { loadModel, modelInfo } from '../onnx';
import { scanRepository, type ModelConfig } from '../serve/repository';
import { isServeDType, TRITON_DTYPES } from '../serve/tensor';
import { action, checkInputPath, io, makeOutputDir } from './common';
import * as is from '../validate';

export interface ExportTritonOptions {
  /** Repository directory or model file to export. */
  model: string;
  /** Default max_batch_size where the model's dimension 0 is dynamic (config.json's maxBatchSize wins). */
  maxBatchSize?: number;
  /** instance_group count (config.json's instances wins). */
  instances?: number;
  /** instance_group kind: KIND_GPU (default) or KIND_CPU. */
  kind?: 'KIND_GPU' | 'KIND_CPU';
}

export interface ExportedModel {
  name: string;
  platform: string;
  versions: number[];
  maxBatchSize: number;
  files: string[];
  note?: string;
}

function writeAtomic(file: string, data: string | Buffer): void {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, file);
}

function copyAtomic(src: string, dst: string): void {
  const tmp = `${dst}.tmp-${process.pid}`;
  fs.copyFileSync(src, tmp);
  fs.renameSync(tmp, dst);
}

interface Io {
  name: string;
  dtype: string;
  shape: number[];
}

/** The text of a config.pbtxt (protobuf text format of Triton's ModelConfig). */
export function configPbtxt(o: {
  name: string; platform: string; maxBatchSize: number; inputs?: Io[]; outputs?: Io[];
  preferred?: number[]; delayUs?: number; batching: boolean; instances: number; kind: string;
}): string {
  const L: string[] = [`name: ${JSON.stringify(o.name)}`, `platform: ${JSON.stringify(o.platform)}`, `max_batch_size: ${o.maxBatchSize}`];
  const io = (key: string, ts: Io[]) => {
    L.push(`${key} [`);
    ts.forEach((t, i) => {
      const dims = o.maxBatchSize > 0 ? t.shape.slice(1) : t.shape;
      // A scalar (or a batch-only tensor with max_batch_size > 0): Triton needs at least one dim, so it is
      // declared [ 1 ] and reshaped to [ ] for the model (Triton's model configuration docs, "Reshape").
      const shapeLines = dims.length === 0 ? ['    dims: [ 1 ]', '    reshape: { shape: [ ] }'] : [`    dims: [ ${dims.join(', ')} ]`];
      L.push('  {', `    name: ${JSON.stringify(t.name)}`, `    data_type: ${TRITON_DTYPES[t.dtype as keyof typeof TRITON_DTYPES]}`, ...shapeLines, `  }${i < ts.length - 1 ? ',' : ''}`);
    });
    L.push(']');
  };
  if (o.inputs) io('input', o.inputs);
  if (o.outputs) io('output', o.outputs);
  if (o.batching && o.maxBatchSize > 1) {
    L.push('dynamic_batching {');
    if (o.preferred?.length) L.push(`  preferred_batch_size: [ ${o.preferred.join(', ')} ]`);
    L.push(`  max_queue_delay_microseconds: ${o.delayUs ?? 0}`, '}');
  }
  L.push(`instance_group [ { count: ${o.instances} kind: ${o.kind} } ]`);
  return `${L.join('\n')}\n`;
}

function onnxIo(file: string): { inputs: Io[]; outputs: Io[] } {
  const info = modelInfo(loadModel(file));
  const conv = (v: { name: string; dtype: string; shape: (number | string)[] }): Io => {
    if (!isServeDType(v.dtype)) throw new TensorRTError('UNSUPPORTED', `${file}: '${v.name}' has type ${v.dtype}, which export-triton does not map`);
    return { name: v.name, dtype: v.dtype, shape: v.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : -1)) };
  };
  return { inputs: info.inputs.map(conv), outputs: info.outputs.map(conv) };
}

export function exportTriton(out: string, options: ExportTritonOptions): ExportedModel[] {
  is.path(out, 'exportTriton: the output directory');
  is.path(is.object(options, 'exportTriton options').model, 'exportTriton option model');
  const found = scanRepository(options.model);
  const result: ExportedModel[] = [];
  for (const [name, { versions, config }] of found) {
    const cfg: ModelConfig = config ? (JSON.parse(fs.readFileSync(config, 'utf8')) as ModelConfig) : {};
    const files = [...versions.entries()].sort((a, b) => a[0] - b[0]);
    const kinds = new Set(files.map(([, f]) => path.extname(f).toLowerCase()));
    if (kinds.size > 1) throw invalidArg(`${name}: versions mix model formats (${[...kinds].join(', ')}); Triton needs one platform per model`);
    const ext = [...kinds][0]!;
    if (ext === '.json' || ext === '.pb') {
      result.push({ name, platform: '', versions: [], maxBatchSize: 0, files: [], note: 'skipped: TensorFlow models need converting to ONNX (or building to an engine) first' });
      continue;
    }
    const isPlan = ext === '.engine' || ext === '.plan';
    const platform = isPlan ? 'tensorrt_plan' : 'onnxruntime_onnx';
    let ios: { inputs: Io[]; outputs: Io[] } | undefined;
    let maxBatchSize = cfg.maxBatchSize ?? options.maxBatchSize ?? 8;
    let note: string | undefined;
    if (!isPlan) {
      ios = onnxIo(files[files.length - 1]![1]);
      const dyn = [...ios.inputs, ...ios.outputs].every((t) => t.shape.length > 0 && t.shape[0] === -1);
      if (!dyn) maxBatchSize = 0;
    } else {
      note = 'inputs/outputs left to Triton auto-complete (reading an engine needs TensorRT); max_batch_size taken from config.json/--max-batch-size';
    }
    const dir = path.join(out, name);
    fs.mkdirSync(dir, { recursive: true });
    const written: string[] = [];
    for (const [v, f] of files) {
      fs.mkdirSync(path.join(dir, String(v)), { recursive: true });
      const dst = path.join(dir, String(v), isPlan ? 'model.plan' : 'model.onnx');
      copyAtomic(f, dst);
      written.push(dst);
    }
    const db = cfg.dynamicBatching ?? {};
    const text = configPbtxt({
      name, platform, maxBatchSize, inputs: ios?.inputs, outputs: ios?.outputs, preferred: db.preferredBatchSize,
      delayUs: db.maxQueueDelayMicroseconds, batching: db.enabled ?? true, instances: cfg.instances ?? options.instances ?? 1,
      kind: options.kind ?? (isPlan ? 'KIND_GPU' : 'KIND_CPU'),
    });
    const cfgFile = path.join(dir, 'config.pbtxt');
    writeAtomic(cfgFile, text);
    written.push(cfgFile);
    result.push({ name, platform, versions: files.map(([v]) => v), maxBatchSize, files: written, note });
  }
  return result;
}

export function registerExportTriton(program: Command): void {
  program
    .command('export-triton')
    .description('write a Triton Inference Server model repository (config.pbtxt + model.plan / model.onnx) from a serve repository or model file')
    .argument('<repo-out>', 'directory to write the Triton repository into')
    .requiredOption('-m, --model <path>', 'serve repository directory or model file to export')
    .option('--max-batch-size <n>', 'max_batch_size where config.json does not say (default 8; 0 for models without a batch dimension)')
    .option('--instances <n>', 'instance_group count (default 1)')
    .option('--kind <kind>', 'instance_group kind: KIND_GPU or KIND_CPU (default: KIND_GPU for plans, KIND_CPU for ONNX)')
    .action(
      action('export-triton', async (out: string, o: { model: string; maxBatchSize?: string; instances?: string; kind?: string }) => {
        const int = (v: string | undefined, k: string) => {
          if (v === undefined) return undefined;
          if (!/^\d+$/.test(v)) throw invalidArg(`--${k}: '${v}' is not a non-negative integer`);
          return Number(v);
        };
        if (o.kind !== undefined && o.kind !== 'KIND_GPU' && o.kind !== 'KIND_CPU') throw invalidArg(`--kind must be KIND_GPU or KIND_CPU; got '${o.kind}'`);
        checkInputPath(o.model, 'model repository');
        makeOutputDir(out, 'Triton repository');
        const r = exportTriton(out, { model: o.model, maxBatchSize: int(o.maxBatchSize, 'max-batch-size'), instances: int(o.instances, 'instances'), kind: o.kind as 'KIND_GPU' | undefined });
        for (const m of r) {
          io().out(`${m.name}: ${m.platform || 'not exported'}${m.versions.length ? `, versions ${m.versions.join(', ')}, max_batch_size ${m.maxBatchSize}` : ''}${m.note ? ` (${m.note})` : ''}\n`);
        }
        io().out(`Triton repository written to ${out}: tritonserver --model-repository=${path.resolve(out)}\n`);
      }),
    );
}
