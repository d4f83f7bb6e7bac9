/**
 * One large JSON parse per event-loop turn (lib/serve/turns.ts): bodies of TURN_BYTES or more that finish arriving
 * together are parsed one per loop iteration, in arrival order, so that the I/O arriving meanwhile (a health probe)
 * is taken between two parses instead of after all of them.
 */
import { TensorRTError } from '../../lib/errors';
import { parseJsonRequest } from '../../lib/serve/tensor';
import { nextTurn, TURN_BYTES, turnsWaiting } from '../../lib/serve/turns';

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
  const big = (n: number): Buffer => Buffer.from(JSON.stringify({ inputs: [{ name: 'x', data: Array.from({ length: n }, (_, i) => i / 7) }] }));
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
  await expect(parseJsonRequest(bad)).rejects.toThrow(TensorRTError);
  await expect(parseJsonRequest(bad)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('the request body is not valid JSON') });
});
