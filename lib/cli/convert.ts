/**
 * `tensorrt-node convert <model.json | frozen.pb | saved_model_dir> -o model.onnx`: TensorFlow models (TF.js graph
 * models, frozen GraphDefs, SavedModels) to ONNX, in process. Nothing is written unless the whole conversion
 * succeeded (an unsupported model fails first, listing its unsupported ops); the file is written temp + rename.
 * `onnxBytesFor` lets build/inspect/quantize take these formats directly (converted in memory).
 */
import * as path from 'path';
import type { Command } from 'commander';
import { action, checkInputPath, checkOutputFile, io, toJson, UsageError } from './common';
import { saveModel } from '../onnx';

type TfModule = typeof import('../tensorflow');
// Loaded on use: commands that never see a TensorFlow model do not pay for the converter.
// eslint-disable-next-line @typescript-eslint/no-require-imports -- commands load what they use: the converter only for TensorFlow input
const tfModule = (): TfModule => require('../tensorflow') as TfModule;

/**
 * `name[:d0xd1x...],...` (dimension -1 or ? for dynamic). TF node names cannot hold ':', so the text after the last
 * ':' is always meant as a shape: one that is not dimensions joined by 'x' is a malformed shape (INVALID_ARGUMENT),
 * never a node name.
 */
export function parseTfInputs(spec: string): { name: string; shape?: number[] }[] {
  return spec.split(',').map((s) => s.trim()).filter((s) => s).map((s) => {
    const i = s.lastIndexOf(':');
    if (i < 0) return { name: s };
    const shapeText = s.slice(i + 1);
    const bad = (why: string) => new UsageError(`--inputs: malformed shape "${shapeText}" in "${s}" (${why}; expected name:d0xd1x..., -1 or ? for a dynamic dimension)`);
    if (i === 0) throw new UsageError(`--inputs: "${s}" has no input name before ':'`);
    const parts = shapeText.split(/[x×]/);
    if (parts.some((d) => !/^(-1|\?|\d+)$/.test(d))) throw bad('dimensions are integers ≥ 1, -1 or ?');
    const shape = parts.map((d) => (d === '?' ? -1 : Number(d)));
    if (shape.some((d) => d === 0)) throw bad('a dimension of 0');
    return { name: s.slice(0, i), shape };
  });
}

/** ONNX bytes of a TensorFlow model path, or undefined when the path is not a TensorFlow format. */
export function onnxBytesFor(file: string, tfOptions: { tags?: string[]; signature?: string } = {}): { bytes: Uint8Array; format: string } | undefined {
  const tfm = tfModule();
  const fmt = tfm.detectTensorFlowFormat(file);
  if (!fmt) return undefined;
  if (fmt === 'frozen-graphdef') {
    // A .pb may still be an ONNX file named oddly; only treat it as TF when it is not ONNX.
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- commands load what they use: the converter only for TensorFlow input
      (require('../onnx') as typeof import('../onnx')).loadModel(file);
      return undefined;
    } catch {
      /* not ONNX */
    }
  }
  const { model } = tfm.convertTensorFlow(file, tfOptions);
  return { bytes: saveModel(model), format: fmt };
}

interface ConvertCliOptions {
  output?: string;
  inputs?: string;
  outputs?: string;
  signature?: string;
  signatureDef?: string;
  tags?: string;
  tagSet?: string;
  opset?: string;
  inputsAsNchw?: string;
  json?: boolean;
}

export function registerConvert(program: Command): void {
  program
    .command('convert')
    .description('convert a TensorFlow model (TF.js model.json, frozen GraphDef .pb, SavedModel directory) to ONNX')
    .argument('<model>', 'model.json (TF.js graph model), frozen.pb (GraphDef) or a SavedModel directory')
    .option('-o, --output <file>', 'ONNX file to write')
    .option('--inputs <list>', 'graph inputs, optionally with shapes: name[:1x224x224x3],... (-1 or ? for dynamic)')
    .option('--outputs <list>', 'output tensor names: name[:k],... (default: the signature outputs)')
    .option('--signature <key>', 'SavedModel signature (default serving_default)')
    .option('--tags <list>', 'SavedModel MetaGraph tags (default serve)')
    .option('--signature-def <key>', 'saved_model_cli spelling of --signature')
    .option('--tag-set <list>', 'saved_model_cli spelling of --tags')
    .option('--opset <n>', 'ONNX opset, 11..21 (default 13; below 13 only ops whose meaning is the same there)')
    .option('--inputs-as-nchw <list>', "inputs to take as NCHW (tf2onnx's option): a Transpose to the graph's NHWC inserted after each")
    .option('--json', 'print the conversion report as JSON')
    .action(
      action('convert', async (model: string, o: ConvertCliOptions) => {
        if (!o.output) throw new UsageError('missing the output file: -o <model.onnx>');
        const out = checkOutputFile(o.output, 'model');
        if (path.resolve(model) === out) throw new UsageError('the output file must differ from the input model');
        let opset: number | undefined;
        if (o.opset !== undefined) {
          if (!/^\d+$/.test(o.opset)) throw new UsageError(`--opset must be an integer, got "${o.opset}"`);
          opset = Number(o.opset);
        }
        const tfm = tfModule();
        checkInputPath(model, 'model');
        if (!tfm.detectTensorFlowFormat(model)) {
          throw new UsageError(`${model}: not a TF.js model.json, a frozen GraphDef .pb or a SavedModel directory`);
        }
        const options: import('../tensorflow').ConvertTensorFlowOptions = {};
        if (o.inputs) options.inputs = parseTfInputs(o.inputs);
        if (o.outputs) options.outputs = o.outputs.split(',').map((s) => s.trim()).filter((s) => s);
        if (o.signature ?? o.signatureDef) options.signature = o.signature ?? o.signatureDef;
        if (o.tags ?? o.tagSet) options.tags = (o.tags ?? o.tagSet)!.split(',').map((s) => s.trim());
        if (opset !== undefined) options.opset = opset;
        if (o.inputsAsNchw !== undefined) {
          options.inputsAsNchw = o.inputsAsNchw.split(',').map((s) => s.trim()).filter((s) => s);
          if (!options.inputsAsNchw.length) throw new UsageError('--inputs-as-nchw: no input names');
        }
        const report = tfm.convertTensorFlowToFile(model, out, options);
        if (o.json) {
          io().out(toJson({ file: out, ...report }));
          return;
        }
        const fmtShape = (s: (number | string)[]) => (s.length ? s.map((d) => (d === -1 ? '?' : String(d))).join('x') : 'scalar');
        const L = [
          `Converted ${model} (${report.format}) to ${out} (${report.bytes} bytes) in ${report.convertMs.toFixed(0)} ms`,
          `  TF nodes ${report.tfNodes}, ONNX nodes ${report.onnxNodes}, opset ${report.opset}`,
          `  ops: ${Object.entries(report.ops).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ')}`,
          ...report.inputs.map((i) => `  input  ${i.name}: ${i.dtype} ${fmtShape(i.shape)}`),
          ...report.outputs.map((i) => `  output ${i.name}: ${i.dtype} ${fmtShape(i.shape)}`),
        ];
        io().out(`${L.join('\n')}\n`);
      }),
    );
}
