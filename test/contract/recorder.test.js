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

test('review 2 #10: out-of-range getErrorCode/getErrorDesc answer as the header says (kUNSPECIFIED_ERROR, "")', opts, () => {
  const r = h.addon().contract.errorRecorder(2);
  // NvInferRuntimeBase.h (8.6.1 .. 11.1): "ErrorCode::kUNSPECIFIED_ERROR must be returned if errorIdx is not in
  // range"; "An empty string will be returned if errorIdx is not in range."
  assert.equal(r.unspecified, 1, 'kUNSPECIFIED_ERROR is 1 in every header');
  assert.equal(r.codeOutOfRange, r.unspecified);
  assert.equal(r.codeNegative, r.unspecified);
  assert.equal(r.descOutOfRange, '');
  assert.notEqual(r.codeFirst, r.unspecified, 'an index in range keeps its own code (kINTERNAL_ERROR)');
});

test('a build\'s log capture also collects errors TensorRT logs on its own threads', opts, () => {
  const c = h.addon().contract;
  h.addon().setLogSeverity('internalError'); // captured whatever the severity; not printed
  assert.equal(c.logCapture(true), 'from a TensorRT thread; from the calling thread');
  assert.equal(c.logCapture(false), 'from the calling thread', 'a per-thread capture keeps to its thread');
});

test('review 2 #10: a build\'s messages survive clear() and stay apart from a synchronous call\'s', opts, () => {
  const r = h.addon().contract.recorderScopes();
  // The build's scope (kAnyThread) keeps its own and TensorRT's-thread messages; the JS-thread call's error went to
  // that call alone, and its clear() of the shared recorder wiped nothing the build collected.
  assert.equal(r.buildTaken, 'TensorRT thread error; build thread error');
  assert.equal(r.jsTaken, 'config call error');
  // clear() itself keeps the header's contract: getNbErrors() 0 and hasOverflowed() false right after it.
  assert.equal(r.nbAfterClear, 0);
  assert.equal(r.overflowAfterClear, false);
  assert.equal(r.nbErrors, 2, 'the recorder\'s own list has what was reported after clear()');
  assert.equal(r.recorderTaken, 'TensorRT thread error; build thread error');
});

test('review 2 #11: parsers check the Builder\'s in-use count (RequireBuilderIdle)', opts, () => {
  const c = h.addon().contract;
  assert.equal(c.builderGuard(0, 'OnnxParser.parse'), true);
  assert.throws(() => c.builderGuard(1, 'OnnxParser.parse'), (e) => e.code === 'INVALID_ARGUMENT' &&
    /^OnnxParser\.parse: a build or parse is running on this Builder/.test(e.message));
  assert.throws(() => c.builderGuard(2, 'new OnnxParser()'), (e) => e.code === 'INVALID_ARGUMENT' && /new OnnxParser\(\)/.test(e.message));
});
