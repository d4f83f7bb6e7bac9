/**
 * `tensorrt-node run <model.engine>`: one inference. Inputs from .npy files (`--input name=file.npy`) or random
 * data of the right dtype and shape; every output written as `<output-dir>/<name>.npy`.
 */
import * as path from 'path';
import type { Command } from 'commander';
import type { TypedArray } from '../dtypes';
import { readNpyFile, writeNpyFile } from '../npy';
import { action, checkInputPath, io, makeOutputDir, requireCuda, requireTensorRT, toJson, UsageError } from './common';
import { addCacheBuildOptions, prepareEngine } from './cache';
import { fileNameFor, fmtShape, formatMs, parseInputSpec, parseIntOption, parseShapes, table, type InputSpec, type ShapeMap } from './parse';
import { checkNpyInput, elementCount, makeRng, npyDtypeOf, randomData, resolveInputShapes, valueStats, type TensorInfo } from './tensors';
import type { NpyArray } from '../npy';

export interface PreparedInputs {
  data: Record<string, TypedArray>;
  shapes: Record<string, number[]>;
  source: Record<string, string>;
}

/** Reads the .npy inputs named on the command line (before TensorRT is needed, so bad files fail early). */
export function readInputFiles(specs: readonly InputSpec[]): Record<string, { file: string; array: NpyArray }> {
  const out: Record<string, { file: string; array: NpyArray }> = {};
  for (const s of specs) {
    checkInputPath(s.file, `--input ${s.name}`, 'file');
    out[s.name] = { file: s.file, array: readNpyFile(s.file) };
  }
  return out;
}

/** Inputs for one inference: the given files, random data for the rest, all shapes concrete. */
export function prepareInputs(
  inputs: readonly TensorInfo[],
  files: Record<string, { file: string; array: NpyArray }>,
  shapes: ShapeMap,
  seed: number,
): PreparedInputs {
  const given: ShapeMap = { ...shapes };
  const names = new Set(inputs.map((t) => t.name));
  for (const n of Object.keys(files)) {
    if (!names.has(n)) throw new UsageError(`--input ${n}: the engine has no input named '${n}' (inputs: ${[...names].join(', ')})`);
    if (given[n] && fmtShape(given[n]) !== fmtShape(files[n].array.shape)) {
      throw new UsageError(`--input ${n}: ${files[n].file} has shape ${fmtShape(files[n].array.shape)} but --shapes says ${fmtShape(given[n])}`);
    }
    given[n] = files[n].array.shape;
  }
  const resolved = resolveInputShapes(inputs, given);
  const rng = makeRng(seed);
  const data: Record<string, TypedArray> = {};
  const source: Record<string, string> = {};
  for (const t of inputs) {
    const f = files[t.name];
    if (f) {
      data[t.name] = checkNpyInput(t, f.array, f.file).data;
      source[t.name] = f.file;
    } else if (t.isShapeInferenceIO && t.profileValues?.[0]) {
      // A shape tensor: its values are dimensions, so use the profile's opt values rather than random numbers.
      const opt = t.profileValues[0].opt;
      data[t.name] = t.dtype === 'int64' ? BigInt64Array.from(opt.map((v) => BigInt(v))) : Int32Array.from(opt);
      source[t.name] = 'shape-tensor values of profile 0 (opt)';
    } else {
      data[t.name] = randomData(t.dtype, elementCount(resolved[t.name]), rng);
      source[t.name] = `random (seed ${seed})`;
    }
  }
  return { data, shapes: resolved, source };
}

interface RunOptions {
  input?: InputSpec[];
  shapes?: ShapeMap;
  outputDir: string;
  seed: number;
  save?: boolean;
  json?: boolean;
}

export function registerRun(program: Command): void {
  addCacheBuildOptions(program.command('run'))
    .description('run one inference of an engine; inputs from .npy files or random, outputs written as .npy')
    .argument('<engine>', 'serialized TensorRT engine (.engine / .plan), or an ONNX model with --cache-dir')
    .option('-i, --input <name=file.npy>', 'an input tensor from a .npy file (repeatable, or comma-separated)', (v, p?: InputSpec[]) => parseInputSpec(v, p))
    .option('--shapes <spec>', 'shapes of dynamic inputs without a file, e.g. input:1x3x224x224', (v, p?: ShapeMap) => parseShapes(v, p, '--shapes'))
    .option('-d, --output-dir <dir>', 'directory for the output .npy files (created if missing)', '.')
    .option('--no-save', 'do not write the outputs')
    .option('--seed <n>', 'seed of the random inputs', parseIntOption('--seed', 0, 2 ** 32 - 1), 1)
    .option('--json', 'print the result as JSON')
    .action(
      action('run', async (file: string, o: RunOptions) => {
        const openEngine = prepareEngine(file, o, o.shapes ?? {}); // an engine file, or ONNX through --cache-dir
        const files = readInputFiles(o.input ?? []);
        if (o.save !== false) makeOutputDir(o.outputDir, 'output directory'); // before the run: a bad path fails first
        requireTensorRT();
        requireCuda();
        const engine = await openEngine();
        try {
          const inputs = engine.ioTensors.filter((t) => t.mode === 'input');
          const prepared = prepareInputs(inputs, files, o.shapes ?? {}, o.seed);
          const ctx = engine.createExecutionContext();
          try {
            const feed = Object.fromEntries(inputs.map((t) => [t.name, { data: prepared.data[t.name], shape: prepared.shapes[t.name] }]));
            const t0 = process.hrtime.bigint();
            const outputs = await ctx.inferWithShapes(feed);
            const ms = Number(process.hrtime.bigint() - t0) / 1e6;
            const report = [];
            for (const t of engine.ioTensors.filter((x) => x.mode === 'output')) {
              const out = outputs[t.name];
              if (!out) continue;
              const { data, shape } = out;
              const npyType = npyDtypeOf(t.dtype);
              let written: string | null = null;
              let note: string | undefined;
              if (o.save !== false) {
                if (npyType && elementCount(shape) === data.length) {
                  written = path.join(o.outputDir, `${fileNameFor(t.name)}.npy`);
                  writeNpyFile(written, { dtype: npyType, shape, data });
                } else {
                  note = npyType ? `shape ${fmtShape(shape)} does not match ${data.length} elements` : `${t.dtype} has no .npy dtype`;
                }
              }
              report.push({ name: t.name, dtype: t.dtype, shape, file: written, stats: valueStats(t.dtype, data), ...(note ? { note } : {}) });
            }
            if (o.json) {
              io().out(toJson({ engine: file, inferMs: ms, inputs: inputs.map((t) => ({ name: t.name, dtype: t.dtype, shape: prepared.shapes[t.name], source: prepared.source[t.name] })), outputs: report }));
            } else {
              const L: string[] = [`Ran ${file} in ${formatMs(ms)}`, 'Inputs:'];
              L.push(table(inputs.map((t) => [t.name, t.dtype, fmtShape(prepared.shapes[t.name]), prepared.source[t.name]])));
              L.push('Outputs:');
              L.push(table(report.map((r) => [
                r.name, r.dtype, fmtShape(r.shape),
                r.stats ? `min ${r.stats.min.toPrecision(4)} max ${r.stats.max.toPrecision(4)} mean ${r.stats.mean.toPrecision(4)}${r.stats.nan ? ` NaN ${r.stats.nan}` : ''}` : 'empty',
                r.file ? `-> ${r.file}` : r.note ? `(not written: ${r.note})` : '',
              ])));
              io().out(`${L.join('\n')}\n`);
            }
          } finally {
            ctx.dispose();
          }
        } finally {
          engine.dispose();
        }
      }),
    );
}
