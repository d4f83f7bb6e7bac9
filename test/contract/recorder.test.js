'use strict';
// CONTRACT TESTS of our ErrorRecorder (TensorRT's IErrorRecorder) and of the log capture (TensorRT's ILogger)
// through test-only entries of the contract-test addon (test/contract/native/contract_addon.cc). Our objects only:
// no TensorRT library is loaded.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./helpers');

const skip = h.skipReason();
const opts = { skip: skip || false };

test('hasOverflowed() turns true once errors are dropped, and clears with them', opts, () => {
  const few = h.addon().contract.errorRecorder(3);
  assert.deepEqual([few.nbErrors, few.hasOverflowed], [3, false]);
  const many = h.addon().contract.errorRecorder(300);
  assert.equal(many.nbErrors, 256);
  assert.equal(many.hasOverflowed, true);
  assert.match(many.takenEndsWith, /more errors were reported and dropped\)$/);
  assert.equal(many.hasOverflowedAfterTake, false);
});

test('a build\'s log capture also collects errors TensorRT logs on its own threads', opts, () => {
  const c = h.addon().contract;
  h.addon().setLogSeverity('internalError'); // captured whatever the severity; not printed
  assert.equal(c.logCapture(true), 'from a TensorRT thread; from the calling thread');
  assert.equal(c.logCapture(false), 'from the calling thread', 'a per-thread capture keeps to its thread');
});
