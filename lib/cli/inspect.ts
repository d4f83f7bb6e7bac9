/**
 * `tensorrt-node inspect <file>`: an ONNX model (no TensorRT needed: inputs/outputs, opset, op-type histogram,
 * parameter count) or a serialized TensorRT engine (I/O tensors, optimization profiles, device memory, layers
 * from the engine inspector). The kind of file is told from its content, not its extension.
 */
import type { Command } from 'commander';
import { TensorRTError } from '../errors';
import type { ModelInfo } from '../onnx';
import { action, io, requireTensorRT, toJson } from './common';
import { isSavedModelDir } from '../tensorflow/format';
import { readModelOrEngine } from './files';
import { fmtShape, formatBytes, formatCount, table } from './parse';
import { loadEngine, type EngineLike } from './trt';

export { detectKind, looksLikeEngine, type FileKind } from './files';

export function formatOnnx(file: string, size: number, info: ModelInfo): string {
  const L: string[] = [];
  L.push(`${file}: ONNX model, ${formatBytes(size)}`);
  L.push(`  IR version ${info.irVersion}, opset ${info.opset}${info.producer ? `, produced by ${info.producer}` : ''}`);
  const others = info.opsetImports.filter((o) => o.domain !== '' && o.domain !== 'ai.onnx');
  if (others.length) L.push(`  other opsets: ${others.map((o) => `${o.domain} v${o.version}`).join(', ')}`);
  L.push('');
  const io = (title: string, vs: ModelInfo['inputs']) => {
    L.push(`${title} (${vs.length}):`);
    L.push(table(vs.map((v) => [v.name, v.dtype, `[${v.shape.join(', ')}]`])));
  };
  io('Inputs', info.inputs);
  io('Outputs', info.outputs);
  L.push('');
  L.push(`Parameters: ${formatCount(info.parameterCount)}`);
  L.push(`Nodes: ${formatCount(info.nodeCount)}`);
  L.push('Op types:');
  const hist = Object.entries(info.opTypeHistogram).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  L.push(table(hist.map(([k, v]) => [k, String(v)])));
  return `${L.join('\n')}\n`;
}

/** Layer entries of the engine inspector's JSON: plain names (default verbosity) or objects (detailed). */
export function inspectorLayers(json: string): { name: string; type?: string }[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return [];
  }
  const layers = (parsed as { Layers?: unknown } | null)?.Layers;
  if (!Array.isArray(layers)) return [];
  return layers.map((l: unknown) => {
    if (typeof l === 'string') return { name: l };
    const o = (l ?? {}) as { Name?: unknown; LayerType?: unknown };
    return { name: String(o.Name ?? '?'), ...(o.LayerType !== undefined ? { type: String(o.LayerType) } : {}) };
  });
}

export interface EngineReport {
  format: 'engine';
  file: string;
  bytes: number;
  ioTensors: { name: string; mode: string; dtype: string; shape: number[]; format?: string; profiles?: { min: number[]; opt: number[]; max: number[] }[] }[];
  numOptimizationProfiles: number;
  deviceMemorySize: number;
  numLayers: number;
  layers: { name: string; type?: string }[];
  inspector: unknown;
}

export function engineReport(file: string, bytes: number, engine: EngineLike): EngineReport {
  let inspectorJson = '';
  try {
    inspectorJson = engine.inspect({ format: 'json' });
  } catch {
    inspectorJson = '';
  }
  let inspector: unknown = null;
  try {
    inspector = inspectorJson ? JSON.parse(inspectorJson) : null;
  } catch {
    inspector = inspectorJson;
  }
  return {
    format: 'engine',
    file,
    bytes,
    ioTensors: engine.ioTensors.map((t) => ({
      name: t.name, mode: t.mode, dtype: String(t.dtype), shape: [...t.shape],
      ...(t.format !== undefined ? { format: t.format } : {}),
      ...(t.profiles ? { profiles: t.profiles.map((p) => ({ min: [...p.min], opt: [...p.opt], max: [...p.max] })) } : {}),
    })),
    numOptimizationProfiles: engine.numOptimizationProfiles,
    deviceMemorySize: Number(engine.deviceMemorySize),
    numLayers: engine.numLayers,
    layers: inspectorLayers(inspectorJson),
    inspector,
  };
}

export function formatEngine(r: EngineReport, maxLayers: number): string {
  const L: string[] = [];
  L.push(`${r.file}: TensorRT engine, ${formatBytes(r.bytes)}`);
  L.push(`  device memory: ${formatBytes(r.deviceMemorySize)}; layers: ${r.numLayers}; optimization profiles: ${r.numOptimizationProfiles}`);
  L.push('');
  L.push(`I/O tensors (${r.ioTensors.length}):`);
  L.push(table(r.ioTensors.map((t) => [t.mode, t.name, t.dtype, `[${t.shape.join(', ')}]`, t.format ?? ''])));
  const dyn = r.ioTensors.filter((t) => t.profiles && t.profiles.length && t.mode === 'input');
  if (dyn.length) {
    L.push('');
    L.push('Profiles:');
    for (let p = 0; p < r.numOptimizationProfiles; p++) {
      L.push(`  profile ${p}:`);
      L.push(table(dyn.filter((t) => t.profiles![p]).map((t) => {
        const pr = t.profiles![p];
        return [t.name, `min ${fmtShape(pr.min)}`, `opt ${fmtShape(pr.opt)}`, `max ${fmtShape(pr.max)}`];
      }), '    '));
    }
  }
  if (r.layers.length) {
    L.push('');
    const shown = r.layers.slice(0, maxLayers);
    L.push(`Layers (${r.layers.length}${shown.length < r.layers.length ? `, first ${shown.length}; --layers N or --json for more` : ''}):`);
    L.push(table(shown.map((l, i) => [String(i), l.name, l.type ?? ''])));
  }
  return `${L.join('\n')}\n`;
}


export function registerInspect(program: Command): void {
  program
    .command('inspect')
    .description('describe an ONNX model (no TensorRT needed), a TensorRT engine, or a SavedModel directory (as saved_model_cli show --all)')
    .argument('<file>', 'an .onnx model, a serialized engine (.engine/.plan; the kind is detected from the content) or a SavedModel directory')
    .option('--json', 'machine-readable output')
    .option('--layers <n>', 'layers to list for an engine (default 50)', (v: string) => {
      if (!/^\d+$/.test(v)) throw new TensorRTError('INVALID_ARGUMENT', `--layers: '${v}' is not a non-negative integer`);
      return Number(v);
    })
    .action(
      action('inspect', async (file: string, opts: { json?: boolean; layers?: number }) => {
        if (isSavedModelDir(file)) {
          // what `saved_model_cli show --dir <d> --all` shows: tag sets, signatures, their inputs and outputs
          // eslint-disable-next-line @typescript-eslint/no-require-imports -- commands load what they use: the TensorFlow reader only for a SavedModel
          const tfm = require('../tensorflow') as typeof import('../tensorflow');
          const info = tfm.savedModelInfo(file);
          io().out(opts.json ? toJson({ format: 'saved-model', ...info }) : tfm.formatSavedModelInfo(info));
          return;
        }
        const kind = readModelOrEngine(file, 'any');
        const bytes = kind.bytes;
        if (kind.kind === 'onnx') {
          const from = kind.convertedFrom; // TensorFlow formats: converted in memory
          if (opts.json) io().out(toJson({ format: 'onnx', ...(from ? { convertedFrom: from } : {}), file, bytes: bytes.length, ...kind.info }));
          else io().out(`${from ? `${file}: ${from}, converted to ONNX in memory\n` : ''}${formatOnnx(file, bytes.length, kind.info)}`);
          return;
        }
        requireTensorRT();
        const engine = await loadEngine(bytes);
        try {
          const r = engineReport(file, bytes.length, engine);
          io().out(opts.json ? toJson(r) : formatEngine(r, opts.layers ?? 50));
        } finally {
          engine.dispose();
        }
      }),
    );
}

/** Reads a file that must be a serialized engine (see files.ts for the rule every command applies). */
export function readEngineFile(file: string): Buffer {
  return readModelOrEngine(file, 'engine').bytes;
}
