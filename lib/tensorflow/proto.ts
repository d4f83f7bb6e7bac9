/**
 * protobufjs schemas for TensorFlow's serialized forms, written here from TensorFlow's documented message
 * definitions (tensorflow/core/framework/{graph,node_def,attr_value,tensor,tensor_shape,types,versions,function}.proto,
 * tensorflow/core/protobuf/{meta_graph,saved_model,saved_object_graph,trackable_object_graph,tensor_bundle}.proto). Only the fields the converter reads
 * are declared; protobuf skips the others. Field numbers are TensorFlow's.
 */
import * as protobuf from 'protobufjs';

const SCHEMA = `
syntax = "proto3";
package tensorflow;

enum DataType {
  DT_INVALID = 0; DT_FLOAT = 1; DT_DOUBLE = 2; DT_INT32 = 3; DT_UINT8 = 4; DT_INT16 = 5; DT_INT8 = 6; DT_STRING = 7;
  DT_COMPLEX64 = 8; DT_INT64 = 9; DT_BOOL = 10; DT_QINT8 = 11; DT_QUINT8 = 12; DT_QINT32 = 13; DT_BFLOAT16 = 14;
  DT_QINT16 = 15; DT_QUINT16 = 16; DT_UINT16 = 17; DT_COMPLEX128 = 18; DT_HALF = 19; DT_RESOURCE = 20; DT_VARIANT = 21;
  DT_UINT32 = 22; DT_UINT64 = 23;
  DT_FLOAT_REF = 101; DT_DOUBLE_REF = 102; DT_INT32_REF = 103; DT_INT64_REF = 109; DT_BOOL_REF = 110; DT_HALF_REF = 119;
}

message TensorShapeProto {
  message Dim { int64 size = 1; string name = 2; }
  repeated Dim dim = 2;
  bool unknown_rank = 3;
}

message TensorProto {
  DataType dtype = 1;
  TensorShapeProto tensor_shape = 2;
  int32 version_number = 3;
  bytes tensor_content = 4;
  repeated int32 half_val = 13 [packed = true];
  repeated float float_val = 5 [packed = true];
  repeated double double_val = 6 [packed = true];
  repeated int32 int_val = 7 [packed = true];
  repeated bytes string_val = 8;
  repeated int64 int64_val = 10 [packed = true];
  repeated bool bool_val = 11 [packed = true];
  repeated uint32 uint32_val = 16 [packed = true];
  repeated uint64 uint64_val = 17 [packed = true];
}

message AttrValue {
  message ListValue {
    repeated bytes s = 2;
    repeated int64 i = 3 [packed = true];
    repeated float f = 4 [packed = true];
    repeated bool b = 5 [packed = true];
    repeated DataType type = 6 [packed = true];
    repeated TensorShapeProto shape = 7;
    repeated TensorProto tensor = 8;
    repeated NameAttrList func = 9;
  }
  oneof value {
    bytes s = 2;
    int64 i = 3;
    float f = 4;
    bool b = 5;
    DataType type = 6;
    TensorShapeProto shape = 7;
    TensorProto tensor = 8;
    ListValue list = 1;
    NameAttrList func = 10;
    string placeholder = 9;
  }
}

message NameAttrList { string name = 1; map<string, AttrValue> attr = 2; }

message NodeDef {
  string name = 1;
  string op = 2;
  repeated string input = 3;
  string device = 4;
  map<string, AttrValue> attr = 5;
}

message VersionDef { int32 producer = 1; int32 min_consumer = 2; repeated int32 bad_consumers = 3; }

message ArgDef { string name = 1; DataType type = 3; string type_attr = 4; string number_attr = 5; string type_list_attr = 6; }
message OpDef { string name = 1; repeated ArgDef input_arg = 2; repeated ArgDef output_arg = 3; }
message FunctionDef { OpDef signature = 1; repeated NodeDef node_def = 3; map<string, string> ret = 4; }
message FunctionDefLibrary { repeated FunctionDef function = 1; }

message GraphDef {
  repeated NodeDef node = 1;
  VersionDef versions = 4;
  FunctionDefLibrary library = 2;
}

message TensorInfo {
  oneof encoding { string name = 1; }
  DataType dtype = 2;
  TensorShapeProto tensor_shape = 3;
}

message SignatureDef {
  map<string, TensorInfo> inputs = 1;
  map<string, TensorInfo> outputs = 2;
  string method_name = 3;
}

message MetaInfoDef {
  string meta_graph_version = 1;
  repeated string tags = 4;
  string tensorflow_version = 5;
}

message MetaGraphDef {
  MetaInfoDef meta_info_def = 1;
  GraphDef graph_def = 2;
  map<string, SignatureDef> signature_def = 5;
  SavedObjectGraph object_graph_def = 7;
}

message ObjectReference { int32 node_id = 1; string local_name = 2; }

message SavedVariable { DataType dtype = 1; TensorShapeProto shape = 2; string name = 6; }
message SavedConstant { string operation = 1; }
message SavedObject {
  repeated ObjectReference children = 1;
  oneof kind { SavedVariable variable = 7; SavedConstant constant = 9; }
}
message SavedConcreteFunction { repeated int32 bound_inputs = 2; }
message SavedObjectGraph { repeated SavedObject nodes = 1; map<string, SavedConcreteFunction> concrete_functions = 2; }

message SerializedTensor { string name = 1; string full_name = 2; string checkpoint_key = 3; }
message TrackableObject { repeated ObjectReference children = 1; repeated SerializedTensor attributes = 2; }
message TrackableObjectGraph { repeated TrackableObject nodes = 1; }

message SavedModel {
  int64 saved_model_schema_version = 1;
  repeated MetaGraphDef meta_graphs = 2;
}

message BundleHeaderProto {
  int32 num_shards = 1;
  enum Endianness { LITTLE = 0; BIG = 1; }
  Endianness endianness = 2;
  VersionDef version = 3;
}

message BundleEntryProto {
  DataType dtype = 1;
  TensorShapeProto shape = 2;
  int32 shard_id = 3;
  int64 offset = 4;
  int64 size = 5;
  fixed32 crc32c = 6;
}
`;

let root: protobuf.Root | undefined;

/** The schema root (parsed once, on first use). */
export function tfProto(): protobuf.Root {
  root ??= protobuf.parse(SCHEMA, { keepCase: false }).root;
  return root;
}

export function tfType(name: string): protobuf.Type {
  return tfProto().lookupType(`tensorflow.${name}`);
}

/** toObject options giving the JSON form the converter reads (int64 as strings, enums by name, bytes base64). */
export const JSON_FORM: protobuf.IConversionOptions = { longs: String, enums: String, bytes: String, defaults: false, arrays: true, oneofs: false };
