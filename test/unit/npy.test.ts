import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { TensorRTError } from '../../lib/errors';
import { NPY_DTYPES, NpyArray, NpyDType, readNpy, readNpyFile, writeNpy, writeNpyFile } from '../../lib/npy';

/** A .npy file assembled by hand: prefix, header text padded with spaces + '\n' to `total`, then data. */
function npyBytes(header: string, data: number[] | Uint8Array, opts: { version?: number; total?: number } = {}): Buffer {
  const version = opts.version ?? 1;
  const prefix = version === 1 ? 10 : 12;
  const total = opts.total ?? Math.ceil((prefix + header.length + 1) / 64) * 64;
  const head = Buffer.alloc(total, 0x20);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]).copy(head, 0);
  if (version === 1) head.writeUInt16LE(total - prefix, 8);
  else head.writeUInt32LE(total - prefix, 8);
  head.write(header, prefix, version === 3 ? 'utf8' : 'latin1');
  head[total - 1] = 0x0a;
  return Buffer.concat([head, Buffer.from(data)]);
}

function expectInvalid(fn: () => unknown, pattern: RegExp): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(TensorRTError);
  expect((err as TensorRTError).code).toBe('INVALID_ARGUMENT');
  expect((err as TensorRTError).message).toMatch(pattern);
}

function sample(dtype: NpyDType, n: number): NpyArray['data'] {
  switch (dtype) {
    case 'float16': return Uint16Array.from({ length: n }, (_, i) => (0x3c00 + i * 7) & 0xffff);
    case 'float32': return Float32Array.from({ length: n }, (_, i) => i * 0.5 - 3.25);
    case 'float64': return Float64Array.from({ length: n }, (_, i) => Math.PI * (i - 2));
    case 'int8': return Int8Array.from({ length: n }, (_, i) => ((i * 37) % 256) - 128);
    case 'int16': return Int16Array.from({ length: n }, (_, i) => i * 1000 - 30000);
    case 'int32': return Int32Array.from({ length: n }, (_, i) => i * 123456789 - 2 ** 31);
    case 'int64': return BigInt64Array.from({ length: n }, (_, i) => BigInt(i) * 9007199254740993n - 2n ** 62n);
    case 'uint8': return Uint8Array.from({ length: n }, (_, i) => (i * 41) % 256);
    case 'bool': return Uint8Array.from({ length: n }, (_, i) => (i % 3 === 0 ? 1 : 0));
  }
}

describe('npy round trips', () => {
  const shapes: number[][] = [[], [1], [5], [2, 3], [2, 3, 4], [0], [3, 0, 2], [1, 1, 1, 7]];
  for (const dtype of NPY_DTYPES) {
    for (const shape of shapes) {
      test(`${dtype} ${JSON.stringify(shape)}`, () => {
        const n = shape.reduce((a, b) => a * b, 1);
        const a: NpyArray = { dtype, shape, data: sample(dtype, n) };
        const bytes = writeNpy(a);
        expect(bytes.length % 64).toBe((n * a.data.BYTES_PER_ELEMENT) % 64); // header padded to 64
        const b = readNpy(bytes);
        expect(b.dtype).toBe(dtype);
        expect(b.shape).toEqual(shape);
        expect(b.data.constructor).toBe(a.data.constructor);
        expect(Array.from(b.data as ArrayLike<number | bigint>)).toEqual(Array.from(a.data as ArrayLike<number | bigint>));
        expect(writeNpy(b).equals(bytes)).toBe(true);
      });
    }
  }

  test('float16 keeps every bit pattern (NaN payloads, -0, Inf)', () => {
    const data = Uint16Array.from([0x0000, 0x8000, 0x7c00, 0xfc00, 0x7e01, 0x3555, 0x0001]);
    const b = readNpy(writeNpy({ dtype: 'float16', shape: [7], data }));
    expect(Array.from(b.data as Uint16Array)).toEqual(Array.from(data));
  });

  test('float values with special bits survive (NaN, -0, Inf, subnormal)', () => {
    const data = Float64Array.from([NaN, -0, Infinity, -Infinity, 5e-324]);
    const b = readNpy(writeNpy({ dtype: 'float64', shape: [5], data })).data as Float64Array;
    expect(Number.isNaN(b[0])).toBe(true);
    expect(Object.is(b[1], -0)).toBe(true);
    expect([b[2], b[3], b[4]]).toEqual([Infinity, -Infinity, 5e-324]);
  });

  test('bool writes nonzero as 1; Int8Array accepted for bool', () => {
    const bytes = writeNpy({ dtype: 'bool', shape: [3], data: Uint8Array.from([0, 7, 255]) });
    expect(Array.from(readNpy(bytes).data as Uint8Array)).toEqual([0, 1, 1]);
    expect(readNpy(writeNpy({ dtype: 'bool', shape: [2], data: Int8Array.from([0, -1]) })).data).toEqual(Uint8Array.from([0, 1]));
  });

  test('writes from a typed-array view at an odd offset', () => {
    const buf = new ArrayBuffer(4 + 12);
    new Float32Array(buf, 4, 3).set([1, 2, 3]);
    const view = new Float32Array(buf, 4, 3);
    const b = readNpy(writeNpy({ dtype: 'float32', shape: [3], data: view }));
    expect(Array.from(b.data as Float32Array)).toEqual([1, 2, 3]);
  });

  test('reads from a Buffer slice at an unaligned offset (data is copied and aligned)', () => {
    const bytes = writeNpy({ dtype: 'float64', shape: [2], data: Float64Array.from([1.5, -2.5]) });
    const big = Buffer.alloc(bytes.length + 3);
    bytes.copy(big, 3);
    const b = readNpy(big.subarray(3));
    expect(Array.from(b.data as Float64Array)).toEqual([1.5, -2.5]);
  });

  test('files: writeNpyFile then readNpyFile', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'npy-'));
    try {
      const f = path.join(dir, 'a.npy');
      writeNpyFile(f, { dtype: 'int32', shape: [2, 2], data: Int32Array.from([1, 2, 3, 4]) });
      const b = readNpyFile(f);
      expect(b).toEqual({ dtype: 'int32', shape: [2, 2], data: Int32Array.from([1, 2, 3, 4]) });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('npy: the exact bytes numpy.save writes', () => {
  // numpy's header: the dict text, 21 - len(str(shape[0])) growth spaces (none for 0-d), then spaces up to a
  // 128-byte total (10-byte prefix included) and a final '\n'. Spelled out here by hand, not via writeNpy.
  const numpyHeader = (dict: string): Buffer[] => [
    Buffer.from(dict, 'latin1'),
    Buffer.alloc(128 - 10 - dict.length - 1, 0x20),
    Buffer.from('\n'),
  ];
  // numpy.save(f, numpy.arange(6, dtype='<f4').reshape(2, 3)) with numpy 2.x: 10-byte prefix, header
  // "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 21 - len('2') = 20 growth spaces, then
  // padding to 128 bytes ending in '\n' (header length field 0x76 = 118), then 24 bytes of data.
  const numpyF32 = Buffer.concat([
    Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 0x01, 0x00, 0x76, 0x00]),
    ...numpyHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"),
    Buffer.from(Float32Array.from([0, 1, 2, 3, 4, 5]).buffer),
  ]);
  // numpy.save(f, numpy.array(7, dtype=numpy.int64)): 0-d, no growth space.
  const numpyScalar = Buffer.concat([
    Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 0x01, 0x00, 0x76, 0x00]),
    ...numpyHeader("{'descr': '<i8', 'fortran_order': False, 'shape': (), }"),
    Buffer.from([7, 0, 0, 0, 0, 0, 0, 0]),
  ]);
  // numpy.save(f, numpy.array([1.5, -2], dtype=numpy.float16)): 1-d shape spelled '(2,)'.
  const numpyF16 = Buffer.concat([
    Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 0x01, 0x00, 0x76, 0x00]),
    ...numpyHeader("{'descr': '<f2', 'fortran_order': False, 'shape': (2,), }"),
    Buffer.from([0x00, 0x3e, 0x00, 0xc0]),
  ]);
  // numpy.save(f, numpy.zeros((0, 3), dtype=bool)) and numpy.array([1, 2, 3], dtype=numpy.int8).
  const numpyEmptyBool = Buffer.concat([
    Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 0x01, 0x00, 0x76, 0x00]),
    ...numpyHeader("{'descr': '|b1', 'fortran_order': False, 'shape': (0, 3), }"),
  ]);
  const numpyI8 = Buffer.concat([
    Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 0x01, 0x00, 0x76, 0x00]),
    ...numpyHeader("{'descr': '|i1', 'fortran_order': False, 'shape': (3,), }"),
    Buffer.from([1, 2, 3]),
  ]);

  test('the hand-built files have the lengths numpy produces', () => {
    expect([numpyF32.length, numpyScalar.length, numpyF16.length, numpyEmptyBool.length, numpyI8.length])
      .toEqual([152, 136, 132, 128, 131]);
  });

  test('float32 (2, 3)', () => {
    const a = readNpy(numpyF32);
    expect(a).toEqual({ dtype: 'float32', shape: [2, 3], data: Float32Array.from([0, 1, 2, 3, 4, 5]) });
    expect(writeNpy(a).equals(numpyF32)).toBe(true);
  });
  test('int64 scalar', () => {
    const a = readNpy(numpyScalar);
    expect(a).toEqual({ dtype: 'int64', shape: [], data: BigInt64Array.from([7n]) });
    expect(writeNpy(a).equals(numpyScalar)).toBe(true);
  });
  test('float16 (2,)', () => {
    const a = readNpy(numpyF16);
    expect(a).toEqual({ dtype: 'float16', shape: [2], data: Uint16Array.from([0x3e00, 0xc000]) });
    expect(writeNpy(a).equals(numpyF16)).toBe(true);
  });
  test('bool (0, 3)', () => {
    const a = readNpy(numpyEmptyBool);
    expect(a).toEqual({ dtype: 'bool', shape: [0, 3], data: new Uint8Array(0) });
    expect(writeNpy(a).equals(numpyEmptyBool)).toBe(true);
  });
  test('int8 (3,)', () => {
    const a = readNpy(numpyI8);
    expect(a).toEqual({ dtype: 'int8', shape: [3], data: Int8Array.from([1, 2, 3]) });
    expect(writeNpy(a).equals(numpyI8)).toBe(true);
  });
});

describe('npy: other valid spellings', () => {
  test('version 2.0 and 3.0 headers', () => {
    const h = "{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }";
    for (const version of [2, 3]) {
      const a = readNpy(npyBytes(h, [1, 0, 0, 0, 2, 0, 0, 0], { version }));
      expect(a).toEqual({ dtype: 'int32', shape: [2], data: Int32Array.from([1, 2]) });
    }
  });
  test('old 16-byte-aligned header, keys in another order, double quotes, no trailing comma', () => {
    const h = '{"shape": (2,2), "fortran_order": False, "descr": "<f8"}';
    const a = readNpy(npyBytes(h, Array.from(Buffer.from(Float64Array.from([1, 2, 3, 4]).buffer)), { total: 80 }));
    expect(a.shape).toEqual([2, 2]);
    expect(Array.from(a.data as Float64Array)).toEqual([1, 2, 3, 4]);
  });
  test("Python 2 long dims ('3L') and list shape", () => {
    expect(readNpy(npyBytes("{'descr': '|u1', 'fortran_order': False, 'shape': (3L,), }", [1, 2, 3])).shape).toEqual([3]);
    expect(readNpy(npyBytes("{'descr': '|u1', 'fortran_order': False, 'shape': [1, 3], }", [1, 2, 3])).shape).toEqual([1, 3]);
  });
  if (os.endianness() !== 'LE') console.log("npy: the native-order '=' test is skipped: this host is big-endian");
  (os.endianness() === 'LE' ? test : test.skip)("native-order '=' and '<i1'/'|f4' descriptors on a little-endian host", () => {
    expect(readNpy(npyBytes("{'descr': '=f4', 'fortran_order': False, 'shape': (), }", [0, 0, 0x80, 0x3f])).data).toEqual(Float32Array.from([1]));
    expect(readNpy(npyBytes("{'descr': '<i1', 'fortran_order': False, 'shape': (1,), }", [0xff])).data).toEqual(Int8Array.from([-1]));
  });
  test('writes a version 2.0 header when it does not fit 65535 bytes', () => {
    // No such array is realistic; check via a very high-rank shape of ones.
    const shape = new Array(30000).fill(1);
    const bytes = writeNpy({ dtype: 'uint8', shape, data: Uint8Array.from([9]) });
    expect(bytes[6]).toBe(2);
    expect((bytes.length - 1) % 64).toBe(0);
    const a = readNpy(bytes);
    expect(a.shape.length).toBe(30000);
    expect(a.data).toEqual(Uint8Array.from([9]));
  });
});

describe('npy errors', () => {
  const good = writeNpy({ dtype: 'float32', shape: [2, 3], data: new Float32Array(6) });
  const h = (descr: string, fortran: string, shape: string) =>
    `{'descr': ${descr}, 'fortran_order': ${fortran}, 'shape': ${shape}, }`;

  test('too short / wrong magic / bad version', () => {
    expectInvalid(() => readNpy(new Uint8Array(0)), /not a \.npy file \(only 0 bytes/);
    expectInvalid(() => readNpy(good.subarray(0, 9)), /only 9 bytes/);
    const wrong = Buffer.from(good);
    wrong[1] = 0x4f;
    expectInvalid(() => readNpy(wrong), /missing the \\x93NUMPY magic/);
    const v = Buffer.from(good);
    v[6] = 4;
    expectInvalid(() => readNpy(v), /unsupported \.npy format version 4\.0/);
    v[6] = 1;
    v[7] = 1;
    expectInvalid(() => readNpy(v), /version 1\.1/);
    expectInvalid(() => readNpy(Buffer.from('PK\x03\x04 a zip file, maybe .npz')), /magic/);
  });

  test('truncated header', () => {
    expectInvalid(() => readNpy(good.subarray(0, 60)), /truncated header \(declares 118 bytes, the file has 50/);
    const v2 = npyBytes(h("'<f4'", 'False', '()'), [0, 0, 0, 0], { version: 2 });
    expectInvalid(() => readNpy(v2.subarray(0, 11)), /truncated header/);
  });

  test('truncated or over-long data', () => {
    expectInvalid(() => readNpy(good.subarray(0, good.length - 1)), /truncated data: shape \(2, 3\) of float32 needs 24 bytes, the file has 23/);
    expectInvalid(() => readNpy(Buffer.concat([good, Buffer.from([0])])), /1 unexpected bytes after the data/);
  });

  test('malformed header dicts', () => {
    const cases: [string, RegExp][] = [
      ["{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), ", /malformed header/],
      ["{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)} x", /unexpected text after the dict/],
      ["{'descr': '<f4, 'fortran_order': False, 'shape': (2, 3)}", /malformed header/],
      ["{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2, 3)}", /expected a string, True, False or a tuple/],
      ["{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3)}", /non-negative integer/],
      ["{'descr': '<f4', 'fortran_order': False, 'shape': (2.5,)}", /expected ',' or '\)'/],
      ["{'descr': '<f4', 'fortran_order': False, 'shape': (6)}", /trailing comma/],
      ["{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (6,)}", /duplicate key 'descr'/],
      ["{'descr': '<f4', 'shape': (6,)}", /exactly the keys 'descr', 'fortran_order' and 'shape'; got 'descr', 'shape'/],
      ["{'descr': '<f4', 'fortran_order': False, 'shape': (6,), 'extra': 1}", /expected a string, True, False/],
      ["{'descr': '<f4', 'fortran_order': False, 'shape': (6,), 'extra': True}", /exactly the keys/],
      ["{'descr': '<f4', 'fortran_order': 'no', 'shape': (6,)}", /'fortran_order' must be True or False/],
      ["{'descr': '<f4', 'fortran_order': False, 'shape': '6'}", /'shape' must be a tuple/],
      ["{'descr': [('x', '<f4')], 'fortran_order': False, 'shape': (6,)}", /expected a non-negative integer|structured/],
      ["{'descr': ('<f4',), 'fortran_order': False, 'shape': (6,)}", /malformed header|structured/],
      ['[1, 2]', /expected '\{'/],
      ["{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}", /too large/],
    ];
    for (const [header, re] of cases) expectInvalid(() => readNpy(npyBytes(header, [])), re);
  });

  test('unsupported dtypes, byte order and Fortran order', () => {
    expectInvalid(() => readNpy(npyBytes(h("'>f4'", 'False', '(1,)'), [0, 0, 0, 0])), /big-endian data \('>f4'\) is not supported/);
    expectInvalid(() => readNpy(npyBytes(h("'<u2'", 'False', '(1,)'), [0, 0])), /unsupported dtype '<u2'; supported: float16 \('<f2'\)/);
    expectInvalid(() => readNpy(npyBytes(h("'<c8'", 'False', '(1,)'), [])), /unsupported dtype '<c8'/);
    expectInvalid(() => readNpy(npyBytes(h("'|O'", 'False', '(1,)'), [])), /unsupported dtype descriptor '\|O'/);
    expectInvalid(() => readNpy(npyBytes(h("'<U5'", 'False', '(1,)'), [])), /unsupported dtype '<U5'/);
    expectInvalid(() => readNpy(npyBytes(h("'<f4'", 'True', '(2, 2)'), new Array(16).fill(0))), /Fortran-order .* not supported/);
  });

  test('version 3 header that is not UTF-8', () => {
    const b = npyBytes(h("'<f4'", 'False', '()'), [0, 0, 0, 0], { version: 3 });
    b[12 + 1] = 0xff;
    expectInvalid(() => readNpy(b), /not valid UTF-8/);
  });

  test('file errors', () => {
    let err: unknown;
    try {
      readNpyFile('/nonexistent/x.npy');
    } catch (e) {
      err = e;
    }
    expect((err as TensorRTError).code).toBe('IO_ERROR');
    expect((err as Error).message).toMatch(/cannot read \/nonexistent\/x\.npy: ENOENT/);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'npy-'));
    try {
      const f = path.join(dir, 'bad.npy');
      fs.writeFileSync(f, 'hello');
      expectInvalid(() => readNpyFile(f), new RegExp(`${f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: not a \\.npy file`));
      expect(() => writeNpyFile(path.join(dir, 'no', 'such', 'dir.npy'), { dtype: 'uint8', shape: [0], data: new Uint8Array(0) }))
        .toThrow(/cannot write/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    expectInvalid(() => readNpyFile(''), /non-empty string/);
  });

  test('writeNpy argument validation', () => {
    expectInvalid(() => writeNpy(null as unknown as NpyArray), /expected an object/);
    expectInvalid(() => writeNpy({ dtype: 'bfloat16' as NpyDType, shape: [1], data: new Uint16Array(1) }), /dtype must be one of float16, float32/);
    expectInvalid(() => writeNpy({ dtype: 'float32', shape: [2, -1], data: new Float32Array(2) }), /non-negative integers/);
    expectInvalid(() => writeNpy({ dtype: 'float32', shape: [1.5], data: new Float32Array(2) }), /non-negative integers/);
    expectInvalid(() => writeNpy({ dtype: 'float32', shape: [3], data: new Float32Array(2) }), /holds 3 elements but data has 2/);
    expectInvalid(() => writeNpy({ dtype: 'float32', shape: [2], data: new Float64Array(2) }), /float32 data must be a Float32Array; got Float64Array/);
    expectInvalid(() => writeNpy({ dtype: 'float16', shape: [2], data: new Float32Array(2) }), /Uint16Array of half-precision bit patterns/);
    expectInvalid(() => writeNpy({ dtype: 'int64', shape: [2], data: [1, 2] as unknown as BigInt64Array }), /got Array/);
  });
});
