/**
 * Changes at the boundary of a converted model, after conversion: SavedModel signature keys as the ONNX input and
 * output names (what TF Serving clients send and receive), and tf2onnx's `--inputs-as-nchw` (the listed inputs
 * take NCHW, a Transpose to the NHWC the TensorFlow graph computes in inserted after each).
 */
import { onnx } from '../onnx';
import { TensorRTError } from '../errors';
import { makeAttr } from './context';
import type { ConvertReport } from './convert';
import type { TfGraph } from './graph';

function canonical(n: string): string {
  return n.endsWith(':0') ? n.slice(0, -2) : n;
}

/** Every tensor name used in a graph and its subgraphs. */
function namesOf(g: onnx.IGraphProto, into = new Set<string>()): Set<string> {
  for (const v of [...(g.input ?? []), ...(g.output ?? [])]) into.add(v.name ?? '');
  for (const t of g.initializer ?? []) into.add(t.name ?? '');
  for (const n of g.node ?? []) {
    for (const s of [...(n.input ?? []), ...(n.output ?? [])]) into.add(s);
    for (const a of n.attribute ?? []) for (const sg of [a.g, ...(a.graphs ?? [])]) if (sg) namesOf(sg, into);
  }
  return into;
}

/** Replaces uses (node inputs) of `from` by `to` in a graph and its subgraphs (outer-scope references included). */
function replaceUses(g: onnx.IGraphProto, from: string, to: string, skip?: onnx.INodeProto): void {
  for (const n of g.node ?? []) {
    if (n !== skip && n.input) n.input = n.input.map((s) => (s === from ? to : s));
    for (const a of n.attribute ?? []) for (const sg of [a.g, ...(a.graphs ?? [])]) if (sg) replaceUses(sg, from, to, skip);
  }
}

/**
 * Renames a converted SavedModel's inputs and outputs to their signature keys (`x` for `serving_default_x:0`), where
 * the key names no other tensor. Signature outputs are the model's outputs in signature order (no `outputs` option).
 */
export function useSignatureKeys(model: onnx.IModelProto, report: ConvertReport, graph: TfGraph): void {
  const g = model.graph!;
  const used = namesOf(g);
  for (const s of graph.inputs ?? []) {
    const from = canonical(s.name);
    const vi = (g.input ?? []).find((v) => v.name === from);
    if (!vi || s.key === from || used.has(s.key)) continue;
    vi.name = s.key;
    replaceUses(g, from, s.key);
    used.add(s.key);
    const r = report.inputs.find((i) => i.name === from);
    if (r) r.name = s.key;
  }
  const outs = graph.outputs ?? [];
  if (outs.length !== (g.output ?? []).length) return;
  outs.forEach((s, i) => {
    const vi = g.output![i]!;
    const from = vi.name ?? '';
    if (s.key === from || used.has(s.key) || g.output!.filter((o) => o.name === from).length > 1) return;
    const producer = (g.node ?? []).find((n) => (n.output ?? []).includes(from));
    if (!producer) return;
    producer.output = producer.output!.map((o) => (o === from ? s.key : o));
    replaceUses(g, from, s.key);
    vi.name = s.key;
    used.add(s.key);
    const r = report.outputs[i];
    if (r && r.name === from) r.name = s.key;
  });
}

/**
 * tf2onnx's `--inputs-as-nchw`: each named input (its ONNX name, with or without `:0`) becomes channels-first —
 * shape [N, C, d1, ...] instead of [N, d1, ..., C] — and a Transpose back to channels-last feeds what it fed.
 * An unknown name, or an input of unknown rank or rank < 3: INVALID_ARGUMENT.
 */
export function inputsAsNchw(model: onnx.IModelProto, report: ConvertReport, names: string[]): void {
  const g = model.graph!;
  const used = namesOf(g);
  for (const raw of names) {
    const name = canonical(raw);
    const vi = (g.input ?? []).find((v) => v.name === name || v.name === raw);
    if (!vi) {
      throw new TensorRTError('INVALID_ARGUMENT', `--inputs-as-nchw: ${raw} is not an input of the model (inputs: ${(g.input ?? []).map((v) => v.name).join(', ')})`);
    }
    const inName = vi.name!;
    const dims = vi.type?.tensorType?.shape?.dim;
    if (!dims || dims.length < 3) {
      throw new TensorRTError('INVALID_ARGUMENT', `--inputs-as-nchw: input ${inName} has ${dims ? `rank ${dims.length}` : 'an unknown rank'}; NCHW needs rank 3 or more`);
    }
    const r = dims.length;
    // NCHW -> NHWC: [0, 2, 3, ..., r-1, 1]
    const perm = [0, ...Array.from({ length: r - 2 }, (_, i) => i + 2), 1];
    vi.type!.tensorType!.shape!.dim = [dims[0]!, dims[r - 1]!, ...dims.slice(1, r - 1)];
    let nhwc = `${inName}__nhwc`;
    for (let k = 1; used.has(nhwc); k++) nhwc = `${inName}__nhwc_${k}`;
    used.add(nhwc);
    replaceUses(g, inName, nhwc);
    const t = onnx.NodeProto.create({ name: `${inName}/inputs_as_nchw`, opType: 'Transpose', input: [inName], output: [nhwc], attribute: [makeAttr('perm', perm)] });
    g.node = [t, ...(g.node ?? [])];
    const rep = report.inputs.find((i) => i.name === inName);
    if (rep) rep.shape = [rep.shape[0]!, rep.shape[r - 1]!, ...rep.shape.slice(1, r - 1)];
    report.onnxNodes += 1;
  }
}
