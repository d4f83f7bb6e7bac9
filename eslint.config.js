'use strict';
/**
 * ESLint (flat config): eslint's and typescript-eslint's recommended rules over lib/, test/ and scripts/, run by the
 * test command as a counted test (test/unit/lint.test.ts: no problem reported, and every `eslint-disable` comment
 * says why after ` -- `). Rules changed from the recommended sets, each with its reason, are below.
 */
const js = require('@eslint/js');
const tseslint = require('typescript-eslint');
const globals = require('globals');

module.exports = tseslint.config(
  // generated (scripts/gen-onnx.js), build outputs, caches, dependencies
  { ignores: ['dist/', 'build/', 'build-*/', 'node_modules/', 'prebuilds/', '.cache/', '.gpu-bundle*/', 'lib/onnx/proto.ts'] },
  { linterOptions: { reportUnusedDisableDirectives: 'error' } },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { globals: { ...globals.node } },
    rules: {
      // the addon's typings are `declare namespace TensorRTNative`, merged across lib/addon/*.ts (no code)
      '@typescript-eslint/no-namespace': ['error', { allowDeclarations: true }],
      // `interface X extends Y {}` in a module augmentation widens a lower module's narrow type to the upper
      // module's class (lib/tensorrt/engine.ts, runtime.ts: docs/architecture.md)
      '@typescript-eslint/no-empty-object-type': ['error', { allowInterfaces: 'with-single-extends' }],
    },
  },
  {
    // the library prints nothing: the CLI writes through its io() (lib/cli/common.ts), the server through pino
    files: ['lib/**/*.ts'],
    rules: { 'no-console': 'error' },
  },
  {
    // tests load the optional onnxruntime-node where it is installed and the CommonJS helpers of scripts/bench/
    files: ['test/**/*.ts'],
    languageOptions: { globals: { ...globals.node, ...globals.jest } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { ...globals.node } },
    rules: {
      // CommonJS scripts and node:test files
      '@typescript-eslint/no-require-imports': 'off',
      // `const { Event } = require(dist)`, `const crypto = require('crypto')`: a module's binding may shadow Node's
      // global of the same name
      'no-redeclare': ['error', { builtinGlobals: false }],
    },
  },
  {
    files: ['**/*.mjs'],
    languageOptions: { sourceType: 'module', globals: { ...globals.node } },
  },
  {
    rules: {
      // `_`-prefixed names are deliberately unused (positional parameters); a caught error may go unused
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true }],
    },
  },
);
