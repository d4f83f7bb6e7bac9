/**
 * ONNX model I/O over the ONNX schema of lib/onnx/onnx.proto (ONNX 1.23, IR 14; classes generated into
 * lib/onnx/proto.ts, codec protobufjs 7 in lib/onnx/codec.ts): load, save, summarize, and the small tensor helpers
 * that the quantizer needs. Fields the schema does not know survive load → save byte-for-byte.
 */
import * as fs from 'fs';
import { onnx, onnxRoot, type Long } from './proto';
import { unknownFields, type UnknownField } from './codec';
import { TensorRTError } from '../errors';
import * as is from '../validate';

export { onnx, onnxRoot, unknownFields, type UnknownField, type Long };
export type ModelProto = onnx.ModelProto;

/** Converts a protobufjs int64 (number or Long) to a JS number. */
export function toNumber(v: number | { toNumber(): number } | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'number' ? v : v.toNumber();
}

/**
 * Reads an ONNX model from a path or from its bytes. A missing file throws IO_ERROR; bytes that are not an
 * ONNX ModelProto with a graph throw PARSE_ERROR.
 */
export function loadModel(pathOrBytes: string | Uint8Array): onnx.ModelProto {
  let bytes: Uint8Array;
  if (typeof pathOrBytes === 'string') {
    try {
      bytes = fs.readFileSync(pathOrBytes);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw new TensorRTError('IO_ERROR', `cannot read ONNX model ${pathOrBytes}: ${err.code ?? err.message}`, { cause: e });
    }
  } else {
    bytes = is.bytes(pathOrBytes, 'loadModel: the model (a path or the ONNX bytes)');
  }
  const where = typeof pathOrBytes === 'string' ? ` ${pathOrBytes}` : '';
  let model: onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new TensorRTError('PARSE_ERROR', `not a valid ONNX model${where}: ${(e as Error).message}`, { cause: e });
  }
  const g = model.graph;
  if (!g || !g.node || g.node.length === 0 || !g.output || g.output.length === 0 || toNumber(model.irVersion) <= 0) {
    throw new TensorRTError('PARSE_ERROR', `not a valid ONNX model${where}: no graph, nodes, outputs or IR version`);
  }
  return model;
}

/** Serializes a model to ONNX protobuf bytes. */
export function saveModel(model: onnx.IModelProto): Uint8Array {
  checkModelProto(model, 'saveModel');
  try {
    return onnx.ModelProto.encode(model).finish();
  } catch (e) {
    throw new TensorRTError('INVALID_ARGUMENT', `saveModel: the model cannot be encoded: ${(e as Error).message}`, { cause: e });
  }
}

/** Checks a ModelProto argument (an object; protobufjs checks its fields when encoding). */
export function checkModelProto(model: unknown, what: string): onnx.IModelProto {
  return is.object(model, `${what}: the model`, 'an ONNX ModelProto (from loadModel)') as onnx.IModelProto;
}

/** Checks the model argument of quantize / calibrate: a path, the ONNX bytes or a ModelProto. */
export function checkModelArg(model: unknown, what: string): string | Uint8Array | onnx.IModelProto {
  if (typeof model === 'string' || ArrayBuffer.isView(model)) {
    return is.pathOrBytes(model, `${what}: the model`, 'a path or the ONNX bytes') as string | Uint8Array;
  }
  return is.object(model, `${what}: the model`, 'a path, the ONNX bytes or a ModelProto') as onnx.IModelProto;
}

/** Name of an ONNX TensorProto.DataType, in tensorrt-node's spelling where one exists. */
export function onnxDataTypeName(t: number | null | undefined): string {
  const D = onnx.TensorProto.DataType;
  switch (t) {
    case D.FLOAT: return 'float32';
    case D.FLOAT16: return 'float16';
    case D.BFLOAT16: return 'bfloat16';
    case D.DOUBLE: return 'float64';
    case D.INT8: return 'int8';
    case D.UINT8: return 'uint8';
    case D.INT16: return 'int16';
    case D.UINT16: return 'uint16';
    case D.INT32: return 'int32';
    case D.UINT32: return 'uint32';
    case D.INT64: return 'int64';
    case D.UINT64: return 'uint64';
    case D.BOOL: return 'bool';
    case D.STRING: return 'string';
    default: return `onnx:${t ?? 0}`;
  }
}

export interface ValueDesc {
  name: string;
  dtype: string;
  /** Dimensions: numbers, symbolic names (strings), or -1 where neither is known. */
  shape: (number | string)[];
}

export interface ModelInfo {
  inputs: ValueDesc[];
  outputs: ValueDesc[];
  /** Opset of the default (ai.onnx) domain. */
  opset: number;
  opsetImports: { domain: string; version: number }[];
  /** Nodes per op type, those of subgraphs (If branches, Loop / Scan bodies) included. */
  opTypeHistogram: Record<string, number>;
  /** Nodes of the graph and of its subgraphs. */
  nodeCount: number;
  /** Elements of all initializers and Constant-node tensors, those of subgraphs included. */
  parameterCount: number;
  producer: string;
  irVersion: number;
}

/** Describes a graph value (input/output/value_info). */
export function valueDesc(v: onnx.IValueInfoProto): ValueDesc {
  const tt = v.type?.tensorType;
  const shape: (number | string)[] = [];
  for (const d of tt?.shape?.dim ?? []) {
    const which = (d as { value?: string }).value;
    if (d.dimParam) shape.push(d.dimParam);
    else if (which === 'dimValue' || (which === undefined && toNumber(d.dimValue) > 0)) shape.push(toNumber(d.dimValue));
    else shape.push(-1);
  }
  return { name: v.name ?? '', dtype: onnxDataTypeName(tt?.elemType), shape };
}

/** Number of elements of an initializer. */
export function tensorSize(t: onnx.ITensorProto): number {
  return (t.dims ?? []).reduce<number>((a, d) => a * toNumber(d), 1);
}

/** Summary of a model: graph inputs (initializers excluded), outputs, opsets, op histogram, parameter count. */
export function modelInfo(model: onnx.IModelProto): ModelInfo {
  checkModelProto(model, 'modelInfo');
  const g = model.graph;
  if (!g) throw new TensorRTError('PARSE_ERROR', 'ONNX model has no graph');
  const inits = new Set((g.initializer ?? []).map((t) => t.name ?? ''));
  const opsetImports = (model.opsetImport ?? []).map((o) => ({ domain: o.domain ?? '', version: toNumber(o.version) }));
  const def = opsetImports.find((o) => o.domain === '' || o.domain === 'ai.onnx');
  const hist: Record<string, number> = {};
  let params = 0;
  let nodes = 0;
  // the main graph and every subgraph (If's branches, Loop's and Scan's bodies, nested to any depth)
  const visit = (graph: onnx.IGraphProto) => {
    for (const t of graph.initializer ?? []) params += tensorSize(t);
    for (const n of graph.node ?? []) {
      nodes++;
      const k = n.domain && n.domain !== 'ai.onnx' ? `${n.domain}.${n.opType}` : (n.opType ?? '');
      hist[k] = (hist[k] ?? 0) + 1;
      // Exporters such as paddle2onnx store weights as Constant nodes rather than initializers.
      if (n.opType === 'Constant' && (!n.domain || n.domain === 'ai.onnx')) {
        const t = (n.attribute ?? []).find((a) => a.name === 'value')?.t;
        if (t) params += tensorSize(t);
      }
      for (const a of n.attribute ?? []) {
        if (a.g) visit(a.g);
        for (const sub of a.graphs ?? []) visit(sub);
      }
    }
  };
  visit(g);
  return {
    inputs: (g.input ?? []).filter((v) => !inits.has(v.name ?? '')).map(valueDesc),
    outputs: (g.output ?? []).map(valueDesc),
    opset: def?.version ?? 0,
    opsetImports,
    opTypeHistogram: hist,
    nodeCount: nodes,
    parameterCount: params,
    producer: [model.producerName, model.producerVersion].filter((s) => s).join(' '),
    irVersion: toNumber(model.irVersion),
  };
}

/** Float32 values of a FLOAT initializer (raw_data or float_data). */
export function tensorToFloat32(t: onnx.ITensorProto): Float32Array {
  if (t.dataType !== onnx.TensorProto.DataType.FLOAT) {
    throw new TensorRTError('UNSUPPORTED', `initializer ${t.name} is ${onnxDataTypeName(t.dataType)}, not float32`);
  }
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) {
    throw new TensorRTError('UNSUPPORTED', `initializer ${t.name} uses external data, which is not supported`);
  }
  const n = tensorSize(t);
  if (t.rawData && t.rawData.length > 0) {
    if (t.rawData.length !== n * 4) throw new TensorRTError('PARSE_ERROR', `initializer ${t.name}: raw_data size does not match its dims`);
    const copy = new Uint8Array(t.rawData); // aligned copy
    return new Float32Array(copy.buffer, 0, n);
  }
  const fd = t.floatData ?? [];
  if (fd.length !== n) throw new TensorRTError('PARSE_ERROR', `initializer ${t.name}: float_data size does not match its dims`);
  return Float32Array.from(fd);
}

/** A new initializer from typed data. */
export function makeTensor(
  name: string,
  dataType: onnx.TensorProto.DataType,
  dims: number[],
  data: Float32Array | Int8Array | Uint8Array | Int32Array | BigInt64Array,
): onnx.TensorProto {
  return onnx.TensorProto.create({
    name,
    dataType,
    dims,
    rawData: new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)),
  });
}
