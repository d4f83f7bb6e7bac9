/**
 * The `tensorrt-node` command-line program (commander): build, run, bench, inspect, info, quantize, cache. `runCli`
 * runs it on an argument list and resolves to the exit code (0 success, 1 user error, 2 internal failure),
 * writing through a CliIo so that tests can run it in-process and read what it printed.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Command, CommanderError } from 'commander';
import { getLogSeverity, setLogSeverity } from '../info';
import { packageRoot } from '../native';
import { processIo, reportError, setIo, type CliIo } from './common';
import { registerBench } from './bench';
import { registerBuild } from './build';
import { registerConvert } from './convert';
import { registerCache } from './cache';
import { registerInfo } from './info';
import { registerInspect } from './inspect';
import { registerQuantize } from './quantize';
import { registerRun } from './run';
import { registerServe } from './serve';
import { registerExportTriton } from './export-triton';

/** tensorrt-node's version, from its package.json. */
export function packageVersion(): string {
  try {
    return String(JSON.parse(fs.readFileSync(path.join(packageRoot, 'package.json'), 'utf8')).version);
  } catch {
    return 'unknown';
  }
}

const EXAMPLES = `
Examples:
  tensorrt-node info
  tensorrt-node inspect model.onnx
  tensorrt-node build model.onnx -o model.engine --fp16 --shapes input:1x3x224x224
  tensorrt-node run model.engine --input input=image.npy --output-dir out/
  tensorrt-node bench model.engine --shapes input:8x3x224x224 --iterations 200 --streams 2
  tensorrt-node inspect model.engine --json
  tensorrt-node serve models/ --port 8501
  tensorrt-node convert model.json -o model.onnx --inputs input:1x224x224x3
  tensorrt-node run model.onnx --cache-dir /var/cache/trt --fp16   (built on first use, loaded after)
  tensorrt-node cache ls --cache-dir /var/cache/trt

Exit codes: 0 success, 1 user error (bad arguments or files, TensorRT or GPU missing), 2 internal failure.
Run \`tensorrt-node <command> --help\` for a command's options.`;

/** The program with every command registered; its output goes through `out`/`err`. */
export function createProgram(out: CliIo): Command {
  const program = new Command();
  const commandNames = () => program.commands.map((c) => c.name());
  program
    .name('tensorrt-node')
    .description('Build, run, benchmark and inspect TensorRT engines and ONNX models from Node.js')
    .version(packageVersion(), '-V, --version', 'print the version of tensorrt-node')
    .option('--verbose', "print stack traces of errors and TensorRT's verbose log")
    .exitOverride()
    .allowExcessArguments(false)
    .configureOutput({
      writeOut: (s) => out.out(s),
      writeErr: (s) => out.err(s),
      outputError: (s, write) => {
        const cmd = currentCommand(commandNames());
        // One line, including commander's "(Did you mean ...?)" suggestion.
        write(`tensorrt-node${cmd ? ` ${cmd}` : ''}: ${s.replace(/^error: /, '').trim().replace(/\s*\n\s*/g, ' ')} [INVALID_ARGUMENT]\n`);
      },
    })
    .addHelpText('after', EXAMPLES)
    .showSuggestionAfterError(true);
  registerBuild(program);
  registerRun(program);
  registerBench(program);
  registerInspect(program);
  registerInfo(program, packageVersion());
  registerQuantize(program);
  registerServe(program, packageVersion());
  registerExportTriton(program);
  registerConvert(program);
  registerCache(program);
  return program;
}

let lastArgv: string[] = [];

/** The first argument that names a command, for error messages. */
function currentCommand(names: string[]): string | undefined {
  return lastArgv.find((a) => names.includes(a));
}

/**
 * Runs the CLI on `argv` (the arguments after `tensorrt-node`) and resolves to its exit code. `io` overrides
 * where output goes (default: the process's stdout/stderr).
 */
export async function runCli(argv: string[], io: Partial<CliIo> = {}): Promise<number> {
  const verbose = argv.includes('--verbose') || process.env.TENSORRT_NODE_VERBOSE === '1';
  const cur: CliIo = { ...processIo(verbose), ...io, verbose, exitCode: 0 };
  const prev = setIo(cur);
  lastArgv = argv;
  const severity = getLogSeverity();
  if (verbose) setLogSeverity('verbose');
  const program = createProgram(cur);
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      cur.exitCode = e.exitCode === 0 ? 0 : 1; // help/version: 0; usage errors (already printed): 1
    } else {
      reportError(currentCommand(program.commands.map((c) => c.name())) ?? '', e);
    }
  } finally {
    setIo(prev);
    setLogSeverity(severity);
  }
  return cur.exitCode;
}
