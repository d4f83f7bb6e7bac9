'use strict';
// Math through a module-level alias: global look-ups are slow inside jest's vm sandbox.
const M = Math;
/**
 * Deterministic synthetic "document" images for the PP-OCR models (no image files needed): paper-like
 * background gradients, dark glyph-like strokes arranged in text lines, blur-free sensor noise, from a seeded
 * PRNG. Used by the quantization tests, the agreement report and the calibration benchmark.
 *   textLine(seed)            -> Float32Array 1x3x48x192, PP-OCR cls normalization (x/255 - 0.5) / 0.5
 *   page(seed, h, w)          -> Float32Array 1x3xHxW,   ImageNet mean/std (PP-OCR det)
 */

/** mulberry32 */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = M.imul(t ^ (t >>> 15), t | 1);
    t ^= t + M.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}


/** A 5x7 bitmap font (drawn for these tests): rows top to bottom, '#' = ink. */
const FONT = {
  A: ['.###.', '#...#', '#...#', '#####', '#...#', '#...#', '#...#'],
  B: ['####.', '#...#', '#...#', '####.', '#...#', '#...#', '####.'],
  C: ['.###.', '#...#', '#....', '#....', '#....', '#...#', '.###.'],
  D: ['####.', '#...#', '#...#', '#...#', '#...#', '#...#', '####.'],
  E: ['#####', '#....', '#....', '####.', '#....', '#....', '#####'],
  F: ['#####', '#....', '#....', '####.', '#....', '#....', '#....'],
  G: ['.###.', '#...#', '#....', '#.###', '#...#', '#...#', '.####'],
  H: ['#...#', '#...#', '#...#', '#####', '#...#', '#...#', '#...#'],
  J: ['..###', '...#.', '...#.', '...#.', '...#.', '#..#.', '.##..'],
  K: ['#...#', '#..#.', '#.#..', '##...', '#.#..', '#..#.', '#...#'],
  L: ['#....', '#....', '#....', '#....', '#....', '#....', '#####'],
  M: ['#...#', '##.##', '#.#.#', '#.#.#', '#...#', '#...#', '#...#'],
  N: ['#...#', '##..#', '#.#.#', '#..##', '#...#', '#...#', '#...#'],
  P: ['####.', '#...#', '#...#', '####.', '#....', '#....', '#....'],
  Q: ['.###.', '#...#', '#...#', '#...#', '#.#.#', '#..#.', '.##.#'],
  R: ['####.', '#...#', '#...#', '####.', '#.#..', '#..#.', '#...#'],
  S: ['.####', '#....', '#....', '.###.', '....#', '....#', '####.'],
  T: ['#####', '..#..', '..#..', '..#..', '..#..', '..#..', '..#..'],
  U: ['#...#', '#...#', '#...#', '#...#', '#...#', '#...#', '.###.'],
  V: ['#...#', '#...#', '#...#', '#...#', '#...#', '.#.#.', '..#..'],
  W: ['#...#', '#...#', '#...#', '#.#.#', '#.#.#', '##.##', '#...#'],
  Y: ['#...#', '#...#', '.#.#.', '..#..', '..#..', '..#..', '..#..'],
  Z: ['#####', '....#', '...#.', '..#..', '.#...', '#....', '#####'],
  a: ['.....', '.....', '.###.', '....#', '.####', '#...#', '.####'],
  b: ['#....', '#....', '####.', '#...#', '#...#', '#...#', '####.'],
  d: ['....#', '....#', '.####', '#...#', '#...#', '#...#', '.####'],
  e: ['.....', '.....', '.###.', '#...#', '#####', '#....', '.###.'],
  h: ['#....', '#....', '####.', '#...#', '#...#', '#...#', '#...#'],
  k: ['#....', '#....', '#..#.', '#.#..', '##...', '#.#..', '#..#.'],
  n: ['.....', '.....', '####.', '#...#', '#...#', '#...#', '#...#'],
  r: ['.....', '.....', '#.##.', '##..#', '#....', '#....', '#....'],
  t: ['.#...', '.#...', '####.', '.#...', '.#...', '.#..#', '..##.'],
  y: ['.....', '#...#', '#...#', '.####', '....#', '#...#', '.###.'],
  2: ['.###.', '#...#', '....#', '...#.', '..#..', '.#...', '#####'],
  3: ['####.', '....#', '....#', '.###.', '....#', '....#', '####.'],
  4: ['...#.', '..##.', '.#.#.', '#..#.', '#####', '...#.', '...#.'],
  5: ['#####', '#....', '####.', '....#', '....#', '#...#', '.###.'],
  6: ['.###.', '#....', '#....', '####.', '#...#', '#...#', '.###.'],
  7: ['#####', '....#', '...#.', '..#..', '.#...', '.#...', '.#...'],
  9: ['.###.', '#...#', '#...#', '.####', '....#', '....#', '.###.'],
};
const GLYPHS = Object.keys(FONT);

/** An RGB image (3 planes of h*w bytes as floats 0..255) with text lines in the given boxes. */
function render(seed, h, w, lines) {
  const r = rng(seed);
  const img = [new Float32Array(h * w), new Float32Array(h * w), new Float32Array(h * w)];
  // background: tinted paper with a soft gradient
  const base = [200 + 50 * r(), 195 + 50 * r(), 185 + 55 * r()];
  const gx = (r() - 0.5) * 60, gy = (r() - 0.5) * 60;
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const g = (gx * x) / w + (gy * y) / h;
      for (let c = 0; c < 3; c++) img[c][y * w + x] = base[c] + g;
    }
  // occasional colored block (a stamp / photo region)
  if (r() < 0.5) {
    const bx = M.floor(r() * w * 0.7), by = M.floor(r() * h * 0.7);
    const bw = M.floor(w * (0.1 + 0.2 * r())), bh = M.floor(h * (0.1 + 0.2 * r()));
    const col = [255 * r(), 255 * r(), 255 * r()];
    for (let y = by; y < M.min(h, by + bh); y++)
      for (let x = bx; x < M.min(w, bx + bw); x++) for (let c = 0; c < 3; c++) img[c][y * w + x] = 0.5 * img[c][y * w + x] + 0.5 * col[c];
  }
  const ink = [40 * r(), 40 * r(), 40 * r() + (r() < 0.3 ? 120 : 0)];
  for (const [lx, ly, lw, lh] of lines) {
    // glyphs from the bitmap font, scaled to the line height, with a 1-pixel soft edge; words and spaces
    const px = lh / 9;
    let x = lx;
    while (x < lx + lw - 6 * px) {
      if (r() < 0.15) {
        x += 4 * px;
        continue;
      }
      const glyph = FONT[GLYPHS[M.floor(r() * GLYPHS.length)]];
      for (let gy = 0; gy < 7; gy++)
        for (let gx = 0; gx < 5; gx++) {
          if (glyph[gy][gx] !== '#') continue;
          const x0 = x + gx * px, y0 = ly + (gy + 1) * px;
          for (let y = M.floor(y0); y < M.min(h, M.ceil(y0 + px)); y++)
            for (let xx = M.floor(x0); xx < M.min(w, M.ceil(x0 + px)); xx++) {
              if (y < 0 || xx < 0) continue;
              // coverage of this pixel by the ink square
              const cov = M.max(0, M.min(xx + 1, x0 + px) - M.max(xx, x0)) * M.max(0, M.min(y + 1, y0 + px) - M.max(y, y0));
              for (let c = 0; c < 3; c++) img[c][y * w + xx] = img[c][y * w + xx] * (1 - cov) + ink[c] * cov;
            }
        }
      x += 6 * px;
    }
  }
  // optics: a separable [1 2 1]/4 blur; then sensor noise (sum of three uniforms, std ~3.5) and 8-bit rounding
  for (let c = 0; c < 3; c++) {
    const p = img[c];
    const t = new Float32Array(h * w);
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) t[y * w + x] = (p[y * w + M.max(0, x - 1)] + 2 * p[y * w + x] + p[y * w + M.min(w - 1, x + 1)]) / 4;
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) p[y * w + x] = (t[M.max(0, y - 1) * w + x] + 2 * t[y * w + x] + t[M.min(h - 1, y + 1) * w + x]) / 4;
  }
  for (let c = 0; c < 3; c++)
    for (let i = 0; i < h * w; i++) img[c][i] = M.round(M.min(255, M.max(0, img[c][i] + (r() + r() + r() - 1.5) * 7)));
  return img;
}

function textLine(seed, h = 48, w = 192) {
  // A tight crop of one text line resized to height h (as PP-OCR's cls preprocessing does), then padded on the
  // right with 0 (normalized) up to width w; half of the crops are upside down (what the classifier detects).
  const r = rng(seed ^ 0x9e3779b9);
  const cw = M.round(w * (0.45 + 0.55 * r()));
  const lh = M.round(h * (0.75 + 0.2 * r()));
  const ly = M.round((h - lh) / 2 + (r() - 0.5) * 4);
  const img = render(seed, h, cw, [[M.round(2 * r()), ly, cw - 2, lh]]);
  const flip = r() < 0.5;
  const out = new Float32Array(3 * h * w);
  for (let c = 0; c < 3; c++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < cw; x++) {
        const sy = flip ? h - 1 - y : y, sx = flip ? cw - 1 - x : x;
        out[c * h * w + y * w + x] = (img[c][sy * cw + sx] / 255 - 0.5) / 0.5;
      }
  out.flipped = flip; // ground truth: class 1 (180 degrees) of the classifier
  return out;
}

function page(seed, h = 320, w = 320) {
  const r = rng(seed ^ 0x85ebca6b);
  const lines = [];
  let y = M.round(h * 0.05 * r()) + 4;
  while (y < h - 12) {
    const lh = M.round(10 + 18 * r());
    if (y + lh > h) break;
    if (r() < 0.8) lines.push([M.round(w * 0.1 * r()), y, M.round(w * (0.3 + 0.6 * r())), lh]);
    y += lh + M.round(6 + 20 * r());
  }
  const img = render(seed, h, w, lines);
  const mean = [0.485, 0.456, 0.406], std = [0.229, 0.224, 0.225];
  const out = new Float32Array(3 * h * w);
  for (let c = 0; c < 3; c++) for (let i = 0; i < h * w; i++) out[c * h * w + i] = (img[c][i] / 255 - mean[c]) / std[c];
  return out;
}

/** Agreement of two output vectors: cosine similarity, max abs error. */
function agreement(a, b) {
  let dot = 0, na = 0, nb = 0, maxAbs = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
    maxAbs = M.max(maxAbs, M.abs(a[i] - b[i]));
  }
  return { cosine: dot / (M.sqrt(na * nb) || 1), maxAbs };
}

const MODELS_DIR = require('path').join(__dirname, '..', '..', 'node_modules', '@gutenye', 'ocr-models', 'assets');
const CLS_MODEL = require('path').join(MODELS_DIR, 'ch_ppocr_mobile_v2.0_cls_infer.onnx');
const DET_MODEL = require('path').join(MODELS_DIR, 'ch_PP-OCRv4_det_infer.onnx');

module.exports = { rng, textLine, page, agreement, CLS_MODEL, DET_MODEL };
