"""Drives a running `tensorrt-node serve` with the clients people use, and prints what they got as one JSON object.

    python serve_clients.py <http host:port> <grpc host:port>

Clients: NVIDIA's tritonclient.http (JSON and the binary tensor extension, sync and async), tritonclient.grpc
(raw tensors, sync and async, model config and statistics), the protocol's own compiled protobuf stubs shipped with
tritonclient (typed `contents` instead of raw bytes), and KServe's InferenceRESTClient / InferenceGRPCClient when
the kserve package is installed. Nothing is asserted here: test/unit/serve-clients.test.ts compares every tensor
with onnxruntime on the same inputs and checks the errors each client raised. Tensors travel as
{"dtype", "shape", "b64"} (raw little-endian bytes; BOOL as one byte per value).
"""
import asyncio
import base64
import json
import sys
import threading
import traceback

import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.grpc import service_pb2, service_pb2_grpc
from tritonclient.utils import InferenceServerException

HTTP_URL, GRPC_URL = sys.argv[1], sys.argv[2]
rng = np.random.default_rng(21)
results = {}


def enc(a):
    a = np.ascontiguousarray(a)
    dtype = "bool" if a.dtype == np.bool_ else str(a.dtype)
    raw = a.astype(np.uint8).tobytes() if a.dtype == np.bool_ else a.tobytes()
    return {"dtype": dtype, "shape": list(a.shape), "b64": base64.b64encode(raw).decode()}


def err(e):
    if isinstance(e, InferenceServerException):
        return {"type": type(e).__name__, "status": str(e.status()), "message": str(e.message())}
    return {"type": type(e).__name__, "status": "", "message": str(e)}


def case(name, fn):
    try:
        results[name] = {"ok": True, "value": fn()}
    except Exception as e:  # recorded, judged by the jest test
        results[name] = {"ok": False, "error": err(e), "trace": traceback.format_exc(limit=3)}


# Inputs of the `mixed` model (two rows) and of `affine`.
X = rng.standard_normal((2, 4)).astype(np.float32)
H = rng.standard_normal((2, 4)).astype(np.float16)
K = rng.integers(-(2**40), 2**40, size=(2, 3), dtype=np.int64)
B = rng.integers(0, 2, size=(2, 2)).astype(np.bool_)
A = rng.standard_normal((3, 4)).astype(np.float32)
results["inputs"] = {"x": enc(X), "h": enc(H), "k": enc(K), "b": enc(B), "affine_x": enc(A)}
MIXED = [("x", X, "FP32"), ("h", H, "FP16"), ("k", K, "INT64"), ("b", B, "BOOL")]
OUT = ["y", "hy", "ky", "nb"]

# ---------------------------------------------------------------------------------------------- tritonclient.http
hc = httpclient.InferenceServerClient(url=HTTP_URL, concurrency=4)
case("http.live", lambda: hc.is_server_live())
case("http.ready", lambda: hc.is_server_ready())
case("http.model_ready", lambda: hc.is_model_ready("mixed"))
case("http.server_metadata", lambda: hc.get_server_metadata())
case("http.model_metadata", lambda: hc.get_model_metadata("mixed"))


def http_inputs(spec, binary):
    ins = []
    for name, arr, dt in spec:
        i = httpclient.InferInput(name, list(arr.shape), dt)
        i.set_data_from_numpy(arr, binary_data=binary)
        ins.append(i)
    return ins


def http_infer(binary, asynchronous=False, model="mixed", spec=MIXED, outs=OUT, compression=None):
    ins = http_inputs(spec, binary)
    req = [httpclient.InferRequestedOutput(o, binary_data=binary) for o in outs]
    if asynchronous:
        r = hc.async_infer(model, ins, outputs=req, request_id="a1").get_result()
    else:
        r = hc.infer(model, ins, outputs=req, request_id="r1", request_compression_algorithm=compression)
    resp = r.get_response()
    return {"outputs": {o: enc(r.as_numpy(o)) for o in outs}, "response": resp}


case("http.infer_json", lambda: http_infer(False))
case("http.infer_binary", lambda: http_infer(True))
case("http.infer_async", lambda: http_infer(True, asynchronous=True))
case("http.infer_gzip", lambda: http_infer(True, compression="gzip"))  # Content-Encoding: gzip
case("http.infer_deflate", lambda: http_infer(False, compression="deflate"))
case("http.infer_affine", lambda: http_infer(False, model="affine", spec=[("x", A, "FP32")], outs=["y"]))
case("http.err_model", lambda: http_infer(False, model="nope"))
case("http.err_name", lambda: http_infer(False, model="affine", spec=[("z", A, "FP32")], outs=["y"]))
case("http.err_shape", lambda: http_infer(False, model="affine", spec=[("x", np.zeros((3, 5), np.float32), "FP32")], outs=["y"]))
case("http.err_dtype", lambda: http_infer(True, model="affine", spec=[("x", A.astype(np.float64), "FP64")], outs=["y"]))
case("http.err_bytes", lambda: http_infer(True, model="affine", spec=[("x", np.array([[b"a", b"b", b"c", b"d"]], dtype=np.object_), "BYTES")], outs=["y"]))
case("http.err_output", lambda: http_infer(False, model="affine", spec=[("x", A, "FP32")], outs=["nope"]))

# ---------------------------------------------------------------------------------------------- tritonclient.grpc
gc = grpcclient.InferenceServerClient(url=GRPC_URL)
case("grpc.live", lambda: gc.is_server_live())
case("grpc.ready", lambda: gc.is_server_ready())
case("grpc.model_ready", lambda: gc.is_model_ready("mixed"))
case("grpc.server_metadata", lambda: gc.get_server_metadata(as_json=True))
case("grpc.model_metadata", lambda: gc.get_model_metadata("mixed", as_json=True))
case("grpc.model_config", lambda: gc.get_model_config("mixed", as_json=True))


def grpc_inputs(spec):
    ins = []
    for name, arr, dt in spec:
        i = grpcclient.InferInput(name, list(arr.shape), dt)
        i.set_data_from_numpy(arr)
        ins.append(i)
    return ins


def grpc_infer(model="mixed", spec=MIXED, outs=OUT, version=""):
    r = gc.infer(model, grpc_inputs(spec), outputs=[grpcclient.InferRequestedOutput(o) for o in outs], request_id="g1", model_version=version)
    return {"outputs": {o: enc(r.as_numpy(o)) for o in outs}, "response": r.get_response(as_json=True)}


def grpc_async():
    done = threading.Event()
    got = {}

    def cb(result, error):
        got["result"], got["error"] = result, error
        done.set()

    gc.async_infer("mixed", grpc_inputs(MIXED), cb, outputs=[grpcclient.InferRequestedOutput(o) for o in OUT], request_id="ga")
    if not done.wait(60):
        raise TimeoutError("async_infer: no callback within 60 s")
    if got["error"] is not None:
        raise got["error"]
    return {"outputs": {o: enc(got["result"].as_numpy(o)) for o in OUT}, "response": got["result"].get_response(as_json=True)}


case("grpc.infer", grpc_infer)
case("grpc.infer_version", lambda: grpc_infer(version="1"))
case("grpc.infer_async", grpc_async)
case("grpc.err_model", lambda: grpc_infer(model="nope"))
case("grpc.err_version", lambda: grpc_infer(version="7"))
case("grpc.err_name", lambda: grpc_infer(model="affine", spec=[("z", A, "FP32")], outs=["y"]))
case("grpc.err_shape", lambda: grpc_infer(model="affine", spec=[("x", np.zeros((3, 5), np.float32), "FP32")], outs=["y"]))
case("grpc.err_dtype", lambda: grpc_infer(model="affine", spec=[("x", A.astype(np.float64), "FP64")], outs=["y"]))
case("grpc.err_bytes", lambda: grpc_infer(model="affine", spec=[("x", np.array([[b"a", b"b", b"c", b"d"]], dtype=np.object_), "BYTES")], outs=["y"]))
case("grpc.err_output", lambda: grpc_infer(model="affine", spec=[("x", A, "FP32")], outs=["nope"]))
case("grpc.statistics", lambda: gc.get_inference_statistics("mixed", as_json=True))
gc.close()

# ------------------------------------------------ the protocol's compiled stubs: typed contents instead of raw bytes
import grpc  # noqa: E402

channel = grpc.insecure_channel(GRPC_URL)
stub = service_pb2_grpc.GRPCInferenceServiceStub(channel)


def typed_infer():
    # typed contents (fp32_contents) for an FP32-only model; the server answers raw_output_contents
    req = service_pb2.ModelInferRequest(model_name="affine", id="t1")
    t = req.inputs.add(name="x", datatype="FP32", shape=list(A.shape))
    t.contents.fp32_contents.extend(A.flatten().tolist())
    r = stub.ModelInfer(req)
    outs = {}
    for i, o in enumerate(r.outputs):
        data = r.raw_output_contents[i] if r.raw_output_contents else np.array(o.contents.fp32_contents, np.float32).tobytes()
        outs[o.name] = enc(np.frombuffer(data, np.float32).reshape(list(o.shape)))
    return {"outputs": outs, "model_name": r.model_name, "model_version": r.model_version, "id": r.id}


def typed_mixed_contents():
    # x, k, b in their typed fields; h (FP16) in fp32_contents, which the protocol does not allow (FP16 is raw only)
    req = service_pb2.ModelInferRequest(model_name="mixed", id="t2")
    for name, arr, dt in MIXED:
        t = req.inputs.add(name=name, datatype=dt, shape=list(arr.shape))
        if dt == "FP32":
            t.contents.fp32_contents.extend(arr.flatten().tolist())
        elif dt == "INT64":
            t.contents.int64_contents.extend(arr.flatten().tolist())
        elif dt == "BOOL":
            t.contents.bool_contents.extend(arr.flatten().tolist())
        else:
            t.contents.fp32_contents.extend(arr.astype(np.float32).flatten().tolist())
    return stub.ModelInfer(req)


def grpc_code(fn):
    def run():
        try:
            fn()
        except grpc.RpcError as e:
            return {"code": e.code().name, "details": e.details()}
        return {"code": "OK"}
    return run


def typed_bad_count():
    req = service_pb2.ModelInferRequest(model_name="affine")
    t = req.inputs.add(name="x", datatype="FP32", shape=[3, 4])
    t.contents.fp32_contents.extend([1.0, 2.0])
    return stub.ModelInfer(req)


def raw_count_mismatch():
    req = service_pb2.ModelInferRequest(model_name="mixed")
    for name, arr, dt in MIXED:
        req.inputs.add(name=name, datatype=dt, shape=list(arr.shape))
    req.raw_input_contents.append(X.tobytes())  # one buffer for four inputs
    return stub.ModelInfer(req)


case("stub.typed_affine", typed_infer)
case("stub.err_fp16_typed", grpc_code(typed_mixed_contents))
case("stub.err_value_count", grpc_code(typed_bad_count))
case("stub.err_raw_count", grpc_code(raw_count_mismatch))
case("stub.err_model_ready_unknown", grpc_code(lambda: stub.ModelReady(service_pb2.ModelReadyRequest(name="nope"))))
case("stub.err_bad_version", grpc_code(lambda: stub.ModelMetadata(service_pb2.ModelMetadataRequest(name="mixed", version="x"))))
channel.close()

print(json.dumps(results, default=str))
