"""KServe's Python SDK (kserve.InferenceRESTClient over v2 REST, kserve.InferenceGRPCClient over gRPC) against a
running `tensorrt-node serve`; prints one JSON object (tensors as in serve_clients.py). Kept apart from
serve_clients.py: kserve's protobuf module and tritonclient's both register `inference.*` in protobuf's default pool.

    python serve_kserve_client.py <http host:port> <grpc host:port> <inputs.json>

<inputs.json>: the "inputs" object serve_clients.py printed (the same tensors go to both clients).
"""
import asyncio
import base64
import json
import sys
import traceback

import numpy as np
from kserve import InferenceGRPCClient, InferenceRESTClient, InferInput, InferRequest, RESTConfig

HTTP_URL, GRPC_URL = sys.argv[1], sys.argv[2]
results = {}


def enc(a):
    a = np.ascontiguousarray(a)
    dtype = "bool" if a.dtype == np.bool_ else str(a.dtype)
    raw = a.astype(np.uint8).tobytes() if a.dtype == np.bool_ else a.tobytes()
    return {"dtype": dtype, "shape": list(a.shape), "b64": base64.b64encode(raw).decode()}


def dec(t):
    raw = base64.b64decode(t["b64"])
    if t["dtype"] == "bool":
        return np.frombuffer(raw, np.uint8).astype(np.bool_).reshape(t["shape"])
    return np.frombuffer(raw, np.dtype(t["dtype"])).reshape(t["shape"])


def case(name, fn):
    try:
        results[name] = {"ok": True, "value": fn()}
    except Exception as e:  # recorded, judged by the jest test
        results[name] = {"ok": False, "error": {"type": type(e).__name__, "status": "", "message": str(e)}, "trace": traceback.format_exc(limit=3)}


with open(sys.argv[3]) as f:
    INPUTS = json.load(f)
MIXED = [(n, dec(INPUTS[n]), dt) for n, dt in (("x", "FP32"), ("h", "FP16"), ("k", "INT64"), ("b", "BOOL"))]


def ks_request():
    # JSON values, but FP16 in the binary extension (the REST client refuses FP16 as JSON)
    ins = []
    for name, arr, dt in MIXED:
        i = InferInput(name=name, shape=list(arr.shape), datatype=dt)
        i.set_data_from_numpy(arr, binary_data=dt == "FP16")
        ins.append(i)
    return InferRequest(model_name="mixed", infer_inputs=ins, request_id="k1")


async def ks_rest():
    c = InferenceRESTClient(config=RESTConfig(protocol="v2", timeout=60))
    base = f"http://{HTTP_URL}"
    try:
        out = {"live": await c.is_server_live(base), "ready": await c.is_server_ready(base), "model_ready": await c.is_model_ready(base, "mixed")}
        r = await c.infer(base, ks_request(), model_name="mixed")
        out["outputs"] = {o.name: enc(o.as_numpy()) for o in r.outputs}
        try:
            await c.infer(base, InferRequest(model_name="nope", infer_inputs=ks_request().inputs), model_name="nope")
            out["err_model"] = None
        except Exception as e:
            out["err_model"] = {"type": type(e).__name__, "message": str(e)}
        return out
    finally:
        await c.close()


async def ks_grpc():
    c = InferenceGRPCClient(url=GRPC_URL, timeout=60)
    try:
        out = {"live": await c.is_server_live(), "ready": await c.is_server_ready(), "model_ready": await c.is_model_ready("mixed")}
        req = ks_request()
        for i in req.inputs:  # the gRPC client sends raw contents
            i.set_data_from_numpy(dict((n, a) for n, a, _ in MIXED)[i.name], binary_data=True)
        r = await c.infer(req)
        out["outputs"] = {o.name: enc(o.as_numpy()) for o in r.outputs}
        return out
    finally:
        await c.close()


case("kserve.rest", lambda: asyncio.run(ks_rest()))
case("kserve.grpc", lambda: asyncio.run(ks_grpc()))


print(json.dumps(results, default=str))
