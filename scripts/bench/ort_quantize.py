#!/usr/bin/env python3
"""onnxruntime's own static quantizer (onnxruntime.quantization.quantize_static, QDQ format, INT8 symmetric
activations and per-channel weights) on a model and a directory of .npy batches, timed; prints one JSON line.
Called by scripts/bench/vs-ort.js:  python3 ort_quantize.py <model.onnx> <npy dir> <out.onnx> <minmax|entropy|percentile>
Needs `pip install onnxruntime onnx numpy` (not a dependency of tensorrt-node)."""
import json, os, sys, time
import numpy as np
import onnxruntime
from onnxruntime.quantization import quantize_static, CalibrationDataReader, QuantFormat, QuantType, CalibrationMethod

model, npy_dir, out, method = sys.argv[1:5]
files = sorted(f for f in os.listdir(npy_dir) if f.endswith('.npy'))


class Reader(CalibrationDataReader):
    def __init__(self):
        self.it = iter(files)

    def get_next(self):
        f = next(self.it, None)
        return None if f is None else {'x': np.load(os.path.join(npy_dir, f))}


methods = {'minmax': CalibrationMethod.MinMax, 'entropy': CalibrationMethod.Entropy, 'percentile': CalibrationMethod.Percentile}
extra = {'ActivationSymmetric': True, 'WeightSymmetric': True}
if method == 'percentile':
    extra['CalibPercentile'] = 99.99
t0 = time.perf_counter()
quantize_static(model, out, Reader(), quant_format=QuantFormat.QDQ, activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                per_channel=True, calibrate_method=methods[method], op_types_to_quantize=['Conv', 'ConvTranspose', 'Gemm', 'MatMul'], extra_options=extra)
secs = time.perf_counter() - t0
print(json.dumps({'seconds': secs, 'batches': len(files), 'onnxruntime': onnxruntime.__version__, 'numpy': np.__version__}))
