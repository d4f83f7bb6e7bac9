/**
 * Opset upgrade of ai.onnx graphs (7..12 -> 10..13) that keeps the model's meaning: every op whose definition
 * changed between the model's opset and the target is rewritten into its target form.
 *
 * | changed in | op | rewrite |
 * |---|---|---|
 * | 9 | BatchNormalization | `spatial` (must be 1) dropped |
 * | 10 | Slice | starts/ends/axes attributes -> int64 inputs |
 * | 10 | TopK | `k` attribute -> int64 input K |
 * | 10 | Upsample | -> Resize (scales attribute of opset 7-8 -> input; asymmetric coordinates, floor for nearest) |
 * | 10 | Dropout | -> Identity (inference; only when the mask output is unused) |
 * | 11 | Clip | min/max attributes -> inputs |
 * | 11 | Pad | pads/value attributes -> inputs |
 * | 11 | Resize (opset 10) | coordinate_transformation_mode = asymmetric, nearest_mode floor (upsampling) / ceil (downsampling), as onnxruntime evaluates Resize-10 |
 * | 11 | Scatter | -> ScatterElements (same semantics, new name) |
 * | 13 | Softmax, LogSoftmax, Hardmax | the old "coerce to 2-D at axis" meaning: axis kept when it is the last axis of an input of known rank (shape inference), else Flatten(axis) -> op(axis -1) -> Reshape(Shape(x)) |
 * | 13 | Squeeze, Unsqueeze, ReduceSum | axes attribute -> int64 input |
 * | 13 | Split | split attribute -> int64 input |
 *
 * Ops whose semantics are a superset of the old ones (new types, negative axes, new optional attributes with the
 * old default) are kept as they are (OPSET13_SAFE in graph.ts). Anything else blocks the upgrade: the reason names
 * the node, the op and why; the model is then left untouched.
 */
import { onnx, makeTensor, toNumber } from './index';
import { GraphIndex, OPSET13_SAFE, attrFloat, attrInt, attrInts, getAttr, intAttr, isDefaultDomain, opsetOf, removeAttr, setOpset } from './graph';
import { inferShapes, type Dim } from './shapes';

const DT = onnx.TensorProto.DataType;
const AT = onnx.AttributeProto.AttributeType;

/** The opset in which each op's meaning (or form) last changed at or below 13. */
const CHANGED_IN: Record<string, number[]> = {
  BatchNormalization: [9],
  Slice: [10],
  TopK: [10],
  Upsample: [10],
  Dropout: [10, 12],
  Clip: [11],
  Pad: [11],
  Resize: [11],
  Scatter: [11],
  Softmax: [13],
  LogSoftmax: [13],
  Hardmax: [13],
  Squeeze: [13],
  Unsqueeze: [13],
  ReduceSum: [13],
  Split: [13],
};

export interface OpsetUpgradeResult {
  ok: boolean;
  /** Why the model could not be upgraded: node, op and reason of the first blocking node. */
  reason?: string;
  /** Nodes rewritten. */
  converted: number;
  from: number;
  to: number;
}

const strAttr = (name: string, s: string) => onnx.AttributeProto.create({ name, type: AT.STRING, s: Buffer.from(s) });
const label = (n: onnx.INodeProto) => `${n.opType} node "${n.name || n.output?.[0] || '?'}"`;

/**
 * Upgrades `model` (in place) from its opset to `target` (10..13). On failure the model is left untouched and
 * `reason` names the node, the op and why.
 */
export function upgradeOpset(model: onnx.ModelProto, target: number): OpsetUpgradeResult {
  const from = opsetOf(model);
  const base = { from, to: target };
  if (from >= target) return { ok: true, converted: 0, ...base, to: from };
  if (target > 13 || target < 10) return { ok: false, reason: `upgrade target ${target} is outside 10..13`, converted: 0, ...base };
  if (from < 7) return { ok: false, reason: `opset ${from} is older than 7, the oldest this converter reads`, converted: 0, ...base };
  const g = model.graph!;
  const idx = new GraphIndex(g);
  const info = inferShapes(model);
  const changes = (op: string) => (CHANGED_IN[op] ?? []).some((v) => v > from && v <= target);
  // first pass: is every node convertible?
  for (const n of g.node ?? []) {
    if (!isDefaultDomain(n)) continue;
    const op = n.opType ?? '';
    if (CHANGED_IN[op] === undefined) {
      if (OPSET13_SAFE.has(op)) continue;
      return { ok: false, reason: `${label(n)}: ${op} changed between opset ${from} and ${target} in a way this converter does not rewrite (no known equivalent form)`, converted: 0, ...base };
    }
    if (!changes(op)) continue;
    const why = blocker(n, idx, info.values, from);
    if (why) return { ok: false, reason: `${label(n)}: ${why}`, converted: 0, ...base };
  }
  // second pass: rewrite
  let converted = 0;
  const int64 = (b: string, values: number[]) => {
    const name = idx.unique(b);
    idx.addInitializer(makeTensor(name, DT.INT64, [values.length], BigInt64Array.from(values.map((v) => BigInt(v)))));
    return name;
  };
  const float = (b: string, v: number[], dims: number[] = []) => {
    const name = idx.unique(b);
    idx.addInitializer(makeTensor(name, DT.FLOAT, dims, Float32Array.from(v)));
    return name;
  };
  const extra = new Map<onnx.INodeProto, { before: onnx.INodeProto[]; after: onnx.INodeProto[] }>();
  for (const n of g.node ?? []) {
    if (!isDefaultDomain(n)) continue;
    const op = n.opType ?? '';
    if (!changes(op)) continue;
    const b = n.name || n.output?.[0] || op;
    const inputs = [...(n.input ?? [])];
    switch (op) {
      case 'BatchNormalization':
        for (const a of ['spatial', 'is_test', 'consumed_inputs']) removeAttr(n, a);
        break;
      case 'Slice': {
        const starts = attrInts(n, 'starts') ?? [];
        const ends = attrInts(n, 'ends') ?? [];
        const axes = attrInts(n, 'axes');
        for (const a of ['starts', 'ends', 'axes']) removeAttr(n, a);
        n.input = [inputs[0], int64(`${b}_starts`, starts), int64(`${b}_ends`, ends)];
        if (axes) n.input.push(int64(`${b}_axes`, axes));
        break;
      }
      case 'TopK': {
        const k = attrInt(n, 'k', 0);
        removeAttr(n, 'k');
        n.input = [inputs[0], int64(`${b}_K`, [k])];
        break;
      }
      case 'Dropout':
        n.opType = 'Identity';
        n.attribute = [];
        n.input = [inputs[0]];
        n.output = [n.output?.[0] ?? ''];
        break;
      case 'Clip': {
        const lo = attrFloat(n, 'min');
        const hi = attrFloat(n, 'max');
        removeAttr(n, 'min');
        removeAttr(n, 'max');
        n.input = [inputs[0], lo !== undefined ? float(`${b}_min`, [lo]) : '', hi !== undefined ? float(`${b}_max`, [hi]) : ''];
        while (n.input.length > 1 && n.input[n.input.length - 1] === '') n.input.pop();
        break;
      }
      case 'Pad': {
        const pads = attrInts(n, 'pads') ?? [];
        const value = attrFloat(n, 'value') ?? 0;
        removeAttr(n, 'pads');
        removeAttr(n, 'value');
        n.input = [inputs[0], int64(`${b}_pads`, pads), float(`${b}_value`, [value])];
        break;
      }
      case 'Upsample': case 'Resize': {
        const mode = getAttr(n, 'mode')?.s ? Buffer.from(getAttr(n, 'mode')!.s!).toString() : 'nearest';
        let scales = inputs[1];
        if (op === 'Upsample' && from < 9) scales = float(`${b}_scales`, getAttr(n, 'scales')?.floats ?? [], [(getAttr(n, 'scales')?.floats ?? []).length]);
        const sv = constFloats(idx, scales);
        n.opType = 'Resize';
        n.attribute = [strAttr('mode', mode === 'bilinear' ? 'linear' : mode)];
        if (target >= 11) {
          n.attribute.push(strAttr('coordinate_transformation_mode', 'asymmetric'));
          if (mode === 'nearest') n.attribute.push(strAttr('nearest_mode', sv && sv.every((s) => s <= 1) && sv.some((s) => s < 1) ? 'ceil' : 'floor'));
          n.input = [inputs[0], float(`${b}_roi`, [], [0]), scales];
        } else n.input = [inputs[0], scales];
        break;
      }
      case 'Scatter':
        n.opType = 'ScatterElements';
        break;
      case 'Softmax': case 'LogSoftmax': case 'Hardmax': {
        const axis = attrInt(n, 'axis', 1);
        const x = info.shapes.get(inputs[0]);
        if (axis === -1 || (x && (axis === x.length - 1 || (x.length === 0 && axis === 0)))) break; // same meaning in 13
        // old meaning: coerce to 2-D [d0*..*d(axis-1), d(axis)*..*dn], op over the second dim, back to the input shape
        const flat = idx.unique(`${b}_flattened`);
        const shape = idx.unique(`${b}_input_shape`);
        const y = n.output![0];
        const y2 = idx.unique(`${y}_2d`);
        const before = [
          onnx.NodeProto.create({ name: idx.unique(`${b}_Flatten`), opType: 'Flatten', input: [inputs[0]], output: [flat], attribute: [intAttr('axis', axis)] }),
          onnx.NodeProto.create({ name: idx.unique(`${b}_Shape`), opType: 'Shape', input: [inputs[0]], output: [shape] }),
        ];
        removeAttr(n, 'axis');
        (n.attribute ??= []).push(intAttr('axis', -1));
        n.input = [flat];
        n.output = [y2];
        const after = [onnx.NodeProto.create({ name: idx.unique(`${b}_Reshape`), opType: 'Reshape', input: [y2, shape], output: [y] })];
        extra.set(n, { before, after });
        break;
      }
      case 'Squeeze': case 'Unsqueeze': case 'ReduceSum': {
        const axes = attrInts(n, 'axes');
        removeAttr(n, 'axes');
        if (axes) n.input = [inputs[0], int64(`${b}_axes`, axes)];
        break;
      }
      case 'Split': {
        const split = attrInts(n, 'split');
        removeAttr(n, 'split');
        if (split) n.input = [inputs[0], int64(`${b}_split`, split)];
        break;
      }
      default:
        break;
    }
    converted++;
  }
  if (extra.size > 0) {
    const nodes: onnx.INodeProto[] = [];
    for (const n of g.node ?? []) {
      const e = extra.get(n);
      if (e) nodes.push(...e.before, n, ...e.after);
      else nodes.push(n);
    }
    g.node = nodes;
  }
  setOpset(model, target);
  const ir = toNumber(model.irVersion);
  const minIr = target >= 13 ? 7 : target >= 11 ? 6 : 5;
  if (ir < minIr) model.irVersion = minIr;
  return { ok: true, converted, from, to: target };
}

/** Why a node cannot be rewritten (undefined when it can). */
function blocker(n: onnx.INodeProto, idx: GraphIndex, values: Map<string, Dim[]>, from: number): string | undefined {
  const op = n.opType;
  if (op === 'BatchNormalization' && attrInt(n, 'spatial', 1) !== 1) return 'spatial=0 (per-element statistics) has no form in opset 9 and later';
  if (op === 'Dropout') {
    const mask = n.output?.[1];
    if (mask && (idx.consumers.get(mask)?.length || idx.graphOutputs.has(mask))) return 'its mask output is used, which has no inference-time equivalent here';
  }
  if (op === 'Upsample' || op === 'Resize') {
    const mode = getAttr(n, 'mode')?.s ? Buffer.from(getAttr(n, 'mode')!.s!).toString() : 'nearest';
    if (!['nearest', 'linear', 'bilinear'].includes(mode)) return `mode "${mode}" is not defined for this op`;
    if (!(op === 'Upsample' && from < 9)) {
      const sv = constFloats(idx, n.input?.[1] ?? '') ?? numbers(values.get(n.input?.[1] ?? ''));
      if (mode === 'nearest' && sv === undefined) return 'nearest mode with scales that are not constant: the rounding (floor for upsampling, ceil for downsampling) cannot be chosen';
      if (mode === 'nearest' && sv && sv.some((s) => s < 1) && sv.some((s) => s > 1)) return `nearest mode with scales [${sv.join(', ')}] that both up- and downsample: no single nearest_mode reproduces it`;
    }
  }
  return undefined;
}

function numbers(v: Dim[] | undefined): number[] | undefined {
  return v && v.every((d) => typeof d === 'number') ? (v as number[]) : undefined;
}

function constFloats(idx: GraphIndex, name: string): number[] | undefined {
  const t = name ? idx.constant(name) : undefined;
  if (!t) return undefined;
  if (t.floatData && t.floatData.length > 0) return [...t.floatData];
  const raw = t.rawData;
  if (t.dataType === DT.FLOAT && raw) {
    const buf = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
    const out: number[] = [];
    for (let i = 0; i + 4 <= buf.length; i += 4) out.push(buf.readFloatLE(i));
    return out;
  }
  return undefined;
}

export interface UpgradeResult {
  ok: boolean;
  /** Why the model could not be upgraded (first blocking node: its name, op and why). */
  reason?: string;
  /** Nodes rewritten to their opset-13 form. */
  converted: number;
}

/**
 * Rewrites a model of opset 7..12 to opset 13 (the first opset with per-axis QuantizeLinear): see upgradeOpset, which
 * this calls (here rather than in graph.ts, which upgrade.ts imports: no import cycle). `_ranks` is no longer needed (the ranks come from shape inference) and is
 * kept for callers of the earlier signature. On failure the model is left untouched.
 */
export function upgradeToOpset13(model: onnx.ModelProto, _ranks?: Map<string, number>): UpgradeResult {
  const r = upgradeOpset(model, 13);
  return { ok: r.ok, converted: r.converted, ...(r.reason ? { reason: r.reason } : {}) };
}
