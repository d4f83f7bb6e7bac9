/**
 * Test helpers that write a real model's graph and weights as a frozen GraphDef (.pb, weights in Const nodes)
 * and as a TF1-style SavedModel (saved_model.pb with a serving_default SignatureDef; weights as VariableV2 nodes
 * read from a variables/ tensor bundle), through the converter's own protobuf schemas.
 */
import * as fs from 'fs';
import * as path from 'path';
import { tfType } from '../../../lib/tensorflow/proto';
import { writeBundle } from '../../../lib/tensorflow/bundle';
import { tfjsToGraph, type TfjsArtifacts } from '../../../lib/tensorflow/tfjs';
import type { TfTensor } from '../../../lib/tensorflow/graph';

const DT: Record<string, string> = { float32: 'DT_FLOAT', int32: 'DT_INT32', int64: 'DT_INT64', bool: 'DT_BOOL' };

function bytesOf(t: TfTensor): string {
  const d = t.data as Float32Array;
  return Buffer.from(d.buffer, d.byteOffset, d.byteLength).toString('base64');
}

function shapeOf(t: TfTensor) {
  return { dim: t.shape.map((s) => ({ size: String(s) })) };
}

/** GraphDef JSON of TF.js artifacts with every weight inlined into its Const node. */
function frozenGraphJson(a: TfjsArtifacts): Record<string, unknown> {
  const g = tfjsToGraph(a);
  const node = g.nodes.map((n) => {
    const w = g.weights.get(n.name);
    if (n.op !== 'Const' || !w) return n;
    return { ...n, attr: { ...n.attr, dtype: { type: DT[w.dtype] }, value: { tensor: { dtype: DT[w.dtype], tensorShape: shapeOf(w), tensorContent: bytesOf(w) } } } };
  });
  return { node, versions: { producer: 1395 } };
}

export function writeFrozenGraph(a: TfjsArtifacts, file: string): void {
  const G = tfType('GraphDef');
  fs.writeFileSync(file, G.encode(G.fromObject(frozenGraphJson(a))).finish());
}

export function writeSavedModel(a: TfjsArtifacts, dir: string, inputs: Record<string, string>, outputs: Record<string, string>): void {
  const g = tfjsToGraph(a);
  const vars = new Map<string, TfTensor>();
  const node = g.nodes.map((n) => {
    const w = g.weights.get(n.name);
    if (n.op !== 'Const' || !w || w.shape.length === 0 || w.dtype !== 'float32') {
      if (n.op === 'Const' && w) return { ...n, attr: { ...n.attr, value: { tensor: { dtype: DT[w.dtype], tensorShape: shapeOf(w), tensorContent: bytesOf(w) } } } };
      return n;
    }
    vars.set(n.name, w);
    return { name: n.name, op: 'VariableV2', input: [], attr: { dtype: { type: DT[w.dtype] }, shape: { shape: shapeOf(w) }, shared_name: { s: '' }, container: { s: '' } } };
  });
  const info = (m: Record<string, string>) => Object.fromEntries(Object.entries(m).map(([k, v]) => [k, { name: v, dtype: 'DT_FLOAT' }]));
  const S = tfType('SavedModel');
  const sm = {
    savedModelSchemaVersion: 1,
    metaGraphs: [{
      metaInfoDef: { tags: ['serve'], tensorflowVersion: '1.15.0' },
      graphDef: { node, versions: { producer: 134 } },
      signatureDef: { serving_default: { inputs: info(inputs), outputs: info(outputs), methodName: 'tensorflow/serving/predict' } },
    }],
  };
  fs.mkdirSync(path.join(dir, 'variables'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'saved_model.pb'), S.encode(S.fromObject(sm)).finish());
  writeBundle(path.join(dir, 'variables', 'variables'), vars);
}
