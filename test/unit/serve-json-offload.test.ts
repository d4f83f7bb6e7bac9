/**
 * Large JSON bodies parsed in a worker thread (lib/serve/json-offload.ts, issue 25.6): the packed lists it sends
 * back decode to exactly what the plain lists decode to — the same tensors, and for every mistake the same error
 * code and message — on both protocols (KServe v2 `data`, TF Serving row and columnar forms). Each body below is
 * decoded twice: parsed on this thread (parseJsonBody) and parsed by the worker (parseJsonOffThread, used for
 * bodies of 1 MiB or more; called directly here, so small bodies take that road too).
 */
import { TensorRTError } from '../../lib/errors';
import { holdJsonWorkers, isPacked, parseJsonOffThread } from '../../lib/serve/json-offload';
import { decodeInfer } from '../../lib/serve/protocols/kserve-v2';
import { decodePredict } from '../../lib/serve/protocols/tfserving';
import type { ModelVersion } from '../../lib/serve/repository';
import { MAX_NESTING, parseJsonBody, type TensorSpec } from '../../lib/serve/tensor';

const release = holdJsonWorkers();
afterAll(() => release());

/** The part of a ModelVersion the decoders read: its inputs and outputs. */
function model(inputs: TensorSpec[]): ModelVersion {
  return { model: 'm', version: 1, backend: { inputs, outputs: [{ name: 'y', dtype: 'float32', shape: [-1] }] } } as unknown as ModelVersion;
}

type Outcome = { ok: true; tensors: Record<string, { dtype: string; shape: number[]; data: unknown[] }>; row?: boolean } | { ok: false; code: string; message: string };

function outcome(run: () => { tensors: Record<string, { dtype: string; shape: number[]; data: ArrayLike<unknown> }>; row?: boolean }): Outcome {
  try {
    const r = run();
    const tensors = Object.fromEntries(Object.entries(r.tensors).map(([k, t]) => [k, { dtype: t.dtype, shape: t.shape, data: Array.from(t.data) }]));
    return { ok: true, tensors, ...(r.row === undefined ? {} : { row: r.row }) };
  } catch (e) {
    if (!(e instanceof TensorRTError)) throw e;
    return { ok: false, code: e.code, message: e.message };
  }
}

async function both(body: unknown, decode: (b: Record<string, unknown>) => ReturnType<Parameters<typeof outcome>[0]>): Promise<[Outcome, Outcome]> {
  const bytes = Buffer.from(JSON.stringify(body));
  const here = outcome(() => decode(parseJsonBody(bytes)));
  const off = await parseJsonOffThread(Buffer.from(bytes), 'the request body', MAX_NESTING);
  expect(packedCount(off)).toBeGreaterThan(0); // the worker's road was taken: something came back packed
  return [here, outcome(() => decode(off as Record<string, unknown>))];
}

function packedCount(v: unknown): number {
  if (isPacked(v)) return 1;
  if (v !== null && typeof v === 'object') return Object.values(v).reduce<number>((a, x) => a + packedCount(x), 0);
  return 0;
}

const range = (n: number, f: (i: number) => unknown = (i) => i / 4) => Array.from({ length: n }, (_, i) => f(i));
const rows = (r: number, c: number, f: (i: number) => unknown = (i) => i / 4) => range(r, (i) => range(c, (j) => f(i * c + j)));

const F32: TensorSpec = { name: 'x', dtype: 'float32', shape: [-1, 300] };
const kserve = (spec: TensorSpec, datatype: string, shape: number[], data: unknown) => ({
  body: { inputs: [{ name: spec.name, datatype, shape, data }] },
  decode: (b: Record<string, unknown>) => decodeInfer(b as Parameters<typeof decodeInfer>[0], null, model([spec])),
});

describe('the worker packs large numeric lists; decoding them equals decoding the lists', () => {
  test('a packed list comes back as its shape and a transferred Float64Array / Uint8Array', async () => {
    const v = (await parseJsonOffThread(Buffer.from(JSON.stringify({ a: rows(2, 300), b: range(300, (i) => i % 2 === 0), small: [1, 2, 3], shape: range(300) })), 'the body', MAX_NESTING)) as Record<string, unknown>;
    expect(isPacked(v.a) && v.a.shape).toEqual([2, 300]);
    expect(isPacked(v.a) && v.a.data.constructor.name).toBe('Float64Array'); // (another realm's Float64Array: by name)
    expect(isPacked(v.b) && [v.b.bool, v.b.data.constructor.name]).toEqual([true, 'Uint8Array']);
    expect(v.small).toEqual([1, 2, 3]); // below the packing size: a plain list
    expect(Array.isArray(v.shape)).toBe(true); // a `shape` is never packed
  });

  const cases: [string, { body: unknown; decode: (b: Record<string, unknown>) => ReturnType<Parameters<typeof outcome>[0]> }][] = [
    ['KServe FP32 flat', kserve(F32, 'FP32', [2, 300], range(600))],
    ['KServe FP32 nested', kserve(F32, 'FP32', [2, 300], rows(2, 300))],
    ['KServe FP16', kserve({ name: 'x', dtype: 'float16', shape: [-1, 300] }, 'FP16', [1, 300], range(300, (i) => i * 0.37 - 40))],
    ['KServe INT32', kserve({ name: 'x', dtype: 'int32', shape: [-1, 300] }, 'INT32', [1, 300], range(300, (i) => i * 7 - 1000))],
    ['KServe INT32 out of range', kserve({ name: 'x', dtype: 'int32', shape: [-1, 300] }, 'INT32', [1, 300], range(300, (i) => (i === 123 ? 2 ** 31 : i)))],
    ['KServe INT32 not an integer', kserve({ name: 'x', dtype: 'int32', shape: [-1, 300] }, 'INT32', [1, 300], range(300, (i) => (i === 5 ? 1.5 : i)))],
    ['KServe INT64', kserve({ name: 'x', dtype: 'int64', shape: [-1, 300] }, 'INT64', [1, 300], range(300, (i) => i * 1e9 - 7))],
    ['KServe UINT8 out of range', kserve({ name: 'x', dtype: 'uint8', shape: [-1, 300] }, 'UINT8', [1, 300], range(300, (i) => i))],
    ['KServe BOOL as booleans', kserve({ name: 'x', dtype: 'bool', shape: [-1, 300] }, 'BOOL', [1, 300], range(300, (i) => i % 3 === 0))],
    ['KServe BOOL as 0/1', kserve({ name: 'x', dtype: 'bool', shape: [-1, 300] }, 'BOOL', [1, 300], range(300, (i) => i % 2))],
    ['KServe BOOL given 2', kserve({ name: 'x', dtype: 'bool', shape: [-1, 300] }, 'BOOL', [1, 300], range(300, (i) => (i === 9 ? 2 : 0)))],
    ['KServe FP32 given booleans (flat)', kserve(F32, 'FP32', [1, 300], range(300, () => true))],
    ['KServe FP32 given booleans (nested)', kserve(F32, 'FP32', [1, 300], rows(1, 300, () => false))],
    ['KServe FP32 ragged', kserve(F32, 'FP32', [2, 300], [range(300), range(299)])],
    ['KServe FP32 too few values', kserve(F32, 'FP32', [2, 300], range(599))],
    ['KServe FP32 a string among numbers', kserve(F32, 'FP32', [2, 300], [range(300), range(300, (i) => (i === 299 ? '1' : i))])],
    ['TF Serving row, one unnamed input', { body: { instances: rows(3, 300) }, decode: (b) => decodePredict(b, model([F32])) }],
    ['TF Serving row, ragged instances', { body: { instances: [range(300), range(300), range(301)] }, decode: (b) => decodePredict(b, model([F32])) }],
    ['TF Serving row, named instances', {
      body: { instances: [{ x: range(300), k: range(256, (i) => i) }, { x: range(300), k: range(256, (i) => -i) }] },
      decode: (b) => decodePredict(b, model([F32, { name: 'k', dtype: 'int64', shape: [-1, 256] }])),
    }],
    ['TF Serving row, unnamed for a two-input model', {
      body: { instances: rows(2, 300) },
      decode: (b) => decodePredict(b, model([F32, { name: 'k', dtype: 'int64', shape: [-1, 256] }])),
    }],
    ['TF Serving columnar, unnamed', { body: { inputs: rows(2, 300) }, decode: (b) => decodePredict(b, model([F32])) }],
    ['TF Serving columnar, named', { body: { inputs: { x: rows(2, 300) } }, decode: (b) => decodePredict(b, model([F32])) }],
    ['TF Serving columnar, booleans for FP32', { body: { inputs: { x: rows(2, 300, () => true) } }, decode: (b) => decodePredict(b, model([F32])) }],
    ['TF Serving columnar, nested 70 deep', {
      body: { inputs: { x: range(69).reduce<unknown>((a) => [a], range(300)) } },
      decode: (b) => decodePredict(b, model([F32])),
    }],
  ];
  test.each(cases)('%s: same tensors or the same error', async (_name, c) => {
    const [here, off] = await both(c.body, c.decode);
    expect(off).toEqual(here);
  });

  test('the cases above cover both outcomes', async () => {
    const oks = await Promise.all(cases.map(async ([, c]) => (await both(c.body, c.decode))[0].ok));
    expect([oks.filter((x) => x).length, oks.filter((x) => !x).length]).toEqual([11, 13]);
  });

  test('bad JSON and lists nested past the limit: INVALID_ARGUMENT with the words parseJsonBody uses', async () => {
    const bad = Buffer.from('{"inputs": [1, 2,');
    let here = '';
    try {
      parseJsonBody(Buffer.from(bad));
    } catch (e) {
      here = (e as Error).message;
    }
    await expect(parseJsonOffThread(bad, 'the request body', MAX_NESTING)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: here });
    const deep = Buffer.from(`{"a": ${'['.repeat(10000)}1${']'.repeat(10000)}}`);
    await expect(parseJsonOffThread(deep, 'the request body', MAX_NESTING)).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT', message: `the request body: lists nested deeper than ${MAX_NESTING} levels (a tensor's rank is far lower)`,
    });
  });
});
