/**
 * What `build` and `cache` share: the parsed flags (BuildCliOptions, reusing lib/tensorrt/build.ts's BuildOptions), their
 * mapping to BuildOptions, the profile check against the model's inputs, and the progress display. A module of its
 * own so that build.ts and cache.ts both import it and not each other (no import cycle).
 */
import { SingleBar, Presets } from 'cli-progress';
import type { ModelInfo } from '../onnx';
import { io, UsageError } from './common';
import { buildProfile, type ShapeMap, type ShapeRange } from './parse';
import type { BuildOptions } from '../tensorrt/build';

/** Flags that are buildEngine options under the same name (lib/tensorrt/build.ts's BuildOptions, not a copy of it). */
type SameNameOption = 'fp16' | 'bf16' | 'int8' | 'fp8' | 'tf32' | 'stronglyTyped' | 'timingCache' | 'builderOptimizationLevel';

/** The parsed flags of `build`: BuildOptions' own fields where a flag maps to one, and the CLI's own. */
export interface BuildCliOptions extends Pick<BuildOptions, SameNameOption> {
  output?: string;
  saveEngine?: string;
  shapes?: ShapeMap;
  minShapes?: ShapeMap;
  optShapes?: ShapeMap;
  maxShapes?: ShapeMap;
  memPoolSize?: Record<string, number>;
  calib?: string;
  calibCache?: string;
  calibMethod?: 'entropy' | 'minmax' | 'percentile';
  calibBatches?: number;
  progress?: boolean;
  json?: boolean;
  /** Engine cache directory: build only when the cache has no valid entry (docs/engine-cache.md). */
  cacheDir?: string;
}

/** The BuildOptions for the library, from the parsed flags (everything except the calibrator and callbacks). */
export function toBuildOptions(o: BuildCliOptions): { options: BuildOptions; profile: Record<string, ShapeRange> | null } {
  if (o.stronglyTyped && (o.fp16 || o.bf16 || o.int8 || o.fp8)) {
    throw new UsageError('--stronglyTyped takes precisions from the model; it cannot be combined with --fp16/--bf16/--int8/--fp8');
  }
  const options: BuildOptions = {};
  if (o.fp16) options.fp16 = true;
  if (o.bf16) options.bf16 = true;
  if (o.int8 || o.calib) options.int8 = true;
  if (o.fp8) options.fp8 = true;
  if (o.tf32 === false) options.tf32 = false;
  if (o.stronglyTyped) options.stronglyTyped = true;
  if (o.memPoolSize) options.memoryPoolLimits = { ...o.memPoolSize } as NonNullable<BuildOptions['memoryPoolLimits']>;
  if (o.timingCache) options.timingCache = o.timingCache;
  if (o.builderOptimizationLevel !== undefined) options.builderOptimizationLevel = o.builderOptimizationLevel;
  const profile = buildProfile({ shapes: o.shapes, minShapes: o.minShapes, optShapes: o.optShapes, maxShapes: o.maxShapes });
  if (profile) options.profiles = [profile];
  return { options, profile };
}

/**
 * Checks the profile against the ONNX model's inputs: names exist, ranks and fixed dimensions agree, and every
 * input with dynamic dimensions has a shape (as trtexec requires), so these mistakes show before TensorRT runs.
 */
export function checkShapesAgainstModel(info: Pick<ModelInfo, 'inputs'>, profile: Record<string, ShapeRange> | null): void {
  const byName = new Map(info.inputs.map((v) => [v.name, v]));
  for (const [name, r] of Object.entries(profile ?? {})) {
    const v = byName.get(name);
    if (!v) throw new UsageError(`the model has no input named '${name}' (inputs: ${info.inputs.map((i) => i.name).join(', ')})`);
    if (r.opt.length !== v.shape.length) {
      throw new UsageError(`input '${name}' has rank ${v.shape.length} ([${v.shape.join(', ')}]); got shape ${r.opt.join('x') || '[]'}`);
    }
    v.shape.forEach((d, i) => {
      if (typeof d === 'number' && d >= 0 && (r.min[i] !== d || r.max[i] !== d)) {
        throw new UsageError(`input '${name}' has a fixed dimension ${i} of ${d} ([${v.shape.join(', ')}]); got ${r.min[i]}..${r.max[i]}`);
      }
    });
  }
  const missing = info.inputs.filter((v) => v.shape.some((d) => typeof d !== 'number' || d < 0) && !(profile && v.name in profile));
  if (missing.length) {
    const m = missing[0];
    throw new UsageError(
      `input${missing.length > 1 ? 's' : ''} ${missing.map((v) => `'${v.name}' [${v.shape.join(', ')}]`).join(', ')} ` +
        `ha${missing.length > 1 ? 've' : 's'} dynamic dimensions: give --shapes ${m.name}:${m.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : 1)).join('x')} ` +
        'or --minShapes/--optShapes/--maxShapes',
    );
  }
}

/** Draws the build progress: one bar for the outermost phase, the innermost active phase as its label. */
export class BuildProgress {
  private bar: SingleBar | null = null;
  private readonly stack: { phase: string; step: number; steps: number }[] = [];
  private lastLine = '';

  /** 'bar' on a terminal, 'lines' (one per top-level phase) otherwise, 'off' for --no-progress / --json. */
  constructor(private readonly mode: 'bar' | 'lines' | 'off') {}

  onEvent(e: { phase: string; step: number; steps: number; depth: number; event: 'start' | 'step' | 'end' }): void {
    if (this.mode === 'off') return;
    if (e.event === 'start') {
      this.stack.length = Math.min(this.stack.length, e.depth);
      this.stack[e.depth] = { phase: e.phase, step: 0, steps: e.steps };
    } else if (e.event === 'step') {
      const s = this.stack[e.depth];
      if (s) s.step = e.step;
    } else {
      this.stack.length = Math.min(this.stack.length, e.depth);
    }
    this.render();
  }

  private render(): void {
    const top = this.stack[0];
    const inner = this.stack[this.stack.length - 1];
    const label = this.stack.map((s) => s.phase).join(' > ');
    if (this.mode === 'lines') {
      // Not a terminal: one line per outermost phase, no redraws.
      if (top && top.phase !== this.lastLine) {
        this.lastLine = top.phase;
        io().err(`build: ${top.phase}\n`);
      }
      return;
    }
    if (!top) return;
    if (!this.bar) {
      this.bar = new SingleBar(
        { format: 'building [{bar}] {percentage}% | {label}', hideCursor: true, clearOnComplete: true, stream: io().progressStream, barsize: 30 },
        Presets.shades_classic,
      );
      this.bar.start(Math.max(top.steps, 1), 0, { label });
    }
    this.bar.setTotal(Math.max(top.steps, 1));
    this.bar.update(Math.min(top.step, top.steps), { label: inner ? `${label} (${inner.step}/${inner.steps})` : label });
  }

  stop(): void {
    this.bar?.stop();
    this.bar = null;
  }
}
