/**
 * One large JSON parse per event-loop turn (lib/serve/turns.ts): bodies of TURN_BYTES or more that finish arriving
 * together are parsed one per loop iteration, in arrival order, so that the I/O arriving meanwhile (a health probe)
 * is taken between two parses instead of after all of them. With TENSORRT_NODE_JSON_OFFLOAD_BUSY=1, bodies that
 * arrive while others wait go to the JSON workers instead (json-offload.ts: OFFLOAD_WHEN_BUSY); both modes are
 * tested here (the variable is read when the module loads: each mode loads its own copy).
 */
import { nextTurn, TURN_BYTES, turnsWaiting } from '../../lib/serve/turns';

type Modules = { tensor: typeof import('../../lib/serve/tensor'); offload: typeof import('../../lib/serve/json-offload'); errors: typeof import('../../lib/errors') };
function load(busy: '0' | '1'): Modules {
  const before = process.env.TENSORRT_NODE_JSON_OFFLOAD_BUSY;
  process.env.TENSORRT_NODE_JSON_OFFLOAD_BUSY = busy;
  let m: Modules | undefined;
  jest.isolateModules(() => {
    m = { tensor: jest.requireActual('../../lib/serve/tensor'), offload: jest.requireActual('../../lib/serve/json-offload'), errors: jest.requireActual('../../lib/errors') };
  });
  if (before === undefined) delete process.env.TENSORRT_NODE_JSON_OFFLOAD_BUSY;
  else process.env.TENSORRT_NODE_JSON_OFFLOAD_BUSY = before;
  return m!;
}
const onLoop = load('0');
const whenBusy = load('1');
const release = whenBusy.offload.holdJsonWorkers();
afterAll(() => release());
const big = (n: number): Buffer => Buffer.from(JSON.stringify({ inputs: [{ name: 'x', data: Array.from({ length: n }, (_, i) => i / 7) }] }));

/** A check-phase observer that re-arms itself `n` times: one 'o' per event-loop iteration. */
function observer(log: string[], n: number): Promise<void> {
  return new Promise((resolve) => {
    const step = (k: number): void => {
      log.push('o');
      if (k + 1 < n) setImmediate(() => step(k + 1));
      else resolve();
    };
    setImmediate(() => step(0));
  });
}

test('turns are given in arrival order, one per event-loop iteration', async () => {
  const log: string[] = [];
  const watching = observer(log, 8);
  const turns = [0, 1, 2, 3].map((i) => nextTurn().then(() => { log.push(`t${i}`); }));
  expect(turnsWaiting()).toBe(4);
  await Promise.all([...turns, watching]);
  const order = log.filter((x) => x !== 'o');
  expect(order).toEqual(['t0', 't1', 't2', 't3']);
  // between two turns the loop went round at least once more
  for (let i = 1; i < log.length; i++) expect(log[i]!.startsWith('t') && log[i - 1]!.startsWith('t')).toBe(false);
  expect(turnsWaiting()).toBe(0);
});

test('bodies of TURN_BYTES or more parse as before, one per turn; their mistakes are the same INVALID_ARGUMENT', async () => {
  const { parseJsonRequest } = onLoop.tensor;
  expect(onLoop.offload.OFFLOAD_WHEN_BUSY).toBe(false);
  const bodies = [big(20000), big(30000), big(25000)];
  expect(bodies.every((b) => b.length >= TURN_BYTES && b.length < 1024 * 1024)).toBe(true);
  const log: string[] = [];
  const watching = observer(log, 6);
  const parsed = await Promise.all(bodies.map((b, i) => parseJsonRequest(b).then((v) => { log.push(`p${i}`); return v; })));
  await watching;
  expect(parsed.map((p) => ((p.inputs as Array<{ data: number[] }>)[0]!.data.length))).toEqual([20000, 30000, 25000]);
  expect((parsed[1]!.inputs as Array<{ data: number[] }>)[0]!.data[7]).toBe(1);
  for (let i = 1; i < log.length; i++) expect(log[i]!.startsWith('p') && log[i - 1]!.startsWith('p')).toBe(false);
  const bad = Buffer.concat([big(20000).subarray(0, TURN_BYTES + 10), Buffer.from('}}')]);
  await expect(parseJsonRequest(bad)).rejects.toThrow(onLoop.errors.TensorRTError);
  await expect(parseJsonRequest(bad)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('the request body is not valid JSON') });
});

test('TENSORRT_NODE_JSON_OFFLOAD_BUSY=1: a lone medium body is parsed on the loop, those arriving while others wait go to the workers', async () => {
  const { parseJsonRequest } = whenBusy.tensor;
  const { isPacked, OFFLOAD_WHEN_BUSY, jsonWorkersPending } = whenBusy.offload;
  expect(OFFLOAD_WHEN_BUSY).toBe(true);
  // alone: parsed here (plain arrays, no worker)
  const lone = await parseJsonRequest(big(20000));
  expect(Array.isArray((lone.inputs as Array<{ data: unknown }>)[0]!.data)).toBe(true);
  // eight at once: the first waits for its turn, the rest go to the workers (their lists come back packed)
  const bodies = Array.from({ length: 8 }, (_, i) => big(20000 + i));
  const pending = bodies.map((b) => parseJsonRequest(b));
  expect(jsonWorkersPending()).toBeGreaterThan(0);
  const parsed = await Promise.all(pending);
  const data = parsed.map((p) => (p.inputs as Array<{ data: unknown }>)[0]!.data);
  expect(data.filter((d) => isPacked(d)).length).toBeGreaterThanOrEqual(6);
  expect(data.filter((d) => Array.isArray(d)).length).toBeGreaterThanOrEqual(1);
  // the same numbers either way: a packed list holds exactly what JSON.parse gives
  data.forEach((d, i) => {
    const values = isPacked(d) ? Array.from(d.data) : (d as number[]);
    expect(isPacked(d) ? d.shape : [values.length]).toEqual([20000 + i]);
    expect(values.length).toBe(20000 + i);
    expect(values[7]).toBe(1);
    expect(values[20000 + i - 1]).toBe((20000 + i - 1) / 7);
  });
  expect(jsonWorkersPending()).toBe(0);
  // a mistake in an offloaded body is the same INVALID_ARGUMENT as on the loop
  const bad = Buffer.concat([big(20000).subarray(0, TURN_BYTES + 10), Buffer.from('}}')]);
  const errs = await Promise.allSettled([parseJsonRequest(big(20000)), parseJsonRequest(bad)]);
  expect(errs[0]!.status).toBe('fulfilled');
  expect(errs[1]).toMatchObject({ status: 'rejected', reason: { code: 'INVALID_ARGUMENT', message: expect.stringContaining('the request body is not valid JSON') } });
});
