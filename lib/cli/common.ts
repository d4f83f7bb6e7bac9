/**
 * What every CLI command shares. Exit codes: 0 success; 1 user error (bad arguments, missing or corrupt input,
 * missing TensorRT/GPU) printed as one line without a stack trace (unless --verbose); 2 internal failure.
 */
import { TensorRTError } from '../errors';

/** A mistake of the user's (bad flag value, missing file, shapes that do not match): exit code 1. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Error codes of TensorRTError that are the user's or the machine's doing (exit 1), not a bug (exit 2). */
const USER_CODES = new Set([
  'INVALID_ARGUMENT', 'TENSORRT_UNAVAILABLE', 'CUDA_UNAVAILABLE', 'PARSE_ERROR', 'DESERIALIZE_ERROR',
  'BUILD_FAILED', 'UNSUPPORTED', 'IO_ERROR', 'OUT_OF_MEMORY',
]);

/** Exit code for an error thrown by a command. */
export function exitCodeFor(e: unknown): 1 | 2 {
  if (e instanceof UsageError) return 1;
  if (e instanceof TensorRTError) return USER_CODES.has(e.code) ? 1 : 2;
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return 1; // fs errors: ENOENT, EACCES, EISDIR, ...
  return 2;
}

/** One-line description of an error for the terminal. */
export function describeError(e: unknown): string {
  if (e instanceof TensorRTError) return `${e.message} [${e.code}]`;
  if (e instanceof Error) return e.message.split('\n')[0];
  return String(e);
}

/**
 * Wraps a command's action: runs it, and on failure prints `tensorrt-node <command>: <one line>` to stderr (the
 * stack too when --verbose or TENSORRT_NODE_VERBOSE=1) and sets process.exitCode to 1 or 2.
 */
export function action<A extends unknown[]>(command: string, fn: (...args: A) => Promise<void> | void) {
  return async (...args: A): Promise<void> => {
    try {
      await fn(...args);
    } catch (e) {
      const verbose = process.argv.includes('--verbose') || process.env.TENSORRT_NODE_VERBOSE === '1';
      process.stderr.write(`tensorrt-node ${command}: ${describeError(e)}\n`);
      if (verbose && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
      process.exitCode = exitCodeFor(e);
    }
  };
}
