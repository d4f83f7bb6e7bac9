'use strict';
/** Helpers shared by the GPU test files. */
const assert = require('node:assert/strict');
const crypto = require('node:crypto');

/** n random bytes (filled in 64 KiB pieces, so any size works). */
function random(n) {
  const b = new Uint8Array(n);
  for (let off = 0; off < n; off += 65536) crypto.randomFillSync(b, off, Math.min(65536, n - off));
  return b;
}

/** Byte-exact comparison of two views, naming the first differing offset. */
function assertBytesEqual(actual, expected, what) {
  const a = Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength);
  const e = Buffer.from(expected.buffer, expected.byteOffset, expected.byteLength);
  assert.equal(a.length, e.length, `${what}: length`);
  if (a.compare(e) !== 0) {
    let i = 0;
    while (i < a.length && a[i] === e[i]) i++;
    assert.fail(`${what}: bytes differ first at offset ${i} of ${a.length} (got ${a[i]}, expected ${e[i]})`);
  }
}

module.exports = { random, assertBytesEqual };
