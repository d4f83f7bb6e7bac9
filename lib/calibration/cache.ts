/**
 * TensorRT calibration cache files (text): a header line `TRT-<version>-<Algorithm>` (e.g.
 * `TRT-100300-EntropyCalibration2`, version = major*10000 + minor*100 + patch; TensorRT 8 wrote `TRT-8601-...`),
 * then one `tensorName: <8 hex digits>` line per tensor, the hex being the big-endian IEEE-754 bits of the
 * float32 scale (amax / 127). The same files are written by trtexec (--calib) and the Python API.
 */
import { TensorRTError } from '../errors';
import * as is from '../validate';
import type { CalibrationAlgorithm } from './types';

/** Header names of TensorRT's calibrators. */
export const CACHE_ALGORITHM_NAMES: Readonly<Record<CalibrationAlgorithm, string>> = {
  entropy2: 'EntropyCalibration2',
  entropy: 'EntropyCalibration',
  minmax: 'MinMaxCalibration',
  legacy: 'LegacyCalibration',
  // TensorRT has no percentile calibrator: such caches carry this name, which TensorRT's own calibrators do not claim.
  percentile: 'PercentileCalibration',
};

export interface CalibrationCache {
  /** The header's algorithm name (e.g. `EntropyCalibration2`). */
  algorithm: string;
  /** The header's version number (e.g. 100300), or 0 when absent. */
  version: number;
  /** tensor name -> scale (amax / 127). */
  scales: Map<string, number>;
}

/** Hex of the float32 bits of `x` (8 lowercase digits, as TensorRT writes them). */
export function float32ToHex(x: number): string {
  const b = new DataView(new ArrayBuffer(4));
  b.setFloat32(0, x, false);
  return b.getUint32(0, false).toString(16).padStart(8, '0');
}

export function hexToFloat32(hex: string): number {
  const b = new DataView(new ArrayBuffer(4));
  b.setUint32(0, parseInt(hex, 16) >>> 0, false);
  return b.getFloat32(0, false);
}

/** Parses a TensorRT calibration cache (bytes or text). Throws PARSE_ERROR on malformed content. */
export function parseCalibrationCache(data: Uint8Array | string): CalibrationCache {
  if (typeof data !== 'string') is.bytes(data, 'parseCalibrationCache: the cache (bytes or text)');
  const text = typeof data === 'string' ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8');
  const lines = text.split(/\r?\n/);
  const header = lines[0]?.trim() ?? '';
  const m = /^TRT-(\d+)-(\S+)$/.exec(header);
  if (!m) throw new TensorRTError('PARSE_ERROR', `not a TensorRT calibration cache: bad header "${header.slice(0, 60)}"`);
  const scales = new Map<string, number>();
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    if (line.trim() === '') continue;
    const k = line.lastIndexOf(': ');
    const hex = k >= 0 ? line.slice(k + 2).trim() : '';
    if (k <= 0 || !/^[0-9a-fA-F]{1,8}$/.test(hex)) {
      throw new TensorRTError('PARSE_ERROR', `calibration cache line ${i + 1} is not "name: hex": "${line.slice(0, 80)}"`);
    }
    scales.set(line.slice(0, k), hexToFloat32(hex));
  }
  return { algorithm: m[2], version: Number(m[1]), scales };
}

/** Writes a TensorRT calibration cache. `version` defaults to 100000 (TensorRT 10.0.0). */
export function formatCalibrationCache(
  scales: Map<string, number> | Record<string, number>,
  algorithm: CalibrationAlgorithm | string = 'entropy2',
  version = 100000,
): Buffer {
  if (!(scales instanceof Map)) is.object(scales, 'formatCalibrationCache: scales', 'a Map or an object { tensorName: scale }');
  is.string(algorithm, 'formatCalibrationCache: algorithm');
  is.integer(version, 'formatCalibrationCache: version', 0, 0x7fffffff);
  const algo = Object.prototype.hasOwnProperty.call(CACHE_ALGORITHM_NAMES, algorithm) ? CACHE_ALGORITHM_NAMES[algorithm as CalibrationAlgorithm] : algorithm;
  if (!/^\S+$/.test(algo)) throw new TensorRTError('INVALID_ARGUMENT', `bad calibration algorithm name "${algo}"`);
  const entries = scales instanceof Map ? [...scales.entries()] : Object.entries(scales);
  let out = `TRT-${version}-${algo}\n`;
  for (const [name, scale] of entries) {
    if (typeof name !== 'string' || /[\r\n]/.test(name)) throw new TensorRTError('INVALID_ARGUMENT', `tensor name with a line break: ${JSON.stringify(name)}`);
    is.number(scale, `formatCalibrationCache: the scale of '${name}'`);
    out += `${name}: ${float32ToHex(scale)}\n`;
  }
  return Buffer.from(out, 'utf8');
}

/** INT8 scale from a clipping threshold: amax / 127. */
export function scaleFromAmax(amax: number): number {
  return amax / 127;
}
