#!/usr/bin/env node
/** The `tensorrt-node` bin: `npx tensorrt-node <command>`; see program.ts and docs/cli.md. */
import { runCli } from './program';

runCli(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    // Not reached by command errors (runCli reports those); one line with its code, the stack with --verbose.
    const first = (e instanceof Error ? e.message : String(e)).split('\n')[0];
    process.stderr.write(`tensorrt-node: internal error: ${first} [INTERNAL]\n`);
    const verbose = process.argv.includes('--verbose') || process.env.TENSORRT_NODE_VERBOSE === '1';
    if (verbose && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
    process.exitCode = 2;
  },
);
