/**
 * @jest-environment ./test/unit/quantize.environment.js
 */
/**
 * `tensorrt-node convert` on inputs it must refuse, run as a child process as a user would (issue 25 item 7,
 * issue 26 item 8): `--inputs` shapes that contradict the graph, a malformed shape, a graph without nodes, and
 * broken TF.js artifacts (a negative weight shape, a null node, a Const whose weight the manifest lacks, a
 * quantization scale that is not a number). Each exits 1 with one line ending in its code and leaves no file
 * behind. Oracle for the accepted case: onnxruntime-node loads and runs the converted model.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { A, GraphBuilder } from './helpers/tf-graph';
import { seeded } from './helpers/tf-models';
import { cliProcess, type CliResult } from './helpers/cli-process';

let ort: typeof import('onnxruntime-node') | null = null;
try {
   
  ort = require('onnxruntime-node') as typeof import('onnxruntime-node');
} catch {
  console.log('convert faults: the onnxruntime-node checks are skipped: onnxruntime-node (optional dependency) is not installed');
}

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'convert-faults-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A ?x8x8x3 NHWC conv model, as TF.js writes it. */
function conv(): GraphBuilder {
  const g = new GraphBuilder();
  const x = g.input('input', [-1, 8, 8, 3]);
  const w = g.const('w', seeded(3 * 3 * 3 * 4, 1, -1, 1), [3, 3, 3, 4]);
  const c = g.op('conv', 'Conv2D', [x, w], { T: A.type('DT_FLOAT'), data_format: A.s('NHWC'), strides: A.ints([1, 1, 1, 1]), padding: A.s('SAME') });
  g.op('out', 'Relu', [c], { T: A.type('DT_FLOAT') });
  return g;
}

type ModelJson = { format: string; modelTopology: { node: unknown[]; versions?: unknown }; weightsManifest: { paths: string[]; weights: Record<string, unknown>[] }[] };

function write(g: GraphBuilder, edit: (j: ModelJson) => void = () => {}): string {
  const a = g.artifacts();
  fs.writeFileSync(path.join(dir, 'w.bin'), a.weightData);
  const j: ModelJson = { format: 'graph-model', modelTopology: a.modelTopology as ModelJson['modelTopology'], weightsManifest: [{ paths: ['w.bin'], weights: a.weightSpecs as unknown as Record<string, unknown>[] }] };
  edit(j);
  fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(j));
  return path.join(dir, 'model.json');
}

/** The one error line's code (exit 1, one line, `tensorrt-node convert: ... [CODE]`), and nothing written. */
function refused(r: CliResult, code: string): string {
  const lines = r.stderr.trimEnd().split('\n');
  expect({ status: r.status, lines: lines.length }).toEqual({ status: 1, lines: 1 });
  expect(lines[0]).toMatch(new RegExp(`^tensorrt-node convert: .* \\[${code}\\]$`));
  expect(fs.readdirSync(dir).sort()).toEqual(['model.json', 'w.bin']);
  return lines[0]!;
}

const convert = (m: string, ...more: string[]) => cliProcess(['convert', m, '-o', path.join(dir, 'out.onnx'), ...more]);

describe('--inputs shapes are checked against the graph (issue 25.7)', () => {
  test('a shape of the right rank and fixed dimensions converts, and onnxruntime runs it', async () => {
    const m = write(conv());
    const r = await convert(m, '--inputs', 'input:2x8x8x3');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    if (!ort) return void console.log('skipped: running the converted model needs onnxruntime-node');
    const s = await ort.InferenceSession.create(path.join(dir, 'out.onnx'));
    const y = await s.run({ input: new ort.Tensor('float32', seeded(2 * 8 * 8 * 3, 3), [2, 8, 8, 3]) });
    expect(y.out!.dims).toEqual([2, 8, 8, 4]);
  });

  test.each([
    ['a rank the graph does not have', 'input:1x8', /input: --inputs gives shape 1x8, the graph's is \?x8x8x3 \(rank 2, not 4\)/],
    ['a fixed dimension changed', 'input:1x8x8x4', /input: --inputs gives shape 1x8x8x4, the graph's is \?x8x8x3 \(dimension 3\)/],
  ])('%s is INVALID_ARGUMENT naming the input and both shapes', async (_what, spec, message) => {
    const m = write(conv());
    expect(refused(await convert(m, '--inputs', spec), 'INVALID_ARGUMENT')).toMatch(message);
  });

  test.each([['axbxc'], ['1x?x'], ['1xx3'], ['1.5x8x8x3']])('a malformed shape "%s" is reported as one, not as an unknown node', async (shape) => {
    const m = write(conv());
    const line = refused(await convert(m, '--inputs', `input:${shape}`), 'INVALID_ARGUMENT');
    expect(line).toContain(`malformed shape "${shape}"`);
    expect(line).not.toMatch(/not a node/);
  });

  test('a graph with no nodes is refused (not a 59-byte model and exit 0)', async () => {
    const m = write(new GraphBuilder());
    expect(refused(await convert(m), 'PARSE_ERROR')).toMatch(/has no nodes/);
  });
});

describe('broken TF.js artifacts are PARSE_ERROR naming what is wrong (issue 26.8)', () => {
  test('a weight shape [-8,4]', async () => {
    const m = write(conv(), (j) => void (j.weightsManifest[0]!.weights[0]!.shape = [-8, 4]));
    expect(refused(await convert(m), 'PARSE_ERROR')).toMatch(/weight w: shape \[-8,4\]/);
  });

  test('a null node', async () => {
    const m = write(conv(), (j) => void j.modelTopology.node.splice(1, 0, null));
    expect(refused(await convert(m), 'PARSE_ERROR')).toMatch(/node 1 .*null/);
  });

  test('a Const whose weight is missing from the manifest is not made zeros', async () => {
    const m = write(conv(), (j) => void (j.weightsManifest[0]!.weights = []));
    expect(refused(await convert(m), 'PARSE_ERROR')).toMatch(/Const w: its weight is missing from the weights manifest/);
  });

  test.each([['a string', '"abc"'], ['null', 'null'], ['missing', undefined], ['infinite', '1e999']])('a uint8 quantization scale that is %s is not made NaN weights', async (_what, scale) => {
    const g = new GraphBuilder();
    const x = g.input('input', [-1, 4]);
    const w = g.const('w', seeded(4, 2, -1, 1), [4], 'uint8');
    g.op('out', 'Mul', [x, w], { T: A.type('DT_FLOAT') });
    const m = write(g, (j) => {
      const q = j.weightsManifest[0]!.weights[0]!.quantization as Record<string, unknown>;
      if (scale === undefined) delete q.scale;
      else q.scale = '<scale>';
    });
    // the scale's JSON text as written (1e999 parses to Infinity, which JSON.stringify cannot write)
    if (scale !== undefined) fs.writeFileSync(m, fs.readFileSync(m, 'utf8').replace('"<scale>"', scale));
    const shown = scale === undefined ? 'is missing' : `${scale === '1e999' ? 'Infinity' : scale} is not a finite number`;
    expect(refused(await convert(m), 'PARSE_ERROR')).toContain(`weight w: quantization scale ${shown}`);
  });

  test('a manifest whose paths is a string, not a list, says so (not "no such file g")', async () => {
    const m = write(conv(), (j) => void ((j.weightsManifest[0] as unknown as Record<string, unknown>).paths = 'w.bin'));
    expect(refused(await convert(m), 'PARSE_ERROR')).toContain('weightsManifest [0].paths must be a list of shard file names (e.g. ["group1-shard1of1.bin"]); got "w.bin"');
  });

  test('a manifest whose weights run past the shards', async () => {
    const m = write(conv(), (j) => void (j.weightsManifest[0]!.weights[0]!.shape = [3, 3, 3, 400]));
    expect(refused(await convert(m), 'PARSE_ERROR')).toMatch(/weight w/);
  });
});
