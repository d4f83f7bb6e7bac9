/**
 * The model repository (Triton's layout): `<repo>/<model>/<version>/model.{engine,plan,onnx,json,pb}` with an
 * optional `<repo>/<model>/config.json`; or one model file, served as the model named after the file (version 1).
 * The newest version of each model is served. With `pollIntervalMs` the repository is scanned again: a new version
 * directory is loaded, becomes the served version once ready, and the previous one stops taking requests, finishes
 * what it has queued and in flight, and is unloaded.
 *
 * config.json (every field optional):
 * ```json
 * { "backend": "auto" | "onnxruntime" | "tensorrt",
 *   "maxBatchSize": 8,
 *   "dynamicBatching": { "enabled": true, "maxQueueDelayMicroseconds": 0, "preferredBatchSize": [4, 8], "maxQueueSize": 256 },
 *   "instances": 1, "timeoutMs": 30000, "intraOpNumThreads": 0, "allowSpinning": true on 8+ cores,
 *   "profiles": [{ "x": { "min": [1,3,48,48], "opt": [8,3,48,192], "max": [8,3,48,800] } }], "fp16": false,
 *   "inputShapes": { "x": [-1, 3, 48, 192] } }
 * ```
 */
import * as fs from 'fs';
import * as path from 'path';
import { invalidArg, TensorRTError } from '../errors';
import { Backend, Batcher, BatcherOptions, BatchObserver } from './batcher';
import { createOnnxRuntimeBackend, onnxRuntimeAvailable } from './backends/onnxruntime';
import { createTensorRTBackend, tensorrtUnavailableReason } from './backends/tensorrt';
import * as is from '../validate';
import { isSavedModelDir } from '../tensorflow/format';
import { manyCores } from './cores';

export type BackendName = 'auto' | 'onnxruntime' | 'tensorrt';

export interface ModelConfig {
  backend?: BackendName;
  maxBatchSize?: number;
  dynamicBatching?: { enabled?: boolean; maxQueueDelayMicroseconds?: number; preferredBatchSize?: number[]; maxQueueSize?: number };
  instances?: number;
  timeoutMs?: number;
  intraOpNumThreads?: number;
  /** onnxruntime backend: let idle pool threads spin (onnxruntime's session.intra_op.allow_spinning; default true on machines of 8+ cores, false below: cores.ts). */
  allowSpinning?: boolean;
  profiles?: Record<string, { min: number[]; opt: number[]; max: number[] }>[];
  fp16?: boolean;
  /** Narrows inputs' dynamic dimensions (-1 stays dynamic), e.g. { "x": [-1, 3, 48, 192] }: fixed shapes are checked per request and let b64 values carry raw tensors. */
  inputShapes?: Record<string, number[]>;
}

/** Server-wide defaults, overridden per model by config.json. */
export interface RepositoryDefaults {
  backend: BackendName;
  maxBatchSize: number;
  batching: boolean;
  maxQueueDelayMicroseconds: number;
  preferredBatchSizes: number[];
  maxQueueSize: number;
  instances: number;
  timeoutMs: number;
  intraOpNumThreads: number;
  /** onnxruntime backend: idle pool threads spin (lower latency at low load, a core each while they spin). */
  allowSpinning: boolean;
  /** Engine cache directory of the tensorrt backend ('' = $TENSORRT_NODE_CACHE_DIR or <tmpdir>/tensorrt-node-engines). */
  cacheDir: string;
  /** SavedModel MetaGraph tags (saved_model_cli's --tag_set; default ['serve']). */
  tagSet: string[];
  /** SavedModel signature (saved_model_cli's --signature_def; default serving_default). */
  signatureDef: string;
}

export const DEFAULTS: RepositoryDefaults = {
  backend: 'auto',
  maxBatchSize: 8,
  batching: true,
  maxQueueDelayMicroseconds: 0,
  preferredBatchSizes: [],
  maxQueueSize: 256,
  instances: 1,
  timeoutMs: 30000,
  intraOpNumThreads: 0,
  allowSpinning: manyCores,
  cacheDir: '',
  tagSet: ['serve'],
  signatureDef: 'serving_default',
};

export const MODEL_FILES = ['model.engine', 'model.plan', 'model.onnx', 'model.json', 'model.pb', 'saved_model.pb'];


/** The file whose size and modification time tell that a model changed (saved_model.pb for a SavedModel). */
function stampFile(file: string): string {
  return isSavedModelDir(file) ? path.join(file, 'saved_model.pb') : file;
}

export type VersionState = 'LOADING' | 'AVAILABLE' | 'UNLOADING' | 'END';

export interface ModelVersion {
  model: string;
  version: number;
  file: string;
  state: VersionState;
  backend: Backend;
  batcher: Batcher;
  config: ModelConfig;
  /** A SavedModel's served signature (--signature-def) when it is not serving_default: TF Serving's signature_name. */
  signature?: string;
}

export interface RepositoryOptions {
  defaults?: Partial<RepositoryDefaults>;
  /** Scan for new versions this often (0: never). */
  pollIntervalMs?: number;
  /** Receives every batch run, per model version (metrics). */
  onBatch?: (model: string, version: number) => BatchObserver;
  log?: (level: 'info' | 'warn' | 'error', obj: Record<string, unknown>, msg: string) => void;
}

/** Which backend a model file gets: `tensorrt` where TensorRT and a GPU exist (or for .engine), else onnxruntime. */
export function chooseBackend(file: string, wanted: BackendName): { backend: 'onnxruntime' | 'tensorrt'; reason: string } {
  is.string(file, 'chooseBackend: the model file');
  is.oneOf(wanted, 'chooseBackend: the backend', ['auto', 'onnxruntime', 'tensorrt'] as const);
  const isEngine = /\.(engine|plan)$/i.test(file);
  if (wanted === 'tensorrt' || isEngine) return { backend: 'tensorrt', reason: wanted === 'tensorrt' ? 'asked for' : 'an engine file' };
  if (wanted === 'onnxruntime') return { backend: 'onnxruntime', reason: 'asked for' };
  const why = tensorrtUnavailableReason();
  if (why === null) return { backend: 'tensorrt', reason: 'TensorRT and a CUDA GPU are present' };
  return { backend: 'onnxruntime', reason: `default: ${why}` };
}

/** The backend serve picks by default on this machine, and why (for logs and `info`). */
export function defaultBackend(): { backend: 'onnxruntime' | 'tensorrt'; reason: string; onnxruntime: boolean } {
  const c = chooseBackend('model.onnx', 'auto');
  return { ...c, onnxruntime: onnxRuntimeAvailable() };
}

function readConfig(file: string): ModelConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw invalidArg(`${file}: ${(e as Error).message}`);
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw invalidArg(`${file}: must hold a JSON object`);
  const c = raw as Record<string, unknown>;
  const allowed = ['backend', 'maxBatchSize', 'dynamicBatching', 'instances', 'timeoutMs', 'intraOpNumThreads', 'allowSpinning', 'profiles', 'fp16', 'inputShapes'];
  for (const k of Object.keys(c)) if (!allowed.includes(k)) throw invalidArg(`${file}: unknown key '${k}' (allowed: ${allowed.join(', ')})`);
  if (c.backend !== undefined && !['auto', 'onnxruntime', 'tensorrt'].includes(c.backend as string)) {
    throw invalidArg(`${file}: backend must be 'auto', 'onnxruntime' or 'tensorrt'`);
  }
  const nonNeg = (v: unknown, k: string) => {
    if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < 0)) throw invalidArg(`${file}: ${k} must be a non-negative integer`);
  };
  nonNeg(c.maxBatchSize, 'maxBatchSize');
  nonNeg(c.instances, 'instances');
  nonNeg(c.timeoutMs, 'timeoutMs');
  nonNeg(c.intraOpNumThreads, 'intraOpNumThreads');
  if (c.allowSpinning !== undefined && typeof c.allowSpinning !== 'boolean') throw invalidArg(`${file}: allowSpinning must be true or false`);
  const db = c.dynamicBatching as Record<string, unknown> | undefined;
  if (db !== undefined) {
    if (!db || typeof db !== 'object') throw invalidArg(`${file}: dynamicBatching must be an object`);
    nonNeg(db.maxQueueDelayMicroseconds, 'dynamicBatching.maxQueueDelayMicroseconds');
    nonNeg(db.maxQueueSize, 'dynamicBatching.maxQueueSize');
    if (db.preferredBatchSize !== undefined && (!Array.isArray(db.preferredBatchSize) || !db.preferredBatchSize.every((x) => Number.isInteger(x) && x > 0))) {
      throw invalidArg(`${file}: dynamicBatching.preferredBatchSize must be a list of positive integers`);
    }
  }
  if (c.inputShapes !== undefined) {
    const is = c.inputShapes as Record<string, unknown>;
    if (!is || typeof is !== 'object' || Array.isArray(is)) throw invalidArg(`${file}: inputShapes must be an object { input: [dims] }`);
    for (const [k, v] of Object.entries(is)) {
      if (!Array.isArray(v) || !v.every((d) => Number.isInteger(d) && d >= -1)) throw invalidArg(`${file}: inputShapes.${k} must be a list of integers >= -1`);
    }
  }
  return c as ModelConfig;
}

/** The backend with its inputs' dynamic dimensions narrowed by config.json's inputShapes. */
function narrowInputs(backend: Backend, shapes: Record<string, number[]> | undefined, where: string): Backend {
  if (!shapes) return backend;
  const inputs = backend.inputs.map((spec) => {
    const s = shapes[spec.name];
    if (!s) return spec;
    const ok = s.length === spec.shape.length && s.every((d, i) => spec.shape[i]! < 0 || d === spec.shape[i]);
    if (!ok) throw invalidArg(`${where}: inputShapes.${spec.name} [${s.join(', ')}] does not fit the model's [${spec.shape.join(', ')}]`);
    return { ...spec, shape: [...s] };
  });
  for (const k of Object.keys(shapes)) {
    if (!backend.inputs.some((i) => i.name === k)) throw invalidArg(`${where}: inputShapes names '${k}', which is not an input (inputs: ${backend.inputs.map((i) => i.name).join(', ')})`);
  }
  return Object.assign(Object.create(null) as object, backend, { inputs }) as Backend;
}

/** `{ model: { version: file } }` found under `root` (a directory) or for one file. */
export function scanRepository(root: string, problems: { model: string; reason: string }[] = []): Map<string, { versions: Map<number, string>; config: string | null }> {
  const out = new Map<string, { versions: Map<number, string>; config: string | null }>();
  let st: fs.Stats;
  try {
    st = fs.statSync(root);
  } catch {
    throw new TensorRTError('IO_ERROR', `model repository ${root} does not exist`);
  }
  if (st.isDirectory() && isSavedModelDir(root)) {
    // the SavedModel directory itself: one model, named after the directory (a version folder's number: its parent)
    const abs = path.resolve(root);
    const base = path.basename(abs);
    const name = /^[1-9]\d*$/.test(base) ? path.basename(path.dirname(abs)) : base;
    out.set(name, { versions: new Map([[1, root]]), config: null });
    return out;
  }
  if (st.isFile()) {
    const name = path.basename(root).replace(/\.[^.]+$/, '');
    if (!/\.(engine|plan|onnx|json|pb)$/i.test(root)) throw invalidArg(`${root}: a model file must end in .engine, .plan, .onnx, .json or .pb`);
    out.set(name, { versions: new Map([[1, root]]), config: null });
    return out;
  }
  // TF Serving's --model_base_path: one model's directory, its version folders holding the model files directly
  const top = fs.readdirSync(root, { withFileTypes: true }).filter((e) => e.isDirectory() && !e.name.startsWith('.'));
  const oneModel = top.length > 0 && top.every((e) => /^[1-9]\d*$/.test(e.name))
    && top.some((e) => MODEL_FILES.some((x) => fs.existsSync(path.join(root, e.name, x))));
  const modelDirs = oneModel ? [{ name: path.basename(path.resolve(root)), dir: root }] : top.map((e) => ({ name: e.name, dir: path.join(root, e.name) }));
  for (const m of modelDirs) {
    const dir = m.dir;
    const versions = new Map<number, string>();
    const entries = fs.readdirSync(dir, { withFileTypes: true });
    const empty: string[] = [];
    for (const v of entries) {
      if (!v.isDirectory() || !/^[1-9]\d*$/.test(v.name)) continue;
      let f = MODEL_FILES.map((x) => path.join(dir, v.name, x)).find((x) => fs.existsSync(x));
      if (f && path.basename(f) === 'saved_model.pb') f = path.dirname(f); // a SavedModel: the version directory
      if (f) versions.set(Number(v.name), f);
      else {
        let files: string[] = [];
        try {
          files = fs.readdirSync(path.join(dir, v.name));
        } catch {
          // unreadable: reported as empty
        }
        empty.push(`${v.name}/ has no model file (${files.length ? `found ${files.slice(0, 5).join(', ')}` : 'it is empty'}; expected one of ${MODEL_FILES.join(', ')})`);
      }
    }
    const cfg = path.join(dir, 'config.json');
    if (versions.size) out.set(m.name, { versions, config: fs.existsSync(cfg) ? cfg : null });
    else if (empty.length) problems.push({ model: m.name, reason: `no version of ${m.name} can be loaded: ${empty.join('; ')}` });
    else {
      const names = entries.filter((e) => !e.name.startsWith('.')).map((e) => (e.isDirectory() ? `${e.name}/` : e.name));
      const hint = names.some((n) => /^latest\/$/i.test(n)) ? " ('latest/' is not a version: version folders are positive integers, and the highest is served)" : '';
      problems.push({ model: m.name, reason: `${m.name} has no version folder (expected ${m.name}/<n>/model.onnx with n = 1, 2, ...; found ${names.length ? names.slice(0, 8).join(', ') : 'nothing'})${hint}` });
    }
  }
  return out;
}

export class Repository {
  /** model -> version -> loaded version. */
  readonly models = new Map<string, Map<number, ModelVersion>>();
  private readonly defaults: RepositoryDefaults;
  private timer: NodeJS.Timeout | null = null;
  private polling: Promise<void> | null = null;
  private closed = false;
  private failed = new Map<string, string>();

  constructor(readonly root: string, private readonly options: RepositoryOptions = {}) {
    is.path(root, 'Repository: the root directory');
    is.object(options, 'Repository options');
    this.defaults = { ...DEFAULTS, ...options.defaults };
  }

  private log(level: 'info' | 'warn' | 'error', obj: Record<string, unknown>, msg: string): void {
    this.options.log?.(level, obj, msg);
  }

  /** Loads the newest version of every model; starts polling. Rejects when nothing could be loaded. */
  async start(): Promise<void> {
    await this.poll(true);
    if (this.models.size === 0) {
      const why = [...this.failed.entries()].filter(([k]) => !k.includes('@')).map(([k, v]) => `${k}: ${v}`).join('; ');
      throw new TensorRTError('INVALID_ARGUMENT', `no model could be loaded from ${this.root}${why ? ` (${why})` : ' (expected <repo>/<model>/<version>/model.onnx or a model file)'}`);
    }
    if (this.options.pollIntervalMs && this.options.pollIntervalMs > 0) {
      this.timer = setInterval(() => void this.pollOnce(), this.options.pollIntervalMs);
      this.timer.unref();
    }
  }

  /** One scan (serialized with any other in progress). */
  pollOnce(): Promise<void> {
    if (!this.polling) this.polling = this.poll(false).finally(() => (this.polling = null));
    return this.polling;
  }

  private async poll(initial: boolean): Promise<void> {
    if (this.closed) return;
    let found;
    const problems: { model: string; reason: string }[] = [];
    try {
      found = scanRepository(this.root, problems);
    } catch (e) {
      if (initial) throw e;
      this.log('warn', { err: (e as Error).message }, 'repository scan failed');
      return;
    }
    for (const { model, reason } of problems) {
      if (this.models.has(model)) continue;
      if (this.failed.get(model) !== reason) this.log('warn', { model, err: reason }, `model ${model} not loaded: ${reason}`);
      this.failed.set(model, reason);
    }
    for (const name of [...this.failed.keys()]) {
      if (!name.includes('@') && !found.has(name) && !problems.some((p) => p.model === name)) this.failed.delete(name); // gone from the repository
    }
    for (const [name, { versions, config }] of found) {
      const newest = Math.max(...versions.keys());
      const loaded = this.models.get(name);
      const current = loaded ? Math.max(...[...loaded.values()].filter((v) => v.state === 'AVAILABLE').map((v) => v.version), 0) : 0;
      if (newest <= current) continue;
      // A version that failed to load is tried again once its file changes (size or modification time).
      let stamp = '';
      try {
        const st = fs.statSync(stampFile(versions.get(newest)!));
        stamp = `${st.size}:${st.mtimeMs}`;
      } catch {
        continue;
      }
      const failKey = `${name}/${newest}@${stamp}`;
      if (this.failed.has(failKey)) continue;
      try {
        const cfg = config ? readConfig(config) : {};
        const mv = await this.loadVersion(name, newest, versions.get(newest)!, cfg);
        let m = this.models.get(name);
        if (!m) this.models.set(name, (m = new Map()));
        m.set(newest, mv);
        mv.state = 'AVAILABLE';
        this.failed.delete(name);
        this.log('info', { model: name, version: newest, backend: mv.backend.kind, platform: mv.backend.platform, maxBatchSize: mv.batcher.options.maxBatchSize, file: mv.file }, 'model version available');
        for (const old of m.values()) if (old !== mv && old.state === 'AVAILABLE') void this.unload(old);
      } catch (e) {
        const msg = (e as Error).message;
        this.failed.set(failKey, msg);
        this.failed.set(name, msg);
        this.log('error', { model: name, version: newest, err: msg }, 'model version failed to load');
      }
    }
  }

  private async loadVersion(model: string, version: number, file: string, cfg: ModelConfig): Promise<ModelVersion> {
    const d = this.defaults;
    const tensorflow = { tags: d.tagSet, signature: d.signatureDef, signatureKeys: true }; // SavedModels: TF Serving's tensor names, the signature keys
    const choice = chooseBackend(file, cfg.backend ?? d.backend);
    const maxBatchSize = cfg.maxBatchSize ?? d.maxBatchSize;
    const instances = Math.max(1, cfg.instances ?? d.instances);
    // the machine's default reason is on the server's "default backend" line already: named, not repeated
    const why = choice.reason.startsWith('default: ') || choice.reason === 'TensorRT and a CUDA GPU are present' ? 'the default backend' : choice.reason;
    this.log('info', { model, version, backend: choice.backend, why }, `loading ${model} version ${version} on the ${choice.backend} backend (${why})`);
    const created = choice.backend === 'tensorrt'
      ? await createTensorRTBackend(file, { instances, maxBatchSize, profiles: cfg.profiles, fp16: cfg.fp16, cacheDir: d.cacheDir || undefined, tensorflow })
      : await createOnnxRuntimeBackend(file, { instances, maxBatchSize, intraOpNumThreads: cfg.intraOpNumThreads || d.intraOpNumThreads || undefined, allowSpinning: cfg.allowSpinning ?? d.allowSpinning, tensorflow });
    let backend: Backend;
    try {
      backend = narrowInputs(created, cfg.inputShapes, `${model}/config.json`);
    } catch (e) {
      await created.dispose().catch(() => {});
      throw e;
    }
    const db = cfg.dynamicBatching ?? {};
    const batching = db.enabled ?? d.batching;
    const bo: BatcherOptions = {
      maxBatchSize: batching ? maxBatchSize : 0,
      maxQueueDelayMicroseconds: db.maxQueueDelayMicroseconds ?? d.maxQueueDelayMicroseconds,
      preferredBatchSizes: db.preferredBatchSize ?? d.preferredBatchSizes,
      instances,
      maxQueueSize: db.maxQueueSize ?? d.maxQueueSize,
      timeoutMs: cfg.timeoutMs ?? d.timeoutMs,
      retryAfterSeconds: 1,
    };
    const batcher = new Batcher(backend, bo, this.options.onBatch?.(model, version));
    const signature = isSavedModelDir(file) && d.signatureDef !== 'serving_default' ? { signature: d.signatureDef } : {};
    return { model, version, file, state: 'LOADING', backend, batcher, config: cfg, ...signature };
  }

  /** Stops routing to `mv`, lets it finish its requests, then unloads it. */
  async unload(mv: ModelVersion): Promise<void> {
    if (mv.state === 'UNLOADING' || mv.state === 'END') return;
    mv.state = 'UNLOADING';
    mv.batcher.close();
    await mv.batcher.drain();
    await mv.backend.dispose().catch(() => {});
    mv.state = 'END';
    this.models.get(mv.model)?.delete(mv.version);
    this.log('info', { model: mv.model, version: mv.version }, 'model version unloaded');
  }

  /** The served version of `model` (newest AVAILABLE), or the given one; NOT_FOUND saying what exists. */
  get(model: string, version?: number): ModelVersion {
    const m = this.models.get(model);
    const failed = this.failed.get(model);
    if (!m && failed !== undefined) throw new TensorRTError('NOT_FOUND', `Servable not found for request: model '${model}' failed to load: ${failed}`);
    if (!m) {
      throw new TensorRTError('NOT_FOUND', `Servable not found for request: model '${model}' (models: ${[...this.models.keys()].join(', ') || 'none'})`);
    }
    if (version === undefined) {
      let best: ModelVersion | undefined;
      for (const v of m.values()) if (v.state === 'AVAILABLE' && (!best || v.version > best.version)) best = v;
      if (!best) throw new TensorRTError('UNAVAILABLE', `model '${model}' has no version ready`);
      return best;
    }
    const v = m.get(version);
    if (!v || v.state !== 'AVAILABLE') {
      const ok = [...m.values()].filter((x) => x.state === 'AVAILABLE').map((x) => x.version);
      throw new TensorRTError('NOT_FOUND', `Servable not found for request: model '${model}' version ${version} (available: ${ok.join(', ') || 'none'})`);
    }
    return v;
  }

  /** Every loaded version (any state). */
  all(): ModelVersion[] {
    return [...this.models.values()].flatMap((m) => [...m.values()]);
  }

  /** Stops polling, refuses new requests, finishes every queued and in-flight one; then unloads everything. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.polling;
    await Promise.all(this.all().map((mv) => this.unload(mv)));
  }

  /** The models that are not served because they failed to load or are malformed in the repository, with why. */
  failures(): { model: string; reason: string }[] {
    return [...this.failed.entries()].filter(([k]) => !k.includes('@') && !this.models.has(k)).map(([model, reason]) => ({ model, reason }));
  }

  /** True while the served versions can take requests. */
  get ready(): boolean {
    return !this.closed && this.all().some((v) => v.state === 'AVAILABLE');
  }
}
