/** Unit tests (CPU only, run in CI). GPU and TensorRT tests use node:test under test/gpu and test/trt. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test/unit'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.test.json' }] },
  testTimeout: 120000,
};
