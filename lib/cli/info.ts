/** `tensorrt-node info`: runtimeInfo() for humans: what was found, what is missing, where it looked, what to install. */
import type { Command } from 'commander';
import { ONNXRUNTIME_NODE_ADVICE } from '../errors';
import { runtimeInfo, type RuntimeInfo } from '../info';
import { BUILD_FROM_SOURCE_ADVICE } from '../native';
import { onnxRuntimeAvailable } from '../serve/backends/onnxruntime';
import { action, io, toJson } from './common';
import { formatBytes } from './parse';

/** The advice lines for what is missing; empty when everything is there. `onnxruntime`: whether onnxruntime-node loads. */
export function installAdvice(info: RuntimeInfo, onnxruntime = true): string[] {
  const tips: string[] = [];
  if (!onnxruntime) tips.push(`onnxruntime-node (serve's CPU backend, quantize's statistics) cannot be loaded: ${ONNXRUNTIME_NODE_ADVICE}.`);
  if (!info.addon.loaded) {
    tips.push(`Build the native addon ${BUILD_FROM_SOURCE_ADVICE}; TensorRT headers are optional (CUDA only without them).`);
    return tips;
  }
  if (!info.compiledWith.tensorrt) {
    tips.push(
      info.addon.variant === 'cuda' && info.tensorrt.reason && /no prebuilt addon for TensorRT/.test(info.tensorrt.reason)
        ? info.tensorrt.reason
        : 'The addon has no TensorRT part (CUDA only): install TensorRT 10 or 11 (tarball, the libnvinfer / libnvonnxparsers ' +
            'packages, `pip install tensorrt`, or a container): the prebuilt addon of that major is then chosen; or build ' +
            `it ${BUILD_FROM_SOURCE_ADVICE}.`,
    );
  } else if (info.tensorrt.available && info.tensorrt.flavor && info.tensorrt.flavor !== 'full') {
    const major = info.compiledWith.tensorrt.split('.')[0];
    tips.push(
      `Only TensorRT's ${info.tensorrt.flavor} runtime is in use: engines load (version-compatible ones), but building, ` +
        `parsing ONNX and refitting need the full library libnvinfer.so.${major} (\`pip install tensorrt-cu${(info.compiledWith.cuda ?? '13').split('.')[0]}==${major}.*\` ` +
        'or the TensorRT tarball); then unset TENSORRT_NODE_RUNTIME.',
    );
  } else if (!info.tensorrt.available) {
    const major = info.compiledWith.tensorrt.split('.')[0];
    tips.push(
      `Install the TensorRT ${major} libraries (libnvinfer.so.${major}, libnvonnxparser.so.${major}; optional ` +
        'libnvinfer_plugin) from the TensorRT tarball, the libnvinfer / libnvonnxparsers packages or ' +
        '`pip install tensorrt`, and point TENSORRT_LIB_DIR or LD_LIBRARY_PATH at their directory.',
    );
  }
  if (!info.cuda.available) {
    const err = info.cuda.cudaError ?? '';
    if (err === 'cudaErrorNoDevice') {
      tips.push('No CUDA GPU is visible: check `nvidia-smi`, CUDA_VISIBLE_DEVICES, and the container runtime (--gpus all).');
    } else {
      const rt = info.cuda.runtimeVersion ?? info.compiledWith.cuda ?? '';
      const need = rt.startsWith('13') ? ' (R580 or newer for CUDA 13)' : rt.startsWith('12') ? ' (R525 or newer for CUDA 12)' : '';
      tips.push(`Install or update the NVIDIA driver${need}; check with \`nvidia-smi\`.`);
    }
  }
  return tips;
}

function yesNo(ok: boolean): string {
  return ok ? 'found' : 'MISSING';
}

/** The human-readable report. */
export function formatInfo(info: RuntimeInfo, version: string, onnxruntime = onnxRuntimeAvailable()): string {
  const L: string[] = [];
  L.push(`tensorrt-node ${version}  (Node.js ${info.node.version}, N-API ${info.node.napiVersion ?? '?'}, ${info.node.platform}-${info.node.arch})`);
  L.push('');
  L.push(`Native addon: ${info.addon.loaded ? 'loaded' : 'NOT LOADED'}  (package at ${info.addon.packageRoot})`);
  if (!info.addon.loaded && info.addon.reason) L.push(`  ${info.addon.reason}`);
  if (info.addon.file) L.push(`  file: ${info.addon.file} (${info.addon.kind ?? ''}${info.addon.variant ? `, variant ${info.addon.variant}` : ''}: ${info.addon.selectedBecause ?? ''})`);
  if (info.addon.loaded) {
    L.push(`  compiled with TensorRT headers: ${info.compiledWith.tensorrt ?? 'none'}; CUDA runtime: ${info.compiledWith.cuda ?? '?'}; N-API ${info.compiledWith.napiVersion ?? '?'}`);
  }
  L.push('');
  const t = info.tensorrt;
  const flavorName = t.flavor === 'lean' ? 'lean runtime' : t.flavor === 'dispatch' ? 'dispatch runtime' : 'full library';
  L.push(`TensorRT: ${yesNo(t.available)}${t.version ? `  version ${t.buildVersion ?? t.version}` : ''}${t.flavor ? `  (${flavorName})` : ''}`);
  if (t.libraryPath) L.push(`  library: ${t.libraryPath}`);
  if (t.selectedBecause && t.flavor !== 'full') L.push(`  selected because ${t.selectedBecause}`);
  if (t.available && t.cannot && t.cannot.length) {
    L.push(`  the ${flavorName} cannot:`);
    for (const c of t.cannot) L.push(`    - ${c}`);
  }
  if (!info.tensorrt.available) L.push(`  why: ${info.tensorrt.reason ?? 'unknown'}`);
  L.push('');
  const c = info.cuda;
  const ver = [
    c.driverCudaVersion ? `driver supports CUDA ${c.driverCudaVersion}` : '',
    c.runtimeVersion ? `runtime ${c.runtimeVersion}` : '',
  ].filter(Boolean).join(', ');
  L.push(`CUDA: ${yesNo(c.available)}${ver ? `  (${ver})` : ''}`);
  if (!c.available) L.push(`  why: ${c.reason ?? 'unknown'}${c.cudaError && !(c.reason ?? '').includes(c.cudaError) ? ` (${c.cudaError})` : ''}`);
  for (const d of c.devices) {
    L.push(`  GPU ${d.index}: ${d.name}, compute capability ${d.computeCapability}, ${formatBytes(d.totalMemory)}, ${d.multiProcessorCount} SMs`);
  }
  // serve's default backend: tensorrt only where TensorRT and a GPU are both usable; onnxruntime only where it loads.
  const trtUsable = info.tensorrt.available && info.cuda.available;
  const serveBackend = trtUsable
    ? 'default backend tensorrt'
    : onnxruntime
      ? 'default backend onnxruntime (CPU; TensorRT or a GPU is absent)'
      : 'NO usable backend for .onnx models (TensorRT or a GPU is absent, and onnxruntime-node cannot be loaded)';
  L.push('');
  L.push(`onnxruntime-node: ${onnxruntime ? 'found' : 'MISSING'}`);
  L.push(`serve: ${serveBackend}`);
  const tips = installAdvice(info, onnxruntime);
  L.push('');
  if (tips.length) {
    L.push('What to install:');
    for (const t of tips) L.push(`  - ${t}`);
  } else {
    L.push('Everything needed to build and run engines is present.');
  }
  return `${L.join('\n')}\n`;
}

export function registerInfo(program: Command, version: string): void {
  program
    .command('info')
    .description('show the TensorRT, CUDA and GPUs found, what is missing, where it looked and what to install')
    .option('--json', 'print runtimeInfo() as JSON')
    .action(
      action('info', (opts: { json?: boolean }) => {
        const info = runtimeInfo();
        const ort = onnxRuntimeAvailable();
        io().out(opts.json ? toJson({ version, ...info, onnxruntime: { available: ort }, advice: installAdvice(info, ort) }) : formatInfo(info, version, ort));
      }),
    );
}
