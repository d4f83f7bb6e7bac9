"""TensorFlow as the oracle: builds the conversion corpus (small graphs per op, whole keras.applications
networks by three routes) and stores TensorFlow's outputs on seeded inputs as .npy, with manifest.json.

  python corpus.py OUT_DIR [--subset ci|full|ops]   (ops: the small graphs only, for development)

Run by test/unit/tensorflow-oracle.test.ts into the git-ignored .cache/tf-corpus/<hash>/<subset>; nothing it
writes is committed. TF_ENABLE_ONEDNN_OPTS=0 is set (TF 2.21's oneDNN path can die with SIGFPE on some CPUs).
"""
import json
import os
import subprocess
import sys

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2  # noqa: E402

OUT = sys.argv[1]
SUBSET = sys.argv[sys.argv.index("--subset") + 1] if "--subset" in sys.argv else "ci"
# PYTHONPATH giving tensorflowjs (scripts/python-env.js ensureTfjs); unset: no TF.js graph-model route
TFJS_PYTHONPATH = os.environ.get("TN_TFJS_PYTHONPATH")
os.makedirs(OUT, exist_ok=True)
manifest = []
RNG = np.random.RandomState(1234)


def save_npy(case, tag, arr):
    p = f"{case}.{tag}.npy"
    np.save(os.path.join(OUT, p), arr)
    return p


def kind_of(arr):
    return "close" if arr.dtype.kind == "f" else "exact"


def graph_ops(gd):
    """The op types of every node of a GraphDef and of its function library (what the converter reads)."""
    return sorted({n.op for n in gd.node} | {n.op for f in gd.library.function for n in f.node_def})


def frozen_case(name, fn, specs, feeds, compare=None, opset=None):
    """fn traced on TensorSpecs, frozen to a GraphDef (.pb); TF's outputs on feeds stored. opset: the ONNX opset
    the test converts at (default: the converter's, 13)."""
    cf = tf.function(lambda *args: fn(*args), autograph=False).get_concrete_function(*specs)
    frozen = convert_variables_to_constants_v2(cf)
    gd = frozen.graph.as_graph_def()
    pb = f"{name}.pb"
    with open(os.path.join(OUT, pb), "wb") as f:
        f.write(gd.SerializeToString())
    outs = frozen(*[tf.constant(v) for v in feeds])
    outs = outs if isinstance(outs, (list, tuple)) else [outs]
    manifest.append({
        "name": name, "path": pb, "format": "frozen-graphdef", "route": "op",
        "inputs": [{"name": t.name, "npy": save_npy(name, f"in{i}", v)} for i, (t, v) in enumerate(zip(frozen.inputs, feeds))],
        "outputs": [{"name": t.name, "npy": save_npy(name, f"out{i}", o.numpy()), "compare": (compare[i] if compare else kind_of(o.numpy()))}
                    for i, (t, o) in enumerate(zip(frozen.outputs, outs))],
        "ops": graph_ops(gd),
    })
    if opset:
        manifest[-1]["opset"] = opset


def f32(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def S(shape, dtype=tf.float32):
    return tf.TensorSpec(shape, dtype)


def unary(name, fn, x=None, opset=None):
    x = f32(2, 3, 4) if x is None else x
    frozen_case(name, fn, [S(x.shape, tf.as_dtype(x.dtype))], [x], opset=opset)


def binary(name, fn, a, b, opset=None):
    frozen_case(name, fn, [S(a.shape, tf.as_dtype(a.dtype)), S(b.shape, tf.as_dtype(b.dtype))], [a, b], opset=opset)


def op_cases():
    img = f32(1, 9, 10, 3)
    for pad in ["SAME", "VALID", [[0, 0], [1, 2], [2, 1], [0, 0]]]:
        for strides, dil in [(1, 1), (2, 1), (1, 2)]:
            if strides > 1 and dil > 1:
                continue
            w = f32(3, 3, 3, 4)
            tag = pad if isinstance(pad, str) else "EXPLICIT"
            unary(f"conv2d_{tag}_s{strides}_d{dil}", lambda x, w=w, p=pad, s=strides, d=dil: tf.nn.conv2d(x, w, s, p, dilations=d), img)
            dw = f32(3, 3, 3, 2)
            if not isinstance(pad, str):
                continue
            unary(f"depthwise_{tag}_s{strides}_d{dil}", lambda x, w=dw, p=pad, s=strides, d=dil: tf.nn.depthwise_conv2d(x, w, [1, s, s, 1], p, dilations=[d, d]), img)
    unary("bias_add", lambda x: tf.nn.bias_add(x, tf.constant(f32(3))), img)
    scale, off, mean, var = f32(3), f32(3), f32(3), np.abs(f32(3)) + 0.5
    unary("fused_batch_norm_v3", lambda x: tf.compat.v1.nn.fused_batch_norm(x, scale, off, mean, var, is_training=False)[0], img)
    for p in ["SAME", "VALID"]:
        unary(f"max_pool_{p}", lambda x, p=p: tf.nn.max_pool2d(x, 3, 2, p), img)
        unary(f"avg_pool_{p}", lambda x, p=p: tf.nn.avg_pool2d(x, 3, 2, p), img)
    binary("matmul", lambda a, b: tf.matmul(a, b), f32(4, 5), f32(5, 3))
    binary("matmul_transpose", lambda a, b: tf.matmul(a, b, transpose_a=True, transpose_b=True), f32(5, 4), f32(3, 5))
    binary("batch_matmul_v2_bcast", lambda a, b: tf.matmul(a, b), f32(2, 1, 4, 5), f32(3, 5, 2))
    for n, fn in [("relu", tf.nn.relu), ("relu6", tf.nn.relu6), ("sigmoid", tf.sigmoid), ("tanh", tf.tanh), ("softmax", tf.nn.softmax),
                  ("elu", tf.nn.elu), ("leaky_relu", lambda x: tf.nn.leaky_relu(x, 0.3)), ("exp", tf.exp), ("abs", tf.abs), ("neg", tf.negative),
                  ("floor", tf.floor), ("ceil", tf.math.ceil), ("square", tf.square), ("log_softmax", tf.nn.log_softmax), ("softplus", tf.nn.softplus),
                  ("sqrt", lambda x: tf.sqrt(tf.abs(x))), ("rsqrt", lambda x: tf.math.rsqrt(tf.abs(x) + 0.1)), ("log", lambda x: tf.math.log(tf.abs(x) + 0.1)),
                  ("sin", tf.sin), ("cos", tf.cos), ("erf", tf.math.erf), ("round", tf.round), ("sign", tf.sign), ("reciprocal", lambda x: tf.math.reciprocal(x + 10.0)),
                  ("clip", lambda x: tf.clip_by_value(x, -0.5, 0.5))]:
        unary(n, fn)
    a, b = f32(2, 3, 4), f32(3, 1)
    for n, fn in [("add_bcast", tf.add), ("sub_bcast", tf.subtract), ("mul_bcast", tf.multiply), ("realdiv_bcast", lambda x, y: x / (tf.abs(y) + 1.0)),
                  ("maximum", tf.maximum), ("minimum", tf.minimum), ("squared_difference", tf.math.squared_difference),
                  ("pow", lambda x, y: tf.pow(tf.abs(x) + 0.5, y)), ("atan2", tf.atan2), ("greater", tf.greater), ("less_equal", tf.less_equal),
                  ("equal_float", lambda x, y: tf.equal(tf.round(x), tf.round(y))), ("select_v2", lambda x, y: tf.where(x > 0, x, y))]:
        binary(n, fn, a, b)
    i32 = RNG.randint(-5, 5, (2, 3, 4)).astype(np.int32)
    binary("floordiv_int", lambda x, y: tf.math.floordiv(x, y), i32, np.array([1, 2, 3, -2], np.int32))
    binary("floormod_int", lambda x, y: tf.math.floormod(x, y), i32, np.array([1, 2, 3, -2], np.int32))
    unary("reshape", lambda x: tf.reshape(x, [4, -1]))
    unary("transpose", lambda x: tf.transpose(x, [2, 0, 1]))
    binary("concat_v2_neg_axis", lambda x, y: tf.concat([x, y], -1), f32(2, 3), f32(2, 5))
    binary("pack", lambda x, y: tf.stack([x, y], 1), f32(2, 3), f32(2, 3))
    unary("unpack", lambda x: tf.unstack(x, axis=1))
    unary("split", lambda x: tf.split(x, 2, axis=-1))
    unary("split_v", lambda x: tf.split(x, [1, 3], axis=2))
    unary("strided_slice", lambda x: x[:, 1:, ::2])
    unary("strided_slice_masks", lambda x: x[..., tf.newaxis, 1, -3:])
    unary("strided_slice_shrink_neg", lambda x: x[-1, ::-1, 1:3])
    unary("slice", lambda x: tf.slice(x, [0, 1, 1], [2, -1, 2]))
    idx = np.array([[2, 0], [1, 1]], np.int32)
    binary("gather_v2", lambda x, i: tf.gather(x, i, axis=1), f32(2, 3, 4), np.array([2, 0, 1], np.int32))
    binary("gather_v2_batch_dims", lambda x, i: tf.gather(x, i, axis=2, batch_dims=1), f32(2, 3, 4), idx)
    binary("gather_nd", lambda x, i: tf.gather_nd(x, i), f32(3, 4, 2), idx)
    binary("gather_nd_full", lambda x, i: tf.gather_nd(x, i), f32(3, 4), idx)
    binary("scatter_nd", lambda u, i: tf.scatter_nd(i, u, [4, 3]), f32(2, 3), np.array([[1], [3]], np.int32))
    unary("tile", lambda x: tf.tile(x, [2, 1, 3]))
    unary("pad", lambda x: tf.pad(x, [[1, 0], [0, 2], [1, 1]]))
    unary("pad_constant", lambda x: tf.pad(x, [[1, 0], [0, 2], [1, 1]], constant_values=2.5))
    unary("mirror_pad_reflect", lambda x: tf.pad(x, [[1, 1], [1, 2], [0, 1]], "REFLECT"))
    unary("mirror_pad_symmetric", lambda x: tf.pad(x, [[1, 1], [1, 2], [0, 1]], "SYMMETRIC"))
    for n, fn in [("sum", tf.reduce_sum), ("mean", tf.reduce_mean), ("max", tf.reduce_max), ("min", tf.reduce_min), ("prod", tf.reduce_prod)]:
        unary(f"reduce_{n}_keep", lambda x, fn=fn: fn(x, axis=[-1, 0], keepdims=True))
        unary(f"reduce_{n}", lambda x, fn=fn: fn(x, axis=-2))
    unary("reduce_all", lambda x: tf.reduce_all(x > 0, axis=1))
    unary("reduce_any", lambda x: tf.reduce_any(x > 0, axis=-1, keepdims=True))
    unary("argmax", lambda x: tf.argmax(x, axis=-1))
    unary("argmin_int32", lambda x: tf.argmin(x, axis=1, output_type=tf.int32))
    unary("cast_int32", lambda x: tf.cast(x * 3, tf.int32))
    unary("cast_int64", lambda x: tf.cast(x * 3, tf.int64))
    unary("cast_float16_roundtrip", lambda x: tf.cast(tf.cast(x, tf.float16) * 2, tf.float32))
    unary("cast_bool", lambda x: tf.cast(tf.cast(x * 2, tf.int32), tf.bool))
    unary("size", lambda x: tf.size(x))
    unary("shape", lambda x: tf.shape(x))
    unary("broadcast_to", lambda x: tf.broadcast_to(x, [3, 2, 3, 4]))
    unary("expand_squeeze", lambda x: tf.squeeze(tf.expand_dims(x, -1), [-1]))
    unary("cumsum", lambda x: tf.cumsum(x, axis=1))
    unary("one_hot", lambda x: tf.one_hot(tf.argmax(x, -1), 5))
    unary("fill_zeros_like", lambda x: x + tf.fill([4], 2.0) + tf.zeros_like(x))
    unary("range", lambda x: tf.cast(tf.range(0, tf.shape(x)[2], 1), tf.float32) + x)
    unary("sparse_to_dense", lambda i: tf.raw_ops.SparseToDense(sparse_indices=i, output_shape=[4, 5], sparse_values=tf.constant([1.5, 2.5, 3.5]), default_value=0.0),
          np.array([[0, 1], [2, 3], [3, 0]], np.int32))
    unary("topk_v2", lambda x: tf.math.top_k(x, 3))
    unary("space_to_depth", lambda x: tf.nn.space_to_depth(x, 2), f32(1, 4, 6, 3))
    unary("depth_to_space", lambda x: tf.nn.depth_to_space(x, 2), f32(1, 2, 3, 8))
    for n, fn in [("bilinear", lambda x: tf.compat.v1.image.resize_bilinear(x, [7, 9])),
                  ("bilinear_align", lambda x: tf.compat.v1.image.resize_bilinear(x, [7, 9], align_corners=True)),
                  ("bilinear_half_pixel", lambda x: tf.compat.v1.image.resize_bilinear(x, [7, 9], half_pixel_centers=True)),
                  ("nearest", lambda x: tf.compat.v1.image.resize_nearest_neighbor(x, [8, 10])),
                  ("nearest_align", lambda x: tf.compat.v1.image.resize_nearest_neighbor(x, [7, 9], align_corners=True)),
                  ("nearest_half_pixel", lambda x: tf.compat.v1.image.resize_nearest_neighbor(x, [7, 9], half_pixel_centers=True)),
                  ("bicubic", lambda x: tf.compat.v1.image.resize_bicubic(x, [7, 9])),
                  ("bicubic_align", lambda x: tf.compat.v1.image.resize_bicubic(x, [7, 9], align_corners=True)),
                  ("bicubic_half_pixel", lambda x: tf.compat.v1.image.resize_bicubic(x, [7, 9], half_pixel_centers=True)),
                  ("bicubic_half_pixel_down", lambda x: tf.compat.v1.image.resize_bicubic(x, [3, 2], half_pixel_centers=True))]:
        unary(f"resize_{n}", fn, f32(1, 4, 5, 2))
    binary("einsum_matmul", lambda a, b: tf.einsum("bij,bjk->bik", a, b), f32(2, 3, 4), f32(2, 4, 5))
    binary("einsum_outer_sum", lambda a, b: tf.einsum("ij,kj->ik", a, b), f32(3, 4), f32(5, 4))
    y1x1 = RNG.uniform(0, 1, (20, 2)).astype(np.float32)
    boxes = np.concatenate([y1x1, y1x1 + RNG.uniform(0.1, 0.5, (20, 2)).astype(np.float32)], 1)
    scores = RNG.uniform(0, 1, 20).astype(np.float32)
    binary("nms_v3", lambda b, s: tf.raw_ops.NonMaxSuppressionV3(boxes=b, scores=s, max_output_size=8, iou_threshold=0.5, score_threshold=0.2), boxes, scores)
    frozen_case("nms_v4", lambda b, s: tf.raw_ops.NonMaxSuppressionV4(boxes=b, scores=s, max_output_size=8, iou_threshold=0.5, score_threshold=0.2, pad_to_max_output_size=False),
                [S(boxes.shape), S(scores.shape)], [boxes, scores], ["set", "exact"])
    frozen_case("nms_v5", lambda b, s: tf.raw_ops.NonMaxSuppressionV5(boxes=b, scores=s, max_output_size=8, iou_threshold=0.5, score_threshold=0.2, soft_nms_sigma=0.0)[0],
                [S(boxes.shape), S(scores.shape)], [boxes, scores], ["set"])
    manifest[-3]["outputs"][0]["compare"] = "set"


def more_op_cases():
    """tf2onnx's op table beyond op_cases: one graph per op, plus the attribute variants that change meaning."""
    x = f32(2, 3, 4)
    for n, fn in [("sinh", tf.sinh), ("cosh", tf.cosh), ("asinh", tf.asinh), ("acosh", lambda v: tf.acosh(tf.abs(v) + 1.0)),
                  ("atanh", lambda v: tf.atanh(tf.clip_by_value(v, -0.9, 0.9))), ("tan", lambda v: tf.tan(tf.clip_by_value(v, -1.2, 1.2))),
                  ("asin", lambda v: tf.asin(tf.clip_by_value(v, -1.0, 1.0))), ("acos", lambda v: tf.acos(tf.clip_by_value(v, -1.0, 1.0))),
                  ("atan", tf.atan), ("selu", tf.nn.selu), ("softsign", tf.nn.softsign), ("rint", lambda v: tf.math.rint(v * 2.0)),
                  ("zeros_ones_like", lambda v: tf.zeros_like(v) + tf.ones_like(v) * 2.0), ("check_numerics", lambda v: tf.debugging.check_numerics(v, "bad") * 2.0),
                  ("ensure_shape", lambda v: tf.ensure_shape(v, [2, 3, 4]) + 1.0), ("add_n", lambda v: tf.add_n([v, v * 2.0, v * 3.0])),
                  ("where_indices", lambda v: tf.where(v > 0.5)), ("logical_ops", lambda v: tf.logical_or(tf.logical_and(v > 0, v < 1), tf.logical_not(v > -0.5))),
                  ("compare_ops", lambda v: tf.stack([tf.cast(tf.greater_equal(v, 0.1), tf.int32), tf.cast(tf.less(v, 0.2), tf.int32), tf.cast(tf.not_equal(tf.round(v), 0.0), tf.int32)])),
                  ("reverse_v2", lambda v: tf.reverse(v, [0, -1])), ("roll", lambda v: tf.roll(v, [1, -3, 2], [0, 2, 2])),
                  ("cumsum_exclusive", lambda v: tf.cumsum(v, axis=-1, exclusive=True)), ("cumsum_reverse", lambda v: tf.cumsum(v, axis=0, reverse=True)),
                  ("cumsum_exclusive_reverse", lambda v: tf.cumsum(v, axis=1, exclusive=True, reverse=True)),
                  ("one_hot_axis0", lambda v: tf.one_hot(tf.cast(v * 3, tf.int32), 4, on_value=5.0, off_value=-1.0, axis=0)),
                  ("one_hot_int", lambda v: tf.one_hot(tf.cast(v * 3, tf.int64), 3, on_value=7, off_value=2, axis=1, dtype=tf.int32)),
                  ("broadcast_to_rank", lambda v: tf.broadcast_to(v[0, :, :1], [2, 3, 3, 5])),
                  ("matrix_band_part", lambda v: tf.linalg.band_part(v, 1, 2)), ("matrix_band_part_lower", lambda v: tf.linalg.band_part(v, -1, 0)),
                  ("matrix_diag_part", lambda v: tf.linalg.diag_part(v)), ("matrix_diag", lambda v: tf.linalg.diag(v)),
                  ("matrix_set_diag", lambda v: tf.linalg.set_diag(v, tf.ones([2, 3]) * 7.0)),
                  ("adjust_contrast", lambda v: tf.image.adjust_contrast(v, 1.7)),
                  ("cumprod", lambda v: tf.math.cumprod(v, axis=1)), ("cumprod_exclusive_reverse", lambda v: tf.math.cumprod(v, axis=-1, exclusive=True, reverse=True)),
                  ("cumprod_exclusive", lambda v: tf.math.cumprod(v, axis=0, exclusive=True))]:
        unary(n, fn, x)
    unary("size_dynamic", lambda v: tf.size(v) + tf.cast(tf.rank(v), tf.int32), f32(5, 3))
    frozen_case("size_dynamic_batch", lambda v: tf.size(v, out_type=tf.int64), [S([None, 3])], [f32(5, 3)])
    nan = np.array([[1.0, np.nan, -np.inf], [np.inf, 0.0, -2.5]], np.float32)
    unary("is_nan_inf_finite", lambda v: tf.stack([tf.math.is_nan(v), tf.math.is_inf(v), tf.math.is_finite(v)]), nan)
    unary("matrix_determinant", lambda v: tf.linalg.det(v), f32(2, 3, 3))
    unary("matrix_diag_part_wide", lambda v: tf.linalg.diag_part(v), f32(2, 3, 5))
    unary("matrix_set_diag_tall", lambda v: tf.linalg.set_diag(v, tf.ones([2, 3]) * 7.0), f32(2, 5, 3))
    unary("lrn", lambda v: tf.nn.lrn(v, depth_radius=2, bias=1.5, alpha=0.3, beta=0.75), f32(1, 4, 5, 7))
    unary("invert_permutation", lambda p: tf.math.invert_permutation(p), np.array([3, 0, 4, 1, 2], np.int32))
    a, b = f32(2, 3, 4), f32(3, 1)
    for n, fn in [("div_no_nan", lambda u, w: tf.math.divide_no_nan(u, tf.round(w))), ("truncate_div_float", lambda u, w: tf.truncatediv(u * 5.0, w)),
                  ("div_raw", lambda u, w: tf.raw_ops.Div(x=u, y=w)), ("floormod_float", lambda u, w: tf.math.floormod(u * 4.0, w)),
                  ("select_v1", lambda u, w: tf.raw_ops.Select(condition=u > 0, x=u, y=u * w)), ("atan2_zeros", lambda u, w: tf.atan2(tf.round(u), tf.round(w)))]:
        binary(n, fn, a, b)
    i32 = RNG.randint(-9, 9, (2, 3, 4)).astype(np.int32)
    binary("truncate_div_int", lambda u, w: tf.truncatediv(u, w), i32, np.array([1, 2, -3, 4], np.int32))
    binary("truncate_mod_int", lambda u, w: tf.truncatemod(u, w), i32, np.array([1, 2, -3, 4], np.int32))
    binary("einsum_transpose", lambda u, w: tf.einsum("ij->ji", u) + w, f32(3, 4), f32(4, 3))
    binary("einsum_batch_contract", lambda u, w: tf.einsum("bij,bkj->bik", u, w), f32(2, 3, 4), f32(2, 5, 4))
    binary("einsum_dot", lambda u, w: tf.einsum("i,i->", u, w), f32(6), f32(6))
    binary("scatter_nd_duplicates", lambda u, i: tf.scatter_nd(i, u, [5, 3]), f32(4, 3), np.array([[1], [3], [1], [0]], np.int32))
    binary("scatter_nd_elements", lambda u, i: tf.scatter_nd(i, u, [3, 4]), f32(5), np.array([[0, 1], [2, 3], [0, 1], [1, 0], [2, 2]], np.int32))
    binary("gather_v2_batch_dims_axis1", lambda u, i: tf.gather(u, i, axis=1, batch_dims=1), f32(2, 3, 4), np.array([[2, 0], [1, 1]], np.int32))
    binary("gather_v1", lambda u, i: tf.raw_ops.Gather(params=u, indices=i), f32(4, 3), np.array([[3, 0], [1, 1]], np.int32))
    binary("concat_v1", lambda u, w: tf.raw_ops.Concat(concat_dim=1, values=[u, w]), f32(2, 3), f32(2, 2))
    binary("reverse_sequence", lambda u, L: tf.reverse_sequence(u, L, seq_axis=1, batch_axis=0), f32(3, 5, 2), np.array([2, 5, 0], np.int64))
    binary("reverse_sequence_batch2", lambda u, L: tf.reverse_sequence(u, L, seq_axis=0, batch_axis=2), f32(4, 2, 3), np.array([1, 4, 3], np.int32))
    data = f32(6, 3)
    ids = np.array([0, 0, 2, 2, 2, 3], np.int32)
    for n in ["sum", "mean", "max", "min", "prod"]:
        binary(f"segment_{n}", lambda d, i, n=n: getattr(tf.math, f"segment_{n}")(d, i), data, ids)
    uids = np.array([3, 0, 3, 1, 0, 3], np.int32)
    for n in ["sum", "max", "min", "prod"]:
        binary(f"unsorted_segment_{n}", lambda d, i, n=n: getattr(tf.math, f"unsorted_segment_{n}")(d, i, 5), data, uids)
    binary("unsorted_segment_sum_2d_ids", lambda d, i: tf.math.unsorted_segment_sum(d, i, 4), f32(2, 3, 2), np.array([[0, 3, 0], [1, 3, 3]], np.int32))
    sidx = np.array([5, 0, 1, 1, 4], np.int32)
    sseg = np.array([0, 0, 1, 3, 3], np.int32)
    for n in ["sum", "mean", "sqrt_n"]:
        binary(f"sparse_segment_{n}", lambda d, i, n=n: getattr(tf.sparse, f"segment_{n}")(d, i, sseg), data, sidx)
        binary(f"sparse_segment_{n}_num", lambda d, i, n=n: getattr(tf.sparse, f"segment_{n}")(d, i, sseg, num_segments=6), data, sidx)
    frozen_case("unique", lambda v: tf.unique(v), [S([7], tf.int32)], [np.array([4, 1, 4, 2, 1, 9, 4], np.int32)])
    frozen_case("unique_with_counts_float", lambda v: tf.unique_with_counts(v, out_idx=tf.int64), [S([6])], [np.array([0.5, -1.0, 0.5, 2.0, -1.0, 0.5], np.float32)])
    unary("bincount", lambda v: tf.math.bincount(v, minlength=6, maxlength=6), np.array([1, 3, 1, 0, 5, 1, 3], np.int32))
    binary("bincount_weights", lambda v, w: tf.math.bincount(v, weights=w, minlength=6, maxlength=6), np.array([1, 3, 1, 0, 5, 1, 3], np.int32), f32(7))
    unary("dense_bincount_binary", lambda v: tf.raw_ops.DenseBincount(input=v, size=5, weights=tf.constant([], tf.int32), binary_output=True),
          np.array([[1, 3, 1, 0], [4, 4, 2, 9]], np.int32))
    frozen_case("dynamic_partition", lambda d, p: tf.dynamic_partition(d, p, 3), [S([6, 3]), S([6], tf.int32)], [data, np.array([2, 0, 2, 1, 0, 2], np.int32)])
    upd, sidx2 = f32(3, 4), np.array([[1], [0], [1]], np.int32)
    for n, fn in [("update", tf.tensor_scatter_nd_update), ("add", tf.tensor_scatter_nd_add), ("sub", tf.tensor_scatter_nd_sub)]:
        if n == "update":
            binary(f"tensor_scatter_{n}", lambda t, u, fn=fn: fn(t, np.array([[1], [2]], np.int32), u[:2]), f32(3, 4), upd)
        else:
            binary(f"tensor_scatter_{n}", lambda t, u, fn=fn: fn(t, sidx2, u), f32(3, 4), upd)
    vol = f32(1, 5, 6, 7, 2)
    for pad in ["SAME", "VALID"]:
        for st in [1, 2]:  # TF's CPU Conv3D has no dilations
            unary(f"conv3d_{pad}_s{st}", lambda v, w=f32(3, 2, 3, 2, 4), p=pad, s=st: tf.nn.conv3d(v, w, [1, s, s, s, 1], p), vol)
        unary(f"max_pool3d_{pad}", lambda v, p=pad: tf.nn.max_pool3d(v, 3, 2, p), vol)
        unary(f"avg_pool3d_{pad}", lambda v, p=pad: tf.nn.avg_pool3d(v, [2, 3, 2], [1, 2, 1], p), vol)
    img = f32(1, 6, 7, 3)
    unary("conv2d_transpose_SAME", lambda v: tf.nn.conv2d_transpose(v, tf.constant(f32(3, 3, 4, 3)), [1, 12, 14, 4], 2, "SAME"), img)
    unary("conv2d_transpose_VALID", lambda v: tf.nn.conv2d_transpose(v, tf.constant(f32(3, 3, 4, 3)), [1, 13, 15, 4], 2, "VALID"), img)
    unary("space_to_batch_nd", lambda v: tf.space_to_batch_nd(v, [2, 2], [[1, 1], [0, 1]]), img)
    unary("batch_to_space_nd", lambda v: tf.batch_to_space(v, [2, 2], [[1, 0], [0, 1]]), f32(4, 3, 4, 2))
    scale, off = f32(3), f32(3)
    unary("fused_batch_norm_v1", lambda v: tf.raw_ops.FusedBatchNorm(x=v, scale=scale, offset=off, mean=f32(3), variance=np.abs(f32(3)) + 0.5, is_training=False)[0], img)
    logits, labels = f32(4, 5), RNG.dirichlet(np.ones(5), 4).astype(np.float32)
    binary("softmax_cross_entropy", lambda u, w: tf.raw_ops.SoftmaxCrossEntropyWithLogits(features=u, labels=w), logits, labels)
    binary("sparse_softmax_cross_entropy", lambda u, w: tf.raw_ops.SparseSoftmaxCrossEntropyWithLogits(features=u, labels=w), logits, np.array([0, 4, 2, 2], np.int32))
    q = f32(3, 50) * 3.0
    unary("fake_quant_args", lambda v: tf.quantization.fake_quant_with_min_max_args(v, -4.0, 5.5, num_bits=8), q)
    unary("fake_quant_args_narrow_4bit", lambda v: tf.quantization.fake_quant_with_min_max_args(v, -2.3, 3.1, num_bits=4, narrow_range=True), q)
    unary("fake_quant_vars", lambda v: tf.quantization.fake_quant_with_min_max_vars(v, tf.constant(-1.7), tf.constant(2.9)), q)
    binary("bitwise_and_refused", lambda u, w: tf.bitwise.bitwise_and(u, w), i32, np.array([1, 2, 3, 7], np.int32))
    # bitwise ops: ONNX BitwiseAnd/Or/Xor/Not from opset 18 (the cases convert at 18; at 13 the one above is
    # refused naming opset 18); shifts through BitShift (opset 11), TF's clamp of the shift to [0, bits - 1]
    bw = {"int32": np.array([[5, -6, 2147483647, -2147483648], [0, -1, 12345, -777]], np.int32),
          "int8": np.array([[5, -6, 127, -128], [0, -1, 77, -77]], np.int8),
          "uint8": np.array([[5, 250, 255, 0], [1, 128, 77, 200]], np.uint8),
          "int64": np.array([[5, -6, 2**62, -(2**62)], [0, -1, 123456789012, -777]], np.int64),
          "int16": np.array([[5, -6, 32767, -32768], [0, -1, 1234, -777]], np.int16)}
    bw2 = {k: np.flip(v, axis=1).copy() for k, v in bw.items()}
    for t in ["int32", "int8", "uint8", "int64"]:
        for n, fn in [("and", tf.bitwise.bitwise_and), ("or", tf.bitwise.bitwise_or), ("xor", tf.bitwise.bitwise_xor)]:
            binary(f"bitwise_{n}_{t}", lambda u, w, fn=fn: fn(u, w), bw[t], bw2[t], opset=18)
        unary(f"bitwise_invert_{t}", lambda u: tf.bitwise.invert(u), bw[t], opset=18)
    for t in ["int32", "int8", "uint8", "int64", "int16"]:
        bits = np.iinfo(bw[t].dtype).bits
        sh = np.array([[0, 1, 3, bits - 1], [bits, bits + 5, 2, -3]], bw[t].dtype) if t != "uint8" else np.array([[0, 1, 3, 7], [8, 13, 2, 4]], np.uint8)
        binary(f"left_shift_{t}", lambda u, w: tf.bitwise.left_shift(u, w), bw[t], sh)
        binary(f"right_shift_{t}", lambda u, w: tf.bitwise.right_shift(u, w), bw[t], sh)
    cboxes = np.array([[0.1, 0.2, 0.7, 0.9], [0.0, 0.0, 1.0, 1.0], [-0.2, 0.3, 0.5, 1.3], [0.6, 0.8, 0.2, 0.1], [0.4, 0.4, 0.4, 0.4]], np.float32)
    cind = np.array([1, 0, 1, 0, 1], np.int32)
    for m in ["bilinear", "nearest"]:
        for size in [[4, 5], [1, 3]]:
            binary(f"crop_and_resize_{m}_{size[0]}x{size[1]}", lambda im, bx, m=m, size=size: tf.image.crop_and_resize(im, bx, cind, size, method=m, extrapolation_value=-1.5), f32(2, 6, 7, 3), cboxes)
    unary("resize_bilinear_down", lambda v: tf.compat.v1.image.resize_bilinear(v, [3, 4], half_pixel_centers=True), img)


def legacy_op_cases():
    """Ops the high-level API no longer emits (older versions, raw forms), reached through tf.raw_ops."""
    x, a, b = f32(2, 3, 4), f32(2, 3, 4), f32(3, 1)
    binary("add_v1", lambda u, w: tf.raw_ops.Add(x=u, y=w), a, b)
    binary("batch_matmul_v1_adj_x", lambda u, w: tf.raw_ops.BatchMatMul(x=u, y=w, adj_x=True), f32(2, 5, 4), f32(2, 5, 3))
    binary("batch_matmul_v3_adj_y_bcast", lambda u, w: tf.raw_ops.BatchMatMulV3(x=u, y=w, Tout=tf.float32, adj_y=True), f32(2, 1, 4, 5), f32(3, 2, 5))
    img = f32(1, 5, 6, 3)
    unary("bias_add_v1", lambda v: tf.raw_ops.BiasAddV1(value=v, bias=tf.constant(f32(3))), img)
    unary("fused_batch_norm_v2", lambda v: tf.raw_ops.FusedBatchNormV2(x=v, scale=f32(3), offset=f32(3), mean=f32(3), variance=np.abs(f32(3)) + 0.5,
                                                                         epsilon=0.01, is_training=False)[0], img)
    arr = np.array([1, 3, 1, 0, 5, 1, 3], np.int32)
    unary("bincount_v1", lambda v: tf.raw_ops.Bincount(arr=v, size=6, weights=tf.constant([], tf.float32)), arr)
    binary("bincount_v1_weights", lambda v, w: tf.raw_ops.Bincount(arr=v, size=6, weights=w), arr, f32(7))
    unary("clip_by_value_raw", lambda v: tf.raw_ops.ClipByValue(t=v, clip_value_min=tf.constant(-0.5), clip_value_max=tf.constant(0.5)), x)
    frozen_case("identity_n", lambda v: tf.identity_n([v * 2.0, v + 1.0]), [S(x.shape)], [x])
    diag = tf.ones([2, 3]) * 7.0
    for n, fn in [("matrix_diag_v1", lambda v: tf.raw_ops.MatrixDiag(diagonal=v)),
                  ("matrix_diag_part_v1", lambda v: tf.raw_ops.MatrixDiagPart(input=v)),
                  ("matrix_set_diag_v1", lambda v: tf.raw_ops.MatrixSetDiag(input=v, diagonal=diag)),
                  ("matrix_diag_v2", lambda v: tf.raw_ops.MatrixDiagV2(diagonal=v, k=0, num_rows=-1, num_cols=-1, padding_value=0.0)),
                  ("matrix_diag_part_v2", lambda v: tf.raw_ops.MatrixDiagPartV2(input=v, k=0, padding_value=0.0)),
                  ("matrix_set_diag_v2", lambda v: tf.raw_ops.MatrixSetDiagV2(input=v, diagonal=diag, k=0))]:
        unary(n, fn, x)
    i32 = RNG.randint(-9, 9, (2, 3, 4)).astype(np.int32)
    binary("mod_int", lambda u, w: tf.raw_ops.Mod(x=u, y=w), i32, np.array([1, 2, -3, 4], np.int32))
    binary("mod_float", lambda u, w: tf.raw_ops.Mod(x=u * 4.0, y=w), a, b)
    y1x1 = RNG.uniform(0, 1, (20, 2)).astype(np.float32)
    boxes = np.concatenate([y1x1, y1x1 + RNG.uniform(0.1, 0.5, (20, 2)).astype(np.float32)], 1)
    frozen_case("nms_v2", lambda u, w: tf.raw_ops.NonMaxSuppressionV2(boxes=u, scores=w, max_output_size=8, iou_threshold=0.5),
                [S(boxes.shape), S([20])], [boxes, RNG.uniform(0, 1, 20).astype(np.float32)], ["set"])
    unary("zeros_ones_like_raw", lambda v: tf.raw_ops.OnesLike(x=v) * 2.0 + tf.raw_ops.ZerosLike(x=v) + v, x)
    unary("shape_rank_raw", lambda v: tf.concat([tf.raw_ops.Shape(input=v), [tf.raw_ops.Rank(input=v)]], 0) * 2, x)
    frozen_case("shape_dynamic_int64", lambda v: tf.raw_ops.Shape(input=v, out_type=tf.int64) + 1, [S([None, 3])], [f32(5, 3)])
    unary("snapshot_stop_gradient", lambda v: tf.raw_ops.Snapshot(input=v) * 2.0 + tf.stop_gradient(v), x)
    upd, sidx = f32(3, 4), np.array([[1], [0], [1]], np.int32)
    for n, fn in [("max", tf.tensor_scatter_nd_max), ("min", tf.tensor_scatter_nd_min)]:
        binary(f"tensor_scatter_{n}", lambda t, u, fn=fn: fn(t, sidx, u), f32(3, 4), upd, opset=18)  # ScatterND reduction max/min: opset 18

    def tensor_list(v):  # TF2 TensorArray in a while loop: TensorList* ops (lowered to a TF1 frame when frozen)
        src = tf.TensorArray(tf.float32, size=2).unstack(v)
        _, ta = tf.while_loop(lambda i, t: i < 2, lambda i, t: (i + 1, t.write(i, src.read(i) * 2.0 + tf.cast(i, tf.float32))),
                              [tf.constant(0), tf.TensorArray(tf.float32, size=0, dynamic_size=True)])
        return ta.stack() + tf.cast(ta.size(), tf.float32)
    unary("tensor_list_loop", tensor_list, f32(2, 3))


def grappler_fused_cases():
    """_FusedConv2D / _FusedMatMul: grappler's remapper (CPU) on a frozen graph of Conv2D/MatMul + BiasAdd/FusedBatchNorm +
    activation; TensorFlow runs the fused graph for the reference."""
    from tensorflow.core.protobuf import config_pb2, meta_graph_pb2
    from tensorflow.python.grappler import tf_optimizer
    w, bias, mw, mb, mw2 = tf.constant(f32(3, 3, 3, 4)), tf.constant(f32(4)), tf.constant(f32(60, 5)), tf.constant(f32(5)), tf.constant(f32(60, 5))
    w2, scale, off, mean, var = tf.constant(f32(3, 3, 3, 4)), f32(4), f32(4), f32(4), np.abs(f32(4)) + 0.5

    def fn(v):
        y = tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(v, w, 1, "SAME"), bias))
        z = tf.nn.relu6(tf.compat.v1.nn.fused_batch_norm(tf.nn.conv2d(v, w2, 2, "VALID"), scale, off, mean, var, is_training=False)[0])
        m = tf.nn.bias_add(tf.matmul(tf.reshape(v, [-1, 60]), mw), mb)
        r = tf.nn.relu(tf.nn.bias_add(tf.matmul(tf.reshape(v, [-1, 60]), mw2), mb))
        return y, z, m, r
    name = "grappler_fused_conv_matmul"
    cf = tf.function(fn, autograph=False).get_concrete_function(S([1, 4, 5, 3]))
    frozen = convert_variables_to_constants_v2(cf)
    gd = frozen.graph.as_graph_def()
    for n in gd.node:
        n.device = "/device:CPU:0"  # the remapper fuses only nodes placed on a CPU
    outs = [t.name for t in frozen.outputs]
    with tf.Graph().as_default() as g:
        tf.graph_util.import_graph_def(gd, name="")
        mg = tf.compat.v1.train.export_meta_graph(graph=g)
    fetch = meta_graph_pb2.CollectionDef()
    fetch.node_list.value.extend([o.split(":")[0] for o in outs])
    mg.collection_def["train_op"].CopyFrom(fetch)
    cfg = config_pb2.ConfigProto()
    cfg.graph_options.rewrite_options.optimizers[:] = ["remap"]
    cfg.graph_options.rewrite_options.min_graph_nodes = -1
    fused = tf_optimizer.OptimizeGraph(cfg, mg)
    for n in fused.node:
        n.device = ""
    feed = f32(1, 4, 5, 3)
    with tf.Graph().as_default() as g:
        tf.graph_util.import_graph_def(fused, name="")
        with tf.compat.v1.Session(graph=g) as sess:
            res = sess.run(outs, {frozen.inputs[0].name: feed})
    with open(os.path.join(OUT, f"{name}.pb"), "wb") as f:
        f.write(fused.SerializeToString())
    manifest.append({"name": name, "path": f"{name}.pb", "format": "frozen-graphdef", "route": "op",
                     "inputs": [{"name": frozen.inputs[0].name, "npy": save_npy(name, "in0", feed)}],
                     "outputs": [{"name": o, "npy": save_npy(name, f"out{i}", r), "compare": "close"} for i, (o, r) in enumerate(zip(outs, res))],
                     "ops": graph_ops(fused)})


def more_control_flow():
    """Nested TF1 conds, conds returning constants, a cond inside a TF1 while; functional If/While in a frozen graph."""
    tf.compat.v1.disable_control_flow_v2()
    c1 = tf.compat.v1.cond
    builds = [
        ("tf1_cond_nested", lambda x: c1(tf.reduce_sum(x) > 0, lambda: c1(tf.reduce_max(x) > 1.0, lambda: x * 3.0, lambda: x + 10.0), lambda: tf.nn.relu(x) - 1.0)),
        ("tf1_cond_consts", lambda x: x * c1(tf.reduce_sum(x) > 0, lambda: tf.constant(2.0), lambda: tf.constant(-3.0))),
        ("tf1_cond_passthrough", lambda x: c1(tf.reduce_sum(x) > 0, lambda: x, lambda: tf.square(x))),
        ("tf1_while_cond", lambda x: tf.compat.v1.while_loop(lambda i, a: i < 4, lambda i, a: (i + 1, c1(tf.reduce_sum(a) > 0, lambda: a * 0.5 - 1.0, lambda: a + 2.0)), [tf.constant(0), x])[1]),
    ]
    for name, build in builds:
        for sign, tag in [(1.0, "pos"), (-1.0, "neg")]:
            tf1_graph_case(f"{name}_{tag}", build, (np.abs(f32(2, 3)) + 0.2) * sign)
    tf.compat.v1.enable_control_flow_v2()
    # Frozen without lowering: StatelessIf / StatelessWhile nodes with their function library; If / While (and the NoOp
    # of their control edges) where a branch or body reads a variable (a stateful op when traced; a Const once frozen).
    var = tf.Variable(1.5)
    for name, fn in [("frozen_stateless_if", lambda v: tf.cond(tf.reduce_sum(v) > 0, lambda: v * 2.0, lambda: tf.nn.relu(v) - 1.0)),
                     ("frozen_stateless_while", lambda v: tf.while_loop(lambda i, a: i < 3, lambda i, a: (i + 1, a * 1.5 + tf.cast(i, tf.float32)), [tf.constant(0), v])[1]),
                     ("frozen_if", lambda v: tf.cond(tf.reduce_sum(v) > 0, lambda: v * var, lambda: tf.nn.relu(v) - var)),
                     ("frozen_while", lambda v: tf.while_loop(lambda i, a: i < 3, lambda i, a: (i + 1, a * var + tf.cast(i, tf.float32)), [tf.constant(0), v])[1])]:
        for sign, tag in [(1.0, "pos"), (-1.0, "neg")]:
            case = f"{name}_{tag}"
            cf = tf.function(fn).get_concrete_function(S([2, 3]))
            frozen = convert_variables_to_constants_v2(cf, lower_control_flow=False)
            gd = frozen.graph.as_graph_def()
            with open(os.path.join(OUT, f"{case}.pb"), "wb") as f:
                f.write(gd.SerializeToString())
            feed = (np.abs(f32(2, 3)) + 0.2) * sign
            out = frozen(tf.constant(feed))
            out = out[0] if isinstance(out, (list, tuple)) else out
            manifest.append({"name": case, "path": f"{case}.pb", "format": "frozen-graphdef", "route": "op",
                             "inputs": [{"name": frozen.inputs[0].name, "npy": save_npy(case, "in0", feed)}],
                             "outputs": [{"name": frozen.outputs[0].name, "npy": save_npy(case, "out0", out.numpy()), "compare": "close"}],
                             "ops": graph_ops(gd)})


def tf1_graph_case(case, build, feed):
    """One TF1 graph case: y = build(x) for a float32[2, 3] placeholder x, run by a Session on `feed`."""
    g = tf.Graph()
    with g.as_default():
        x = tf.compat.v1.placeholder(tf.float32, [2, 3], name="x")
        y = tf.identity(build(x), name="y")
    with tf.compat.v1.Session(graph=g) as s:
        out = s.run(y, {x: feed})
    with open(os.path.join(OUT, f"{case}.pb"), "wb") as f:
        f.write(g.as_graph_def().SerializeToString())
    manifest.append({"name": case, "path": f"{case}.pb", "format": "frozen-graphdef", "route": "op",
                     "inputs": [{"name": "x:0", "npy": save_npy(case, "in0", feed)}],
                     "outputs": [{"name": "y:0", "npy": save_npy(case, "out0", out), "compare": "close"}],
                     "ops": graph_ops(g.as_graph_def())})


def tf1_control_flow():
    """TF1 graphs: tf.cond → Switch/Merge, tf.while_loop → Enter/Exit/NextIteration/LoopCond."""
    tf.compat.v1.disable_control_flow_v2()
    for name, build in [("tf1_cond", lambda x: tf.compat.v1.cond(tf.reduce_sum(x) > 0, lambda: x * 2.0, lambda: x - 1.0)),
                        ("tf1_while", lambda x: tf.compat.v1.while_loop(lambda i, a: i < 5, lambda i, a: (i + 1, a * 1.5 + 1.0), [tf.constant(0), x])[1])]:
        for sign in [1.0, -1.0]:
            tf1_graph_case(f"{name}_{'pos' if sign > 0 else 'neg'}", build, np.abs(f32(2, 3)) * sign)

    def tensor_array(x):  # TF1 TensorArray in a TF1 while: the TensorArray*V3 ops
        src = tf.TensorArray(tf.float32, size=2).unstack(x)
        _, ta = tf.compat.v1.while_loop(lambda i, t: i < 2, lambda i, t: (i + 1, t.write(i, src.read(i) * 2.0 + tf.cast(i, tf.float32))),
                                        [tf.constant(0), tf.TensorArray(tf.float32, size=0, dynamic_size=True)])
        return ta.stack() + tf.cast(ta.size(), tf.float32)
    tf1_graph_case("tf1_tensor_array", tensor_array, f32(2, 3))
    tf.compat.v1.enable_control_flow_v2()
    # PlaceholderWithDefault that is not fed: its default is used
    tf1_graph_case("placeholder_with_default", lambda x: x * tf.compat.v1.placeholder_with_default(tf.constant(f32(2, 3)), [2, 3]), f32(2, 3))


def tf2_control_flow():
    """tf.function with tf.cond / tf.while_loop in a SavedModel: If/StatelessIf/While in the function library."""
    class M(tf.Module):
        @tf.function(input_signature=[S([2, 3])])
        def cond(self, x):
            return {"y": tf.cond(tf.reduce_sum(x) > 0, lambda: x * 2.0, lambda: x - 1.0)}

        @tf.function(input_signature=[S([2, 3])])
        def loop(self, x):
            return {"y": tf.while_loop(lambda i, a: i < 4, lambda i, a: (i + 1, a * 1.5 + 1.0), [tf.constant(0), x])[1]}
    m = M()
    for fname in ["cond", "loop"]:
        d = f"tf2_{fname}_sm"
        tf.saved_model.save(m, os.path.join(OUT, d), signatures={"serving_default": getattr(m, fname)})
        feed = f32(2, 3)
        out = getattr(m, fname)(tf.constant(feed))["y"].numpy()
        manifest.append({"name": d, "path": d, "format": "saved-model", "route": "op",
                         "inputs": [{"name": "serving_default_x:0", "npy": save_npy(d, "in0", feed)}],
                         "outputs": [{"name": "y", "npy": save_npy(d, "out0", out), "compare": "close"}],
                         "ops": graph_ops(getattr(m, fname).get_concrete_function().graph.as_graph_def())})


def randomize(model):
    """Non-trivial weights (weights=None leaves BN at identity and biases at 0): seeded."""
    rng = np.random.RandomState(7)
    for v in model.weights:
        n = v.name if hasattr(v, "name") else ""
        p = getattr(v, "path", n)
        shape = tuple(v.shape)
        if "moving_variance" in p or "gamma" in p:
            v.assign(rng.uniform(0.5, 1.5, shape).astype(np.float32))
        elif "moving_mean" in p or "beta" in p or "bias" in p:
            v.assign((rng.standard_normal(shape) * 0.1).astype(np.float32))


MODELS = {
    "MobileNetV2": (lambda: tf.keras.applications.MobileNetV2(weights=None, input_shape=(128, 128, 3), classifier_activation=None), 128),
    "ResNet50": (lambda: tf.keras.applications.ResNet50(weights=None, input_shape=(128, 128, 3), classifier_activation=None), 128),
    "InceptionV3": (lambda: tf.keras.applications.InceptionV3(weights=None, input_shape=(150, 150, 3), classifier_activation=None), 150),
    "EfficientNetB0": (lambda: tf.keras.applications.EfficientNetB0(weights=None, input_shape=(128, 128, 3), classifier_activation=None), 128),
    "DenseNet121": (lambda: tf.keras.applications.DenseNet121(weights=None, input_shape=(128, 128, 3), classifier_activation=None), 128),
}


def whole_models(names):
    for name in names:
        make, hw = MODELS[name]
        tf.keras.backend.clear_session()
        m = make()
        randomize(m)
        x = np.random.RandomState(3).uniform(0, 1, (1, hw, hw, 3)).astype(np.float32)
        ref = m(x, training=False).numpy()
        inp = save_npy(name, "in0", x)
        outp = save_npy(name, "out0", ref)
        # route 1: tf.saved_model.save (TF2 object-graph checkpoint)
        sm = f"{name}_saved_model"
        tf.saved_model.save(m, os.path.join(OUT, sm))
        # route 1b: Keras 3 model.export
        ex = f"{name}_export"
        m.export(os.path.join(OUT, ex), verbose=False)
        # route 2: frozen TF1 GraphDef
        cf = tf.function(lambda t: m(t, training=False)).get_concrete_function(S([1, hw, hw, 3]))
        frozen = convert_variables_to_constants_v2(cf)
        pb = f"{name}_frozen.pb"
        with open(os.path.join(OUT, pb), "wb") as f:
            f.write(frozen.graph.as_graph_def().SerializeToString())
        routes = [("saved-model", sm, "saved-model", None, None), ("keras-export", ex, "saved-model", None, None),
                  ("frozen-graphdef", pb, "frozen-graphdef", frozen.inputs[0].name, frozen.outputs[0].name)]
        if TFJS_PYTHONPATH:
            # route 3: TF.js graph model, by tensorflowjs's converter from the SavedModel (its own process: it
            # needs tensorflowjs on PYTHONPATH, requirements-tfjs.txt)
            tj = f"{name}_tfjs"
            r = subprocess.run([sys.executable, "-W", "ignore", "-m", "tensorflowjs.converters.converter", "--input_format=tf_saved_model",
                                "--output_format=tfjs_graph_model", os.path.join(OUT, sm), os.path.join(OUT, tj)],
                               env={**os.environ, "PYTHONPATH": TFJS_PYTHONPATH}, capture_output=True, text=True)
            if r.returncode != 0:
                raise RuntimeError(f"tensorflowjs converter failed on {sm}: {r.stderr.strip().splitlines()[-1:]}")
            routes.append(("tfjs-graph-model", f"{tj}/model.json", "tfjs-graph-model", None, None))
        for route, path, fmt, iname, oname in routes:
            manifest.append({"name": f"{name}/{route}", "path": path, "format": fmt, "route": route, "model": name,
                             "inputs": [{"name": iname, "npy": inp}], "outputs": [{"name": oname, "npy": outp, "compare": "close"}]})
        print(f"corpus: {name} done", file=sys.stderr, flush=True)


op_cases()
more_op_cases()
legacy_op_cases()
grappler_fused_cases()
tf1_control_flow()
more_control_flow()
tf2_control_flow()
whole_models([] if SUBSET == "ops" else ["MobileNetV2"] if SUBSET == "ci" else list(MODELS))
with open(os.path.join(OUT, "manifest.json"), "w") as f:
    json.dump({"tensorflow": tf.__version__, "subset": SUBSET, "cases": manifest}, f, indent=1)
print(f"corpus: {len(manifest)} cases in {OUT}", file=sys.stderr)
