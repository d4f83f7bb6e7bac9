/**
 * TensorFlow's tensor bundle (a SavedModel's `variables/variables.index` + `variables.data-NNNNN-of-NNNNN`):
 * the index is a LevelDB-format table (footer → index block → data blocks of prefix-compressed key/value
 * entries) mapping "" to a BundleHeaderProto and each variable name to a BundleEntryProto (dtype, shape, shard,
 * offset, size) into the data files. Reader and writer (the writer serves tests). Uncompressed blocks only,
 * which is what TensorFlow writes for bundles. No npm library reads this format, hence this one.
 */
import * as fs from 'fs';
import * as path from 'path';
import { TensorRTError } from '../errors';
import { tensorShape, elementCount, tfDType, typedFromBytes, type TfTensor } from './graph';
import { JSON_FORM, tfType } from './proto';

const MAGIC_LO = 0x8b80fb57;
const MAGIC_HI = 0xdb477524;

function varint(b: Uint8Array, pos: { p: number }): number {
  let r = 0;
  let mul = 1;
  for (;;) {
    const x = b[pos.p++];
    if (x === undefined) throw new TensorRTError('PARSE_ERROR', 'truncated varint in tensor bundle index');
    r += (x & 0x7f) * mul;
    if (!(x & 0x80)) return r;
    mul *= 128;
  }
}

function blockEntries(b: Uint8Array, offset: number, size: number): [string, Uint8Array][] {
  const block = b.subarray(offset, offset + size);
  if (block.length < 4) throw new TensorRTError('PARSE_ERROR', 'tensor bundle index: block out of range');
  const dv = new DataView(block.buffer, block.byteOffset, block.byteLength);
  const nRestarts = dv.getUint32(block.length - 4, true);
  const end = block.length - 4 - 4 * nRestarts;
  const out: [string, Uint8Array][] = [];
  const pos = { p: 0 };
  let key = Buffer.alloc(0);
  while (pos.p < end) {
    const shared = varint(block, pos);
    const nonShared = varint(block, pos);
    const vlen = varint(block, pos);
    key = Buffer.concat([key.subarray(0, shared), Buffer.from(block.subarray(pos.p, pos.p + nonShared))]);
    pos.p += nonShared;
    out.push([key.toString('latin1'), block.subarray(pos.p, pos.p + vlen)]);
    pos.p += vlen;
  }
  return out;
}

/** All key/value pairs of a LevelDB-format table. */
export function readTable(b: Uint8Array, what: string): Map<string, Uint8Array> {
  if (b.length < 48) throw new TensorRTError('PARSE_ERROR', `${what}: too short for a table`);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (dv.getUint32(b.length - 8, true) !== MAGIC_LO || dv.getUint32(b.length - 4, true) !== MAGIC_HI) {
    throw new TensorRTError('PARSE_ERROR', `${what}: not a tensor bundle index (bad table magic)`);
  }
  const pos = { p: b.length - 48 };
  varint(b, pos); // metaindex offset
  varint(b, pos); // metaindex size
  const indexOff = varint(b, pos);
  const indexSize = varint(b, pos);
  const out = new Map<string, Uint8Array>();
  for (const [, handle] of blockEntries(b, indexOff, indexSize)) {
    const hp = { p: 0 };
    const off = varint(handle, hp);
    const size = varint(handle, hp);
    if (b[off + size] !== 0) throw new TensorRTError('UNSUPPORTED', `${what}: compressed table blocks are not supported`);
    for (const [k, v] of blockEntries(b, off, size)) out.set(k, v);
  }
  return out;
}

/**
 * Reads every tensor of a bundle (`prefix` = .../variables/variables). Scalar DT_STRING entries (the TF2
 * checkpoint's `_CHECKPOINTABLE_OBJECT_GRAPH`) go into `strings` when given: a string tensor's data is each
 * element's varint length, a 4-byte checksum, then the bytes.
 */
export function readBundle(prefix: string, strings?: Map<string, Buffer>): Map<string, TfTensor> {
  let index: Buffer;
  try {
    index = fs.readFileSync(`${prefix}.index`);
  } catch (e) {
    throw new TensorRTError('IO_ERROR', `cannot read ${prefix}.index: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e });
  }
  const table = readTable(index, `${prefix}.index`);
  const header = table.get('');
  const numShards = header ? Number((tfType('BundleHeaderProto').toObject(tfType('BundleHeaderProto').decode(header), JSON_FORM) as { numShards?: number }).numShards ?? 1) : 1;
  const shards = new Map<number, Buffer>();
  const shard = (id: number): Buffer => {
    let s = shards.get(id);
    if (!s) {
      const f = `${prefix}.data-${String(id).padStart(5, '0')}-of-${String(numShards).padStart(5, '0')}`;
      try {
        s = fs.readFileSync(f);
      } catch (e) {
        throw new TensorRTError('IO_ERROR', `cannot read the variables shard ${f} (${id + 1} of ${numShards}, named by ${path.basename(prefix)}.index): ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e });
      }
      shards.set(id, s);
    }
    return s;
  };
  const T = tfType('BundleEntryProto');
  const out = new Map<string, TfTensor>();
  for (const [k, v] of table) {
    if (k === '') continue;
    const e = T.toObject(T.decode(v), JSON_FORM) as { dtype?: string; shape?: unknown; shardId?: number; offset?: string; size?: string };
    const dtype = tfDType(e.dtype ?? 'DT_FLOAT');
    if (dtype === 'string' && strings && elementCount(tensorShape(e.shape)) === 1) {
      const off = Number(e.offset ?? 0);
      const raw = shard(e.shardId ?? 0).subarray(off, off + Number(e.size ?? 0));
      const pos = { p: 0 };
      const len = varint(raw, pos);
      if (pos.p + 4 + len > raw.length) throw new TensorRTError('PARSE_ERROR', `${prefix}: string entry ${k} is truncated`);
      strings.set(k, Buffer.from(raw.subarray(pos.p + 4, pos.p + 4 + len)));
      continue;
    }
    if (!dtype || dtype === 'string') continue; // non-numeric checkpoint entries (object graph, strings) are not weights
    const shape = tensorShape(e.shape);
    const off = Number(e.offset ?? 0);
    const size = Number(e.size ?? 0);
    const data = shard(e.shardId ?? 0).subarray(off, off + size);
    if (data.length < size) throw new TensorRTError('PARSE_ERROR', `${prefix}: variable ${k} runs past the end of its data shard (${off + size} > ${shard(e.shardId ?? 0).length} bytes)`);
    out.set(k, { dtype: dtype === 'float16' ? 'float32' : dtype, shape, data: typedFromBytes(dtype, data, elementCount(shape), `${prefix}: ${k}`) });
  }
  return out;
}

function putVarint(out: number[], v: number): void {
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
}

let crcTable: Uint32Array | undefined;
/** CRC-32C (Castagnoli), masked as LevelDB stores it in block trailers. */
function maskedCrc32c(b: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let i = 0; i < 256; i++) {
      let c = i;
      for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
      crcTable[i] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (const x of b) c = crcTable[(c ^ x) & 0xff]! ^ (c >>> 8);
  const crc = (c ^ 0xffffffff) >>> 0;
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

function block(entries: [Uint8Array, Uint8Array][]): Uint8Array {
  const out: number[] = [];
  const restarts: number[] = [];
  for (const [k, v] of entries) {
    restarts.push(out.length);
    putVarint(out, 0);
    putVarint(out, k.length);
    putVarint(out, v.length);
    out.push(...k);
    for (const x of v) out.push(x);
  }
  if (restarts.length === 0) restarts.push(0);
  const tail = new Uint8Array(4 * restarts.length + 4);
  const dv = new DataView(tail.buffer);
  restarts.forEach((r, i) => dv.setUint32(4 * i, r, true));
  dv.setUint32(4 * restarts.length, restarts.length, true);
  const b = new Uint8Array(out.length + tail.length);
  b.set(out);
  b.set(tail, out.length);
  return b;
}

/** Writes a single-shard bundle of float32/int32 tensors at `prefix` (.index + .data-00000-of-00001). */
export function writeBundle(prefix: string, tensors: Map<string, TfTensor>): void {
  const names = [...tensors.keys()].sort();
  const data: Uint8Array[] = [];
  let offset = 0;
  const E = tfType('BundleEntryProto');
  const entries: [Uint8Array, Uint8Array][] = [];
  const H = tfType('BundleHeaderProto');
  entries.push([new Uint8Array(0), H.encode(H.fromObject({ numShards: 1, endianness: 0, version: { producer: 1 } })).finish()]);
  for (const name of names) {
    const t = tensors.get(name)!;
    const d = t.data as Float32Array;
    const bytes = new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
    const dt = t.dtype === 'int32' ? 'DT_INT32' : t.dtype === 'int64' ? 'DT_INT64' : 'DT_FLOAT';
    entries.push([Buffer.from(name, 'latin1'), E.encode(E.fromObject({ dtype: dt, shape: { dim: t.shape.map((s) => ({ size: s })) }, shardId: 0, offset, size: bytes.length })).finish()]);
    data.push(bytes);
    offset += bytes.length;
  }
  const parts: Uint8Array[] = [];
  let pos = 0;
  const addBlock = (b: Uint8Array): [number, number] => {
    const trailer = new Uint8Array(5);
    new DataView(trailer.buffer).setUint32(1, maskedCrc32c(Buffer.concat([b, trailer.subarray(0, 1)])), true);
    const at = pos;
    parts.push(b, trailer);
    pos += b.length + 5;
    return [at, b.length];
  };
  const [dOff, dSize] = addBlock(block(entries));
  const [mOff, mSize] = addBlock(block([]));
  const h: number[] = [];
  putVarint(h, dOff);
  putVarint(h, dSize);
  const lastKey = entries[entries.length - 1]![0];
  const [iOff, iSize] = addBlock(block([[lastKey, Uint8Array.from(h)]]));
  const footer: number[] = [];
  putVarint(footer, mOff);
  putVarint(footer, mSize);
  putVarint(footer, iOff);
  putVarint(footer, iSize);
  while (footer.length < 40) footer.push(0);
  const f = new Uint8Array(48);
  f.set(footer);
  const dv = new DataView(f.buffer);
  dv.setUint32(40, MAGIC_LO, true);
  dv.setUint32(44, MAGIC_HI, true);
  parts.push(f);
  fs.writeFileSync(`${prefix}.index`, Buffer.concat(parts));
  fs.writeFileSync(`${prefix}.data-00000-of-00001`, Buffer.concat(data));
}
