'use strict';
/**
 * Synthetic photo-like RGB images for the nsfwjs (MobileNetV2, 224x224 NHWC in [0, 1]) quantization checks: a colour
 * gradient in a random direction, 3 to 12 soft elliptic blobs of random colours, sensor noise. Deterministic per seed
 * (the PRNG of ocr-data.js). They are not real photos: nsfwjs classifies all of them as "Neutral" with a mean top
 * probability of about 0.93, so they test the numerics of the quantized network, not its classes.
 *   blobs(seed, size = 224) -> Float32Array [1, size, size, 3]
 */
const { rng } = require('./ocr-data');

function blobs(seed, S = 224) {
  const r = rng(seed);
  const out = new Float32Array(S * S * 3);
  const c0 = [r(), r(), r()], c1 = [r(), r(), r()], ang = r() * Math.PI * 2;
  const n = 3 + Math.floor(r() * 10);
  const bl = Array.from({ length: n }, () => ({ x: r() * S, y: r() * S, sx: 8 + r() * 70, sy: 8 + r() * 70, c: [r(), r(), r()], a: 0.4 + r() * 0.6 }));
  const px = [0, 0, 0];
  for (let y = 0; y < S; y++) {
    for (let x = 0; x < S; x++) {
      const t = 0.5 + 0.5 * Math.sin(ang) * (x / S - 0.5) + 0.5 * Math.cos(ang) * (y / S - 0.5);
      for (let k = 0; k < 3; k++) px[k] = c0[k] * (1 - t) + c1[k] * t;
      for (const b of bl) {
        const w = b.a * Math.exp(-2 * (((x - b.x) / b.sx) ** 2 + ((y - b.y) / b.sy) ** 2));
        for (let k = 0; k < 3; k++) px[k] = px[k] * (1 - w) + b.c[k] * w;
      }
      for (let k = 0; k < 3; k++) out[(y * S + x) * 3 + k] = Math.min(1, Math.max(0, px[k] + (r() - 0.5) * 0.04));
    }
  }
  return out;
}

module.exports = { blobs };
