'use strict';
/**
 * Jest environment for the tests that run onnxruntime-node: its native binding creates typed arrays in Node's
 * main realm, while jest's default sandbox has its own Float32Array & co., so `instanceof` checks (in
 * onnxruntime-common and in tensorrt-node) would fail across the two. This environment hands the sandbox the
 * main realm's typed array constructors. Select it with a `@jest-environment ./test/unit/quantize.environment.js`
 * docblock.
 */
const { TestEnvironment } = require('jest-environment-node');

const SHARED = [
  'ArrayBuffer', 'SharedArrayBuffer', 'DataView', 'Float32Array', 'Float64Array', 'Int8Array', 'Uint8Array', 'Uint8ClampedArray',
  'Int16Array', 'Uint16Array', 'Int32Array', 'Uint32Array', 'BigInt64Array', 'BigUint64Array',
];

class OrtEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of SHARED) this.global[name] = globalThis[name];
  }
}

module.exports = OrtEnvironment;
