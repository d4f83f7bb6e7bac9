/**
 * The protobuf codec under the ONNX schema (lib/onnx/proto.ts, generated from lib/onnx/onnx.proto):
 * protobufjs 7's reflection (`protobufjs/light`: no .proto parser at run time) with one addition protobufjs
 * lacks, **unknown-field preservation**. protobufjs drops every field its schema does not declare while
 * decoding; a model written by a newer ONNX (or carrying a vendor's extension fields) would lose them in a
 * load → save round trip, which `quantize` does. Here each message type's generated decoder is wrapped: after
 * it has decoded a message, the message's own bytes are scanned once more at the top level (nested messages are
 * skipped by their length, so the whole model costs one extra pass over its tags, not over its data) and every
 * field whose number the schema does not know is kept verbatim, with the number of the known field it came
 * after. The encoder writes the known fields (protobufjs, in field-number order, as every protobuf writer does)
 * and puts each kept field back after the same known field: a file written by a newer writer (fields in
 * number order) and one re-serialized by an older one (unknown fields last) both come back byte-for-byte.
 *
 * The public types here (Long, Writer, the static methods) are declared locally so that the package's
 * declaration files do not depend on protobufjs' or long's declarations.
 */
import * as $pb from 'protobufjs/light';

/** A 64-bit integer as decoded (an instance of the `long` package's Long); numbers are accepted on input. */
export interface Long {
  low: number;
  high: number;
  unsigned: boolean;
  toNumber(): number;
  toString(radix?: number): string;
}

/** What `encode` returns: call `finish()` for the bytes. */
export interface Writer {
  finish(): Uint8Array;
}

/** The input form of a message type T: every field optional, null allowed (protobufjs' `I<Name>` shape). */
export type MessageInit<T> = { [K in keyof T as T[K] extends (...args: never[]) => unknown ? never : K]?: T[K] | null };

/** Any generated message class. */
export type MessageClass<T> = abstract new (properties?: never) => T;

/** Static side shared by every generated message class (the protobufjs Message statics, typed per class). */
export interface MessageStatics {
  /** A new message with the given fields. */
  create<T>(this: MessageClass<T>, properties?: MessageInit<T>): T;
  /** Encodes a message (unknown fields it carries included); `finish()` gives the bytes. */
  encode<T>(this: MessageClass<T>, message: MessageInit<T>, writer?: Writer): Writer;
  /** Decodes a message, keeping the fields the schema does not know. */
  decode<T>(this: MessageClass<T>, bytes: Uint8Array): T;
  /** Why a plain object is not a valid message, or null. */
  verify(message: Record<string, unknown>): string | null;
  /** A message from a plain (JSON) object. */
  fromObject<T>(this: MessageClass<T>, object: Record<string, unknown>): T;
  /** A plain (JSON-able) object from a message. */
  toObject(message: object, options?: Record<string, unknown>): Record<string, unknown>;
}

/** Instance side shared by every generated message. */
export interface MessageInstance {
  toJSON(): Record<string, unknown>;
}

export interface MessageConstructor extends MessageStatics {
  new (properties?: object): MessageInstance;
}

/** Base class of every generated message: protobufjs' Message (its statics delegate to the bound Type). */
export const Message = $pb.Message as unknown as MessageConstructor;

/** Name of the (non-enumerable) property holding a message's unknown fields. */
export const UNKNOWN_FIELDS = '$unknownFields';

/** One field the schema does not know, kept verbatim (tag included). */
export interface UnknownField {
  /** Field number. */
  id: number;
  /** Number of the last known field before it in the decoded bytes (0: none). */
  after: number;
  bytes: Uint8Array;
}

/** The fields of a decoded message that its schema does not know (empty when none). */
export function unknownFields(message: object): readonly UnknownField[] {
  return ((message as Record<string, unknown>)[UNKNOWN_FIELDS] as UnknownField[] | undefined) ?? [];
}

/** Sets up a message instance: own empty arrays for repeated fields (as protobufjs does), then properties. */
export function initMessage(target: object, repeated: readonly string[], properties?: object | null): void {
  const t = target as Record<string, unknown>;
  for (const name of repeated) t[name] = [];
  if (properties) {
    for (const [k, v] of Object.entries(properties)) if (v !== null && v !== undefined) t[k] = v;
    const unknown = (properties as Record<string, unknown>)[UNKNOWN_FIELDS];
    if (unknown) Object.defineProperty(target, UNKNOWN_FIELDS, { value: unknown, writable: true, configurable: true });
  }
}

type Decode = (reader: $pb.Reader | Uint8Array, length?: number, ...rest: unknown[]) => object;
type Encode = (message: object, writer?: $pb.Writer, ...rest: unknown[]) => $pb.Writer;

const writeRaw = (val: Uint8Array, buf: Uint8Array, pos: number): void => {
  buf.set(val, pos);
};

/** Top-level fields of `buf[start, end)`: [field number, start, end) each; stops at an end-group tag. */
function scanFields(buf: Uint8Array, start: number, end: number): [number, number, number][] {
  const r = $pb.Reader.create(buf);
  r.pos = start;
  r.len = end;
  const out: [number, number, number][] = [];
  while (r.pos < end) {
    const p0 = r.pos;
    const tag = r.uint32();
    if ((tag & 7) === 4) break;
    r.skipType(tag & 7);
    out.push([tag >>> 3, p0, r.pos]);
  }
  return out;
}

/** Wraps a Type's generated decode/encode so that unknown fields survive a round trip. */
function preserveUnknownFields(type: $pb.Type): void {
  type.setup();
  const known = new Set(type.fieldsArray.map((f) => f.id));
  const decode = type.decode as unknown as Decode;
  const encode = type.encode as unknown as Encode;

  (type as unknown as { decode: Decode }).decode = function (this: $pb.Type, reader, length, ...rest) {
    const r = reader instanceof $pb.Reader ? reader : $pb.Reader.create(reader);
    const start = r.pos;
    const message = decode.call(this, r, length, ...rest);
    let after = 0;
    let unknown: UnknownField[] | undefined;
    for (const [id, s, e] of scanFields(r.buf, start, r.pos)) {
      if (known.has(id)) after = id;
      else (unknown ??= []).push({ id, after, bytes: r.buf.slice(s, e) });
    }
    if (unknown) Object.defineProperty(message, UNKNOWN_FIELDS, { value: unknown, writable: true, configurable: true });
    return message;
  };

  (type as unknown as { encode: Encode }).encode = function (this: $pb.Type, message, writer, ...rest) {
    const unknown = (message as Record<string, unknown>)[UNKNOWN_FIELDS] as UnknownField[] | undefined;
    if (!unknown || unknown.length === 0) return encode.call(this, message, writer, ...rest);
    const body = encode.call(this, message, $pb.Writer.create(), ...rest).finish();
    const chunks: Uint8Array[] = [];
    let u = 0;
    for (const [id, s, e] of scanFields(body, 0, body.length)) {
      // kept fields go before the first known field numbered above the one they followed
      while (u < unknown.length && unknown[u].after < id) chunks.push(unknown[u++].bytes);
      chunks.push(body.subarray(s, e));
    }
    while (u < unknown.length) chunks.push(unknown[u++].bytes);
    const w = writer ?? $pb.Writer.create();
    const push = (w as unknown as { _push(fn: typeof writeRaw, len: number, val: Uint8Array): $pb.Writer })._push;
    for (const c of chunks) push.call(w, writeRaw, c.length, c);
    return w;
  };
}

/**
 * Builds the schema from its JSON descriptor and binds each generated class to its message type (by full
 * name, e.g. `onnx.TensorProto.Segment`). Returns the root.
 */
export function bindSchema(descriptor: object, classes: Record<string, abstract new (...args: never[]) => unknown>): $pb.Root {
  const root = $pb.Root.fromJSON(descriptor as $pb.INamespace);
  root.resolveAll();
  for (const [name, ctor] of Object.entries(classes)) {
    const type = root.lookupType(name);
    type.ctor = ctor as unknown as $pb.Constructor<object>;
  }
  const visit = (ns: $pb.NamespaceBase): void => {
    for (const child of ns.nestedArray) {
      if (child instanceof $pb.Type) preserveUnknownFields(child);
      if (child instanceof $pb.Namespace || child instanceof $pb.Type) visit(child);
    }
  };
  visit(root);
  return root;
}
