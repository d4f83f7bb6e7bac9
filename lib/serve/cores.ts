/**
 * The machine's size, for the serving defaults that differ by it (measured both ways, docs/benchmarks.md):
 * on a machine of `MANY_CORES` or more, serve's onnxruntime pool threads spin (`allowSpinning`) and medium JSON
 * bodies go to the JSON workers while the event loop is busy (json-offload.ts OFFLOAD_WHEN_BUSY). On the GPU host's
 * 16 cores both together met the side-by-side targets (run 3 of docs/benchmarks.md: c=1 p50 1.09x binary, 1.03x
 * JSON; c=64 throughput 2.98x binary, 2.97x JSON) that the old defaults missed (1.38x, 1.73x); on 2 cores both cost (spinning threads take the
 * event loop's core; offloaded medium bodies cost goodput under overload), so they stay off there.
 */
import * as os from 'os';

export const CORES = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;

/** Cores from which the many-core defaults apply. */
export const MANY_CORES = 8;

export const manyCores = CORES >= MANY_CORES;
