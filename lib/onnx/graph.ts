/**
 * Graph utilities for rewriting ONNX models: constants, attributes, name allocation, opset upgrade to 13 and
 * Conv+BatchNormalization folding. All functions work on decoded ONNX messages (lib/onnx/proto.ts) and mutate them in place.
 */
import { TensorRTError } from '../errors';
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
const OPSET13_SAFE = new Set([
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
]);

/** Minimum opset from which an op that changed before 13 is already in its opset-13 form. */
const SAFE_FROM: Record<string, number> = {
  Clip: 11, Slice: 10, Pad: 11, TopK: 10, Resize: 11, Dropout: 12, BatchNormalization: 9, Softmax: 13, LogSoftmax: 13,
  Hardmax: 13, Squeeze: 13, Unsqueeze: 13, ReduceSum: 13, Split: 13,
};

export interface UpgradeResult {
  ok: boolean;
  /** Why the model could not be upgraded (first blocking node). */
  reason?: string;
  /** Nodes rewritten to their opset-13 form. */
  converted: number;
}

/**
 * Rewrites a model of opset 7..12 to opset 13 (the first opset with per-axis QuantizeLinear), converting the
 * ops whose attributes became inputs (Clip, Slice, Pad, Squeeze, Unsqueeze, ReduceSum, Split) and checking
 * Softmax-like ops for the axis semantics change. `ranks` gives tensor ranks where known (graph values and
 * observed shapes). On failure the model is left untouched and `reason` says which node blocked.
 */
export function upgradeToOpset13(model: onnx.ModelProto, ranks: Map<string, number> = new Map()): UpgradeResult {
  const from = opsetOf(model);
  if (from >= 13) return { ok: true, converted: 0 };
  if (from < 7) return { ok: false, reason: `opset ${from} is older than 7`, converted: 0 };
  const g = model.graph!;
  const idx = new GraphIndex(g);
  // first pass: check
  for (const n of g.node ?? []) {
    if (!isDefaultDomain(n)) continue;
    const op = n.opType ?? '';
    if (OPSET13_SAFE.has(op)) continue;
    const safeFrom = SAFE_FROM[op];
    if (safeFrom === undefined) return { ok: false, reason: `${op} node ${n.name || n.output?.[0]} has no known opset-13 conversion`, converted: 0 };
    if (from >= safeFrom) continue;
    switch (op) {
      case 'Clip': case 'Slice': case 'Pad': case 'Squeeze': case 'Unsqueeze': case 'ReduceSum': case 'Split':
        break;
      case 'BatchNormalization':
        if (attrInt(n, 'spatial', 1) !== 1) return { ok: false, reason: `BatchNormalization ${n.name} with spatial=0`, converted: 0 };
        break;
      case 'Dropout':
        break;
      case 'Softmax': case 'LogSoftmax': case 'Hardmax': {
        const axis = attrInt(n, 'axis', 1);
        const r = ranks.get(n.input?.[0] ?? '') ?? ranks.get(n.output?.[0] ?? '');
        if (axis !== -1 && (r === undefined || (axis !== r - 1 && axis !== -1))) {
          return { ok: false, reason: `${op} node ${n.name} (axis ${axis}, input rank ${r ?? 'unknown'}) changes meaning in opset 13`, converted: 0 };
        }
        break;
      }
      default:
        return { ok: false, reason: `${op} node ${n.name || n.output?.[0]} (opset ${from}) has no opset-13 conversion`, converted: 0 };
    }
  }
  // second pass: convert
  let converted = 0;
  const int64 = (base: string, values: number[]) => {
    const name = idx.unique(base);
    idx.addInitializer(makeTensor(name, DT.INT64, [values.length], BigInt64Array.from(values.map((v) => BigInt(v)))));
    return name;
  };
  const float = (base: string, v: number) => {
    const name = idx.unique(base);
    idx.addInitializer(makeTensor(name, DT.FLOAT, [], Float32Array.of(v)));
    return name;
  };
  for (const n of g.node ?? []) {
    if (!isDefaultDomain(n)) continue;
    const op = n.opType ?? '';
    const safeFrom = SAFE_FROM[op];
    if (safeFrom === undefined || from >= safeFrom) continue;
    const base = n.name || n.output?.[0] || op;
    const inputs = [...(n.input ?? [])];
    switch (op) {
      case 'Clip': {
        const lo = attrFloat(n, 'min');
        const hi = attrFloat(n, 'max');
        removeAttr(n, 'min');
        removeAttr(n, 'max');
        n.input = [inputs[0], lo !== undefined ? float(`${base}_min`, lo) : '', hi !== undefined ? float(`${base}_max`, hi) : ''];
        while (n.input.length > 1 && n.input[n.input.length - 1] === '') n.input.pop();
        break;
      }
      case 'Slice': {
        const starts = attrInts(n, 'starts') ?? [];
        const ends = attrInts(n, 'ends') ?? [];
        const axes = attrInts(n, 'axes');
        for (const a of ['starts', 'ends', 'axes']) removeAttr(n, a);
        n.input = [inputs[0], int64(`${base}_starts`, starts), int64(`${base}_ends`, ends)];
        if (axes) n.input.push(int64(`${base}_axes`, axes));
        break;
      }
      case 'Pad': {
        const pads = attrInts(n, 'pads') ?? [];
        const value = attrFloat(n, 'value') ?? 0;
        removeAttr(n, 'pads');
        removeAttr(n, 'value');
        n.input = [inputs[0], int64(`${base}_pads`, pads), float(`${base}_value`, value)];
        break;
      }
      case 'Squeeze': case 'Unsqueeze': case 'ReduceSum': {
        const axes = attrInts(n, 'axes');
        removeAttr(n, 'axes');
        if (axes) n.input = [inputs[0], int64(`${base}_axes`, axes)];
        break;
      }
      case 'Split': {
        const split = attrInts(n, 'split');
        removeAttr(n, 'split');
        if (split) n.input = [inputs[0], int64(`${base}_split`, split)];
        break;
      }
      case 'BatchNormalization':
        removeAttr(n, 'spatial');
        removeAttr(n, 'is_test');
        removeAttr(n, 'consumed_inputs');
        break;
      case 'Dropout':
        // inference: Dropout is the identity on its first output
        n.opType = 'Identity';
        n.attribute = [];
        n.input = [inputs[0]];
        n.output = [n.output?.[0] ?? ''];
        break;
      case 'Softmax': case 'LogSoftmax': case 'Hardmax':
        removeAttr(n, 'axis');
        (n.attribute ??= []).push(intAttr('axis', -1));
        break;
      default:
        break;
    }
    converted++;
  }
  setOpset(model, 13);
  if (toNumber(model.irVersion) < 7) model.irVersion = 7;
  return { ok: true, converted };
}

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

export function assertFloatTensor(t: onnx.ITensorProto, what: string): void {
  if (t.dataType !== DT.FLOAT) throw new TensorRTError('UNSUPPORTED', `${what} is not float32`);
}
