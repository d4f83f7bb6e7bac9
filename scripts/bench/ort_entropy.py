#!/usr/bin/env python3
"""Entropy-calibration oracle for scripts/bench/entropy-check.js: per-tensor entropy thresholds (amax) computed
outside tensorrt-node, on the same model and the same calibration .npy files, by
  * onnxruntime's own entropy calibrator (onnxruntime.quantization.create_calibrator, CalibrationMethod.Entropy,
    symmetric): 'ort-default' with its defaults (128 histogram bins, 128 quantized bins, i.e. what quantize_static
    uses), 'ort-4096' with a TensorRT-like resolution (4096 signed bins = 2048 per side, 255 quantized bins = 127
    levels per side);
  * 'trt-doc': TensorRT's entropy calibration as its documentation and NVIDIA's GTC 2017 talk describe it, written here
    in numpy independently of lib/calibration/histogram.ts: |x| histogram of 2048 bins whose range is set by the
    first batch and doubles when a later batch exceeds it; KL(P || Q) for every candidate from 128 bins up, P the
    clipped histogram with the outliers added to its last bin, Q its 128-level quantization expanded over the
    non-empty bins; the first bin takes the second's count; amax = the upper edge of the best candidate;
  * 'ptq': the variant of NVIDIA's pytorch-quantization / TensorRT-Model-Optimizer (HistogramCalibrator): the same
    KL search, but the histogram keeps the first batch's bin width and grows by appending bins (no merging), the
    groups are formed as numpy.digitize does, and ties go to the largest candidate.
Then onnxruntime's quantize_static (Entropy, its defaults) quantizes the model itself, and its Q/DQ model is compared
with the float model on the held-out .npy files (mean / min per-sample output cosine, graph optimizations 'basic').
  python3 ort_entropy.py <model.onnx> <calibration npy dir> <held-out npy dir> <tensors.json> <out.json>
Needs onnxruntime, onnx and numpy (not dependencies of tensorrt-node)."""
import json, os, sys, tempfile, time
import numpy as np
import onnx
import onnxruntime as ort
from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.calibrate import create_calibrator

model_path, cal_dir, held_dir, tensors_json, out_path = sys.argv[1:6]
tensors = json.load(open(tensors_json))
cal_files = sorted(os.path.join(cal_dir, f) for f in os.listdir(cal_dir) if f.endswith('.npy'))
held_files = sorted(os.path.join(held_dir, f) for f in os.listdir(held_dir) if f.endswith('.npy'))
tmp = tempfile.mkdtemp(prefix='trtn-entropy-')
LEVELS = 128
BINS = 2048


class Reader(CalibrationDataReader):
    def __init__(self):
        self.it = iter(cal_files)

    def get_next(self):
        f = next(self.it, None)
        return None if f is None else {'x': np.load(f)}


# ---- the tensors' values, batch by batch (float model with the tensors exposed as outputs) ----
m = onnx.load(model_path)
have = {o.name for o in m.graph.output}
for t in tensors:
    if t not in have:
        m.graph.output.append(onnx.helper.make_empty_tensor_value_info(t))
exposed = os.path.join(tmp, 'exposed.onnx')
onnx.save(m, exposed)
so = ort.SessionOptions()
so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
sess = ort.InferenceSession(exposed, so, providers=['CPUExecutionProvider'])


class DoublingHist:
    """|x| histogram, fixed bin count, range from the first batch, doubling (pairwise merge) when exceeded."""

    def __init__(self):
        self.h = np.zeros(BINS, np.float64)
        self.range = 0.0
        self.amax = 0.0

    def add(self, a):
        m = float(a.max()) if a.size else 0.0
        self.amax = max(self.amax, m)
        if self.range == 0.0:
            self.range = m
        while m > self.range:
            self.h = np.concatenate([self.h.reshape(-1, 2).sum(1), np.zeros(BINS // 2)])
            self.range *= 2
        if self.range > 0:
            self.h += np.histogram(a, bins=BINS, range=(0.0, self.range))[0]
        else:
            self.h[0] += a.size


class AppendHist:
    """|x| histogram whose bin width is the first batch's max / 2048; later maxima append bins of that width."""

    def __init__(self):
        self.h = None
        self.width = 0.0

    def add(self, a):
        m = float(a.max()) if a.size else 0.0
        if self.h is None:
            self.width = m / BINS if m > 0 else 1.0
            self.h = np.histogram(a, bins=BINS, range=(0.0, self.width * BINS))[0].astype(np.float64)
            return
        n = len(self.h)
        if m > n * self.width:
            n = int(np.ceil(m / self.width))
            self.h = np.concatenate([self.h, np.zeros(n - len(self.h))])
        self.h += np.histogram(a, bins=n, range=(0.0, n * self.width))[0]


def kl(p, q):
    ps, qs = p.sum(), q.sum()
    mask = p > 0
    if np.any(q[mask] == 0):
        return np.inf
    pn, qn = p[mask] / ps, q[mask] / qs
    return float(np.sum(pn * np.log(pn / qn)))


def kl_search(hist, group_of, last_tie):
    """Candidates i = 128 .. len(hist): returns the best i (bins kept)."""
    h = hist.astype(np.float64).copy()
    if len(h) > 1:
        h[0] = h[1]
    nz_end = len(h)
    while nz_end > 0 and h[nz_end - 1] == 0:
        nz_end -= 1
    best, best_kl = None, np.inf
    for i in range(LEVELS, len(h) + 1):
        if i > nz_end and not last_tie:
            break
        p = h[:i].copy()
        p[i - 1] += h[i:].sum()
        g = group_of(i)
        nonzero = h[:i] != 0
        sums = np.bincount(g, weights=h[:i], minlength=LEVELS)
        cnt = np.bincount(g, weights=nonzero.astype(np.float64), minlength=LEVELS)
        per = np.divide(sums, cnt, out=np.zeros(LEVELS), where=cnt > 0)
        q = np.where(nonzero, per[g], 0.0)
        d = kl(p, q)
        if d < best_kl or (last_tie and d == best_kl):
            best, best_kl = i, d
    return best if best is not None else len(h)


def groups_floor(i):  # group k = bins [floor(k i / 128), floor((k+1) i / 128))
    j = np.arange(i)
    g = np.searchsorted(np.floor(np.arange(1, LEVELS) * i / LEVELS), j, side='right')
    return g


def groups_digitize(i):  # numpy.digitize of 0..i-1 into linspace(0, i, 129)
    return np.clip(np.digitize(np.arange(i), np.linspace(0, i, LEVELS + 1)) - 1, 0, LEVELS - 1)


dbl = {t: DoublingHist() for t in tensors}
app = {t: AppendHist() for t in tensors}
names = [o.name for o in sess.get_outputs()]
t0 = time.perf_counter()
for f in cal_files:
    x = np.load(f)
    outs = dict(zip(names, sess.run(None, {'x': x})))
    outs['x'] = x
    for t in tensors:
        a = np.abs(outs[t].astype(np.float64).ravel())
        dbl[t].add(a)
        app[t].add(a)
thresholds = {'trt-doc': {}, 'ptq': {}, 'max': {}}
for t in tensors:
    d = dbl[t]
    i = kl_search(d.h, groups_floor, False)
    thresholds['trt-doc'][t] = min(i * d.range / BINS, d.amax)
    a = app[t]
    i = kl_search(a.h, groups_digitize, True)
    thresholds['ptq'][t] = i * a.width
    thresholds['max'][t] = d.amax
own_seconds = time.perf_counter() - t0
print(f'trt-doc / ptq thresholds: {own_seconds:.1f} s', file=sys.stderr)

# ---- onnxruntime's entropy calibrator ----
for name, nb, nq in (('ort-default', 128, 128), ('ort-4096', 4096, 255)):
    cal = create_calibrator(model_path, ['Conv', 'MatMul', 'Add', 'Gemm', 'ConvTranspose'], os.path.join(tmp, f'aug-{name}.onnx'),
                            calibrate_method=CalibrationMethod.Entropy,
                            extra_options={'symmetric': True, 'num_bins': nb, 'num_quantized_bins': nq})
    cal.collect_data(Reader())
    # compute_data() would search every calibrated tensor; its own per-tensor search, on the tensors compared here
    hists = cal.collector.histogram_dict
    thresholds[name] = {}
    for t in tensors:
        if t in hists:
            lo, hi = cal.collector.get_entropy_threshold(hists[t], nq)
            thresholds[name][t] = float(max(abs(float(lo)), abs(float(hi))))
    del cal
    print(f'{name} thresholds: {time.perf_counter() - t0:.1f} s', file=sys.stderr)

# ---- onnxruntime's own quantize_static (Entropy, defaults), held-out agreement ----
def agreement(qpath):
    sf = ort.InferenceSession(model_path, providers=['CPUExecutionProvider'])
    sq = ort.InferenceSession(qpath, so, providers=['CPUExecutionProvider'])
    cos = []
    for f in held_files:
        x = np.load(f)
        a = sf.run(None, {'x': x})[0].astype(np.float64).ravel()
        b = sq.run(None, {'x': x})[0].astype(np.float64).ravel()
        cos.append(float(a @ b / (np.sqrt((a @ a) * (b @ b)) or 1.0)))
    return {'meanSampleCosine': float(np.mean(cos)), 'minSampleCosine': float(np.min(cos))}


ort_models = {}
for method in ('entropy', 'minmax'):
    out = os.path.join(tmp, f'ort-{method}.onnx')
    quantize_static(model_path, out, Reader(), quant_format=QuantFormat.QDQ, activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                    per_channel=True, calibrate_method=CalibrationMethod.Entropy if method == 'entropy' else CalibrationMethod.MinMax,
                    op_types_to_quantize=['Conv', 'ConvTranspose', 'Gemm', 'MatMul'],
                    extra_options={'ActivationSymmetric': True, 'WeightSymmetric': True})
    ort_models[method] = agreement(out)
json.dump({'thresholds': thresholds, 'ortQuantizeStatic': ort_models, 'ownSeconds': own_seconds,
           'onnxruntime': ort.__version__, 'numpy': np.__version__}, open(out_path, 'w'))
print(json.dumps({'ok': True, 'ortQuantizeStatic': ort_models}))

