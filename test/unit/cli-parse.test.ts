import { UsageError } from '../../lib/cli/common';
import {
  buildProfile, fileNameFor, formatBytes, formatCount, formatMs, latencyStats, parseDims, parseDuration,
  parseInputSpec, parseIntOption, parseMemPoolSize, parseShapes, parseSize, percentile,
} from '../../lib/cli/parse';
import {
  bf16ToFloat, checkNpyInput, floatToHalf, halfToFloat, makeRng, npyDtypeOf, randomData, resolveInputShapes, valueStats,
  type TensorInfo,
} from '../../lib/cli/tensors';

function usage(fn: () => unknown, re: RegExp): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(UsageError);
  expect((err as Error).message).toMatch(re);
  expect((err as Error).message).not.toContain('\n');
}

describe('shapes (trtexec syntax)', () => {
  test('dims', () => {
    expect(parseDims('1x3x224x224')).toEqual([1, 3, 224, 224]);
    expect(parseDims('7')).toEqual([7]);
    expect(parseDims('0x5')).toEqual([0, 5]);
    expect(parseDims('')).toEqual([]);
    usage(() => parseDims('1x-3'), /dimension '-3' is not a non-negative integer/);
    usage(() => parseDims('1x3x'), /dimension '' is not/);
    usage(() => parseDims('1*3'), /is not a shape like 1x3x224x224/);
    usage(() => parseDims('1x2.5'), /dimension '2.5'/);
    usage(() => parseDims('99999999999'), /larger than 2147483647/);
  });
  test('lists, quoting, repeats', () => {
    expect(parseShapes('input:1x3x224x224')).toEqual({ input: [1, 3, 224, 224] });
    expect(parseShapes('a:1x2,b:3')).toEqual({ a: [1, 2], b: [3] });
    expect(parseShapes(" a:1 , b:2 ")).toEqual({ a: [1], b: [2] });
    expect(parseShapes("'input:0':1x3")).toEqual({ 'input:0': [1, 3] });
    expect(parseShapes('input:0:1x3')).toEqual({ 'input:0': [1, 3] }); // split at the last ':'
    expect(parseShapes("'a,b':2")).toEqual({ 'a,b': [2] });
    expect(parseShapes('scalar:')).toEqual({ scalar: [] });
    expect(parseShapes('b:2', { a: [1] })).toEqual({ a: [1], b: [2] });
    usage(() => parseShapes(''), /--shapes: empty shape list/);
    usage(() => parseShapes('input'), /'input' is not of the form name:value \(e\.g\. input:1x3x224x224\)/);
    usage(() => parseShapes(':1x3'), /not of the form name:value/);
    usage(() => parseShapes("'x:1x3"), /unterminated quote/);
    usage(() => parseShapes("'x'1x3"), /expected ':' after the quoted name/);
    usage(() => parseShapes('a:1,a:2'), /shape of 'a' given twice/);
    usage(() => parseShapes('a:2', { a: [1] }, '--minShapes'), /--minShapes: shape of 'a' given twice/);
    usage(() => parseShapes('a:1xq', {}, '--optShapes'), /--optShapes a: '1xq'/);
  });
  test('profiles', () => {
    expect(buildProfile({})).toBeNull();
    expect(buildProfile({ shapes: { x: [1, 3] } })).toEqual({ x: { min: [1, 3], opt: [1, 3], max: [1, 3] } });
    expect(buildProfile({ minShapes: { x: [1, 3] }, optShapes: { x: [4, 3] }, maxShapes: { x: [8, 3] } }))
      .toEqual({ x: { min: [1, 3], opt: [4, 3], max: [8, 3] } });
    expect(buildProfile({ optShapes: { x: [4, 3] } })).toEqual({ x: { min: [4, 3], opt: [4, 3], max: [4, 3] } });
    expect(buildProfile({ optShapes: { x: [4] }, maxShapes: { x: [9] }, shapes: { y: [2] } }))
      .toEqual({ y: { min: [2], opt: [2], max: [2] }, x: { min: [4], opt: [4], max: [9] } });
    usage(() => buildProfile({ minShapes: { x: [1] }, maxShapes: { x: [2] } }), /'x' has --minShapes\/--maxShapes but no --optShapes/);
    usage(() => buildProfile({ optShapes: { x: [1, 2] }, maxShapes: { x: [2] } }), /same rank/);
    usage(() => buildProfile({ minShapes: { x: [5] }, optShapes: { x: [4] } }), /min <= opt <= max; got 5, 4, 4/);
    usage(() => buildProfile({ optShapes: { x: [4] }, maxShapes: { x: [3] } }), /got 4, 4, 3/);
    usage(() => buildProfile({ shapes: { x: [1] }, optShapes: { x: [1] } }), /both in --shapes and in --minShapes/);
  });
});

describe('sizes and memory pools', () => {
  test('parseSize: base-2 suffixes, MiB by default', () => {
    expect(parseSize('4096M')).toBe(4096 * 2 ** 20);
    expect(parseSize('4G')).toBe(4 * 2 ** 30);
    expect(parseSize('512K')).toBe(512 * 1024);
    expect(parseSize('1024B')).toBe(1024);
    expect(parseSize('64')).toBe(64 * 2 ** 20);
    expect(parseSize('0.5G')).toBe(2 ** 29);
    expect(parseSize('2g')).toBe(2 * 2 ** 30);
    expect(parseSize('1GiB')).toBe(2 ** 30);
    expect(parseSize('1T')).toBe(2 ** 40);
    usage(() => parseSize('lots'), /'lots' is not a size like 4096M/);
    usage(() => parseSize('-1M'), /not a size/);
    usage(() => parseSize('4X'), /not a size/);
    usage(() => parseSize('99999999999T'), /too large/);
  });
  test('--memPoolSize', () => {
    expect(parseMemPoolSize('workspace:4096M')).toEqual({ workspace: 2 ** 32 });
    expect(parseMemPoolSize('workspace:1G,dlaSRAM:1M,tacticSharedMem:48K')).toEqual({
      workspace: 2 ** 30, dlaManagedSram: 2 ** 20, tacticSharedMemory: 48 * 1024,
    });
    expect(parseMemPoolSize('dlaLocalDRAM:1G,dlaGlobalDRAM:2G')).toEqual({ dlaLocalDram: 2 ** 30, dlaGlobalDram: 2 ** 31 });
    expect(parseMemPoolSize('tacticDram:1G', { workspace: 1 })).toEqual({ workspace: 1, tacticDram: 2 ** 30 });
    usage(() => parseMemPoolSize('gpu:1G'), /unknown memory pool 'gpu'; known: workspace, dlaSRAM/);
    usage(() => parseMemPoolSize('workspace'), /not of the form name:value \(e\.g\. workspace:4096M\)/);
    usage(() => parseMemPoolSize('workspace:1G,workspace:2G'), /pool 'workspace' given twice/);
    usage(() => parseMemPoolSize('workspace:big'), /--memPoolSize workspace: 'big' is not a size/);
    usage(() => parseMemPoolSize(''), /empty/);
  });
});

describe('other options', () => {
  test('integers', () => {
    const p = parseIntOption('--builderOptimizationLevel', 0, 5);
    expect(p('3')).toBe(3);
    expect(p('0')).toBe(0);
    usage(() => p('6'), /--builderOptimizationLevel: 6 is out of range \(0 to 5\)/);
    usage(() => p('-1'), /out of range/);
    usage(() => p('2.5'), /'2\.5' is not an integer/);
    usage(() => p('x'), /not an integer/);
    usage(() => parseIntOption('--iterations', 1)('0'), /at least 1/);
  });
  test('durations', () => {
    const d = parseDuration('--duration');
    expect(d('3')).toBe(3000);
    expect(d('0.5s')).toBe(500);
    expect(d('250ms')).toBe(250);
    usage(() => d('soon'), /not a duration/);
  });
  test('--input specs', () => {
    expect(parseInputSpec('x=a.npy')).toEqual([{ name: 'x', file: 'a.npy' }]);
    expect(parseInputSpec('x=a.npy,y=dir/b.npy')).toEqual([{ name: 'x', file: 'a.npy' }, { name: 'y', file: 'dir/b.npy' }]);
    expect(parseInputSpec('y:b.npy', [{ name: 'x', file: 'a.npy' }])).toHaveLength(2);
    expect(parseInputSpec("'in:0'=a.npy")).toEqual([{ name: 'in:0', file: 'a.npy' }]);
    expect(parseInputSpec('in:0=a.npy')).toEqual([{ name: 'in:0', file: 'a.npy' }]);
    usage(() => parseInputSpec('a.npy'), /'a\.npy' is not of the form name=file\.npy/);
    usage(() => parseInputSpec('x='), /not of the form/);
    usage(() => parseInputSpec('=a.npy'), /not of the form/);
    usage(() => parseInputSpec('x=a.npy,x=b.npy'), /'x' given twice/);
  });
  test('file names and formatting', () => {
    expect(fileNameFor('output:0')).toBe('output_0');
    expect(fileNameFor('a/b\\c d')).toBe('a_b_c_d');
    expect(fileNameFor('..')).toBe('_');
    expect(fileNameFor('.hidden')).toBe('_hidden');
    expect(fileNameFor('')).toBe('_');
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.50 KiB');
    expect(formatBytes(5 * 2 ** 30)).toBe('5.00 GiB');
    expect(formatMs(1234)).toBe('1.23 s');
    expect(formatMs(12.5)).toBe('12.50 ms');
    expect(formatMs(0.25)).toBe('250.0 µs');
    expect(formatCount(1234567)).toBe('1,234,567');
  });
});

describe('latency statistics (trtexec conventions)', () => {
  test('nearest-rank percentiles and median', () => {
    const s = Array.from({ length: 100 }, (_, i) => i + 1); // 1..100
    expect(percentile(s, 90)).toBe(90);
    expect(percentile(s, 99)).toBe(99);
    expect(percentile(s, 100)).toBe(100);
    expect(percentile(s, 0)).toBe(1);
    const st = latencyStats([...s].reverse());
    expect(st).toEqual({ count: 100, min: 1, max: 100, mean: 50.5, median: 50.5, p90: 90, p95: 95, p99: 99 });
    expect(latencyStats([3, 1, 2])).toMatchObject({ median: 2, p90: 3, p99: 3, min: 1, max: 3, mean: 2 });
    expect(latencyStats([5])).toMatchObject({ median: 5, p90: 5, p99: 5 });
    expect(() => latencyStats([])).toThrow(RangeError);
  });
});

describe('tensors', () => {
  const inputs: TensorInfo[] = [
    { name: 'x', mode: 'input', dtype: 'float32', shape: [-1, 3, 48, -1], profiles: [{ min: [1, 3, 48, 16], opt: [4, 3, 48, 192], max: [8, 3, 48, 320] }] },
    { name: 'ids', mode: 'input', dtype: 'int32', shape: [2, 5] },
  ];
  test('shapes: given, static, profile opt', () => {
    expect(resolveInputShapes(inputs, {})).toEqual({ x: [4, 3, 48, 192], ids: [2, 5] });
    expect(resolveInputShapes(inputs, { x: [2, 3, 48, 100] })).toEqual({ x: [2, 3, 48, 100], ids: [2, 5] });
    usage(() => resolveInputShapes(inputs, { y: [1] }), /no input named 'y' \(inputs: x, ids\)/);
    usage(() => resolveInputShapes(inputs, { x: [1, 3, 48] }), /input 'x' has rank 4/);
    usage(() => resolveInputShapes(inputs, { x: [1, 4, 48, 100] }), /fixed dimension 1 of 3/);
    usage(() => resolveInputShapes(inputs, { x: [9, 3, 48, 100] }), /outside optimization profile 0 \(min 1x3x48x16, max 8x3x48x320\)/);
    usage(() => resolveInputShapes([{ name: 'z', mode: 'input', dtype: 'float32', shape: [-1] }], {}), /dynamic shape -1: give it with --shapes z:/);
  });
  test('half precision', () => {
    for (const v of [0, 1, -2, 0.5, 65504, 6.103515625e-5, 5.960464477539063e-8, -0.333251953125]) {
      expect(halfToFloat(floatToHalf(v))).toBe(v);
    }
    expect(floatToHalf(1)).toBe(0x3c00);
    expect(floatToHalf(-2)).toBe(0xc000);
    expect(floatToHalf(1e6)).toBe(0x7c00);
    expect(floatToHalf(-Infinity)).toBe(0xfc00);
    expect(Number.isNaN(halfToFloat(floatToHalf(NaN)))).toBe(true);
    expect(floatToHalf(1e-9)).toBe(0);
    expect(floatToHalf(1 + 2 ** -11)).toBe(0x3c00); // tie -> even
    expect(floatToHalf(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(floatToHalf(65520)).toBe(0x7c00); // rounds up to Inf
    expect(bf16ToFloat(0x3f80)).toBe(1);
    expect(bf16ToFloat(0xc000)).toBe(-2);
  });
  test('random data has the right type, size and range; the seed reproduces it', () => {
    const r = () => makeRng(42);
    const f = randomData('float32', 1000, r()) as Float32Array;
    expect(f).toBeInstanceOf(Float32Array);
    expect(f.length).toBe(1000);
    expect(Math.min(...f)).toBeGreaterThanOrEqual(-1);
    expect(Math.max(...f)).toBeLessThan(1);
    expect(randomData('float32', 10, r())).toEqual(randomData('float32', 10, r()));
    expect(randomData('float32', 10, makeRng(1))).not.toEqual(randomData('float32', 10, makeRng(2)));
    expect(randomData('float16', 3, r())).toBeInstanceOf(Uint16Array);
    expect(randomData('bfloat16', 3, r())).toBeInstanceOf(Uint16Array);
    expect(randomData('int8', 3, r())).toBeInstanceOf(Int8Array);
    expect(randomData('uint8', 3, r())).toBeInstanceOf(Uint8Array);
    const b = randomData('bool', 100, r());
    expect([...b].every((v) => v === 0 || v === 1)).toBe(true);
    const i32 = randomData('int32', 100, r());
    expect([...i32].every((v) => (v as number) >= 0 && (v as number) < 8)).toBe(true);
    expect(randomData('int64', 2, r())).toBeInstanceOf(BigInt64Array);
    usage(() => randomData('int4', 2, r()), /cannot generate random data of type int4/);
  });
  test('npy inputs and output stats', () => {
    expect(npyDtypeOf('float16')).toBe('float16');
    expect(npyDtypeOf('bfloat16')).toBeNull();
    const t = inputs[0];
    usage(() => checkNpyInput(t, { dtype: 'float64', shape: [1], data: new Float64Array(1) }, 'a.npy'), /a\.npy: input 'x' is float32 but the file holds float64/);
    expect(checkNpyInput(t, { dtype: 'float32', shape: [1, 3, 48, 20], data: new Float32Array(2880) }, 'a.npy').shape).toEqual([1, 3, 48, 20]);
    expect(valueStats('float32', Float32Array.from([1, NaN, -3, 5]))).toEqual({ min: -3, max: 5, mean: 1, nan: 1 });
    expect(valueStats('float16', Uint16Array.from([0x3c00, 0xc000]))).toEqual({ min: -2, max: 1, mean: -0.5, nan: 0 });
    expect(valueStats('int64', BigInt64Array.from([2n, 4n]))).toEqual({ min: 2, max: 4, mean: 3, nan: 0 });
    expect(valueStats('float32', new Float32Array(0))).toBeNull();
  });
});
