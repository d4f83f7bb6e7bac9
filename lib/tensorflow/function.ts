/**
 * TF2 SavedModels (`tf.saved_model.save`, Keras `model.export`): the serving signature's GraphDef holds a
 * Placeholder per input and a StatefulPartitionedCall into the function library, whose trailing inputs are the
 * captured variables (resource handles). This module
 *  - inlines (Stateful)PartitionedCall nodes into the graph (bodies renamed `<call>/<node>`; FunctionDef's
 *    `node:output_arg:k` references resolved to flat output indices), and
 *  - maps each captured resource to its value: SavedObjectGraph.concrete_functions[f].bound_inputs names the
 *    saved objects behind the call's trailing inputs; the checkpoint's TrackableObjectGraph (its
 *    `_CHECKPOINTABLE_OBJECT_GRAPH` entry) gives, for the same object (matched by child names from the root),
 *    the checkpoint key of its VARIABLE_VALUE.
 */
import { TensorRTError } from '../errors';
import { parseInput, type TfAttr, type TfNode, type TfTensor } from './graph';

export interface TfFunction {
  name: string;
  inputs: string[];
  outputs: string[];
  nodes: TfNode[];
  /** output_arg name → body reference (`node:arg:k` or an input arg name). */
  ret: Record<string, string>;
}

/** Output arg names of the multi-output ops, in order (single-output ops need none: `node:any:k` is output k). */
const OUTPUT_ARGS: Record<string, string[]> = {
  FusedBatchNorm: ['y', 'batch_mean', 'batch_variance', 'reserve_space_1', 'reserve_space_2'],
  FusedBatchNormV2: ['y', 'batch_mean', 'batch_variance', 'reserve_space_1', 'reserve_space_2'],
  FusedBatchNormV3: ['y', 'batch_mean', 'batch_variance', 'reserve_space_1', 'reserve_space_2', 'reserve_space_3'],
  _FusedBatchNormEx: ['y', 'batch_mean', 'batch_variance', 'reserve_space_1', 'reserve_space_2', 'reserve_space_3'],
  Switch: ['output_false', 'output_true'],
  Merge: ['output', 'value_index'],
  TopKV2: ['values', 'indices'],
  Unique: ['y', 'idx'],
  UniqueV2: ['y', 'idx'],
  NonMaxSuppressionV4: ['selected_indices', 'valid_outputs'],
  NonMaxSuppressionV5: ['selected_indices', 'selected_scores', 'valid_outputs'],
  CombinedNonMaxSuppression: ['nmsed_boxes', 'nmsed_scores', 'nmsed_classes', 'valid_detections'],
  MaxPoolWithArgmax: ['output', 'argmax'],
  BroadcastGradientArgs: ['r0', 'r1'],
  QuantizeV2: ['output', 'output_min', 'output_max'],
};

const CALL_OPS = new Set(['StatefulPartitionedCall', 'PartitionedCall']);
const FLOW_OPS = new Set(['If', 'StatelessIf', 'While', 'StatelessWhile']);

function node(name: string, op: string, input: string[], attr: Record<string, TfAttr> = {}): TfNode {
  return { name, op, input, attr };
}

function call(name: string, f: string, input: string[]): TfNode {
  return node(name, 'PartitionedCall', input, { f: { func: { name: f } } });
}

/**
 * Functional control flow as the TF1 form the converter handles (then inlined like any call):
 *  - If(cond, args): Switch(arg, cond) per argument, the then branch called on output 1, the else branch on
 *    output 0, Merge(else_k, then_k) per output (→ ONNX If, cond.ts);
 *  - While(args): one frame named after the node: Enter → Merge(Enter, NextIteration) → cond function →
 *    LoopCond → Switch → Identity → body function → NextIteration, Exit(Switch:0) per variable (→ ONNX Loop,
 *    control.ts).
 * `aliases` maps the node's outputs to the new nodes. Undefined when a branch or body is not in the library.
 */
function lowerFunctional(n: TfNode, library: Map<string, TfFunction>, aliases: Map<string, string>): TfNode[] | undefined {
  const fname = (k: string) => (n.attr[k] as TfAttr | undefined)?.func?.name ?? '';
  const data = n.input.filter((s) => !s.startsWith('^'));
  const control = n.input.filter((s) => s.startsWith('^'));
  const p = `${n.name}/`;
  if (n.op === 'If' || n.op === 'StatelessIf') {
    const [thenF, elseF] = [library.get(fname('then_branch')), library.get(fname('else_branch'))];
    if (!thenF || !elseF) return undefined;
    const pred = `${p}pred_id`;
    const out: TfNode[] = [node(pred, 'Identity', [data[0]!, ...control]), node(`${p}switch_pred`, 'Switch', [pred, pred])];
    out.push(node(`${p}pivot_t`, 'Identity', [`${p}switch_pred:1`]), node(`${p}pivot_f`, 'Identity', [`${p}switch_pred`]));
    const args = data.slice(1);
    args.forEach((a, i) => out.push(node(`${p}switch_${i}`, 'Switch', [a, pred])));
    out.push(call(`${p}then`, thenF.name, [...args.map((_a, i) => `${p}switch_${i}:1`), `^${p}pivot_t`]));
    out.push(call(`${p}else`, elseF.name, [...args.map((_a, i) => `${p}switch_${i}`), `^${p}pivot_f`]));
    thenF.outputs.forEach((_o, k) => {
      out.push(node(`${p}merge_${k}`, 'Merge', [k ? `${p}else:${k}` : `${p}else`, k ? `${p}then:${k}` : `${p}then`]));
      aliases.set(k ? `${n.name}:${k}` : n.name, `${p}merge_${k}`);
    });
    return out;
  }
  const [condF, bodyF] = [library.get(fname('cond')), library.get(fname('body'))];
  if (!condF || !bodyF) return undefined;
  const frame = { s: Buffer.from(n.name, 'latin1').toString('base64') };
  const out: TfNode[] = [];
  data.forEach((a, i) => {
    out.push(node(`${p}enter_${i}`, 'Enter', [a, ...control], { frame_name: frame, is_constant: { b: false } }));
    out.push(node(`${p}merge_${i}`, 'Merge', [`${p}enter_${i}`, `${p}next_${i}`]));
  });
  out.push(call(`${p}cond`, condF.name, data.map((_a, i) => `${p}merge_${i}`)));
  out.push(node(`${p}loop_cond`, 'LoopCond', [`${p}cond`]));
  data.forEach((_a, i) => {
    out.push(node(`${p}switch_${i}`, 'Switch', [`${p}merge_${i}`, `${p}loop_cond`]));
    out.push(node(`${p}ident_${i}`, 'Identity', [`${p}switch_${i}:1`]));
    out.push(node(`${p}next_${i}`, 'NextIteration', [i ? `${p}body:${i}` : `${p}body`]));
    out.push(node(`${p}exit_${i}`, 'Exit', [`${p}switch_${i}`]));
    aliases.set(i ? `${n.name}:${i}` : n.name, `${p}exit_${i}`);
  });
  out.push(call(`${p}body`, bodyF.name, data.map((_a, i) => `${p}ident_${i}`)));
  return out;
}

function funcName(n: TfNode): string | undefined {
  return (n.attr.f as TfAttr | undefined)?.func?.name;
}

/** Flat output index of `node:arg:k` in a function body. */
function flatIndex(op: string | undefined, arg: string, k: number): number {
  const args = op ? OUTPUT_ARGS[op] : undefined;
  const at = args ? args.indexOf(arg) : -1;
  return at < 0 ? k : at + k;
}

/**
 * Inlines every call into `library` (recursively). `aliases` receives `call:k` → the tensor it stands for, for
 * the signature's output names; the returned nodes have their inputs rewritten through it.
 */
export function inlineCalls(nodes: TfNode[], library: Map<string, TfFunction>, aliases: Map<string, string>, weights: Map<string, TfTensor>): TfNode[] {
  const out: TfNode[] = [];
  const inlined = new Set<string>();
  const work = [...nodes];
  let guard = 0;
  while (work.length) {
    const n = work.shift()!;
    const flow = FLOW_OPS.has(n.op) ? lowerFunctional(n, library, aliases) : undefined;
    if (flow) {
      inlined.add(n.name);
      work.unshift(...flow);
      continue;
    }
    const f = CALL_OPS.has(n.op) ? funcName(n) : undefined;
    const fn = f ? library.get(f) : undefined;
    if (!fn) {
      out.push(n);
      continue;
    }
    if (++guard > 100000) throw new TensorRTError('UNSUPPORTED_OP', `${n.name}: function calls nest too deeply (recursive ${f}?)`);
    const prefix = `${n.name}/`;
    const data = n.input.filter((s) => !s.startsWith('^'));
    if (data.length !== fn.inputs.length) {
      throw new TensorRTError('PARSE_ERROR', `${n.name}: call of ${fn.name} has ${data.length} inputs; the function takes ${fn.inputs.length}`);
    }
    const args = new Map(fn.inputs.map((a, i) => [a, data[i]!]));
    const opOf = new Map(fn.nodes.map((b) => [b.name, b.op]));
    const ref = (s: string): string | undefined => {
      if (s.startsWith('^')) return opOf.has(s.slice(1)) ? `^${prefix}${s.slice(1)}` : undefined;
      const parts = s.split(':');
      if (parts.length === 1) return args.get(s) ?? (opOf.has(s) ? `${prefix}${s}` : s);
      if (parts.length === 2 && args.has(parts[0]!)) return args.get(parts[0]!); // arg:0
      const k = Number(parts[parts.length - 1]);
      const node = parts.slice(0, parts.length - 2).join(':');
      const idx = parts.length >= 3 ? flatIndex(opOf.get(node), parts[parts.length - 2]!, k) : Number(parts[1]);
      const base = parts.length >= 3 ? node : parts[0]!;
      return idx === 0 ? `${prefix}${base}` : `${prefix}${base}:${idx}`;
    };
    const control = n.input.filter((s) => s.startsWith('^'));
    const body = fn.nodes.map((b) => {
      // Body Const weights are keyed `<fn>@@<node>` until inlined.
      const w = b.op === 'Const' ? weights.get(`${fn.name}@@${b.name}`) : undefined;
      if (w) weights.set(`${prefix}${b.name}`, w);
      const input = b.input.map(ref).filter((x): x is string => x !== undefined);
      // Source nodes of the body keep the call's control inputs (a cond branch's constants stay in the branch).
      return { ...b, name: `${prefix}${b.name}`, input: input.length ? input : control };
    });
    fn.outputs.forEach((o, k) => {
      const r = fn.ret[o];
      if (r === undefined) throw new TensorRTError('PARSE_ERROR', `${fn.name}: output ${o} has no ret entry`);
      aliases.set(k === 0 ? n.name : `${n.name}:${k}`, ref(r)!);
    });
    inlined.add(n.name);
    work.unshift(...body);
  }
  const resolve = (s: string): string => {
    for (let i = 0; i < 1000 && aliases.has(s); i++) s = aliases.get(s)!;
    return s;
  };
  for (const [k, v] of aliases) aliases.set(k, resolve(v));
  for (const n of out) {
    n.input = n.input
      .filter((s) => !(s.startsWith('^') && inlined.has(s.slice(1))))
      .map((s) => (s.startsWith('^') ? s : resolve(canonicalRef(s))));
  }
  return out;
}

function canonicalRef(s: string): string {
  const p = parseInput(s);
  return p.index === 0 ? p.node : `${p.node}:${p.index}`;
}

interface ObjRef { nodeId?: number; localName?: string }
export interface SavedObjectGraphJson {
  nodes?: { children?: ObjRef[]; variable?: { name?: string }; constant?: { operation?: string } }[];
  concreteFunctions?: Record<string, { boundInputs?: number[] }>;
}
export interface TrackableObjectGraphJson {
  nodes?: { children?: ObjRef[]; attributes?: { name?: string; checkpointKey?: string }[] }[];
}

/**
 * For each call node into a concrete function with bound inputs, the outer node feeding each captured input →
 * its variable value. Outer nodes that are captured constants are left alone.
 */
export function capturedVariables(
  nodes: TfNode[], saved: SavedObjectGraphJson, ckpt: TrackableObjectGraphJson | undefined, vars: Map<string, TfTensor>, what: string,
): Map<string, TfTensor> {
  const out = new Map<string, TfTensor>();
  const sNodes = saved.nodes ?? [];
  // saved object id → checkpoint object id, matched by child names from the roots.
  const toCkpt = new Map<number, number>();
  if (ckpt?.nodes?.length) {
    const queue: [number, number][] = [[0, 0]];
    toCkpt.set(0, 0);
    while (queue.length) {
      const [s, c] = queue.shift()!;
      const cChildren = new Map((ckpt.nodes[c]?.children ?? []).map((r) => [r.localName ?? '', r.nodeId ?? 0]));
      for (const r of sNodes[s]?.children ?? []) {
        const sid = r.nodeId ?? 0;
        const cid = cChildren.get(r.localName ?? '');
        if (cid === undefined || toCkpt.has(sid)) continue;
        toCkpt.set(sid, cid);
        queue.push([sid, cid]);
      }
    }
  }
  for (const n of nodes) {
    if (!CALL_OPS.has(n.op)) continue;
    const bound = saved.concreteFunctions?.[funcName(n) ?? '']?.boundInputs ?? [];
    if (!bound.length) continue;
    const data = n.input.filter((s) => !s.startsWith('^'));
    const first = data.length - bound.length;
    bound.forEach((id, i) => {
      const obj = sNodes[id];
      if (!obj?.variable) return; // captured constants, assets, resources: their graph nodes stay
      const outer = parseInput(data[first + i]!).node;
      const cid = toCkpt.get(id);
      const key = cid === undefined ? undefined : ckpt?.nodes?.[cid]?.attributes?.find((a) => a.name === 'VARIABLE_VALUE')?.checkpointKey;
      const v = key ? vars.get(key) : undefined;
      if (!v) {
        throw new TensorRTError('PARSE_ERROR', `${what}: variable ${obj.variable.name ?? id} (captured by ${n.name} as ${outer}) not found in variables/${key ? ` (checkpoint key ${key})` : ''}`);
      }
      out.set(outer, v);
    });
  }
  return out;
}
