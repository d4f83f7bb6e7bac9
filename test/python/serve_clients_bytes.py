"""BYTES (string) tensors through tritonclient against a running `tensorrt-node serve` with the `strings` model
(test/unit/helpers/dtype-models.ts: s BYTES [N,2], x FP32 [N,3] -> s_id, s2, s_bytes BYTES, y FP32).

    python serve_clients_bytes.py <http host:port> <grpc host:port>

Prints one JSON object: per case the outputs (strings as UTF-8 text, FP32 as lists) or the error raised. Nothing
is asserted here: test/unit/serve-clients.test.ts compares them with onnxruntime on the same inputs.
"""
import json
import sys
import traceback

import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

HTTP_URL, GRPC_URL = sys.argv[1], sys.argv[2]
S = np.array([["hello", "w\u00f6rld \u2713"], ["", 'tab\tand "quotes"'], ["x", "y"]], dtype=np.object_)
X = np.array([[1, 2, 3], [4, 5, -6], [0.5, 0.25, 7]], dtype=np.float32)
OUTS = ["s_id", "s2", "s_bytes", "y"]
results = {}


def strs(a):
    return [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in a.reshape(-1)]


def outputs(r):
    o = {}
    for n in OUTS:
        a = r.as_numpy(n)
        o[n] = {"shape": list(a.shape), "data": a.reshape(-1).tolist() if n == "y" else strs(a)}
    return o


def case(name, fn):
    try:
        results[name] = {"ok": True, "value": fn()}
    except InferenceServerException as e:
        results[name] = {"ok": False, "error": {"type": type(e).__name__, "status": str(e.status()), "message": str(e.message())}}
    except Exception as e:  # noqa: BLE001 -- reported, not raised
        results[name] = {"ok": False, "error": {"type": type(e).__name__, "status": "", "message": str(e)}, "trace": traceback.format_exc()}


def http_infer(binary):
    c = httpclient.InferenceServerClient(HTTP_URL)
    s = httpclient.InferInput("s", list(S.shape), "BYTES")
    s.set_data_from_numpy(S, binary_data=binary)
    x = httpclient.InferInput("x", list(X.shape), "FP32")
    x.set_data_from_numpy(X, binary_data=binary)
    outs = [httpclient.InferRequestedOutput(n, binary_data=binary) for n in OUTS]
    return outputs(c.infer("strings", [s, x], outputs=outs))


def grpc_infer():
    c = grpcclient.InferenceServerClient(GRPC_URL)
    s = grpcclient.InferInput("s", list(S.shape), "BYTES")
    s.set_data_from_numpy(S)
    x = grpcclient.InferInput("x", list(X.shape), "FP32")
    x.set_data_from_numpy(X)
    return outputs(c.infer("strings", [s, x], outputs=[grpcclient.InferRequestedOutput(n) for n in OUTS]))


def metadata(mod, url):
    m = mod.InferenceServerClient(url).get_model_metadata("strings", as_json=True) if mod is grpcclient else mod.InferenceServerClient(url).get_model_metadata("strings")
    return [t["datatype"] for t in m["inputs"]] + [t["datatype"] for t in m["outputs"]]


def grpc_bytes_for_float():
    c = grpcclient.InferenceServerClient(GRPC_URL)
    s = grpcclient.InferInput("s", list(S.shape), "BYTES")
    s.set_data_from_numpy(S)
    x = grpcclient.InferInput("x", list(X.shape), "BYTES")
    x.set_data_from_numpy(X.astype(np.object_))
    return outputs(c.infer("strings", [s, x]))


case("http.json", lambda: http_infer(False))
case("http.binary", lambda: http_infer(True))
case("grpc.infer", grpc_infer)
case("http.metadata", lambda: metadata(httpclient, HTTP_URL))
case("grpc.metadata", lambda: metadata(grpcclient, GRPC_URL))
case("grpc.err_bytes_for_float", grpc_bytes_for_float)
print(json.dumps({"inputs": {"s": strs(S), "x": X.reshape(-1).tolist()}, **results}))
