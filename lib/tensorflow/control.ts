/**
 * TF1 control flow → ONNX Loop, and TensorLists → ONNX sequences.
 *
 * A TF1 while loop is a frame of nodes between its Enter and Exit nodes: loop variables are Merge(Enter,
 * NextIteration) nodes, LoopCond holds the predicate, Switch(Merge, LoopCond) routes a variable into the body
 * (output 1) or to Exit (output 0). `collapseWhileLoops` replaces each frame by one `_TfWhileLoop` node (inputs:
 * the variables' initial values, the loop invariants and any outside tensor the frame reads; one output per
 * variable), which removes the cycles; its handler converts the condition once outside (ONNX Loop's `cond` input)
 * and again at the end of the body, and the body into the Loop's subgraph. Nested loops are not supported yet.
 * TensorLists become ONNX sequences; TensorListSetItem appends (the index equals the current length in the
 * tf.map / TensorArray write loops TF emits), TensorListStack concatenates with a new leading axis.
 */
import { onnx } from '../onnx';
import { TensorRTError } from '../errors';
import { attrBool, attrShape, attrStr, attrType, parseInput, tensorName, type TfGraph, type TfNode } from './graph';
import { numbers, onnxType, type Ctx, type Value } from './context';
import type { OpTable } from './ops/types';

const DT = onnx.TensorProto.DataType;

interface LoopVar { merge: string; enter: string; next: string; sw: string }
interface LoopMeta {
  frame: string;
  vars: LoopVar[];
  /** Enter nodes whose value is loop-invariant (is_constant), by position after the variables. */
  invariants: string[];
  /** Outside tensors read directly by frame nodes, by position after the invariants. */
  captured: string[];
  predicate: string;
  members: TfNode[];
}

const LOOPS = new WeakMap<TfNode, LoopMeta>();

export const FRAME_OPS: ReadonlySet<string> = new Set(['Enter', 'Exit', 'Merge', 'Switch', 'NextIteration', 'LoopCond']);
/** The nodes inside a collapsed loop (for the unsupported-op check), minus the frame plumbing it handles. */
export function loopMembers(n: TfNode): TfNode[] {
  return (LOOPS.get(n)?.members ?? []).filter((m) => !FRAME_OPS.has(m.op));
}

/** Replaces every (non-nested) TF1 while loop by a `_TfWhileLoop` node; returns the graph unchanged when none. */
export function collapseWhileLoops(graph: TfGraph): TfGraph {
  const enters = graph.nodes.filter((n) => n.op === 'Enter');
  if (enters.length === 0) return graph;
  const byName = new Map(graph.nodes.map((n) => [n.name, n]));
  const consumers = new Map<string, TfNode[]>();
  for (const n of graph.nodes) {
    for (const i of n.input) {
      const src = parseInput(i).node;
      let l = consumers.get(src);
      if (!l) consumers.set(src, (l = []));
      l.push(n);
    }
  }
  const frames = new Map<string, TfNode[]>();
  for (const e of enters) {
    const f = attrStr(e, 'frame_name', '');
    let l = frames.get(f);
    if (!l) frames.set(f, (l = []));
    l.push(e);
  }
  const removed = new Set<string>();
  const replaced = new Map<string, TfNode>();
  const added: TfNode[] = [];
  for (const [frame, fe] of frames) {
    const members = new Set<string>();
    const todo = fe.map((e) => e.name);
    while (todo.length) {
      const nm = todo.pop()!;
      if (members.has(nm)) continue;
      members.add(nm);
      const n = byName.get(nm)!;
      if (n.op === 'Enter' && attrStr(n, 'frame_name', '') !== frame) {
        throw new TensorRTError('UNSUPPORTED_OP', `${n.name}: nested while loop (frame ${attrStr(n, 'frame_name', '')} inside ${frame}) is not supported yet`);
      }
      if (n.op === 'Exit') continue;
      for (const c of consumers.get(nm) ?? []) todo.push(c.name);
    }
    const mem = [...members].map((m) => byName.get(m)!);
    const conds = mem.filter((n) => n.op === 'LoopCond');
    if (conds.length !== 1) throw new TensorRTError('UNSUPPORTED_OP', `while loop ${frame}: ${conds.length} LoopCond nodes (expected 1)`);
    const vars: LoopVar[] = [];
    const varEnters = new Set<string>();
    for (const m of mem.filter((n) => n.op === 'Merge')) {
      const ins = m.input.filter((s) => !s.startsWith('^')).map((s) => byName.get(parseInput(s).node)!);
      const enter = ins.find((n) => n.op === 'Enter');
      const next = ins.find((n) => n.op === 'NextIteration');
      if (!enter && !next) continue; // a tf.cond inside the body (cond.ts)
      const sw = mem.find((n) => n.op === 'Switch' && parseInput(n.input[0]!).node === m.name && parseInput(n.input[1] ?? '').node === conds[0]!.name);
      if (!enter || !next || !sw || ins.length !== 2) throw new TensorRTError('UNSUPPORTED_OP', `${m.name}: Merge that is not a while-loop variable (tf.cond is not supported yet)`);
      vars.push({ merge: m.name, enter: enter.name, next: next.name, sw: sw.name });
      varEnters.add(enter.name);
    }
    const invariants = fe.filter((e) => !varEnters.has(e.name)).map((e) => e.name);
    const captured: string[] = [];
    for (const n of mem) {
      if (n.op === 'Enter') continue;
      for (const i of n.input) {
        if (i.startsWith('^')) continue;
        const src = parseInput(i).node;
        if (!members.has(src) && !captured.includes(src)) captured.push(src);
      }
    }
    const loopName = `${frame}/__while`;
    const loop: TfNode = {
      name: loopName,
      op: '_TfWhileLoop',
      input: [...vars.map((v) => byName.get(v.enter)!.input[0]!), ...invariants.map((e) => byName.get(e)!.input[0]!), ...captured],
      attr: {},
    };
    LOOPS.set(loop, { frame, vars, invariants, captured, predicate: conds[0]!.input[0]!, members: mem });
    added.push(loop);
    for (const n of mem) {
      if (n.op === 'Exit') {
        const sw = parseInput(n.input[0]!).node;
        const k = vars.findIndex((v) => v.sw === sw);
        if (k < 0) throw new TensorRTError('UNSUPPORTED_OP', `${n.name}: Exit not fed by a loop variable's Switch`);
        replaced.set(n.name, { name: n.name, op: 'Identity', input: [tensorName(loopName, k)], attr: {} });
      } else removed.add(n.name);
    }
  }
  const nodes: TfNode[] = [];
  for (const n of graph.nodes) {
    if (removed.has(n.name)) continue;
    nodes.push(replaced.get(n.name) ?? n);
  }
  nodes.push(...added);
  return { ...graph, nodes };
}

/** Topological order of the frame nodes that `targets` depend on, stopping at names already in `known`. */
function subOrder(members: Map<string, TfNode>, targets: string[], known: Set<string>): TfNode[] {
  const order: TfNode[] = [];
  const state = new Map<string, number>();
  const visit = (root: string) => {
    const stack: { n: TfNode; i: number }[] = [];
    const start = members.get(root);
    if (!start || known.has(root) || state.has(root)) return;
    stack.push({ n: start, i: 0 });
    state.set(root, 1);
    while (stack.length) {
      const top = stack[stack.length - 1]!;
      const ins = top.n.input.filter((s) => !s.startsWith('^'));
      if (top.i < ins.length) {
        const dep = parseInput(ins[top.i++]!).node;
        const d = members.get(dep);
        if (!d || known.has(dep) || state.has(dep)) continue;
        state.set(dep, 1);
        stack.push({ n: d, i: 0 });
      } else {
        order.push(top.n);
        stack.pop();
      }
    }
  };
  for (const t of targets) visit(parseInput(t).node);
  return order;
}

function cloneValues(m: Map<string, Value>): Map<string, Value> {
  const out = new Map<string, Value>();
  for (const [k, v] of m) out.set(k, { ...v });
  return out;
}

function typeProto(v: Value): onnx.TypeProto {
  const tensorType = { elemType: onnxType(v.dtype) };
  return v.seq
    ? onnx.TypeProto.create({ sequenceType: { elemType: onnx.TypeProto.create({ tensorType }) } })
    : onnx.TypeProto.create({ tensorType });
}

function whileLoop(c: Ctx, n: TfNode, ins: Value[]): Value[] {
  const meta = LOOPS.get(n);
  if (!meta || !c.env) throw new TensorRTError('INTERNAL', `${n.name}: loop without metadata`);
  const env = c.env;
  const { convertNodes } = env;
  const members = new Map(meta.members.map((m) => [m.name, m]));
  const K = meta.vars.length;
  const outer = new Map<string, Value>();
  meta.invariants.forEach((e, j) => outer.set(e, ins[K + j]!));
  meta.captured.forEach((s, j) => outer.set(s, ins[K + meta.invariants.length + j]!));
  const report = env.report;
  for (const m of meta.members) if (FRAME_OPS.has(m.op)) report.ops[m.op] = (report.ops[m.op] ?? 0) + 1;

  // The condition on the initial values, outside the loop.
  const condKnown = new Set<string>([...outer.keys(), ...meta.vars.map((v) => v.merge)]);
  const condNodes = subOrder(members, [meta.predicate], condKnown);
  const initVals = cloneValues(outer);
  meta.vars.forEach((v, k) => initVals.set(v.merge, ins[k]!));
  convertNodes(c, condNodes, initVals, env.graph, report);
  const pred0 = initVals.get(canonicalName(meta.predicate));
  if (!pred0) throw new TensorRTError('INTERNAL', `${n.name}: loop condition not converted`);
  c.current = n;

  // The body: variables in, next values and the condition on them out.
  const body = c.child();
  const iter = body.unique(`${n.name}/iter`);
  const condIn = body.unique(`${n.name}/cond_in`);
  const vin = meta.vars.map((v, k) => {
    const init = ins[k]!;
    const val: Value = { dtype: init.dtype, nhwc: body.unique(`${v.merge}/in`) };
    if (init.seq) val.seq = true;
    if (init.tlist) val.tlist = true;
    if (init.shape) val.shape = init.shape.map(() => -1);
    return val;
  });
  const bodyVals = cloneValues(outer);
  meta.vars.forEach((v, k) => {
    bodyVals.set(v.merge, vin[k]!);
    bodyVals.set(tensorName(v.sw, 1), vin[k]!);
  });
  const nextInputs = meta.vars.map((v) => members.get(v.next)!.input[0]!);
  const bodyKnown = new Set<string>([...outer.keys(), ...meta.vars.map((v) => v.merge), ...meta.vars.map((v) => v.sw)]);
  convertNodes(body, subOrder(members, nextInputs, bodyKnown), bodyVals, env.graph, report);
  const vout = nextInputs.map((s) => {
    const v = bodyVals.get(canonicalName(s));
    if (!v) throw new TensorRTError('INTERNAL', `${n.name}: loop body value ${s} not converted`);
    return v;
  });
  const condVals = cloneValues(outer);
  meta.vars.forEach((v, k) => condVals.set(v.merge, vout[k]!));
  convertNodes(body, condNodes, condVals, env.graph, report);
  const predOut = condVals.get(canonicalName(meta.predicate))!;
  body.current = n;
  // Identity takes sequences only from opset 14: a sequence leaves the body under its own name.
  const outNames = [body.node1('Identity', [body.ref(predOut)]), ...vout.map((v) => (v.seq && body.opset < 14 ? body.ref(v) : body.node1('Identity', [body.ref(v)])))];
  const vi = (name: string, t: onnx.TypeProto) => onnx.ValueInfoProto.create({ name, type: t });
  const graph = onnx.GraphProto.create({
    name: `${n.name}/body`,
    node: body.nodes,
    input: [
      vi(iter, onnx.TypeProto.create({ tensorType: { elemType: DT.INT64, shape: { dim: [] } } })),
      vi(condIn, onnx.TypeProto.create({ tensorType: { elemType: DT.BOOL, shape: { dim: [] } } })),
      ...vin.map((v) => vi(v.nhwc!, typeProto(v))),
    ],
    output: [vi(outNames[0]!, onnx.TypeProto.create({ tensorType: { elemType: DT.BOOL } })), ...vout.map((v, k) => vi(outNames[k + 1]!, typeProto({ ...v, dtype: ins[k]!.dtype, seq: Boolean(ins[k]!.seq) })))],
  });
  const pred = pred0.shape && pred0.shape.length === 0 ? c.ref(pred0) : c.node1('Reshape', [c.ref(pred0), c.i64([])]);
  const outs = c.node('Loop', ['', pred, ...ins.slice(0, K).map((v) => c.ref(v))], { body: { g: graph } }, K);
  return outs.map((o, k) => {
    const v: Value = { dtype: ins[k]!.dtype, nhwc: o };
    if (ins[k]!.seq) v.seq = true;
    if (ins[k]!.tlist) v.tlist = true;
    if (ins[k]!.shape) v.shape = ins[k]!.shape!.map(() => -1);
    return v;
  });
}

function canonicalName(s: string): string {
  const p = parseInput(s);
  return tensorName(p.node, p.index);
}

function elementShape(v: Value | undefined): number[] | undefined {
  if (!v?.value) return undefined;
  const e = numbers(v.value);
  return v.value.shape.length === 0 ? undefined : e; // a scalar -1 means unknown rank
}

export const controlOps: OpTable = {
  _TfWhileLoop: whileLoop,
  TensorListReserve: (c, n) => {
    const dt = attrType(n, 'element_dtype') ?? 'float32';
    return [{ dtype: dt, seq: true, nhwc: c.node1('SequenceEmpty', [], { dtype: onnxType(dt) }) }];
  },
  TensorListFromTensor: (c, n, ins) => {
    // Held as the tensor itself (reads are Gathers): onnxruntime has no SplitToSequence for every dtype (uint8).
    const v: Value = { dtype: ins[0]!.dtype, tlist: true, nhwc: c.ref(ins[0]!) };
    if (ins[0]!.shape) v.shape = ins[0]!.shape;
    void n;
    return [v];
  },
  TensorListGetItem: (c, n, ins) => {
    const dt = attrType(n, 'element_dtype') ?? ins[0]!.dtype;
    const idx = ins[1]!.shape && ins[1]!.shape.length === 0 ? c.ref(ins[1]!) : c.node1('Reshape', [c.ref(ins[1]!), c.i64([])]);
    const v: Value = { dtype: dt, nhwc: ins[0]!.tlist ? c.node1('Gather', [c.ref(ins[0]!), idx], { axis: 0 }) : c.node1('SequenceAt', [c.ref(ins[0]!), idx]) };
    const sh = elementShape(ins[2]) ?? (ins[0]!.tlist ? ins[0]!.shape?.slice(1) : undefined);
    if (sh) v.shape = sh;
    return [v];
  },
  TensorListSetItem: (c, n, ins) => {
    if (ins[0]!.tlist) throw new TensorRTError('UNSUPPORTED_OP', `${n.name}: TensorListSetItem on a list made by TensorListFromTensor`);
    if (attrBool(n, 'resize_if_index_out_of_bounds', false)) { /* appending covers it */ }
    return [{ dtype: ins[0]!.dtype, seq: true, nhwc: c.node1('SequenceInsert', [c.ref(ins[0]!), c.ref(ins[2]!), c.ref(ins[1]!)]) }];
  },
  TensorListStack: (c, n, ins) => {
    const dt = attrType(n, 'element_dtype') ?? ins[0]!.dtype;
    if (ins[0]!.tlist) return [{ ...ins[0]!, tlist: false }];
    const v: Value = { dtype: dt, nhwc: c.node1('ConcatFromSequence', [c.ref(ins[0]!)], { axis: 0, new_axis: 1 }) };
    const sh = elementShape(ins[1]);
    if (sh) v.shape = [-1, ...sh];
    return [v];
  },
  TensorListLength: (c, _n, ins) => {
    const len = ins[0]!.tlist ? c.node1('Squeeze', [c.node1('Slice', [c.node1('Shape', [c.ref(ins[0]!)]), c.i64([0]), c.i64([1])]), c.i64([0])]) : c.node1('SequenceLength', [c.ref(ins[0]!)]);
    return [{ dtype: 'int32', shape: [], nhwc: c.node1('Cast', [len], { to: DT.INT32 }) }];
  },
};

// TF1 TensorArrays (TensorArrayV3 family): the array's state travels in its `flow` tensor, which is what TF threads
// through loops; here the flow value IS the array (an ONNX sequence, or the tensor itself after a Scatter of a
// whole tensor), and the handle is a placeholder scalar. Writes append; Gather stacks the whole array.
function flowOf(ins: Value[]): Value {
  return ins[ins.length - 1]!;
}
controlOps.TensorArrayV3 = (c, n) => {
  const dt = attrType(n, 'dtype') ?? 'float32';
  const handle: Value = { dtype: 'float32', shape: [], value: { dtype: 'float32', shape: [], data: Float32Array.of(0) } };
  return [handle, { dtype: dt, seq: true, nhwc: c.node1('SequenceEmpty', [], { dtype: onnxType(dt) }) }];
};
controlOps.TensorArrayScatterV3 = (_c, n, ins) => {
  // Scatter of a whole tensor along axis 0 (TensorArray.unstack: indices = range(n)).
  const idx = ins[1]!;
  if (idx.value) {
    const v = numbers(idx.value);
    if (!v.every((x, i) => x === i)) throw new TensorRTError('UNSUPPORTED_OP', `${n.name}: TensorArrayScatterV3 with indices other than 0..n-1`);
  }
  return [{ ...ins[2]!, tlist: true }];
};
controlOps.TensorArrayReadV3 = (c, _n, ins) => {
  const list = flowOf(ins);
  const idx = ins[1]!.shape && ins[1]!.shape.length === 0 ? c.ref(ins[1]!) : c.node1('Reshape', [c.ref(ins[1]!), c.i64([])]);
  const v: Value = { dtype: list.dtype, nhwc: list.tlist ? c.node1('Gather', [c.ref(list), idx], { axis: 0 }) : c.node1('SequenceAt', [c.ref(list), idx]) };
  if (list.tlist && list.shape) v.shape = list.shape.slice(1);
  const es = attrShape(_n.attr.element_shape);
  if (!v.shape && es) v.shape = es;
  return [v];
};
controlOps.TensorArrayWriteV3 = (c, n, ins) => {
  const list = flowOf(ins);
  if (list.tlist) throw new TensorRTError('UNSUPPORTED_OP', `${n.name}: TensorArrayWriteV3 into an array made by Scatter`);
  return [{ dtype: list.dtype, seq: true, nhwc: c.node1('SequenceInsert', [c.ref(list), c.ref(ins[2]!), c.ref(ins[1]!)]) }];
};
controlOps.TensorArrayGatherV3 = (c, n, ins) => {
  // Gather of every element (TensorArray.stack: indices = range(size)).
  const list = flowOf(ins);
  if (list.tlist) return [{ ...list, tlist: false }];
  const v: Value = { dtype: list.dtype, nhwc: c.node1('ConcatFromSequence', [c.ref(list)], { axis: 0, new_axis: 1 }) };
  const es = attrShape(n.attr.element_shape);
  if (es) v.shape = [-1, ...es];
  return [v];
};
controlOps.TensorArraySizeV3 = (c, _n, ins) => {
  const list = flowOf(ins);
  const len = list.tlist ? c.node1('Squeeze', [c.node1('Slice', [c.node1('Shape', [c.ref(list)]), c.i64([0]), c.i64([1])]), c.i64([0])]) : c.node1('SequenceLength', [c.ref(list)]);
  return [{ dtype: 'int32', shape: [], nhwc: c.node1('Cast', [len], { to: DT.INT32 }) }];
};
