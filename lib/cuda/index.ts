import type { TensorRTNative } from '../addon';
/**
 * CUDA memory, streams and events.
 *
 * - `DeviceBuffer`: device memory (cudaMalloc); `copyFrom` / `copyTo` move bytes between it and host memory
 *   (a `HostBuffer`, an ArrayBuffer or any TypedArray / DataView) and return Promises that settle when the copy
 *   has finished on the GPU, without blocking the event loop. Copies are queued on the given stream (or the
 *   default stream) in call order; pageable host memory goes through pinned staging memory, pinned memory
 *   (a `HostBuffer` or a view of one) is copied directly.
 * - `HostBuffer`: page-locked host memory exposed as an ArrayBuffer (no copy).
 * - `Stream`, `Event` (with elapsed time between two events).
 *
 * Every object frees its CUDA resource when garbage-collected, or at once with `dispose()` (also
 * `using x = new DeviceBuffer(n)`); later use throws TensorRTError('DISPOSED'). Without a usable GPU every call
 * throws TensorRTError('CUDA_UNAVAILABLE') naming the CUDA error (`cudaError`).
 */
import { types } from 'util';
import { awaitNative, callNative, invalidArg, rejectWrapped, TensorRTError } from '../errors';
import type { TypedArray } from '../dtypes';
import * as is from '../validate';
import { describe } from '../validate';
import { getNative } from '../native';
import type { DeviceProperties } from '../info';

export type { DeviceProperties } from '../info';

/** Host memory that copies accept. Views (TypedArray, DataView, Buffer) copy exactly their own bytes. */
export type HostMemory = TypedArray | ArrayBuffer | ArrayBufferView | HostBuffer;

export interface CopyOptions {
  /** Stream to queue the copy on (default: the legacy default stream). */
  stream?: Stream;
  /** Byte offset into the DeviceBuffer (default 0). */
  offset?: number;
  /** Bytes to copy (default: the whole host memory). */
  byteLength?: number;
}

export interface DeviceCopyOptions {
  stream?: Stream;
  /** Byte offset into this (destination) buffer. */
  offset?: number;
  /** Byte offset into the source buffer. */
  srcOffset?: number;
  /** Bytes to copy (default: the whole source from srcOffset). */
  byteLength?: number;
}

export interface FillOptions {
  stream?: Stream;
  offset?: number;
  byteLength?: number;
}

export interface StreamOptions {
  /** cudaStreamNonBlocking: no implicit synchronization with the legacy default stream. */
  nonBlocking?: boolean;
  /** Stream priority (lower is higher priority; CUDA clamps to the device's range). */
  priority?: number;
}

export interface EventOptions {
  /** Record timestamps (needed for Event.elapsedTime). Default true. */
  timing?: boolean;
}

// ------------------------------------------------------------------------------------------------------------
// validation helpers

const MAX_BYTES = Number.MAX_SAFE_INTEGER;

/** A count of bytes: an integer in [0, 2^53 - 1] (validate.ts's integer check). */
const checkByteCount = (value: unknown, name: string): number => is.integer(value, `${name} (bytes)`, 0, MAX_BYTES);

function checkStream(s: unknown, what: string): TensorRTNative.Stream | undefined {
  if (s === undefined || s === null) return undefined;
  if (!(s instanceof Stream)) throw invalidArg(`${what}: stream must be a Stream; got ${describe(s)}`);
  return s._native;
}

const checkDevice = (device: unknown): number => is.integer(device, 'device', 0, 0x7fffffff);

interface HostArg {
  native: TensorRTNative.HostMemory;
  byteLength: number;
}

function checkHost(mem: unknown, what: string): HostArg {
  if (mem instanceof HostBuffer) {
    if (mem.disposed) throw disposedError(`HostBuffer (${what})`);
    return { native: mem._native, byteLength: mem.byteLength };
  }
  // util.types checks work across realms (vm contexts, jest), unlike instanceof.
  if (types.isArrayBuffer(mem)) return { native: mem, byteLength: mem.byteLength };
  if (ArrayBuffer.isView(mem)) {
    if (types.isSharedArrayBuffer(mem.buffer)) {
      throw invalidArg(`${what}: views of a SharedArrayBuffer are not supported`);
    }
    return { native: mem, byteLength: mem.byteLength };
  }
  throw invalidArg(`${what}: expected a HostBuffer, an ArrayBuffer or a TypedArray; got ${describe(mem)}`);
}

function checkRange(offset: number, length: number, total: number, what: string): void {
  if (offset + length > total) {
    throw invalidArg(`${what}: ${length} bytes at offset ${offset} exceed the ${total} bytes available`);
  }
}

const disposedError = (what: string) => new TensorRTError('DISPOSED', `${what} has been disposed`);

// ------------------------------------------------------------------------------------------------------------
// device functions

function cudaNative(): TensorRTNative.Addon {
  return getNative('CUDA_UNAVAILABLE');
}

/** Number of CUDA devices (throws CUDA_UNAVAILABLE without a driver / device). */
export function getDeviceCount(): number {
  return callNative(() => cudaNative().getDeviceCount());
}

export function getDeviceProperties(device = 0): DeviceProperties {
  const d = checkDevice(device);
  return callNative(() => cudaNative().getDeviceProperties(d));
}

/** Free and total memory of the current device, in bytes. */
export function memGetInfo(): { free: number; total: number } {
  return callNative(() => cudaNative().memGetInfo());
}

/** Makes `device` current for this (JS) thread: later allocations, streams and events use it. */
export function setDevice(device: number): void {
  const d = checkDevice(device);
  callNative(() => cudaNative().setDevice(d));
}

export function getDevice(): number {
  return callNative(() => cudaNative().getDevice());
}

/** Resolves when all work queued on the current device has finished (waits off the JS thread). */
export async function synchronize(): Promise<void> {
  const p = callNative(() => cudaNative().deviceSynchronize());
  await awaitNative(p);
}

// ------------------------------------------------------------------------------------------------------------
// DeviceBuffer

export class DeviceBuffer {
  /** @internal */ readonly _native: TensorRTNative.DeviceBuffer;
  readonly byteLength: number;

  /** Allocates `byteLength` bytes of device memory on the current device (uninitialised). */
  constructor(byteLength: number) {
    const n = checkByteCount(byteLength, 'DeviceBuffer byteLength');
    const N = cudaNative().DeviceBuffer;
    this._native = callNative(() => new N(n));
    this.byteLength = n;
  }

  /** Allocates a buffer holding a copy of `src`. */
  static async from(src: HostMemory, opts: { stream?: Stream } = {}): Promise<DeviceBuffer> {
    const o = is.options(opts, 'DeviceBuffer.from', ['stream']);
    const host = checkHost(src, 'DeviceBuffer.from');
    checkStream(o.stream, 'DeviceBuffer.from');
    const buf = new DeviceBuffer(host.byteLength);
    try {
      await buf.copyFrom(src, { stream: o.stream as Stream | undefined });
    } catch (e) {
      buf.dispose();
      throw e;
    }
    return buf;
  }

  get disposed(): boolean {
    return this._native.disposed;
  }

  /** The device pointer (for TensorRT tensor addresses and interop). */
  get address(): bigint {
    this.check('address');
    return this._native.address;
  }

  /** Device ordinal the memory lives on. */
  get device(): number {
    return this._native.device;
  }

  private check(what: string): void {
    if (this._native.disposed) throw disposedError(`DeviceBuffer (${what})`);
  }

  /** Copies host memory into this buffer (at `opts.offset`); resolves when the copy has completed. */
  copyFrom(src: HostMemory, opts: CopyOptions = {}): Promise<void> {
    try {
      this.check('copyFrom');
      const o = is.options(opts, 'DeviceBuffer.copyFrom', ['stream', 'offset', 'byteLength']);
      const host = checkHost(src, 'DeviceBuffer.copyFrom');
      const stream = checkStream(o.stream, 'DeviceBuffer.copyFrom');
      const offset = o.offset === undefined ? 0 : checkByteCount(o.offset, 'copyFrom offset');
      const n = o.byteLength === undefined ? host.byteLength : checkByteCount(o.byteLength, 'copyFrom byteLength');
      checkRange(0, n, host.byteLength, 'DeviceBuffer.copyFrom source');
      checkRange(offset, n, this.byteLength, 'DeviceBuffer.copyFrom destination');
      return awaitNative(this._native.copyFromHost(host.native, 0, n, offset, stream));
    } catch (e) {
      return rejectWrapped(e);
    }
  }

  /** Copies this buffer (from `opts.offset`) into host memory; resolves once the bytes are in `dst`. */
  copyTo(dst: HostMemory, opts: CopyOptions = {}): Promise<void> {
    try {
      this.check('copyTo');
      const o = is.options(opts, 'DeviceBuffer.copyTo', ['stream', 'offset', 'byteLength']);
      const host = checkHost(dst, 'DeviceBuffer.copyTo');
      const stream = checkStream(o.stream, 'DeviceBuffer.copyTo');
      const offset = o.offset === undefined ? 0 : checkByteCount(o.offset, 'copyTo offset');
      const n = o.byteLength === undefined ? host.byteLength : checkByteCount(o.byteLength, 'copyTo byteLength');
      checkRange(0, n, host.byteLength, 'DeviceBuffer.copyTo destination');
      checkRange(offset, n, this.byteLength, 'DeviceBuffer.copyTo source');
      return awaitNative(this._native.copyToHost(host.native, 0, n, offset, stream));
    } catch (e) {
      return rejectWrapped(e);
    }
  }

  /** Device-to-device copy from `src` into this buffer. */
  copyFromDevice(src: DeviceBuffer, opts: DeviceCopyOptions = {}): Promise<void> {
    try {
      this.check('copyFromDevice');
      const o = is.options(opts, 'DeviceBuffer.copyFromDevice', ['stream', 'offset', 'srcOffset', 'byteLength']);
      if (!(src instanceof DeviceBuffer)) throw invalidArg(`copyFromDevice: src must be a DeviceBuffer; got ${describe(src)}`);
      if (src.disposed) throw disposedError('DeviceBuffer (copyFromDevice source)');
      const stream = checkStream(o.stream, 'DeviceBuffer.copyFromDevice');
      const offset = o.offset === undefined ? 0 : checkByteCount(o.offset, 'copyFromDevice offset');
      const srcOffset = o.srcOffset === undefined ? 0 : checkByteCount(o.srcOffset, 'copyFromDevice srcOffset');
      checkRange(srcOffset, 0, src.byteLength, 'DeviceBuffer.copyFromDevice source');
      const n =
        o.byteLength === undefined ? src.byteLength - srcOffset : checkByteCount(o.byteLength, 'copyFromDevice byteLength');
      checkRange(srcOffset, n, src.byteLength, 'DeviceBuffer.copyFromDevice source');
      checkRange(offset, n, this.byteLength, 'DeviceBuffer.copyFromDevice destination');
      return awaitNative(this._native.copyFromDevice(src._native, srcOffset, n, offset, stream));
    } catch (e) {
      return rejectWrapped(e);
    }
  }

  /** Sets bytes to `value` (0..255), like cudaMemset. */
  fill(value: number, opts: FillOptions = {}): Promise<void> {
    try {
      this.check('fill');
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 255) {
        throw invalidArg(`fill value must be a byte (integer 0..255); got ${describe(value)}`);
      }
      const o = is.options(opts, 'DeviceBuffer.fill', ['stream', 'offset', 'byteLength']);
      const stream = checkStream(o.stream, 'DeviceBuffer.fill');
      const offset = o.offset === undefined ? 0 : checkByteCount(o.offset, 'fill offset');
      checkRange(offset, 0, this.byteLength, 'DeviceBuffer.fill');
      const n = o.byteLength === undefined ? this.byteLength - offset : checkByteCount(o.byteLength, 'fill byteLength');
      checkRange(offset, n, this.byteLength, 'DeviceBuffer.fill');
      return awaitNative(this._native.fill(value, offset, n, stream));
    } catch (e) {
      return rejectWrapped(e);
    }
  }

  /** Frees the device memory now (idempotent). */
  dispose(): void {
    this._native.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

// ------------------------------------------------------------------------------------------------------------
// HostBuffer

type ViewCtor<T> = { new (buffer: ArrayBuffer, byteOffset?: number, length?: number): T; BYTES_PER_ELEMENT: number; name: string };

export class HostBuffer {
  /** @internal */ readonly _native: TensorRTNative.HostBuffer;
  readonly byteLength: number;

  /** Allocates `byteLength` bytes of pinned (page-locked) host memory. */
  constructor(byteLength: number) {
    const n = checkByteCount(byteLength, 'HostBuffer byteLength');
    const N = cudaNative().HostBuffer;
    this._native = callNative(() => new N(n));
    this.byteLength = n;
  }

  get disposed(): boolean {
    return this._native.disposed;
  }

  /** The pinned memory as an ArrayBuffer (the same memory, not a copy). Detached by dispose(). */
  get buffer(): ArrayBuffer {
    if (this.disposed) throw disposedError('HostBuffer (buffer)');
    return this._native.buffer;
  }

  /** Host address of the pinned memory. */
  get address(): bigint {
    if (this.disposed) throw disposedError('HostBuffer (address)');
    return this._native.address;
  }

  /** A typed view of the memory, e.g. `hb.view(Float32Array)`. */
  view<T extends ArrayBufferView>(ctor: ViewCtor<T>, byteOffset = 0, length?: number): T {
    if (this.disposed) throw disposedError('HostBuffer (view)');
    if (typeof ctor !== 'function' || typeof ctor.BYTES_PER_ELEMENT !== 'number') {
      throw invalidArg(`HostBuffer.view expects a TypedArray constructor; got ${describe(ctor)}`);
    }
    const off = checkByteCount(byteOffset, 'view byteOffset');
    const size = ctor.BYTES_PER_ELEMENT;
    if (off % size !== 0) throw invalidArg(`view byteOffset ${off} is not a multiple of ${ctor.name}.BYTES_PER_ELEMENT (${size})`);
    checkRange(off, 0, this.byteLength, 'HostBuffer.view');
    let len: number;
    if (length === undefined) {
      if ((this.byteLength - off) % size !== 0) {
        throw invalidArg(`HostBuffer.view: ${this.byteLength - off} bytes is not a whole number of ${ctor.name} elements`);
      }
      len = (this.byteLength - off) / size;
    } else {
      len = checkByteCount(length, 'view length');
      checkRange(off, len * size, this.byteLength, 'HostBuffer.view');
    }
    return new ctor(this.buffer, off, len);
  }

  /** Frees the pinned memory now (after any copy in flight) and detaches `buffer` (idempotent). */
  dispose(): void {
    this._native.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

// ------------------------------------------------------------------------------------------------------------
// Stream

export class Stream {
  /** @internal */ readonly _native: TensorRTNative.Stream;

  constructor(opts: StreamOptions = {}) {
    const o = is.options(opts, 'Stream', ['nonBlocking', 'priority']);
    if (o.nonBlocking !== undefined && typeof o.nonBlocking !== 'boolean') {
      throw invalidArg(`Stream nonBlocking must be a boolean; got ${describe(o.nonBlocking)}`);
    }
    if (o.priority !== undefined && (typeof o.priority !== 'number' || !Number.isInteger(o.priority) || Math.abs(o.priority) > 1024)) {
      throw invalidArg(`Stream priority must be a small integer; got ${describe(o.priority)}`);
    }
    const N = cudaNative().Stream;
    this._native = callNative(() => new N((o.nonBlocking as boolean | undefined) ?? false, (o.priority as number | undefined) ?? 0));
  }

  get disposed(): boolean {
    return this._native.disposed;
  }

  /** The cudaStream_t, as a bigint. */
  get handle(): bigint {
    if (this.disposed) throw disposedError('Stream (handle)');
    return this._native.handle;
  }

  /** The priority CUDA gave the stream. */
  get priority(): number {
    return this._native.priority;
  }

  /** The device the stream was created on (its work runs there, whatever device is current later). */
  get device(): number {
    return this._native.device;
  }

  /** Resolves when all work queued so far on this stream has completed (waits off the JS thread). */
  async synchronize(): Promise<void> {
    if (this.disposed) throw disposedError('Stream (synchronize)');
    await awaitNative(callNative(() => this._native.synchronize()));
  }

  /** true when all work queued so far has completed (does not wait). */
  query(): boolean {
    if (this.disposed) throw disposedError('Stream (query)');
    return callNative(() => this._native.query());
  }

  /** Makes later work on this stream wait for `event`. */
  waitEvent(event: Event): void {
    if (this.disposed) throw disposedError('Stream (waitEvent)');
    if (!(event instanceof Event)) throw invalidArg(`Stream.waitEvent expects an Event; got ${describe(event)}`);
    if (event.disposed) throw disposedError('Event (waitEvent)');
    callNative(() => this._native.waitEvent(event._native));
  }

  /** Destroys the stream (queued work still completes; idempotent). */
  dispose(): void {
    this._native.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

// ------------------------------------------------------------------------------------------------------------
// Event

export class Event {
  /** @internal */ readonly _native: TensorRTNative.Event;

  constructor(opts: EventOptions = {}) {
    const o = is.options(opts, 'Event', ['timing']);
    if (o.timing !== undefined && typeof o.timing !== 'boolean') {
      throw invalidArg(`Event timing must be a boolean; got ${describe(o.timing)}`);
    }
    const N = cudaNative().Event;
    this._native = callNative(() => new N((o.timing as boolean | undefined) ?? true));
  }

  get disposed(): boolean {
    return this._native.disposed;
  }

  get timing(): boolean {
    return this._native.timing;
  }

  /** The device the event was created on (it can only be recorded on a stream of that device). */
  get device(): number {
    return this._native.device;
  }

  /** Records the event on `stream` (default: the legacy default stream). */
  record(stream?: Stream): void {
    if (this.disposed) throw disposedError('Event (record)');
    const s = checkStream(stream, 'Event.record');
    callNative(() => this._native.record(s));
  }

  /** Resolves when the work before the last record() has completed (waits off the JS thread). */
  async synchronize(): Promise<void> {
    if (this.disposed) throw disposedError('Event (synchronize)');
    await awaitNative(callNative(() => this._native.synchronize()));
  }

  /** true when the recorded work has completed (does not wait). */
  query(): boolean {
    if (this.disposed) throw disposedError('Event (query)');
    return callNative(() => this._native.query());
  }

  /** Milliseconds between two completed events recorded with timing enabled. */
  static elapsedTime(start: Event, end: Event): number {
    if (!(start instanceof Event) || !(end instanceof Event)) {
      throw invalidArg('Event.elapsedTime expects two Events (start, end)');
    }
    if (start.disposed || end.disposed) throw disposedError('Event (elapsedTime)');
    if (!start.timing || !end.timing) throw invalidArg('Event.elapsedTime needs events created with { timing: true }');
    return callNative(() => cudaNative().eventElapsedTime(start._native, end._native));
  }

  dispose(): void {
    this._native.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** The `cuda` namespace of the public API. */
export const cuda = {
  getDeviceCount,
  getDeviceProperties,
  memGetInfo,
  setDevice,
  getDevice,
  synchronize,
  DeviceBuffer,
  HostBuffer,
  Stream,
  Event,
} as const;
