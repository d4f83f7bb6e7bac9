/**
 * TF1 conditionals (tf.compat.v1.cond: Switch/Merge outside a while frame; TF2 If/StatelessIf are rewritten into
 * the same form by function.ts) → ONNX If.
 *
 * Switch(data, pred) gives each side an Identity of `data` tagged with {pred, side}; every value computed from a
 * tagged value carries the tag (convert.ts), and so does every ONNX node emitted for it (context.ts). Merge(a, b)
 * finds the innermost predicate among its inputs' tags, moves the ONNX nodes of each side out of the graph being
 * built into the then/else subgraphs of one If on that predicate, and outputs the If's result. A branch input that
 * carries no tag of that predicate (a value from outside, or a constant) is the other side's result read from the
 * outer scope. Nested conds become nested Ifs (the inner If is a node of the outer branch).
 */
import { onnx } from '../onnx';
import { TensorRTError } from '../errors';
import { nodeTag, onnxType, type CondTag, type Ctx, type Value } from './context';
import type { TfNode } from './graph';
import type { OpTable } from './ops/types';

const DT = onnx.TensorProto.DataType;

function longest(...tags: (CondTag[] | undefined)[]): CondTag[] {
  let best: CondTag[] = [];
  for (const t of tags) if (t && t.length > best.length) best = t;
  return best;
}

function withTag<T>(c: Ctx, tag: CondTag[] | undefined, f: () => T): T {
  const saved = c.tag;
  c.tag = tag?.length ? tag : undefined;
  try {
    return f();
  } finally {
    c.tag = saved;
  }
}

function switchOp(c: Ctx, n: TfNode, ins: Value[]): Value[] {
  const [data, predV] = [ins[0]!, ins[1]!];
  if (data.seq) throw new TensorRTError('UNSUPPORTED_OP', `${n.name}: Switch of a TensorList outside a while loop`);
  const base = longest(data.cond, predV.cond);
  const pred = withTag(c, predV.cond, () => (predV.shape && predV.shape.length === 0 ? c.ref(predV) : c.node1('Reshape', [c.ref(predV), c.i64([])])));
  return [false, true].map((side) => {
    const tag = [...base, { pred, side }];
    const v: Value = { dtype: data.dtype, cond: tag };
    if (data.shape) v.shape = data.shape;
    if (data.value && !data.nhwc && !data.nchw) v.value = data.value;
    else withTag(c, tag, () => {
      if (data.nhwc || !data.nchw) v.nhwc = c.node1('Identity', [c.ref(data)]);
      else v.nchw = c.node1('Identity', [data.nchw]);
    });
    return v;
  });
}

function mergeOp(c: Ctx, n: TfNode, ins: Value[]): Value[] {
  if (ins.length !== 2) throw new TensorRTError('UNSUPPORTED_OP', `${n.name}: Merge of ${ins.length} inputs (only the two branches of a cond)`);
  // The innermost predicate: the deepest tag level where the inputs are on opposite sides, or where only one has a tag.
  const [ta, tb] = [ins[0]!.cond ?? [], ins[1]!.cond ?? []];
  let depth = -1;
  for (let d = 0; d < Math.max(ta.length, tb.length); d++) {
    const [a, b] = [ta[d], tb[d]];
    if (a && b && a.pred === b.pred && a.side === b.side) continue;
    if (a && b && a.pred !== b.pred) break;
    depth = d;
    break;
  }
  if (depth < 0) throw new TensorRTError('UNSUPPORTED_OP', `${n.name}: Merge whose inputs are not the two branches of one Switch predicate`);
  const lvl = (ta[depth] ?? tb[depth])!;
  const base = (ta.length > depth ? ta : tb).slice(0, depth);
  // Which input is the true branch.
  const trueIdx = ta[depth] ? (ta[depth]!.side ? 0 : 1) : (tb[depth]!.side ? 1 : 0);
  const inBranch = (t: CondTag[] | undefined, side: boolean) => t !== undefined && t.length > depth && t[depth]!.pred === lvl.pred && t[depth]!.side === side
    && base.every((b, i) => t[i]!.pred === b.pred && t[i]!.side === b.side);
  const results = [true, false].map((side) => {
    const v = ins[side ? trueIdx : 1 - trueIdx]!;
    if (v.seq) throw new TensorRTError('UNSUPPORTED_OP', `${n.name}: Merge of TensorLists outside a while loop`);
    return { v, name: withTag(c, v.cond, () => c.ref(v)) };
  });
  const dtype = results[0]!.v.dtype;
  const branch = (side: boolean, result: string): onnx.GraphProto => {
    const moved = c.nodes.filter((p) => inBranch(nodeTag(p), side));
    const keep = c.nodes.filter((p) => !moved.includes(p));
    c.nodes.length = 0;
    c.nodes.push(...keep);
    const o = c.unique(`${n.name}/${side ? 'then' : 'else'}_out`);
    moved.push(onnx.NodeProto.create({ name: c.unique(`${o}#node`), opType: 'Identity', input: [result], output: [o] }));
    return onnx.GraphProto.create({
      name: `${n.name}/${side ? 'then' : 'else'}`,
      node: moved,
      output: [onnx.ValueInfoProto.create({ name: o, type: onnx.TypeProto.create({ tensorType: { elemType: onnxType(dtype) } }) })],
    });
  };
  const thenG = branch(true, results[0]!.name);
  const elseG = branch(false, results[1]!.name);
  const [s1, s2] = [results[0]!.v.shape, results[1]!.v.shape];
  return withTag(c, base, () => {
    const y = c.node1('If', [lvl.pred], { then_branch: { g: thenG }, else_branch: { g: elseG } });
    const v: Value = { dtype, nhwc: y };
    if (s1 && s2 && s1.length === s2.length) v.shape = s1.map((d, i) => (d === s2[i] ? d : -1));
    if (base.length) v.cond = base;
    const p = trueIdx === 1 ? lvl.pred : c.node1('Not', [lvl.pred]);
    const index: Value = { dtype: 'int32', shape: [], nhwc: c.node1('Cast', [p], { to: DT.INT32 }) };
    if (base.length) index.cond = base;
    return [v, index];
  });
}

export const condOps: OpTable = { Switch: switchOp, Merge: mergeOp };
