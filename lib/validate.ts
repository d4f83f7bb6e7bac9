/**
 * The one vocabulary of argument checks (in the spirit of sharp's `lib/is`): every public entry point of lib/
 * checks its arguments with these helpers, once, at the door, and hands the checked values down; the layers below
 * (BuilderConfig, the native addon) trust them. Each helper returns the checked value (narrowed) or throws
 * `TensorRTError('INVALID_ARGUMENT')` with a message of one shape: `<what> must be <expected>; got <value>`.
 *
 * No library fits: validators such as zod or ajv would add a dependency and a second error type for about fifteen
 * small functions, and their messages are not TensorRTError's.
 */
import { types } from 'util';
import { invalidArg } from './errors';

/** A short, safe description of any value for error messages (never throws, not even for Symbols). */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (Array.isArray(v)) return 'an array';
  if (ArrayBuffer.isView(v) && !types.isDataView(v)) {
    const tag = (v as unknown as { [Symbol.toStringTag]: unknown })[Symbol.toStringTag];
    return `a ${typeof tag === 'string' ? tag : 'typed array'}`;
  }
  if (typeof v === 'object') {
    let name = 'Object';
    try {
      name = (v as object).constructor?.name ?? 'Object';
    } catch {
      // a Proxy or an object whose constructor getter throws
    }
    return `an object (${name})`;
  }
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
  if (typeof v === 'bigint') return `${v}n (a bigint)`;
  if (typeof v === 'symbol') return 'a Symbol';
  if (typeof v === 'function') return 'a function';
  return `${String(v)} (${typeof v})`;
}

/** A non-null, non-array object. */
export function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** `v` is a non-null, non-array object (`expected` says what kind, for the message). */
export function object(v: unknown, what: string, expected = 'an object'): Record<string, unknown> {
  if (!isObject(v)) throw invalidArg(`${what} must be ${expected}; got ${describe(v)}`);
  return v;
}

/**
 * An options object: undefined means {}; anything but an object, or a key not in `allowed`, is INVALID_ARGUMENT.
 * `what` names the function ("buildEngine", "infer", ...).
 */
export function options(v: unknown, what: string, allowed: readonly string[]): Record<string, unknown> {
  if (v === undefined) return {};
  if (!isObject(v)) throw invalidArg(`${what} options must be an object; got ${describe(v)}`);
  for (const k of Object.keys(v)) {
    if (!allowed.includes(k)) throw invalidArg(`${what}: unknown option '${k}' (allowed: ${allowed.join(', ')})`);
  }
  return v;
}

export function boolean(v: unknown, what: string): boolean {
  if (typeof v !== 'boolean') throw invalidArg(`${what} must be a boolean; got ${describe(v)}`);
  return v;
}

/** An integer in [lo, hi] (safe integers only). */
export function integer(v: unknown, what: string, lo = Number.MIN_SAFE_INTEGER, hi = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < lo || v > hi) {
    const range = hi === Number.MAX_SAFE_INTEGER ? (lo === 0 ? 'a non-negative integer' : lo === 1 ? 'a positive integer' : `an integer >= ${lo}`) : `an integer in [${lo}, ${hi}]`;
    throw invalidArg(`${what} must be ${range}; got ${describe(v)}`);
  }
  return v;
}

/** A finite number in the interval given (`loOpen` makes the lower bound exclusive). */
export function number(v: unknown, what: string, range: { lo?: number; hi?: number; loOpen?: boolean } = {}): number {
  const { lo = -Infinity, hi = Infinity, loOpen = false } = range;
  if (typeof v !== 'number' || !Number.isFinite(v) || (loOpen ? v <= lo : v < lo) || v > hi) {
    const iv = lo === -Infinity && hi === Infinity ? 'a finite number' : `a number in ${loOpen ? '(' : '['}${lo}, ${hi}]`;
    throw invalidArg(`${what} must be ${iv}; got ${describe(v)}`);
  }
  return v;
}

export function string(v: unknown, what: string): string {
  if (typeof v !== 'string') throw invalidArg(`${what} must be a string; got ${describe(v)}`);
  return v;
}

/** A file system path: a non-empty string without NUL characters. */
export function path(v: unknown, what: string): string {
  if (typeof v !== 'string' || v.length === 0) throw invalidArg(`${what} must be a file path (a non-empty string); got ${describe(v)}`);
  if (v.includes('\0')) throw invalidArg(`${what} contains a NUL character`);
  return v;
}

/** One of the strings in `list`. */
export function oneOf<T extends string>(v: unknown, what: string, list: readonly T[]): T {
  if (typeof v !== 'string' || !(list as readonly string[]).includes(v)) {
    throw invalidArg(`${what} must be one of ${list.join(', ')}; got ${describe(v)}`);
  }
  return v as T;
}

// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- any callable is accepted; callers name the type F they expect
export function func<F extends Function>(v: unknown, what: string): F {
  if (typeof v !== 'function') throw invalidArg(`${what} must be a function; got ${describe(v)}`);
  return v as F;
}

/** Bytes: a Uint8Array (Buffer included) not backed by a SharedArrayBuffer. */
export function bytes(v: unknown, what: string): Uint8Array {
  if (!types.isUint8Array(v)) throw invalidArg(`${what} must be a Uint8Array or Buffer; got ${describe(v)}`);
  if (types.isSharedArrayBuffer(v.buffer)) throw invalidArg(`${what}: views of a SharedArrayBuffer are not supported`);
  return v;
}

/**
 * A file path (`is.path`) or bytes, the one check of the model / engine arguments (lib/tensorrt/parser.ts,
 * engine-source.ts, lib/onnx/index.ts): bytes are a Uint8Array (`is.bytes`), or with `anyView` any ArrayBuffer or
 * view of one (not shared memory); `nonEmpty` refuses zero bytes. `expected` says what is wanted, for the message.
 */
export function pathOrBytes(
  v: unknown, what: string, expected: string, opts: { nonEmpty?: boolean; anyView?: boolean } = {},
): string | Uint8Array | ArrayBuffer | ArrayBufferView {
  if (typeof v === 'string') return path(v, `${what}: the path`);
  if (opts.anyView && (types.isArrayBuffer(v) || ArrayBuffer.isView(v))) {
    const buf = types.isArrayBuffer(v) ? v : (v as ArrayBufferView).buffer;
    if (types.isSharedArrayBuffer(buf)) throw invalidArg(`${what}: views of a SharedArrayBuffer are not supported`);
    if (opts.nonEmpty && (v as ArrayBuffer | ArrayBufferView).byteLength === 0) throw invalidArg(`${what}: the bytes are empty`);
    return v as ArrayBuffer | ArrayBufferView;
  }
  if (types.isUint8Array(v)) {
    bytes(v, `${what}: the bytes`);
    if (opts.nonEmpty && v.byteLength === 0) throw invalidArg(`${what}: the bytes are empty`);
    return v;
  }
  if (types.isSharedArrayBuffer(v)) throw invalidArg(`${what}: SharedArrayBuffer is not supported; pass a Uint8Array`);
  throw invalidArg(`${what}: expected ${expected}; got ${describe(v)}`);
}

/** An array whose items each pass `item` (called with `what[i]`). */
export function arrayOf<T>(v: unknown, what: string, item: (x: unknown, what: string) => T, expected = 'an array'): T[] {
  if (!Array.isArray(v)) throw invalidArg(`${what} must be ${expected}; got ${describe(v)}`);
  return v.map((x, i) => item(x, `${what}[${i}]`));
}

/** `check(o[key])` when the key is present and not undefined, else undefined. */
export function optional<T>(o: Record<string, unknown>, key: string, check: (v: unknown, what: string) => T, what = key): T | undefined {
  const v = o[key];
  return v === undefined ? undefined : check(v, what);
}

/** An AbortSignal (duck-typed, so that signals of other realms pass). */
export function abortSignal(v: unknown, what: string): AbortSignal {
  const s = v as AbortSignal | null;
  if (
    !s ||
    typeof s !== 'object' ||
    typeof s.aborted !== 'boolean' ||
    typeof s.addEventListener !== 'function' ||
    typeof s.removeEventListener !== 'function'
  ) {
    throw invalidArg(`${what} must be an AbortSignal; got ${describe(v)}`);
  }
  return s;
}
