#!/usr/bin/env node
/** The `tensorrt-node` bin: `npx tensorrt-node <command>`; see program.ts and docs/cli.md. */
import { runCli } from './program';

runCli(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`tensorrt-node: internal error: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
    process.exitCode = 2;
  },
);
