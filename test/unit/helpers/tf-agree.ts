/**
 * Test helper: runs TF.js artifacts in @tensorflow/tfjs (cpu backend, the oracle) and their ONNX conversion in
 * onnxruntime-node on the same feeds, and asserts that every output agrees: max|a−b| ≤ 1e-4 × max|ref|.
 */
import * as tf from '@tensorflow/tfjs';
import { saveModel } from '../../../lib/onnx';
import { convertGraph, tfjsToGraph } from '../../../lib/tensorflow';
import type { TfjsArtifacts } from '../../../lib/tensorflow/tfjs';

export let ort: typeof import('onnxruntime-node') | undefined;
try {
  ort = require('onnxruntime-node');
} catch {
  ort = undefined;
}

let ready: Promise<unknown> | undefined;
function tfReady(): Promise<unknown> {
  tf.env().set('IS_TEST', true); // no "install tfjs-node" banner
  ready ??= tf.setBackend('cpu');
  return ready;
}

export interface Agreement { worst: number; ortMs: number; tfMs: number; convertMs: number; nodes: number }

/** Runs artifacts in TF.js and converted in onnxruntime; asserts every output agrees; returns figures. */
/**
 * `also`: further conversions of the same model (e.g. written as a frozen .pb or a SavedModel), compared with the
 * same TF.js results; their outputs are matched by position.
 */
export async function agree(
  a: TfjsArtifacts,
  feeds: Record<string, { data: Float32Array | Int32Array; shape: number[] }>,
  outputs?: string[],
  converted?: ReturnType<typeof convertGraph>,
  also: { model: ReturnType<typeof convertGraph>; feeds?: Record<string, string> }[] = [],
): Promise<Agreement> {
  await tfReady();
  const t0 = performance.now();
  const { model, report } = converted ?? convertGraph(tfjsToGraph(a), outputs ? { outputs } : {});
  const convertMs = performance.now() - t0;
  const session = await ort!.InferenceSession.create(saveModel(model));
  const ortFeeds: Record<string, import('onnxruntime-node').Tensor> = {};
  for (const [k, v] of Object.entries(feeds)) ortFeeds[k] = new ort!.Tensor(v.data instanceof Int32Array ? 'int32' : 'float32', v.data, v.shape);
  let t = performance.now();
  const got = await session.run(ortFeeds);
  const ortMs = performance.now() - t;
  const m = await tf.loadGraphModel(tf.io.fromMemory({ modelTopology: a.modelTopology as never, weightSpecs: a.weightSpecs as never, weightData: a.weightData.slice().buffer }));
  const tfFeeds: Record<string, tf.Tensor> = {};
  for (const [k, v] of Object.entries(feeds)) tfFeeds[k] = tf.tensor(v.data, v.shape);
  const names = report.outputs.map((o) => o.name);
  t = performance.now();
  let refs: tf.Tensor | tf.Tensor[];
  try {
    refs = m.execute(tfFeeds, names);
  } catch {
    refs = (await m.executeAsync(tfFeeds, names)) as tf.Tensor | tf.Tensor[]; // graphs with dynamic ops (NMS, Where)
  }
  const tfMs = performance.now() - t;
  const refList = Array.isArray(refs) ? refs : [refs];
  let worst = 0;
  names.forEach((name, i) => {
    const ref = refList[i]!;
    const out = got[name]!;
    expect({ name, shape: Array.from(out.dims) }).toEqual({ name, shape: ref.shape });
    const r = ref.dataSync();
    const o = out.data as ArrayLike<number | bigint>;
    let md = 0, mr = 0;
    for (let j = 0; j < r.length; j++) {
      md = Math.max(md, Math.abs(Number(o[j]) - r[j]!));
      mr = Math.max(mr, Math.abs(r[j]!));
    }
    expect({ name, diff: md <= 1e-4 * mr || md === 0 }).toEqual({ name, diff: true });
    worst = Math.max(worst, mr > 0 ? md / mr : md);
  });
  for (const other of also) {
    const s2 = await ort!.InferenceSession.create(saveModel(other.model.model));
    const f2: typeof ortFeeds = {};
    for (const [k, v] of Object.entries(ortFeeds)) f2[other.feeds?.[k] ?? k] = v;
    const got2 = await s2.run(f2);
    other.model.report.outputs.forEach((o, i) => {
      const r = refList[i]!.dataSync();
      const d = got2[o.name]!.data as Float32Array;
      expect(Array.from(got2[o.name]!.dims)).toEqual(refList[i]!.shape);
      let md = 0, mr = 0;
      for (let j = 0; j < r.length; j++) {
        md = Math.max(md, Math.abs(d[j]! - r[j]!));
        mr = Math.max(mr, Math.abs(r[j]!));
      }
      expect({ name: o.name, diff: md <= 1e-4 * mr || md === 0 }).toEqual({ name: o.name, diff: true });
      worst = Math.max(worst, mr > 0 ? md / mr : md);
    });
  }
  return { worst, ortMs, tfMs, convertMs, nodes: report.onnxNodes };
}

