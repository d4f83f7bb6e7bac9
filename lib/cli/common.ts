/**
 * What every CLI command shares. Exit codes: 0 success; 1 user error (bad arguments, missing or corrupt input,
 * missing TensorRT/GPU) printed as one line without a stack trace (unless --verbose); 2 internal failure.
 * Every error line ends with the TensorRTError code in brackets (`... [IO_ERROR]`): a usage mistake is
 * INVALID_ARGUMENT, a file system error IO_ERROR, anything unexpected INTERNAL.
 */
import * as fs from 'fs';
import * as path from 'path';
import { TensorRTError, type ErrorCode } from '../errors';
import { runtimeInfo } from '../info';
import { mkdirpSync } from '../engine-cache/fsutil';

/**
 * A mistake of the user's (bad flag value, shapes that do not match): a TensorRTError, INVALID_ARGUMENT unless
 * another code is given; exit code 1.
 */
export class UsageError extends TensorRTError {
  constructor(message: string, code: ErrorCode = 'INVALID_ARGUMENT') {
    super(code, message);
  }
}

/** Error codes of TensorRTError that are the user's or the machine's doing (exit 1), not a bug (exit 2). */
const USER_CODES = new Set([
  'INVALID_ARGUMENT', 'TENSORRT_UNAVAILABLE', 'CUDA_UNAVAILABLE', 'PARSE_ERROR', 'DESERIALIZE_ERROR',
  'BUILD_FAILED', 'UNSUPPORTED', 'IO_ERROR', 'OUT_OF_MEMORY',
  'CALIBRATION_ERROR', // the calibration data or the calibrator's code
  'UNSUPPORTED_OP',
]);

/** Exit code for an error thrown by a command. */
export function exitCodeFor(e: unknown): 1 | 2 {
  if (e instanceof UsageError) return 1;
  if (e instanceof TensorRTError) return USER_CODES.has(e.code) ? 1 : 2;
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return 1; // fs errors: ENOENT, EACCES, EISDIR, ...
  return 2;
}

/** The code an error line ends with: the TensorRTError's, IO_ERROR for file system errors, else INTERNAL. */
export function errorCodeOf(e: unknown): ErrorCode {
  if (e instanceof TensorRTError) return e.code;
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return 'IO_ERROR';
  return 'INTERNAL';
}

/** One-line description of an error for the terminal, ending with its code: `message [CODE]`. */
export function describeError(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  return `${message.split('\n')[0]} [${errorCodeOf(e)}]`;
}

/**
 * Where a CLI run writes, and what it remembers: the bin uses the process's streams, tests capture the text.
 * `exitCode` is what the run ends with.
 */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  /** Whether stderr is a terminal (progress bars are drawn only then). */
  isTTY: boolean;
  /** The stream progress bars draw on. */
  progressStream: NodeJS.WritableStream;
  verbose: boolean;
  exitCode: number;
}

export function processIo(verbose = false): CliIo {
  return {
    out: (t) => void process.stdout.write(t),
    err: (t) => void process.stderr.write(t),
    isTTY: Boolean(process.stderr.isTTY),
    progressStream: process.stderr,
    verbose,
    exitCode: 0,
  };
}

let currentIo: CliIo = processIo(process.env.TENSORRT_NODE_VERBOSE === '1');

/** The io of the run in progress. */
export function io(): CliIo {
  return currentIo;
}

/** Makes `next` the io of the runs that follow; returns the previous one. */
export function setIo(next: CliIo): CliIo {
  const prev = currentIo;
  currentIo = next;
  return prev;
}

/** Prints one error line (and the stack with --verbose) and records the exit code. */
export function reportError(command: string, e: unknown): void {
  const o = currentIo;
  o.err(`tensorrt-node${command ? ` ${command}` : ''}: ${describeError(e)}\n`);
  if (o.verbose && e instanceof Error && e.stack) o.err(`${e.stack}\n`);
  o.exitCode = exitCodeFor(e);
}

/**
 * Wraps a command's action: runs it, and on failure prints `tensorrt-node <command>: <one line>` to stderr (the
 * stack too when --verbose or TENSORRT_NODE_VERBOSE=1) and sets the exit code to 1 or 2.
 */
export function action<A extends unknown[]>(command: string, fn: (...args: A) => Promise<void> | void) {
  return async (...args: A): Promise<void> => {
    try {
      await fn(...args);
    } catch (e) {
      reportError(command, e);
    }
  };
}

/*
 * File errors: one code (IO_ERROR) and one message form per cause, from every command:
 *   cannot read <what> <path>: no such file or directory      (and: permission denied, is a directory, ...)
 *   cannot write <what> <path>: no such directory <dir>       (and: <dir> is not a directory, is a directory, ...)
 * test/unit/cli-file-errors.test.ts runs each cause through every command that reads or writes files.
 */

/** The words for a file system error code, as in strerror (ENOENT: "no such file or directory"). */
export function fsReason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  switch (err?.code) {
    case 'ENOENT': return 'no such file or directory';
    case 'EACCES':
    case 'EPERM': return 'permission denied';
    case 'EISDIR': return 'is a directory';
    case 'ENOTDIR': return 'a part of the path is not a directory';
    case 'EROFS': return 'read-only file system';
    case 'ENOSPC': return 'no space left on device';
    case 'EEXIST': return 'already exists';
    default: return err instanceof Error ? err.message : String(e);
  }
}

/** IO_ERROR `cannot <read|write> <what> <path>: <reason>`. */
export function fileError(op: 'read' | 'write', what: string, file: string, e: unknown): TensorRTError {
  return new TensorRTError('IO_ERROR', `cannot ${op} ${what} ${file}: ${fsReason(e)}`, { cause: e });
}

/**
 * Checks that an input path exists (and is a file or a directory, as `kind` says): IO_ERROR
 * `cannot read <what> <path>: ...` otherwise. Returns its stats.
 */
export function checkInputPath(file: string, what: string, kind: 'file' | 'directory' | 'any' = 'any'): fs.Stats {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (e) {
    throw fileError('read', what, file, e);
  }
  if (kind === 'file' && st.isDirectory()) throw new TensorRTError('IO_ERROR', `cannot read ${what} ${file}: is a directory`);
  if (kind === 'directory' && !st.isDirectory()) throw new TensorRTError('IO_ERROR', `cannot read ${what} ${file}: not a directory`);
  return st;
}

/**
 * Checks, before any work, that an output file can be created where asked: its directory exists and is one, and
 * the path is not a directory. IO_ERROR `cannot write <what> <path>: ...` otherwise. Returns the absolute path.
 */
export function checkOutputFile(file: string, what: string): string {
  const abs = path.resolve(file);
  const dir = path.dirname(abs);
  let st: fs.Stats | null = null;
  try {
    st = fs.statSync(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') throw fileError('write', what, file, e);
  }
  if (!st) throw new TensorRTError('IO_ERROR', `cannot write ${what} ${file}: no such directory ${dir}`);
  if (!st.isDirectory()) throw new TensorRTError('IO_ERROR', `cannot write ${what} ${file}: ${dir} is not a directory`);
  if (fs.statSync(abs, { throwIfNoEntry: false })?.isDirectory()) throw new TensorRTError('IO_ERROR', `cannot write ${what} ${file}: is a directory`);
  return abs;
}

/** Creates an output directory (and its parents) or throws IO_ERROR `cannot write <what> <dir>: ...`. */
export function makeOutputDir(dir: string, what: string): void {
  try {
    mkdirpSync(dir);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOTDIR') throw new TensorRTError('IO_ERROR', `cannot write ${what} ${dir}: ${err.path ?? dir} is not a directory`, { cause: e });
    // ENOENT where a parent exists but takes no children (/proc/nope): name the directory that could not be made
    if (err.code === 'ENOENT') throw new TensorRTError('IO_ERROR', `cannot write ${what} ${dir}: no such directory ${err.path ?? dir}`, { cause: e });
    throw fileError('write', what, dir, e);
  }
}

/** Reads a whole input file; a missing / unreadable file or a directory is IO_ERROR with the path in the message. */
export function readInputFile(file: string, what = 'file'): Buffer {
  checkInputPath(file, what, 'file');
  try {
    return fs.readFileSync(file);
  } catch (e) {
    throw fileError('read', what, file, e);
  }
}

/**
 * Throws TENSORRT_UNAVAILABLE with runtimeInfo()'s reason when TensorRT cannot be used, so that commands which
 * need it fail with one clear line instead of somewhere deep in the native layer.
 */
export function requireTensorRT(): void {
  const info = runtimeInfo();
  if (!info.tensorrt.available) {
    const reason = info.tensorrt.reason ?? 'TensorRT could not be loaded';
    throw new TensorRTError(
      'TENSORRT_UNAVAILABLE',
      `this command needs TensorRT, which is not available: ${reason.replace(/\.$/, '')}. Run \`tensorrt-node info\` for what to install`,
    );
  }
}

/** Throws CUDA_UNAVAILABLE with runtimeInfo()'s reason when no CUDA device can be used. */
export function requireCuda(): void {
  const info = runtimeInfo();
  if (!info.cuda.available) {
    const reason = info.cuda.reason ?? 'no CUDA device';
    throw new TensorRTError(
      'CUDA_UNAVAILABLE',
      `this command needs a CUDA GPU, which is not available: ${reason.replace(/\.$/, '')}. Run \`tensorrt-node info\` for details`,
    );
  }
}

/** JSON for --json output: bigint as string, typed arrays as arrays, 2-space indent, trailing newline. */
export function toJson(value: unknown): string {
  return `${JSON.stringify(
    value,
    (_k, v: unknown) => {
      if (typeof v === 'bigint') return v.toString();
      if (ArrayBuffer.isView(v) && !(v instanceof DataView)) return Array.from(v as unknown as ArrayLike<number>);
      return v;
    },
    2,
  )}\n`;
}
