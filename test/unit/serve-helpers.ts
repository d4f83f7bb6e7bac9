/** Helpers of the serve tests: HTTP on loopback, a temporary repository with the PP-OCR models, the oracle. */
import * as fs from 'fs';
import * as http from 'http';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';

export const ASSETS = path.join(__dirname, '..', '..', 'node_modules', '@gutenye', 'ocr-models', 'assets');
export const CLS = path.join(ASSETS, 'ch_ppocr_mobile_v2.0_cls_infer.onnx');
export const DET = path.join(ASSETS, 'ch_PP-OCRv4_det_infer.onnx');

export type Ort = typeof import('onnxruntime-node');

/** onnxruntime-node, or null (it is an optional dependency) with the reason printed once. */
export function tryOrt(): Ort | null {
  try {
    return require('onnxruntime-node') as Ort;
  } catch {
    return null;
  }
}

export const ocr = require('../../scripts/bench/ocr-data.js') as {
  textLine(seed: number, h?: number, w?: number): Float32Array;
  page(seed: number, h?: number, w?: number): Float32Array;
};

export interface Res {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  json(): any; // eslint-disable-line @typescript-eslint/no-explicit-any -- response bodies of every protocol and shape, read field by field in the tests
}

export function request(base: string, method: string, p: string, body?: string | Buffer | object, headers: Record<string, string> = {}): Promise<Res> {
  const url = new URL(p, base);
  const data = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers: { ...(data ? { 'content-type': 'application/json', 'content-length': String(data.length) } : {}), ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const b = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: b, json: () => JSON.parse(b.toString('utf8')) });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(data);
  });
}

/** Nested lists of `shape` over a flat array (what TF Serving clients send). */
export function nest(flat: ArrayLike<number>, shape: number[], off = 0): unknown {
  if (shape.length === 1) return Array.from({ length: shape[0]! }, (_, i) => flat[off + i]);
  const inner = shape.slice(1).reduce((a, b) => a * b, 1);
  return Array.from({ length: shape[0]! }, (_, i) => nest(flat, shape.slice(1), off + i * inner));
}

export function flatten(v: unknown): number[] {
  return Array.isArray(v) ? v.flatMap(flatten) : [v as number];
}

/** A temporary repository: cls (version 1), det (version 1); extra files through `extra`. */
export function makeRepo(extra: Record<string, string | Buffer> = {}): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tensorrt-node-serve-'));
  for (const [m, src] of [['cls', CLS], ['det', DET]] as const) {
    fs.mkdirSync(path.join(root, m, '1'), { recursive: true });
    fs.copyFileSync(src, path.join(root, m, '1', 'model.onnx'));
  }
  for (const [f, data] of Object.entries(extra)) {
    fs.mkdirSync(path.dirname(path.join(root, f)), { recursive: true });
    fs.writeFileSync(path.join(root, f), data);
  }
  return root;
}

export const BIN = path.join(__dirname, '..', '..', 'dist', 'cli', 'index.js');

export interface Served {
  child: import('child_process').ChildProcess;
  /** http://127.0.0.1:<port> once listening. */
  base: string;
  /** Everything the process printed so far (stdout + stderr). */
  out(): string;
  /** Resolves with the exit code (null: killed by a signal) and the signal, and how long after `since` it came. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}

/** Starts `tensorrt-node serve <args>` (the built bin) and waits for its address (or its exit). */
export async function spawnServe(args: string[], timeoutMs = 30000): Promise<Served> {
  const { spawn } = require('child_process') as typeof import('child_process');
  const child = spawn(process.execPath, [BIN, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((r) => child.on('exit', (code, signal) => r({ code, signal, at: Date.now() })));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  const base = await new Promise<string>((resolve, reject) => {
    // the start line is logged at info level: a --log-level above it never prints one (use 'info' or lower)
    const t = setTimeout(() => {
      child.kill('SIGKILL'); // never left running after its test
      reject(new Error(`serve did not start (no start line in ${timeoutMs} ms): ${out}`));
    }, timeoutMs);
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /"address":"(http:\/\/[^"]+)"/.exec(out);
      if (m) {
        clearTimeout(t);
        resolve(m[1]!);
      }
    });
    void exited.then(({ code }) => {
      clearTimeout(t);
      resolve('');
      void code;
    });
  });
  return { child, base, out: () => out, exited };
}

/** Opens one loopback connection per payload and writes it (a request, or the first part of one); errors ignored. */
export function openPartial(base: string, payloads: string[]): net.Socket[] {
  const u = new URL(base);
  return payloads.map((b) => {
    const c = net.connect(Number(u.port), u.hostname);
    c.on('error', () => {});
    c.write(b);
    return c;
  });
}
