/**
 * The serving defaults that follow the machine's size (lib/serve/cores.ts): onnxruntime's spinning pool threads and
 * the busy-loop JSON offload are on from MANY_CORES (8) cores, off below, and TENSORRT_NODE_JSON_OFFLOAD_BUSY forces
 * the offload either way (read when json-offload.ts loads: each case loads its own copy).
 */
import * as os from 'os';
import { CORES, MANY_CORES, manyCores } from '../../lib/serve/cores';
import { DEFAULTS } from '../../lib/serve/repository';

function offloadWith(v: string | undefined): typeof import('../../lib/serve/json-offload') {
  const before = process.env.TENSORRT_NODE_JSON_OFFLOAD_BUSY;
  if (v === undefined) delete process.env.TENSORRT_NODE_JSON_OFFLOAD_BUSY;
  else process.env.TENSORRT_NODE_JSON_OFFLOAD_BUSY = v;
  let m: typeof import('../../lib/serve/json-offload') | undefined;
  jest.isolateModules(() => {
    m = jest.requireActual<typeof import('../../lib/serve/json-offload')>('../../lib/serve/json-offload');
  });
  if (before === undefined) delete process.env.TENSORRT_NODE_JSON_OFFLOAD_BUSY;
  else process.env.TENSORRT_NODE_JSON_OFFLOAD_BUSY = before;
  return m!;
}

test('the core count is the one Node schedules on, and the many-core defaults start at 8', () => {
  expect(CORES).toBe(typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length);
  expect(MANY_CORES).toBe(8);
  expect(manyCores).toBe(CORES >= 8);
});

test(`allowSpinning defaults to ${manyCores} on this machine's ${CORES} cores`, () => {
  expect(DEFAULTS.allowSpinning).toBe(CORES >= 8);
});

test('the busy-loop JSON offload follows the machine unless TENSORRT_NODE_JSON_OFFLOAD_BUSY says otherwise', () => {
  expect(offloadWith(undefined).OFFLOAD_WHEN_BUSY).toBe(CORES >= 8);
  expect(offloadWith('').OFFLOAD_WHEN_BUSY).toBe(CORES >= 8);
  expect(offloadWith('0').OFFLOAD_WHEN_BUSY).toBe(false);
  expect(offloadWith('1').OFFLOAD_WHEN_BUSY).toBe(true);
  expect(() => offloadWith('yes')).toThrow(/TENSORRT_NODE_JSON_OFFLOAD_BUSY must be 1 or 0; got 'yes'/);
});
