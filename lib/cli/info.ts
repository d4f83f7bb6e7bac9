/** `tensorrt-node info`: runtimeInfo() for humans: what was found, what is missing, where it looked, what to install. */
import type { Command } from 'commander';
import { runtimeInfo, type RuntimeInfo } from '../info';
import { action, io, toJson } from './common';
import { formatBytes } from './parse';

/** The advice lines for what is missing; empty when everything is there. */
export function installAdvice(info: RuntimeInfo): string[] {
  const tips: string[] = [];
  if (!info.addon.loaded) {
    tips.push(
      'Build the native addon: `npm run build:native` in the package directory (needs the CUDA toolkit, ' +
        'CUDA_PATH or /usr/local/cuda; TensorRT headers via TENSORRT_INCLUDE_DIR or TENSORRT_ROOT).',
    );
    return tips;
  }
  if (!info.compiledWith.tensorrt) {
    tips.push(
      'The addon was built without TensorRT headers: install TensorRT 10 or 11 (tarball, the libnvinfer-dev / ' +
        'libnvonnxparsers-dev packages, or a container) and rebuild with ' +
        '`TENSORRT_INCLUDE_DIR=/path/to/TensorRT/include npm run build:native` (or TENSORRT_ROOT=/path/to/TensorRT).',
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
export function formatInfo(info: RuntimeInfo, version: string): string {
  const L: string[] = [];
  L.push(`tensorrt-node ${version}  (Node.js ${info.node.version}, N-API ${info.node.napiVersion ?? '?'}, ${info.node.platform}-${info.node.arch})`);
  L.push('');
  L.push(`Native addon: ${info.addon.loaded ? 'loaded' : 'NOT LOADED'}  (package at ${info.addon.packageRoot})`);
  if (!info.addon.loaded && info.addon.reason) L.push(`  ${info.addon.reason}`);
  if (info.addon.file) L.push(`  file: ${info.addon.file} (${info.addon.selectedBecause ?? ''})`);
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
  // serve's default backend: tensorrt only where TensorRT and a GPU are both usable.
  const serveBackend = info.tensorrt.available && info.cuda.available ? 'tensorrt' : 'onnxruntime (CPU; TensorRT or a GPU is absent)';
  L.push('');
  L.push(`serve: default backend ${serveBackend}`);
  const tips = installAdvice(info);
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
        io().out(opts.json ? toJson({ version, ...info, advice: installAdvice(info) }) : formatInfo(info, version));
      }),
    );
}
