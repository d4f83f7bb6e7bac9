/**
 * TF graph form → ONNX ModelProto. Walks the nodes the requested outputs depend on, checks that every op has a
 * handler (failing before anything is built, with each unsupported op's count and one node name), then converts
 * node by node in topological order. Graph inputs and outputs keep TF tensor names (`node` for output 0,
 * `node:k` otherwise), dtypes and layout.
 */
import { onnx } from '../onnx';
import { TensorRTError } from '../errors';
import * as is from '../validate';
import { attrShape, attrType, parseInput, tensorName, type TfDType, type TfGraph, type TfNode, type TfTensor } from './graph';
import { Ctx, onnxType, type CondTag, type Value } from './context';
import { tensorFromAttr } from './tensor';
import { lowerBelow13 } from './lower';
import { mathOps } from './ops/math';
import { convOps } from './ops/conv';
import { arrayOps } from './ops/array';
import { indexingOps } from './ops/indexing';
import { condOps } from './cond';
import { segmentOps } from './ops/segment';
import { linalgOps } from './ops/linalg';
import { conv3dOps } from './ops/conv3d';
import { nnOps } from './ops/nn';
import { cropOps } from './ops/crop';
import { detectionOps } from './ops/detection';
import { collapseWhileLoops, controlOps, loopMembers } from './control';
import type { OpTable } from './ops/types';

/**
 * The op handlers by the module that defines them (lib/tensorflow/ops/<name>.ts, control.ts, cond.ts), in the order
 * they are merged into OPS (a later module's handler wins). docs/tensorflow.md's op table is grouped by these names
 * (scripts/gen-tf-op-table.js).
 */
export const OP_MODULES: Readonly<Record<string, OpTable>> = {
  math: mathOps, conv: convOps, array: arrayOps, indexing: indexingOps, segment: segmentOps, linalg: linalgOps, conv3d: conv3dOps,
  nn: nnOps, crop: cropOps, detection: detectionOps, control: controlOps, cond: condOps,
};
export const OPS: OpTable = Object.assign({}, ...Object.values(OP_MODULES)) as OpTable;
/** Ops handled by the driver itself. */
export const DRIVER_OPS: ReadonlySet<string> = new Set(['Const', 'Placeholder', 'PlaceholderWithDefault', 'NoOp']);
/**
 * Supported ops that no OP_MODULES table maps, by the file that handles them: the driver (convert.ts), TF1 loop
 * frames collapsed into one loop node (control.ts; Merge and Switch are condOps), and functional control flow
 * lowered to the TF1 form before conversion (function.ts).
 */
export const OTHER_OPS: Readonly<Record<string, readonly string[]>> = {
  driver: [...DRIVER_OPS],
  control: ['Enter', 'Exit', 'NextIteration', 'LoopCond'],
  function: ['If', 'StatelessIf', 'While', 'StatelessWhile'],
};

/** The ONNX opsets the converter writes, lowest and highest (ConvertOptions.opset). */
export const OPSET_RANGE: readonly [number, number] = [11, 21];

export function supportedOps(): string[] {
  return [...new Set([...Object.keys(OPS).filter((o) => !o.startsWith('_Tf')), ...Object.values(OTHER_OPS).flat()])].sort();
}

export interface ConvertOptions {
  /** Graph inputs with optional shape overrides (-1 for dynamic): `{ name, shape }`. */
  inputs?: { name: string; shape?: number[] }[];
  /** Output tensor names. Default: the model's signature outputs, else every unconsumed tensor. */
  outputs?: string[];
  /** ONNX opset (11..21; default 13). Below 13 only the ops whose meaning is the same there are accepted (lower.ts). */
  opset?: number;
}

export interface ConvertReport {
  format: string;
  /** TF op type → count, of the nodes converted. */
  ops: Record<string, number>;
  tfNodes: number;
  onnxNodes: number;
  inputs: { name: string; dtype: string; shape: (number | string)[] }[];
  outputs: { name: string; dtype: string; shape: (number | string)[] }[];
  opset: number;
  /** Milliseconds spent converting (graph form → ONNX). */
  convertMs: number;
}

function canonical(name: string): string {
  const p = parseInput(name);
  return tensorName(p.node, p.index);
}

function dims(shape: number[] | undefined, name: string): onnx.TensorShapeProto {
  return onnx.TensorShapeProto.create({
    dim: (shape ?? []).map((d, i) => (d >= 0 ? onnx.TensorShapeProto.Dimension.create({ dimValue: d }) : onnx.TensorShapeProto.Dimension.create({ dimParam: i === 0 ? 'N' : `${name.replace(/[^A-Za-z0-9_]/g, '_')}_d${i}` }))),
  });
}

function valueInfo(name: string, dtype: TfDType, shape: number[] | undefined): onnx.ValueInfoProto {
  const tensorType: onnx.TypeProto.ITensor = { elemType: onnxType(dtype) };
  if (shape) tensorType.shape = dims(shape, name);
  return onnx.ValueInfoProto.create({ name, type: onnx.TypeProto.create({ tensorType }) });
}

/** The shape the graph itself gives a node's first output (signature, Placeholder shape, _output_shapes), if any. */
function graphShape(graph: TfGraph, n: TfNode): number[] | undefined {
  const sig = graph.inputs?.find((i) => parseInput(i.name).node === n.name);
  return sig?.shape ?? attrShape(n.attr.shape) ?? attrShape(n.attr._output_shapes?.list?.shape?.[0] ? { shape: n.attr._output_shapes.list.shape[0] as never } : undefined);
}

/**
 * An input shape given by the user must fit the graph's: the same rank, and each fixed dimension the same (a
 * dynamic one, -1, may be given any size; a fixed one may be given as -1). Otherwise the ONNX file would state a
 * shape its own nodes contradict, which onnxruntime and TensorRT refuse.
 */
function checkOverride(name: string, given: number[], graph: number[] | undefined): void {
  if (!graph) return; // unknown rank: anything goes
  const f = (s: number[]) => (s.length ? s.map((d) => (d < 0 ? '?' : String(d))).join('x') : 'a scalar');
  const bad = (why: string) => new TensorRTError('INVALID_ARGUMENT', `input ${name}: --inputs gives shape ${f(given)}, the graph's is ${f(graph)} (${why})`);
  if (given.length !== graph.length) throw bad(`rank ${given.length}, not ${graph.length}`);
  const i = given.findIndex((d, k) => d >= 0 && graph[k]! >= 0 && d !== graph[k]);
  if (i >= 0) throw bad(`dimension ${i}`);
}

export function convertGraph(original: TfGraph, options: ConvertOptions = {}): { model: onnx.ModelProto; report: ConvertReport } {
  const g = is.object(original, 'convertGraph: the graph', 'a TfGraph { nodes, weights, format }');
  is.arrayOf(g.nodes, 'convertGraph: graph.nodes', (n, w) => is.object(n, w, 'a TfNode'), 'an array of TfNode');
  if (!(g.weights instanceof Map)) throw new TensorRTError('INVALID_ARGUMENT', `convertGraph: graph.weights must be a Map; got ${is.describe(g.weights)}`);
  is.object(options, 'convertGraph options');
  const t0 = performance.now();
  let graph = original;
  try {
    graph = collapseWhileLoops(original);
  } catch (e) {
    // A loop shape not handled (nested, tf.cond): its ops are listed as unsupported below.
    if (!(e instanceof TensorRTError)) throw e;
  }
  if (graph.nodes.length === 0) throw new TensorRTError('PARSE_ERROR', `the ${graph.format} graph has no nodes: nothing to convert`);
  const opset = options.opset ?? 13;
  const [lo, hi] = OPSET_RANGE;
  if (!Number.isInteger(opset) || opset < lo || opset > hi) throw new TensorRTError('INVALID_ARGUMENT', `opset ${opset} not supported (${lo}..${hi})`);
  const byName = new Map<string, TfNode>();
  for (const n of graph.nodes) byName.set(n.name, n);
  const consumed = new Set<string>();
  for (const n of graph.nodes) for (const i of n.input) consumed.add(parseInput(i).node);

  // Outputs.
  let outputs = options.outputs?.map(canonical);
  if (!outputs || outputs.length === 0) outputs = graph.outputs?.map((o) => canonical(o.name));
  if (!outputs || outputs.length === 0) {
    // (not a cond's Switch or pivot: their values exist only inside a branch)
    const pivot = (n: TfNode) => n.op === 'Switch' || (n.op === 'Identity' && n.input[0] !== undefined && byName.get(parseInput(n.input[0]).node)?.op === 'Switch');
    outputs = graph.nodes.filter((n) => !consumed.has(n.name) && !DRIVER_OPS.has(n.op) && n.op !== 'Assert' && !pivot(n)).map((n) => n.name);
  }
  if (outputs.length === 0) throw new TensorRTError('PARSE_ERROR', `the ${graph.format} graph has no outputs (every tensor is consumed): name them with outputs`);
  for (const o of outputs) {
    if (!byName.has(parseInput(o).node)) throw new TensorRTError('INVALID_ARGUMENT', `output ${o} is not a tensor of the graph`);
  }
  // Input overrides.
  const inputOverride = new Map<string, number[] | undefined>();
  for (const i of options.inputs ?? []) {
    const nm = parseInput(i.name).node;
    const node = byName.get(nm);
    if (!node) throw new TensorRTError('INVALID_ARGUMENT', `input ${i.name} is not a node of the graph`);
    if (i.shape) checkOverride(i.name, i.shape, graphShape(graph, node));
    inputOverride.set(nm, i.shape);
  }

  // Nodes the outputs depend on (cycle-tolerant walk), so that unsupported ops are all listed before anything else.
  let reachable: TfNode[] = [];
  {
    const seen = new Set<string>();
    const todo = outputs.map((o) => parseInput(o).node);
    while (todo.length) {
      const nm = todo.pop()!;
      if (seen.has(nm)) continue;
      seen.add(nm);
      const n = byName.get(nm);
      if (!n) throw new TensorRTError('PARSE_ERROR', `node ${nm} is referenced but not defined`);
      reachable.push(n);
      if (!inputOverride.has(nm)) for (const s of n.input) if (!s.startsWith('^')) todo.push(parseInput(s).node);
    }
    reachable = graph.nodes.filter((n) => seen.has(n.name)); // in the graph's order, for stable messages
  }
  // Unsupported ops, all at once.
  const missing = new Map<string, { count: number; node: string }>();
  for (const n of reachable.flatMap((r) => [r, ...loopMembers(r)])) {
    if (inputOverride.has(n.name) || DRIVER_OPS.has(n.op) || OPS[n.op]) continue;
    const m = missing.get(n.op);
    if (m) m.count++;
    else missing.set(n.op, { count: 1, node: n.name });
  }
  if (missing.size > 0) {
    const list = [...missing].map(([op, m]) => `${op} ×${m.count} (e.g. ${m.node})`).join(', ');
    const err = new TensorRTError('UNSUPPORTED_OP', `the model uses ${missing.size} unsupported TensorFlow op type(s): ${list}`);
    (err as TensorRTError & { unsupportedOps?: unknown }).unsupportedOps = [...missing].map(([op, m]) => ({ op, count: m.count, node: m.node }));
    throw err;
  }

  // A cond's pivot (Identity of a Switch output), a control input of the branch's constants: converted first, so
  // that they carry its branch (cond.ts).
  const isPivot = (s: string): boolean => {
    const m = byName.get(s.slice(1));
    return m?.op === 'Identity' && m.input[0] !== undefined && byName.get(parseInput(m.input[0]).node)?.op === 'Switch';
  };
  // Nodes needed, in topological order (iterative DFS over data inputs); inputs named by the user cut the graph.
  const order: TfNode[] = [];
  const state = new Map<string, number>();
  const stack: { name: string; next: number }[] = [];
  for (const o of outputs) {
    const root = parseInput(o).node;
    if (state.has(root)) continue;
    stack.push({ name: root, next: 0 });
    state.set(root, 1);
    while (stack.length) {
      const top = stack[stack.length - 1]!;
      const n = byName.get(top.name);
      if (!n) throw new TensorRTError('PARSE_ERROR', `node ${top.name} is referenced but not defined`);
      const ins = inputOverride.has(n.name) ? [] : n.input.filter((s) => !s.startsWith('^') || isPivot(s));
      if (top.next < ins.length) {
        const dep = parseInput(ins[top.next++]!).node;
        const st = state.get(dep);
        if (st === 1) throw new TensorRTError('UNSUPPORTED_OP', `cycle through ${dep}: a TF1 while loop (control flow is not supported yet)`);
        if (st === undefined) {
          state.set(dep, 1);
          stack.push({ name: dep, next: 0 });
        }
      } else {
        state.set(top.name, 2);
        order.push(n);
        stack.pop();
      }
    }
  }
  const reserved = new Set<string>(outputs);
  // below 13 the graph is built in opset-13 form and rewritten at the end (lowerBelow13)
  const ctx = new Ctx(Math.max(opset, 13), reserved);
  ctx.env = { graph, report: { ops: {} }, convertNodes };
  const values = new Map<string, Value>();
  const inputsInfo: onnx.ValueInfoProto[] = [];
  const report: ConvertReport = { format: graph.format, ops: {}, tfNodes: order.length, onnxNodes: 0, inputs: [], outputs: [], opset, convertMs: 0 };
  ctx.env.report = report;
  const sigShape = new Map<string, { dtype?: TfDType; shape?: number[] }>();
  for (const i of graph.inputs ?? []) sigShape.set(parseInput(i.name).node, i);

  for (const n of order) {
    if (!(inputOverride.has(n.name) || n.op === 'Placeholder' || n.op === 'PlaceholderWithDefault')) {
      convertNodes(ctx, [n], values, graph, report);
      continue;
    }
    ctx.current = n;
    report.ops[n.op] = (report.ops[n.op] ?? 0) + 1;
    if (inputOverride.has(n.name) || n.op === 'Placeholder' || n.op === 'PlaceholderWithDefault') {
      const sig = sigShape.get(n.name);
      const dtype = attrType(n, 'dtype') ?? attrType(n, 'T') ?? sig?.dtype ?? 'float32';
      const shape = inputOverride.get(n.name) ?? sig?.shape ?? attrShape(n.attr.shape) ?? attrShape(n.attr._output_shapes?.list?.shape?.[0] ? { shape: n.attr._output_shapes.list.shape[0] as never } : undefined);
      if (n.op === 'PlaceholderWithDefault' && !inputOverride.has(n.name) && sig === undefined) {
        // Not a graph input unless asked for: keep the default.
        values.set(n.name, values.get(canonical(n.input[0]!))!);
        continue;
      }
      const name = ctx.unique(n.name);
      inputsInfo.push(valueInfo(name, dtype, shape));
      const v: Value = { dtype, nhwc: name };
      if (shape) v.shape = shape;
      values.set(n.name, v);
      report.inputs.push({ name, dtype, shape: (shape ?? []).map((d) => (d >= 0 ? d : -1)) });
      continue;
    }
  }
  ctx.current = undefined;
  const outputsInfo: onnx.ValueInfoProto[] = [];
  for (const o of outputs) {
    const v = values.get(o);
    if (!v) throw new TensorRTError('INVALID_ARGUMENT', `output ${o} was not produced`);
    if (v.cond?.length) throw new TensorRTError('UNSUPPORTED_OP', `output ${o} is inside a tf.cond branch (a value only one side of a Switch computes)`);
    const src = ctx.ref(v);
    ctx.nodes.push(onnx.NodeProto.create({ name: `${o}/output`, opType: 'Identity', input: [src], output: [o] }));
    outputsInfo.push(valueInfo(o, v.dtype, v.shape));
    report.outputs.push({ name: o, dtype: v.dtype, shape: (v.shape ?? []).map((d) => (d >= 0 ? d : -1)) });
  }
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'tensorrt-node',
    producerVersion: 'tensorflow-converter',
    opsetImport: [onnx.OperatorSetIdProto.create({ domain: '', version: opset })],
    graph: onnx.GraphProto.create({ name: 'tensorflow', node: ctx.nodes, initializer: ctx.initializers, input: inputsInfo, output: outputsInfo }),
  });
  if (opset < 13) lowerBelow13(model, opset);
  report.onnxNodes = ctx.nodes.length;
  report.tfNodes = Object.values(report.ops).reduce((a, k) => a + k, 0);
  report.convertMs = performance.now() - t0;
  return { model, report };
}

/** Converts TF nodes (in topological order) into `ctx`, reading and writing TF tensor values in `values`. */
export function convertNodes(ctx: Ctx, nodes: TfNode[], values: Map<string, Value>, graph: TfGraph, report: Pick<ConvertReport, 'ops'>): void {
  const savedTag = ctx.tag;
  try {
    convertEach(ctx, nodes, values, graph, report);
  } finally {
    ctx.tag = savedTag;
  }
}

/** The innermost cond branch among a node's data and control inputs (TF1 cond: Switch outputs and what follows). */
function condTagOf(n: TfNode, values: Map<string, Value>): CondTag[] | undefined {
  let tag: CondTag[] | undefined;
  for (const s of n.input) {
    const t = values.get(canonical(s.startsWith('^') ? s.slice(1) : s))?.cond;
    if (t && t.length > (tag?.length ?? 0)) tag = t;
  }
  return tag;
}

function convertEach(ctx: Ctx, nodes: TfNode[], values: Map<string, Value>, graph: TfGraph, report: Pick<ConvertReport, 'ops'>): void {
  for (const n of nodes) {
    ctx.current = n;
    const tag = condTagOf(n, values);
    ctx.tag = tag;
    if (!n.op.startsWith('_Tf')) report.ops[n.op] = (report.ops[n.op] ?? 0) + 1; // a loop counts its own ops
    if (n.op === 'Const') {
      const t: TfTensor | undefined = graph.weights.get(n.name) ?? tensorFromAttr(n.attr.value?.tensor, n.name);
      if (!t) throw new TensorRTError('PARSE_ERROR', `Const ${n.name} has no value (missing from the weights)`);
      const v: Value = { dtype: t.dtype, shape: t.shape, value: t };
      if (tag) v.cond = tag;
      values.set(n.name, v);
      continue;
    }
    if (n.op === 'NoOp') continue;
    const ins = n.input.filter((s) => !s.startsWith('^')).map((s) => {
      const v = values.get(canonical(s));
      if (!v) throw new TensorRTError('INTERNAL', `${n.name}: input ${s} not converted`);
      return v;
    });
    let outs: Value[];
    try {
      outs = OPS[n.op]!(ctx, n, ins);
    } catch (e) {
      if (e instanceof TensorRTError) throw e;
      throw new TensorRTError('INTERNAL', `${n.name} (${n.op}): ${(e as Error).message}`, { cause: e });
    }
    if (tag && n.op !== 'Switch' && n.op !== 'Merge') outs = outs.map((v) => ((v.cond?.length ?? 0) < tag.length ? { ...v, cond: tag } : v));
    outs.forEach((v, i) => values.set(tensorName(n.name, i), v));
  }
}
