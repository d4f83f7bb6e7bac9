'use strict';
// Shared by the contract tests. These are TEST DOUBLES of our own contracts with TensorRT (a stand-in libnvinfer,
// a driver that calls the calibrator bridge as TensorRT's builder does): they never build or run an engine and no
// figure comes from them. They need the contract-test addon, compiled against TensorRT headers by
//   bash scripts/contract/build.sh /path/to/TensorRT/include
// (or TN_CONTRACT_ADDON=/path/to/tensorrt_node_contract.node); without it every test skips with that reason.
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..', '..');
const addonPath = process.env.TN_CONTRACT_ADDON || path.join(root, 'build-contract', 'tensorrt_node_contract.node');

function buildInfo() {
  try {
    return JSON.parse(fs.readFileSync(path.join(path.dirname(addonPath), 'info.json'), 'utf8'));
  } catch {
    return null;
  }
}

/** Why the contract tests cannot run here, or null. */
function skipReason() {
  if (!fs.existsSync(addonPath)) {
    return `no contract-test addon at ${addonPath}: build it with bash scripts/contract/build.sh <TensorRT include dir>`;
  }
  return null;
}

let cached = null;
function addon() {
  if (!cached) cached = require(addonPath);
  return cached;
}

/** The compiled headers' version as [major, minor, patch]. */
function headerVersion() {
  const v = (buildInfo() || {}).tensorrtVersion || addon().compiledWith().tensorrt || '0.0.0';
  return v.split('.').map((x) => Number(x) || 0);
}

module.exports = { root, addonPath, addon, buildInfo, skipReason, headerVersion };
