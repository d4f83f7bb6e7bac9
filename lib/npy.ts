/**
 * NumPy `.npy` files (format versions 1.0, 2.0 and 3.0), read and written without NumPy: the array files that
 * the CLI (`run --input`, outputs) and the calibration code (`--calib <dir>`) exchange with Python.
 *
 * Supported: C-order (row-major) arrays of float16/32/64, int8/16/32/64, uint8 and bool, little-endian ('<') or
 * byte-order-free ('|') descriptors. float16 data travels as a Uint16Array of IEEE half bit patterns, bool as a
 * Uint8Array of 0/1. Anything else (Fortran order, big-endian data, structured or object dtypes, headers that are
 * not a valid Python dict literal, data shorter or longer than the header promises) is rejected with a
 * TensorRTError('INVALID_ARGUMENT') that says precisely what is wrong.
 *
 * writeNpy produces the same bytes as `numpy.save` (numpy >= 1.24): header keys sorted, 21-digit growth
 * space after the dict, padded with spaces to a multiple of 64 bytes and ended by '\n'; version 1.0 unless the
 * header is longer than 65535 bytes (then 2.0).
 */
import * as fs from 'fs';
import * as os from 'os';
import { TensorRTError } from './errors';
import * as is from './validate';
import type { TypedArray } from './dtypes';

export type NpyDType = 'float16' | 'float32' | 'float64' | 'int8' | 'int16' | 'int32' | 'int64' | 'uint8' | 'bool';

export interface NpyArray {
  dtype: NpyDType;
  /** Dimensions, outermost first; [] for a 0-d (scalar) array. */
  shape: number[];
  /** Elements in C order: Float32Array, Float64Array, Uint16Array (float16 bits), Int8Array, Int16Array,
   *  Int32Array, BigInt64Array, Uint8Array (uint8 and bool). */
  data: TypedArray;
}

interface DTypeSpec {
  /** numpy's `dtype.str`, as written by numpy.save. */
  descr: string;
  kind: 'f' | 'i' | 'u' | 'b';
  size: number;
  array: { new (n: number): TypedArray; new (b: ArrayBuffer, o?: number, n?: number): TypedArray; name: string };
}

const SPECS: Readonly<Record<NpyDType, DTypeSpec>> = {
  float16: { descr: '<f2', kind: 'f', size: 2, array: Uint16Array },
  float32: { descr: '<f4', kind: 'f', size: 4, array: Float32Array },
  float64: { descr: '<f8', kind: 'f', size: 8, array: Float64Array },
  int8: { descr: '|i1', kind: 'i', size: 1, array: Int8Array },
  int16: { descr: '<i2', kind: 'i', size: 2, array: Int16Array },
  int32: { descr: '<i4', kind: 'i', size: 4, array: Int32Array },
  int64: { descr: '<i8', kind: 'i', size: 8, array: BigInt64Array },
  uint8: { descr: '|u1', kind: 'u', size: 1, array: Uint8Array },
  bool: { descr: '|b1', kind: 'b', size: 1, array: Uint8Array },
};

/** The dtypes readNpy / writeNpy support. */
export const NPY_DTYPES: readonly NpyDType[] = Object.keys(SPECS) as NpyDType[];

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const ARRAY_ALIGN = 64;
const GROWTH_AXIS_MAX_DIGITS = 21;
/** numpy refuses headers above 10000 bytes by default (max_header_size); we allow far more but not unbounded. */
const MAX_HEADER_LEN = 1 << 20;

function bad(message: string): TensorRTError {
  return new TensorRTError('INVALID_ARGUMENT', message);
}

function isNpyDType(s: unknown): s is NpyDType {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(SPECS, s);
}

/** Product of a shape, checked to stay an exact integer. */
function count(shape: readonly number[], what: string): number {
  let n = 1;
  for (const d of shape) n *= d;
  if (!Number.isSafeInteger(n)) throw bad(`${what}: shape (${shape.join(', ')}) has too many elements`);
  return n;
}

// ------------------------------------------------------------------------------------------------------------
// Header parsing: the header is a Python dict literal (numpy evaluates it with ast.literal_eval). We accept the
// subset numpy writes and any equivalent spelling: string keys, string / bool / int-tuple values, either quote,
// arbitrary whitespace, trailing commas.

type PyValue = string | boolean | number[];

class HeaderParser {
  private i = 0;
  constructor(private readonly s: string, private readonly where: string) {}

  private fail(msg: string): never {
    throw bad(`${this.where}: malformed header (${msg} at offset ${this.i}): ${JSON.stringify(this.s.trim())}`);
  }
  private ws(): void {
    while (this.i < this.s.length && /\s/.test(this.s[this.i])) this.i++;
  }
  private peek(): string {
    this.ws();
    return this.s[this.i] ?? '';
  }
  private expect(c: string): void {
    if (this.peek() !== c) this.fail(`expected '${c}'`);
    this.i++;
  }
  private str(): string {
    const q = this.peek();
    if (q !== "'" && q !== '"') this.fail('expected a string');
    const end = this.s.indexOf(q, this.i + 1);
    if (end < 0) this.fail('unterminated string');
    const v = this.s.slice(this.i + 1, end);
    if (v.includes('\\')) this.fail('escape sequences are not supported');
    this.i = end + 1;
    return v;
  }
  private int(): number {
    this.ws();
    const m = /^[0-9]+/.exec(this.s.slice(this.i));
    if (!m) this.fail('expected a non-negative integer');
    this.i += m[0].length;
    if (this.s[this.i] === 'L') this.i++; // Python 2 long literal, as written by old numpy
    const v = Number(m[0]);
    if (!Number.isSafeInteger(v)) this.fail(`dimension ${m[0]} is too large`);
    return v;
  }
  private tuple(): number[] {
    const open = this.peek();
    if (open !== '(' && open !== '[') this.fail('expected a tuple');
    const close = open === '(' ? ')' : ']';
    this.i++;
    const out: number[] = [];
    let sawComma = false;
    for (;;) {
      if (this.peek() === close) {
        this.i++;
        break;
      }
      out.push(this.int());
      const c = this.peek();
      if (c === ',') {
        this.i++;
        sawComma = true;
      } else if (c !== close) this.fail(`expected ',' or '${close}'`);
    }
    // `(3)` is the integer 3 in Python, not a tuple: numpy would reject it.
    if (open === '(' && out.length === 1 && !sawComma) this.fail("a 1-d shape needs a trailing comma, e.g. '(3,)'");
    return out;
  }
  private value(): PyValue {
    const c = this.peek();
    if (c === "'" || c === '"') return this.str();
    if (c === '(' || c === '[') return this.tuple();
    for (const [word, v] of [['True', true], ['False', false]] as const) {
      if (this.s.startsWith(word, this.i) && !/\w/.test(this.s[this.i + word.length] ?? '')) {
        this.i += word.length;
        return v;
      }
    }
    return this.fail('expected a string, True, False or a tuple');
  }
  dict(): Map<string, PyValue> {
    const out = new Map<string, PyValue>();
    this.expect('{');
    for (;;) {
      if (this.peek() === '}') {
        this.i++;
        break;
      }
      const k = this.str();
      this.expect(':');
      const v = this.value();
      if (out.has(k)) this.fail(`duplicate key '${k}'`);
      out.set(k, v);
      const c = this.peek();
      if (c === ',') this.i++;
      else if (c !== '}') this.fail("expected ',' or '}'");
    }
    this.ws();
    if (this.i !== this.s.length) this.fail('unexpected text after the dict');
    return out;
  }
}

/** Maps a numpy dtype descriptor ('<f4', '|b1', ...) to an NpyDType, or throws saying why it is not supported. */
function dtypeFromDescr(descr: PyValue | undefined, where: string): NpyDType {
  if (typeof descr !== 'string') {
    throw bad(`${where}: 'descr' must be a simple dtype string; structured (record) dtypes are not supported`);
  }
  const m = /^([<>|=]?)([a-zA-Z])(\d+)$/.exec(descr);
  if (!m) throw bad(`${where}: unsupported dtype descriptor '${descr}'`);
  const [, order, kindRaw, sizeStr] = m;
  const size = Number(sizeStr);
  const kind = kindRaw;
  const found = NPY_DTYPES.find((t) => SPECS[t].kind === kind && SPECS[t].size === size);
  if (!found) {
    throw bad(
      `${where}: unsupported dtype '${descr}'; supported: ${NPY_DTYPES.map((t) => `${t} ('${SPECS[t].descr}')`).join(', ')}`,
    );
  }
  if (size > 1) {
    const littleNative = os.endianness() === 'LE';
    // '=', '|' and no prefix mean the writer's native order, which numpy only writes on little-endian hosts.
    if (order === '>' || (order !== '<' && !littleNative)) {
      throw bad(`${where}: big-endian data ('${descr}') is not supported; save it as '<${kind}${size}' (arr.astype('<${kind}${size}'))`);
    }
  }
  return found;
}

interface ParsedHeader {
  dtype: NpyDType;
  shape: number[];
  dataOffset: number;
}

function parseHeader(bytes: Uint8Array, where: string): ParsedHeader {
  if (bytes.length < 10) throw bad(`${where}: not a .npy file (only ${bytes.length} bytes; a header needs at least 10)`);
  for (let k = 0; k < MAGIC.length; k++) {
    if (bytes[k] !== MAGIC[k]) throw bad(`${where}: not a .npy file (missing the \\x93NUMPY magic string)`);
  }
  const major = bytes[6];
  const minor = bytes[7];
  if (![1, 2, 3].includes(major) || minor !== 0) {
    throw bad(`${where}: unsupported .npy format version ${major}.${minor} (supported: 1.0, 2.0, 3.0)`);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen: number;
  let start: number;
  if (major === 1) {
    headerLen = dv.getUint16(8, true);
    start = 10;
  } else {
    if (bytes.length < 12) throw bad(`${where}: truncated header (version ${major}.0 needs 12 bytes before the header)`);
    headerLen = dv.getUint32(8, true);
    start = 12;
  }
  if (headerLen > MAX_HEADER_LEN) throw bad(`${where}: header length ${headerLen} is implausibly large`);
  if (start + headerLen > bytes.length) {
    throw bad(`${where}: truncated header (declares ${headerLen} bytes, the file has ${bytes.length - start} after the prefix)`);
  }
  const raw = bytes.subarray(start, start + headerLen);
  let text: string;
  if (major === 3) {
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
    } catch {
      throw bad(`${where}: header is not valid UTF-8`);
    }
  } else {
    text = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('latin1');
  }
  const d = new HeaderParser(text, where).dict();
  const keys = [...d.keys()].sort();
  if (keys.join(',') !== 'descr,fortran_order,shape') {
    throw bad(`${where}: header must have exactly the keys 'descr', 'fortran_order' and 'shape'; got ${keys.map((k) => `'${k}'`).join(', ') || 'none'}`);
  }
  const fortran = d.get('fortran_order');
  if (typeof fortran !== 'boolean') throw bad(`${where}: 'fortran_order' must be True or False`);
  const shape = d.get('shape');
  if (!Array.isArray(shape)) throw bad(`${where}: 'shape' must be a tuple of integers`);
  const dtype = dtypeFromDescr(d.get('descr'), where);
  if (fortran) {
    throw bad(
      `${where}: Fortran-order (column-major, fortran_order=True) arrays are not supported; ` +
        'save a C-order copy with numpy.save(path, numpy.ascontiguousarray(a))',
    );
  }
  return { dtype, shape, dataOffset: start + headerLen };
}

function swapBytes(b: Uint8Array, size: number): void {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  if (size === 2) buf.swap16();
  else if (size === 4) buf.swap32();
  else buf.swap64();
}

/** Decodes a .npy file held in memory. The result owns its data (a copy, suitably aligned). */
export function readNpy(bytes: Uint8Array, name = '.npy data'): NpyArray {
  if (!(bytes instanceof Uint8Array)) throw bad(`readNpy: expected a Uint8Array or Buffer, got ${typeof bytes}`);
  is.string(name, 'readNpy: the name (for messages)');
  const { dtype, shape, dataOffset } = parseHeader(bytes, name);
  const spec = SPECS[dtype];
  const n = count(shape, name);
  const want = n * spec.size;
  const have = bytes.length - dataOffset;
  if (have < want) {
    throw bad(
      `${name}: truncated data: shape (${shape.join(', ')}) of ${dtype} needs ${want} bytes, the file has ${have}`,
    );
  }
  if (have > want) {
    throw bad(
      `${name}: ${have - want} unexpected bytes after the data: shape (${shape.join(', ')}) of ${dtype} needs ${want} bytes, the file has ${have}`,
    );
  }
  const copy = new ArrayBuffer(want);
  new Uint8Array(copy).set(bytes.subarray(dataOffset, dataOffset + want));
  if (os.endianness() !== 'LE' && spec.size > 1) swapBytes(new Uint8Array(copy), spec.size);
  const data = new spec.array(copy, 0, n);
  return { dtype, shape: [...shape], data };
}

/** Reads and decodes a .npy file. File-system errors become TensorRTError('IO_ERROR'). */
export function readNpyFile(path: string): NpyArray {
  if (typeof path !== 'string' || path.length === 0) throw bad('readNpyFile: path must be a non-empty string');
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(path);
  } catch (e) {
    throw new TensorRTError('IO_ERROR', `cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
  return readNpy(bytes, path);
}

function pyShape(shape: readonly number[]): string {
  if (shape.length === 1) return `(${shape[0]},)`;
  return `(${shape.join(', ')})`;
}

/** Validates an NpyArray for writing; returns its dtype spec. */
function checkArray(a: NpyArray): DTypeSpec {
  if (a === null || typeof a !== 'object') throw bad('writeNpy: expected an object { dtype, shape, data }');
  if (!isNpyDType(a.dtype)) {
    throw bad(`writeNpy: dtype must be one of ${NPY_DTYPES.join(', ')}; got ${JSON.stringify(a.dtype)}`);
  }
  if (!Array.isArray(a.shape) || !a.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw bad(`writeNpy: shape must be an array of non-negative integers; got ${JSON.stringify(a.shape)}`);
  }
  const spec = SPECS[a.dtype];
  const ok = a.dtype === 'bool' ? a.data instanceof Uint8Array || a.data instanceof Int8Array : a.data instanceof spec.array;
  if (!ok) {
    const got = a.data === null || typeof a.data !== 'object' ? typeof a.data : a.data.constructor.name;
    throw bad(`writeNpy: ${a.dtype} data must be a ${spec.array.name}${a.dtype === 'float16' ? ' of half-precision bit patterns' : ''}; got ${got}`);
  }
  const n = count(a.shape, 'writeNpy');
  if (a.data.length !== n) {
    throw bad(`writeNpy: shape [${a.shape.join(', ')}] holds ${n} elements but data has ${a.data.length}`);
  }
  return spec;
}

/** Encodes an array as a .npy file, byte for byte what numpy.save writes for the same array. */
export function writeNpy(a: NpyArray): Buffer {
  const spec = checkArray(a);
  let header = `{'descr': '${spec.descr}', 'fortran_order': False, 'shape': ${pyShape(a.shape)}, }`;
  if (a.shape.length > 0) header += ' '.repeat(GROWTH_AXIS_MAX_DIGITS - String(a.shape[0]).length);
  const hlen = header.length + 1; // + '\n'
  let version = 1;
  let prefix = 10;
  let padlen = ARRAY_ALIGN - ((prefix + hlen) % ARRAY_ALIGN);
  if (hlen + padlen > 0xffff) {
    version = 2;
    prefix = 12;
    padlen = ARRAY_ALIGN - ((prefix + hlen) % ARRAY_ALIGN);
  }
  const total = prefix + hlen + padlen;
  const dataBytes = a.data.length * spec.size;
  const out = Buffer.alloc(total + dataBytes);
  out.set(MAGIC, 0);
  out[6] = version;
  out[7] = 0;
  if (version === 1) out.writeUInt16LE(hlen + padlen, 8);
  else out.writeUInt32LE(hlen + padlen, 8);
  out.write(header, prefix, 'latin1');
  out.fill(0x20, prefix + header.length, total - 1);
  out[total - 1] = 0x0a;
  const src = new Uint8Array(a.data.buffer, a.data.byteOffset, dataBytes);
  if (a.dtype === 'bool') {
    for (let k = 0; k < dataBytes; k++) out[total + k] = src[k] ? 1 : 0;
  } else {
    out.set(src, total);
  }
  // .npy data written here is little-endian, whatever the host.
  if (os.endianness() !== 'LE' && spec.size > 1) swapBytes(out.subarray(total), spec.size);
  return out;
}

/** Writes an array to a .npy file. File-system errors become TensorRTError('IO_ERROR'). */
export function writeNpyFile(path: string, a: NpyArray): void {
  if (typeof path !== 'string' || path.length === 0) throw bad('writeNpyFile: path must be a non-empty string');
  const bytes = writeNpy(a);
  try {
    fs.writeFileSync(path, bytes);
  } catch (e) {
    throw new TensorRTError('IO_ERROR', `cannot write ${path}: ${(e as Error).message}`, { cause: e });
  }
}

