#!/usr/bin/env python3
"""Probe, report only (issue 20, item 5): does TensorRT-RTX (PyPI tensorrt-rtx-cu13-libs + tensorrt-rtx-cu13-bindings
1.7.1.116) create a builder and build a one-layer network on this GPU? Not part of tensorrt-node: nothing of the
package uses TensorRT-RTX. Prints every step's outcome and every line TensorRT-RTX logs, verbatim.

    PYTHONPATH=<dir holding tensorrt_rtx_libs/ and tensorrt_rtx_bindings/> python3 scripts/gpu/rtx-probe.py

If a plan is built, it is deserialized and run on y = ReLU(x) for x = [-2, -1, 0, 0.5, 1, 2, -3, 4] with torch's
CUDA tensors, and the output is compared with torch.relu (the oracle).
"""
import sys
import traceback


def step(name, fn):
    try:
        out = fn()
        print(f"STEP {name}: OK {'' if out is None else out!r}"[:2000], flush=True)
        return out
    except BaseException as e:  # noqa: BLE001 - report everything
        print(f"STEP {name}: FAILED {type(e).__name__}: {e}", flush=True)
        traceback.print_exc(limit=3)
        return None


trt = step("import tensorrt_rtx_bindings", lambda: __import__("tensorrt_rtx_bindings"))
if trt is None:
    sys.exit(1)
print("version:", getattr(trt, "__version__", "?"), flush=True)


class Logger(trt.ILogger):
    def __init__(self):
        trt.ILogger.__init__(self)

    def log(self, severity, msg):
        print(f"LOG {severity}: {msg}", flush=True)


logger = Logger()
try:
    import torch

    print("torch:", torch.__version__, "GPU:", torch.cuda.get_device_name(0), "capability:", torch.cuda.get_device_capability(0), flush=True)
except BaseException as e:  # noqa: BLE001
    torch = None
    print("torch unavailable:", e, flush=True)

builder = step("trt.Builder(logger)", lambda: trt.Builder(logger))
if builder is None:
    sys.exit(2)
network = step("builder.create_network(0)", lambda: builder.create_network(0))
if network is None:
    sys.exit(3)
x = step("network.add_input('x', float32, (1, 8))", lambda: network.add_input("x", trt.float32, (1, 8)))
relu = step("network.add_activation(x, RELU)", lambda: network.add_activation(x, trt.ActivationType.RELU))
step("network.mark_output", lambda: network.mark_output(relu.get_output(0)))
config = step("builder.create_builder_config()", lambda: builder.create_builder_config())
plan = step("builder.build_serialized_network(network, config)", lambda: builder.build_serialized_network(network, config))
print("PLAN:", None if plan is None else f"{plan.nbytes} bytes", flush=True)
if plan is None or torch is None:
    sys.exit(4 if plan is None else 0)

runtime = step("trt.Runtime(logger)", lambda: trt.Runtime(logger))
engine = step("runtime.deserialize_cuda_engine(plan)", lambda: runtime.deserialize_cuda_engine(plan))
if engine is None:
    sys.exit(5)
context = step("engine.create_execution_context()", lambda: engine.create_execution_context())
xs = torch.tensor([[-2, -1, 0, 0.5, 1, 2, -3, 4]], dtype=torch.float32, device="cuda")
ys = torch.full_like(xs, float("nan"))
stream = torch.cuda.Stream()
step("set_tensor_address x", lambda: context.set_tensor_address("x", xs.data_ptr()))
step("set_tensor_address y", lambda: context.set_tensor_address(engine.get_tensor_name(1), ys.data_ptr()))
ok = step("execute_async_v3", lambda: context.execute_async_v3(stream.cuda_stream))
stream.synchronize()
print("INPUT:", xs.tolist(), flush=True)
print("OUTPUT:", ys.tolist(), flush=True)
print("ORACLE torch.relu:", torch.relu(xs).tolist(), flush=True)
print("MATCH:", bool(torch.equal(ys, torch.relu(xs))), flush=True)
