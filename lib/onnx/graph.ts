/**
 * Graph utilities for rewriting ONNX models: constants, attributes, name allocation, opset upgrade to 13 and
 * Conv+BatchNormalization folding. All functions work on decoded ONNX messages (lib/onnx/proto.ts) and mutate them in place.
 */
import { onnx, toNumber, tensorToFloat32, makeTensor, saveModel } from './index';

const AT = onnx.AttributeProto.AttributeType;
const DT = onnx.TensorProto.DataType;

/** Deep copy of a model (encode + decode). */
export function cloneModel(model: onnx.IModelProto): onnx.ModelProto {
  return onnx.ModelProto.decode(saveModel(model));
}

export function isDefaultDomain(n: onnx.INodeProto): boolean {
  return !n.domain || n.domain === 'ai.onnx';
}

export function getAttr(n: onnx.INodeProto, name: string): onnx.IAttributeProto | undefined {
  return (n.attribute ?? []).find((a) => a.name === name);
}

export function attrInt(n: onnx.INodeProto, name: string, def: number): number {
  const a = getAttr(n, name);
  return a ? toNumber(a.i) : def;
}

export function attrInts(n: onnx.INodeProto, name: string): number[] | undefined {
  const a = getAttr(n, name);
  return a ? (a.ints ?? []).map((v) => toNumber(v)) : undefined;
}

export function attrFloat(n: onnx.INodeProto, name: string): number | undefined {
  const a = getAttr(n, name);
  return a ? (a.f ?? 0) : undefined;
}

export function removeAttr(n: onnx.INodeProto, name: string): void {
  n.attribute = (n.attribute ?? []).filter((a) => a.name !== name);
}

export function intAttr(name: string, v: number): onnx.AttributeProto {
  return onnx.AttributeProto.create({ name, type: AT.INT, i: v });
}

export function opsetOf(model: onnx.IModelProto): number {
  const o = (model.opsetImport ?? []).find((x) => !x.domain || x.domain === 'ai.onnx');
  return o ? toNumber(o.version) : 0;
}

export function setOpset(model: onnx.IModelProto, version: number): void {
  const o = (model.opsetImport ?? []).find((x) => !x.domain || x.domain === 'ai.onnx');
  if (o) o.version = version;
  else (model.opsetImport ??= []).push(onnx.OperatorSetIdProto.create({ domain: '', version }));
}

/** Index of a graph: constants (initializers and Constant nodes), producers and consumers. */
export class GraphIndex {
  readonly graph: onnx.IGraphProto;
  readonly initializers = new Map<string, onnx.ITensorProto>();
  readonly constantNodes = new Map<string, onnx.INodeProto>();
  readonly producer = new Map<string, onnx.INodeProto>();
  readonly consumers = new Map<string, { node: onnx.INodeProto; index: number }[]>();
  readonly graphInputs: Set<string>;
  readonly graphOutputs: Set<string>;
  private names = new Set<string>();

  constructor(graph: onnx.IGraphProto) {
    this.graph = graph;
    for (const t of graph.initializer ?? []) {
      this.initializers.set(t.name ?? '', t);
      this.names.add(t.name ?? '');
    }
    this.graphInputs = new Set((graph.input ?? []).map((v) => v.name ?? '').filter((n) => !this.initializers.has(n)));
    this.graphOutputs = new Set((graph.output ?? []).map((v) => v.name ?? ''));
    for (const v of [...(graph.input ?? []), ...(graph.output ?? []), ...(graph.valueInfo ?? [])]) this.names.add(v.name ?? '');
    for (const n of graph.node ?? []) {
      if (n.name) this.names.add(n.name);
      for (const o of n.output ?? []) {
        if (!o) continue;
        this.producer.set(o, n);
        this.names.add(o);
      }
      (n.input ?? []).forEach((i, index) => {
        if (!i) return;
        let l = this.consumers.get(i);
        if (!l) this.consumers.set(i, (l = []));
        l.push({ node: n, index });
      });
      if (n.opType === 'Constant' && isDefaultDomain(n) && getAttr(n, 'value')?.t) this.constantNodes.set(n.output?.[0] ?? '', n);
    }
  }

  /** The tensor of a constant value (initializer or Constant node), or undefined. */
  constant(name: string): onnx.ITensorProto | undefined {
    return this.initializers.get(name) ?? (this.constantNodes.get(name) ? getAttr(this.constantNodes.get(name)!, 'value')!.t! : undefined);
  }

  isConstant(name: string): boolean {
    return this.constant(name) !== undefined;
  }

  /** A name not used anywhere in the graph yet (reserved on return). */
  unique(base: string): string {
    let name = base;
    for (let i = 1; this.names.has(name); i++) name = `${base}_${i}`;
    this.names.add(name);
    return name;
  }

  addInitializer(t: onnx.TensorProto): void {
    (this.graph.initializer ??= []).push(t);
    this.initializers.set(t.name ?? '', t);
    this.names.add(t.name ?? '');
  }
}

/** Removes Constant nodes and initializers that nothing uses any more. */
export function removeUnusedConstants(graph: onnx.IGraphProto): void {
  const used = new Set<string>();
  for (const n of graph.node ?? []) for (const i of n.input ?? []) used.add(i);
  for (const o of graph.output ?? []) used.add(o.name ?? '');
  graph.node = (graph.node ?? []).filter((n) => !(n.opType === 'Constant' && isDefaultDomain(n) && !(n.output ?? []).some((o) => used.has(o))));
  const inputNames = new Set((graph.input ?? []).map((v) => v.name ?? ''));
  graph.initializer = (graph.initializer ?? []).filter((t) => used.has(t.name ?? '') || inputNames.has(t.name ?? ''));
}

/** ai.onnx ops whose inference semantics did not change from opset 7 up to 13 (type additions aside). */
export const OPSET13_SAFE: ReadonlySet<string> = new Set([
  'Abs', 'Acos', 'Acosh', 'Add', 'And', 'ArgMax', 'ArgMin', 'Asin', 'Asinh', 'Atan', 'Atanh', 'AveragePool', 'Cast', 'Ceil',
  'Concat', 'Constant', 'ConstantOfShape', 'Conv', 'ConvTranspose', 'Cos', 'Cosh', 'DepthToSpace', 'Div', 'Einsum',
  'Elu', 'Equal', 'Erf', 'Exp', 'Expand', 'Flatten', 'Floor', 'Gather', 'GatherElements', 'GatherND', 'Gemm',
  'GlobalAveragePool', 'GlobalLpPool', 'GlobalMaxPool', 'Greater', 'GreaterOrEqual', 'HardSigmoid', 'Identity',
  'InstanceNormalization', 'IsInf', 'IsNaN', 'LRN', 'LeakyRelu', 'Less', 'LessOrEqual', 'Log', 'LpNormalization',
  'MatMul', 'Max', 'MaxPool', 'Mean', 'Min', 'Mod', 'Mul', 'Neg', 'NonZero', 'Not', 'Or', 'PRelu', 'Pow', 'Range',
  'Reciprocal', 'ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceMax', 'ReduceMean', 'ReduceMin',
  'ReduceProd', 'ReduceSumSquare', 'Relu', 'Reshape', 'Round', 'ScatterElements', 'ScatterND', 'Selu', 'Shape', 'Sigmoid',
  'Sign', 'Sin', 'Sinh', 'Size', 'Softplus', 'Softsign', 'SpaceToDepth', 'Sqrt', 'Sub', 'Sum', 'Tan', 'Tanh', 'Tile',
  'Transpose', 'Where', 'Xor', 'CumSum', 'Celu', 'HardSwish', 'MatMulInteger', 'ConvInteger', 'QuantizeLinear', 'DequantizeLinear',
  'LSTM', 'GRU', 'RNN', 'OneHot', 'NonMaxSuppression', 'RoiAlign', 'Compress', 'ReverseSequence', 'EyeLike',
  'MeanVarianceNormalization', 'MaxUnpool', 'MaxRoiPool', 'Shrink', 'ThresholdedRelu', 'Det', 'BitShift',
]);

/**
 * Folds BatchNormalization nodes into the Conv that feeds them (constant weights, Conv output used only by the
 * BatchNormalization, inference form with one output). The Conv takes over the BatchNormalization's output
 * name. Returns the number of folded pairs.
 */
export function foldBatchNormalization(model: onnx.ModelProto): number {
  const g = model.graph!;
  const idx = new GraphIndex(g);
  const remove = new Set<onnx.INodeProto>();
  let folded = 0;
  for (const bn of g.node ?? []) {
    if (bn.opType !== 'BatchNormalization' || !isDefaultDomain(bn)) continue;
    if ((bn.output ?? []).filter((o) => o).length !== 1) continue;
    const x = bn.input?.[0] ?? '';
    const conv = idx.producer.get(x);
    if (!conv || conv.opType !== 'Conv' || !isDefaultDomain(conv)) continue;
    if ((idx.consumers.get(x) ?? []).length !== 1 || idx.graphOutputs.has(x)) continue;
    const wName = conv.input?.[1] ?? '';
    const w = idx.constant(wName);
    const params = [1, 2, 3, 4].map((i) => idx.constant(bn.input?.[i] ?? ''));
    if (!w || params.some((p) => !p) || w.dataType !== DT.FLOAT || params.some((p) => p!.dataType !== DT.FLOAT)) continue;
    const bName = conv.input?.[2];
    const b = bName ? idx.constant(bName) : undefined;
    if (bName && (!b || b.dataType !== DT.FLOAT)) continue;
    const [scale, beta, mean, variance] = params.map((p) => tensorToFloat32(p!));
    const eps = attrFloat(bn, 'epsilon') ?? 1e-5;
    const wData = tensorToFloat32(w);
    const dims = (w.dims ?? []).map((d) => toNumber(d));
    const m = dims[0];
    if (scale.length !== m || beta.length !== m || mean.length !== m || variance.length !== m) continue;
    const per = wData.length / m;
    const bias = b ? tensorToFloat32(b) : new Float32Array(m);
    const newW = new Float32Array(wData.length);
    const newB = new Float32Array(m);
    for (let c = 0; c < m; c++) {
      const s = scale[c] / Math.sqrt(variance[c] + eps);
      for (let j = 0; j < per; j++) newW[c * per + j] = wData[c * per + j] * s;
      newB[c] = (bias[c] - mean[c]) * s + beta[c];
    }
    const base = conv.name || bn.output![0];
    const wn = idx.unique(`${base}_folded_weight`);
    const bn2 = idx.unique(`${base}_folded_bias`);
    idx.addInitializer(makeTensor(wn, DT.FLOAT, dims, newW));
    idx.addInitializer(makeTensor(bn2, DT.FLOAT, [m], newB));
    conv.input = [conv.input![0], wn, bn2];
    conv.output = [bn.output![0]];
    remove.add(bn);
    folded++;
  }
  if (folded > 0) {
    g.node = (g.node ?? []).filter((n) => !remove.has(n));
    const gone = new Set([...remove].map((n) => n.input?.[0] ?? '')); // the Conv outputs that no longer exist
    g.valueInfo = (g.valueInfo ?? []).filter((v) => !gone.has(v.name ?? ''));
    removeUnusedConstants(g);
  }
  return folded;
}

/** Ranks of tensors known from the graph's inputs, outputs and value_info. */
export function declaredRanks(graph: onnx.IGraphProto): Map<string, number> {
  const r = new Map<string, number>();
  for (const v of [...(graph.input ?? []), ...(graph.output ?? []), ...(graph.valueInfo ?? [])]) {
    const s = v.type?.tensorType?.shape;
    if (s) r.set(v.name ?? '', (s.dim ?? []).length);
  }
  return r;
}

