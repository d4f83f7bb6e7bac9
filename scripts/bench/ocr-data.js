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

/** Standard JPEG quantization tables (ITU T.81 Annex K), row-major 8x8. */
const JPEG_LUMA = [
  16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
  18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
];
const JPEG_CHROMA = [
  17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99, 99, 47, 66, 99, 99, 99, 99, 99, 99,
  99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
];
/** cos((2x+1) u pi / 16) * c(u) / 2, the 8-point DCT-II basis. */
const DCT = new Float64Array(64);
for (let u = 0; u < 8; u++) for (let x = 0; x < 8; x++) DCT[u * 8 + x] = (u === 0 ? M.SQRT1_2 : 1) * 0.5 * M.cos(((2 * x + 1) * u * M.PI) / 16);

/** JPEG-like compression artifacts: 8x8 block DCT of Y, Cb, Cr, quantized with the standard tables at `quality`. */
function jpegArtifacts(img, h, w, quality) {
  const f = quality < 50 ? 5000 / quality : 200 - 2 * quality;
  const tables = [JPEG_LUMA, JPEG_CHROMA, JPEG_CHROMA].map((t) => t.map((v) => M.max(1, M.floor((v * f + 50) / 100))));
  const n = h * w;
  const ycc = [new Float32Array(n), new Float32Array(n), new Float32Array(n)];
  for (let i = 0; i < n; i++) {
    const r = img[0][i], g = img[1][i], b = img[2][i];
    ycc[0][i] = 0.299 * r + 0.587 * g + 0.114 * b - 128;
    ycc[1][i] = -0.168736 * r - 0.331264 * g + 0.5 * b;
    ycc[2][i] = 0.5 * r - 0.418688 * g - 0.081312 * b;
  }
  const blk = new Float64Array(64), tmp = new Float64Array(64), co = new Float64Array(64);
  for (let c = 0; c < 3; c++) {
    const p = ycc[c], q = tables[c];
    for (let by = 0; by < h; by += 8)
      for (let bx = 0; bx < w; bx += 8) {
        // edge blocks repeat the last row / column, as encoders pad
        for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) blk[y * 8 + x] = p[M.min(h - 1, by + y) * w + M.min(w - 1, bx + x)];
        for (let y = 0; y < 8; y++)
          for (let u = 0; u < 8; u++) {
            let s = 0;
            for (let x = 0; x < 8; x++) s += DCT[u * 8 + x] * blk[y * 8 + x];
            tmp[y * 8 + u] = s;
          }
        for (let v = 0; v < 8; v++)
          for (let u = 0; u < 8; u++) {
            let s = 0;
            for (let y = 0; y < 8; y++) s += DCT[v * 8 + y] * tmp[y * 8 + u];
            co[v * 8 + u] = M.round(s / q[v * 8 + u]) * q[v * 8 + u];
          }
        for (let v = 0; v < 8; v++)
          for (let x = 0; x < 8; x++) {
            let s = 0;
            for (let u = 0; u < 8; u++) s += DCT[u * 8 + x] * co[v * 8 + u];
            tmp[v * 8 + x] = s;
          }
        for (let y = 0; y < 8; y++)
          for (let x = 0; x < 8; x++) {
            if (by + y >= h || bx + x >= w) continue;
            let s = 0;
            for (let v = 0; v < 8; v++) s += DCT[v * 8 + y] * tmp[v * 8 + x];
            p[(by + y) * w + bx + x] = s;
          }
      }
  }
  for (let i = 0; i < n; i++) {
    const Y = ycc[0][i] + 128, cb = ycc[1][i], cr = ycc[2][i];
    img[0][i] = Y + 1.402 * cr;
    img[1][i] = Y - 0.344136 * cb - 0.714136 * cr;
    img[2][i] = Y + 1.772 * cb;
  }
}

/** Smooth random field in about [-1, 1]: a coarse grid of uniforms (cell `cell` pixels), bilinearly interpolated. */
function smoothNoise(r, h, w, cell) {
  const gh = M.ceil(h / cell) + 2, gw = M.ceil(w / cell) + 2;
  const g = Float32Array.from({ length: gh * gw }, () => 2 * r() - 1);
  const out = new Float32Array(h * w);
  for (let y = 0; y < h; y++) {
    const fy = y / cell, y0 = M.floor(fy), ty = fy - y0;
    for (let x = 0; x < w; x++) {
      const fx = x / cell, x0 = M.floor(fx), tx = fx - x0;
      const a = g[y0 * gw + x0], b = g[y0 * gw + x0 + 1], c = g[(y0 + 1) * gw + x0], d = g[(y0 + 1) * gw + x0 + 1];
      out[y * w + x] = (a * (1 - tx) + b * tx) * (1 - ty) + (c * (1 - tx) + d * tx) * ty;
    }
  }
  return out;
}

/**
 * An RGB image (3 planes of h*w floats 0..255) with text lines in the given boxes, made to look like a photographed
 * or scanned page: tinted paper with a gradient, paper texture (a smooth random field plus grain), uneven lighting
 * (a multiplicative vignette / shadow), glyph ink whose darkness varies from glyph to glyph, lens blur of random
 * strength, sensor noise of random strength, 8-bit rounding and, for most images, JPEG compression artifacts.
 */
function render(seed, h, w, lines) {
  const r = rng(seed);
  const img = [new Float32Array(h * w), new Float32Array(h * w), new Float32Array(h * w)];
  // background: tinted paper with a soft gradient and texture
  const base = [200 + 50 * r(), 195 + 50 * r(), 185 + 55 * r()];
  const gx = (r() - 0.5) * 60, gy = (r() - 0.5) * 60;
  const texture = smoothNoise(r, h, w, 6 + 18 * r());
  const texAmp = 3 + 8 * r();
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const g = (gx * x) / w + (gy * y) / h + texAmp * texture[y * w + x];
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
      const strength = 0.7 + 0.3 * r(); // ink coverage of this glyph (worn ribbon, light print)
      for (let gy = 0; gy < 7; gy++)
        for (let gx = 0; gx < 5; gx++) {
          if (glyph[gy][gx] !== '#') continue;
          const x0 = x + gx * px, y0 = ly + (gy + 1) * px;
          for (let y = M.floor(y0); y < M.min(h, M.ceil(y0 + px)); y++)
            for (let xx = M.floor(x0); xx < M.min(w, M.ceil(x0 + px)); xx++) {
              if (y < 0 || xx < 0) continue;
              // coverage of this pixel by the ink square
              const cov = strength * M.max(0, M.min(xx + 1, x0 + px) - M.max(xx, x0)) * M.max(0, M.min(y + 1, y0 + px) - M.max(y, y0));
              for (let c = 0; c < 3; c++) img[c][y * w + xx] = img[c][y * w + xx] * (1 - cov) + ink[c] * cov;
            }
        }
      x += 6 * px;
    }
  }
  // lighting: a multiplicative vignette centred somewhere in the image, sometimes a soft shadow edge
  const cx = w * r(), cy = h * r(), vig = 0.3 * r();
  const shadow = r() < 0.3 ? { a: 2 * M.PI * r(), o: r() - 0.5, depth: 0.15 + 0.25 * r() } : null;
  const diag2 = h * h + w * w;
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      let s = 1 - (vig * ((x - cx) ** 2 + (y - cy) ** 2)) / diag2;
      if (shadow) {
        const d = ((x / w - 0.5) * M.cos(shadow.a) + (y / h - 0.5) * M.sin(shadow.a) - shadow.o) * 12;
        s *= 1 - shadow.depth / (1 + M.exp(-d));
      }
      for (let c = 0; c < 3; c++) img[c][y * w + x] *= s;
    }
  // optics: a separable [1 2 1]/4 blur applied 1 to 3 times (sigma about 0.7 to 1.2 px)
  const passes = 1 + M.floor(3 * r());
  for (let k = 0; k < passes; k++)
    for (let c = 0; c < 3; c++) {
      const p = img[c];
      const t = new Float32Array(h * w);
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++) t[y * w + x] = (p[y * w + M.max(0, x - 1)] + 2 * p[y * w + x] + p[y * w + M.min(w - 1, x + 1)]) / 4;
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++) p[y * w + x] = (t[M.max(0, y - 1) * w + x] + 2 * t[y * w + x] + t[M.min(h - 1, y + 1) * w + x]) / 4;
    }
  // sensor noise (sum of three uniforms, std 1.7 to 5.2 levels), then 8-bit rounding
  const noise = 6 + 12 * r();
  for (let c = 0; c < 3; c++)
    for (let i = 0; i < h * w; i++) img[c][i] = M.round(M.min(255, M.max(0, img[c][i] + (r() + r() + r() - 1.5) * noise)));
  // most pictures are JPEGs (quality 40 to 95)
  if (r() < 0.75) {
    jpegArtifacts(img, h, w, M.round(40 + 55 * r()));
    for (let c = 0; c < 3; c++) for (let i = 0; i < h * w; i++) img[c][i] = M.round(M.min(255, M.max(0, img[c][i])));
  }
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
