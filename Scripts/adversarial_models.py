#!/usr/bin/env python3
"""Generate a corpus of small hostile ONNX models (and matching inputs), run each through
`murmur infer` / `murmur inspect`, and classify the outcome.

A volunteer node loads and runs any published model on any submitted input, so every model
here must end in a result or a typed error (exit 1/2 with one message) — never a trap
(signal / exit >= 128), a hang or an unbounded allocation.

usage: python3 Scripts/adversarial_models.py [--out DIR] [--murmur .build/release/murmur]
                                             [--timeout 20] [--only SUBSTR] [--generate-only]
                                             [--seed N]
Needs: pip install onnx numpy.  Prints one line per model and a summary table; exit 1 if any
model crashed, timed out or blew up memory.
"""
import argparse
import json
import math
import os
import random
import re
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

I64MIN, I64MAX = -(2**63), 2**63 - 1
HUGE = 10**12
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CASES = []  # (name, model bytes, feeds {name: np.ndarray})


def const(name, value, dtype=None):
    try:
        arr = np.array(value, dtype=dtype) if dtype is not None else np.asarray(value)
    except OverflowError:  # out-of-range ints wrap, as in C
        arr = np.array(value, dtype=np.int64).astype(dtype)
    return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(arr, name), name="const_" + name)


def vi(name, elem=TensorProto.FLOAT, shape=None):
    return helper.make_tensor_value_info(name, elem, shape)


NP2ONNX = {np.float32: TensorProto.FLOAT, np.float64: TensorProto.DOUBLE, np.int64: TensorProto.INT64,
           np.int32: TensorProto.INT32, np.bool_: TensorProto.BOOL, np.uint8: TensorProto.UINT8,
           np.int8: TensorProto.INT8}


def model(nodes, feeds, outputs, inits=None, opset=17, name=None, extra_opsets=()):
    inputs = [vi(k, NP2ONNX[v.dtype.type], list(v.shape)) for k, v in feeds.items()]
    g = helper.make_graph(nodes, "adv", inputs, [vi(o, TensorProto.UNDEFINED) for o in outputs],
                          initializer=[numpy_helper.from_array(np.asarray(v), k) for k, v in (inits or {}).items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)] + list(extra_opsets))
    m.ir_version = 8
    return m.SerializeToString()


def add(name, nodes, feeds=None, outputs=("Y",), inits=None, opset=17):
    feeds = feeds if feeds is not None else {}
    CASES.append((name, model(nodes, feeds, list(outputs), inits, opset), feeds))


def op(name, op_type, ins, outs=("Y",), **attrs):
    return helper.make_node(op_type, list(ins), list(outs), name=name, **attrs)


def f32(*shape):
    return np.arange(int(np.prod(shape)) if shape else 1, dtype=np.float32).reshape(shape) * 0.5 - 1


def i64(v):
    return np.array(v, dtype=np.int64)


def generate():
    X = f32(2, 3)
    # --- indexing ---
    for idx in [5, -7, I64MAX, I64MIN, 2**40]:
        add(f"gather_idx_{idx}", [const("I", [idx], np.int64), op("g", "Gather", ["X", "I"], axis=0)], {"X": X})
    add("gather_bad_axis", [const("I", [0], np.int64), op("g", "Gather", ["X", "I"], axis=7)], {"X": X})
    add("gather_axis_min", [const("I", [0], np.int64), op("g", "Gather", ["X", "I"], axis=I64MIN)], {"X": X})
    add("gather_elements_oob", [const("I", [[0, 9, 0], [1, 1, -9]], np.int64), op("g", "GatherElements", ["X", "I"], axis=1)], {"X": X})
    add("gather_elements_rank", [const("I", [0, 1], np.int64), op("g", "GatherElements", ["X", "I"], axis=0)], {"X": X})
    for idx in [[[5, 0]], [[0, -9]], [[I64MIN, 0]], [[0, 0, 0]], [[]]]:
        add(f"gathernd_{len(CASES)}", [const("I", idx, np.int64), op("g", "GatherND", ["X", "I"])], {"X": X})
    add("gathernd_batch_dims_big", [const("I", [[0]], np.int64), op("g", "GatherND", ["X", "I"], batch_dims=5)], {"X": X})
    for idx in [[[9, 0]], [[0, -9]], [[I64MAX, 0]], [[0, 0, 0]]]:
        add(f"scatternd_{len(CASES)}", [const("I", idx, np.int64), const("U", [1.0], np.float32),
                                        op("s", "ScatterND", ["X", "I", "U"])], {"X": X})
    add("scatternd_updates_shape", [const("I", [[0, 0]], np.int64), const("U", [1.0, 2.0, 3.0], np.float32),
                                    op("s", "ScatterND", ["X", "I", "U"])], {"X": X})
    add("scatter_elements_oob", [const("I", [[0, 7, 0]], np.int64), const("U", [[1, 2, 3]], np.float32),
                                 op("s", "ScatterElements", ["X", "I", "U"], axis=1)], {"X": X})
    add("scatter_elements_upd_shape", [const("I", [[0, 1, 0]], np.int64), const("U", [[1]], np.float32),
                                       op("s", "ScatterElements", ["X", "I", "U"], axis=1)], {"X": X})
    add("onehot_depth_huge", [const("D", [HUGE], np.int64), const("V", [0, 1], np.float32), const("I", [1, 2], np.int64),
                              op("o", "OneHot", ["I", "D", "V"])])
    add("onehot_depth_neg", [const("D", [-5], np.int64), const("V", [0, 1], np.float32), const("I", [1, 2], np.int64),
                             op("o", "OneHot", ["I", "D", "V"])])
    add("compress_long_cond", [const("C", [True] * 9, np.bool_), op("c", "Compress", ["X", "C"], axis=1)], {"X": X})
    # --- shapes ---
    for shp in [[-1, -1], [0, 5], [-2, 3], [HUGE, 1], [I64MIN], [7], [0], [2, 0, -1], [3, 0]]:
        add(f"reshape_{'_'.join(map(str, shp))}", [const("S", shp, np.int64), op("r", "Reshape", ["X", "S"])], {"X": X})
    add("reshape_allowzero_neg", [const("S", [0, -1], np.int64), op("r", "Reshape", ["E", "S"], allowzero=1)],
        {"E": np.zeros((0, 3), np.float32)})
    for shp in [[HUGE, 3], [-1, 3], [I64MAX], [2, 3, HUGE, HUGE], [5, 4]]:
        add(f"expand_{len(CASES)}", [const("S", shp, np.int64), op("e", "Expand", ["X", "S"])], {"X": X})
    for rep in [[HUGE, 1], [-1, 2], [1], [2**31, 2**31], [0, 1]]:
        add(f"tile_{len(CASES)}", [const("R", rep, np.int64), op("t", "Tile", ["X", "R"])], {"X": X})
    for shp in [[HUGE], [-1], [2**31, 2**31], [2**62, 4], [0, HUGE], [1] * 40]:
        add(f"constantofshape_{len(CASES)}", [const("S", shp, np.int64), op("c", "ConstantOfShape", ["S"])])
    for (s, l, d, dt) in [(0, HUGE, 1, np.int64), (0, 10, 0, np.int64), (0, 1, 1e-12, np.float32), (0, np.inf, 1, np.float32),
                          (0, np.nan, 1, np.float32), (I64MIN, I64MAX, 1, np.int64), (I64MAX, I64MIN, -1, np.int64),
                          (0, 1e30, 1e-30, np.float64), (0, 5, np.nan, np.float32)]:
        add(f"range_{len(CASES)}", [const("S", s, dt), const("L", l, dt), const("D", d, dt), op("r", "Range", ["S", "L", "D"])])
    # --- slicing ---
    for (st, en, ax, sp) in [([I64MIN], [I64MAX], [0], [1]), ([I64MAX], [I64MIN], [0], [-1]), ([0], [3], [0], [0]),
                             ([0], [3], [0], [I64MIN]), ([0], [3], [0], [I64MAX]), ([0], [3], [9], [1]),
                             ([0], [3], [I64MIN], [1]), ([0, 0], [1], [0], [1]), ([0], [1], [0, 0], [1, 1]),
                             ([-HUGE], [HUGE], [1], [2**40])]:
        add(f"slice_{len(CASES)}", [const("S", st, np.int64), const("E", en, np.int64), const("A", ax, np.int64),
                                    const("P", sp, np.int64), op("s", "Slice", ["X", "S", "E", "A", "P"])], {"X": X})
    add("slice_v1_attr_extreme", [op("s", "Slice", ["X"], starts=[I64MIN, 0], ends=[I64MAX, I64MIN], axes=[0, 1])], {"X": X}, opset=9)
    add("concat_rank_mismatch", [op("c", "Concat", ["X", "Z"], axis=0)], {"X": X, "Z": f32(3)})
    add("concat_dim_mismatch", [op("c", "Concat", ["X", "Z"], axis=0)], {"X": X, "Z": f32(2, 4)})
    add("concat_bad_axis", [op("c", "Concat", ["X", "X"], axis=5)], {"X": X})
    add("concat_axis_min", [op("c", "Concat", ["X", "X"], axis=I64MIN)], {"X": X})
    for perm in [[0, 0], [0, 5], [0], [1, 0, 2], [-1, 0], [I64MIN, 0]]:
        add(f"transpose_{len(CASES)}", [op("t", "Transpose", ["X"], perm=perm)], {"X": X})
    for axes in [[9], [I64MIN], [0, 0]]:
        add(f"unsqueeze_{len(CASES)}", [const("A", axes, np.int64), op("u", "Unsqueeze", ["X", "A"])], {"X": X})
        add(f"squeeze_{len(CASES)}", [const("A", axes, np.int64), op("u", "Squeeze", ["X", "A"])], {"X": X})
    add("squeeze_non1", [const("A", [1], np.int64), op("u", "Squeeze", ["X", "A"])], {"X": X})
    add("flatten_axis", [op("f", "Flatten", ["X"], axis=9)], {"X": X})
    add("flatten_axis_min", [op("f", "Flatten", ["X"], axis=I64MIN)], {"X": X})
    add("depthtospace_bad", [op("d", "DepthToSpace", ["X4"], blocksize=0)], {"X4": f32(1, 4, 2, 2)})
    add("depthtospace_nodiv", [op("d", "DepthToSpace", ["X4"], blocksize=3)], {"X4": f32(1, 4, 2, 2)})
    add("spacetodepth_huge", [op("d", "SpaceToDepth", ["X4"], blocksize=2**40)], {"X4": f32(1, 4, 2, 2)})
    add("spacetodepth_zero", [op("d", "SpaceToDepth", ["X4"], blocksize=0)], {"X4": f32(1, 4, 2, 2)})
    for s in [[-1], [HUGE], [I64MIN]]:
        add(f"shape_start_{len(CASES)}", [op("s", "Shape", ["X"], start=s[0], end=I64MAX)], {"X": X})
    # --- conv / pool ---
    X4 = f32(1, 2, 4, 4)
    W = np.ones((2, 2, 3, 3), np.float32)
    for attrs in [dict(strides=[0, 0]), dict(strides=[-1, 1]), dict(pads=[9, 9, 9, 9]), dict(pads=[-5, -5, -5, -5]),
                  dict(dilations=[0, 1]), dict(dilations=[2**40, 1]), dict(group=3), dict(group=0), dict(group=-1),
                  dict(strides=[2**62, 2**62]), dict(pads=[2**62, 0, 2**62, 0]), dict(kernel_shape=[9, 9]),
                  dict(auto_pad="SAME_UPPER", strides=[0, 1]), dict(strides=[1]), dict(pads=[1])]:
        add(f"conv_{len(CASES)}", [op("c", "Conv", ["X4", "W"], **attrs)], {"X4": X4}, inits={"W": W})
    add("conv_kernel_bigger", [op("c", "Conv", ["X4", "W"])], {"X4": X4}, inits={"W": np.ones((2, 2, 9, 9), np.float32)})
    add("conv_w_channels", [op("c", "Conv", ["X4", "W"])], {"X4": X4}, inits={"W": np.ones((2, 5, 3, 3), np.float32)})
    add("conv_w_rank", [op("c", "Conv", ["X4", "W"])], {"X4": X4}, inits={"W": np.ones((2, 2), np.float32)})
    add("conv_bias_len", [op("c", "Conv", ["X4", "W", "B"])], {"X4": X4}, inits={"W": W, "B": np.ones(7, np.float32)})
    add("conv_1d_input", [op("c", "Conv", ["X", "W"])], {"X": X}, inits={"W": W})
    add("convtranspose_stride0", [op("c", "ConvTranspose", ["X4", "W"], strides=[0, 0])], {"X4": X4}, inits={"W": W})
    add("convtranspose_outshape_huge", [op("c", "ConvTranspose", ["X4", "W"], output_shape=[HUGE, HUGE])], {"X4": X4}, inits={"W": W})
    add("convtranspose_outpad_huge", [op("c", "ConvTranspose", ["X4", "W"], output_padding=[2**40, 0])], {"X4": X4}, inits={"W": W})
    add("convtranspose_group", [op("c", "ConvTranspose", ["X4", "W"], group=3)], {"X4": X4}, inits={"W": W})
    for pop in ["MaxPool", "AveragePool", "LpPool"]:
        for attrs in [dict(kernel_shape=[0, 0]), dict(kernel_shape=[9, 9]), dict(kernel_shape=[2, 2], strides=[0, 0]),
                      dict(kernel_shape=[2, 2], pads=[9, 9, 9, 9]), dict(kernel_shape=[2, 2], pads=[-3, -3, -3, -3]),
                      dict(kernel_shape=[-2, 2]), dict(kernel_shape=[2**40, 2]), dict(kernel_shape=[2]),
                      dict(kernel_shape=[2, 2], dilations=[0, 0]), dict(kernel_shape=[2, 2], strides=[2**62, 1])]:
            add(f"{pop.lower()}_{len(CASES)}", [op("p", pop, ["X4"], **attrs)], {"X4": X4})
    add("maxpool_1d_input", [op("p", "MaxPool", ["X"], kernel_shape=[2])], {"X": X})
    add("globalavgpool_rank1", [op("p", "GlobalAveragePool", ["V"])], {"V": f32(3)})
    add("maxroipool_bad", [const("R", [[0, 0, 0, 9, 9], [5, 0, 0, 1, 1]], np.float32),
                           op("p", "MaxRoiPool", ["X4", "R"], pooled_shape=[2, 2])], {"X4": X4})
    add("roialign_batch_oob", [const("R", [[0, 0, 1, 1]], np.float32), const("B", [9], np.int64),
                               op("p", "RoiAlign", ["X4", "R", "B"])], {"X4": X4})
    # --- matmul / gemm ---
    add("matmul_mismatch", [op("m", "MatMul", ["X", "X"])], {"X": X})
    add("matmul_scalar", [op("m", "MatMul", ["S", "S"])], {"S": np.array(1.0, np.float32)})
    add("matmul_batch_bcast", [op("m", "MatMul", ["A", "B"])], {"A": f32(2, 2, 3), "B": f32(3, 3, 2)})
    add("gemm_mismatch", [op("m", "Gemm", ["X", "X"])], {"X": X})
    add("gemm_bias_bad", [op("m", "Gemm", ["X", "X", "C"], transB=1)], {"X": X, "C": f32(5)})
    add("gemm_rank3", [op("m", "Gemm", ["A", "A"])], {"A": f32(2, 2, 2)})
    add("einsum_bad", [op("m", "Einsum", ["X", "X"], equation="ij,jk->ik")], {"X": X})
    add("einsum_garbage", [op("m", "Einsum", ["X"], equation="i->->j,,")], {"X": X})
    add("einsum_ellipsis", [op("m", "Einsum", ["X"], equation="......->...")], {"X": X})
    add("einsum_repeat_out", [op("m", "Einsum", ["X"], equation="ij->ii")], {"X": X})
    # --- topk / split ---
    for k in [7, -1, 0, I64MAX]:
        add(f"topk_{k}", [const("K", [k], np.int64), op("t", "TopK", ["X", "K"], ["V", "I"], axis=1)], {"X": X}, outputs=("V", "I"))
    add("topk_axis_bad", [const("K", [1], np.int64), op("t", "TopK", ["X", "K"], ["V", "I"], axis=9)], {"X": X}, outputs=("V", "I"))
    for sizes in [[1, 1], [5, 5], [-1, 4], [0, 0, 3], [I64MAX, -I64MAX + 3]]:
        outs = [f"Y{i}" for i in range(len(sizes))]
        add(f"split_{len(CASES)}", [const("S", sizes, np.int64), op("s", "Split", ["X", "S"], outs, axis=1)], {"X": X}, outputs=outs)
    add("split_more_outputs", [op("s", "Split", ["X"], ["A", "B", "C", "D", "E"], axis=1)], {"X": X}, outputs=("A", "B", "C", "D", "E"))
    add("split_num_outputs_huge", [op("s", "Split", ["X"], ["A", "B"], axis=1, num_outputs=2**40)], {"X": X}, outputs=("A", "B"), opset=18)
    # --- resize / pad ---
    X4r = f32(1, 1, 2, 2)
    for sc in [[1, 1, 0, 0], [1, 1, np.nan, np.nan], [1, 1, 1e12, 1e12], [1, 1, -2, 2], [1, 1, np.inf, 1], [1, 1, 2],
               [1, 1, 1e-30, 1]]:
        add(f"resize_scales_{len(CASES)}", [const("S", sc, np.float32), op("r", "Resize", ["X4r", "", "S"], mode="linear")], {"X4r": X4r})
    for sz in [[1, 1, HUGE, HUGE], [1, 1, -3, 3], [1, 1, 0, 4], [1, 1, 3]]:
        add(f"resize_sizes_{len(CASES)}", [const("Z", sz, np.int64), op("r", "Resize", ["X4r", "", "", "Z"], mode="cubic")], {"X4r": X4r})
    add("resize_roi_bad", [const("R", [0.0], np.float32), const("S", [1, 1, 2, 2], np.float32),
                           op("r", "Resize", ["X4r", "R", "S"], coordinate_transformation_mode="tf_crop_and_resize")], {"X4r": X4r})
    add("upsample_huge", [const("S", [1, 1, 1e9, 1e9], np.float32), op("u", "Upsample", ["X4r", "S"])], {"X4r": X4r}, opset=9)
    for pads in [[HUGE, 0, 0, 0], [-5, -5, 0, 0], [0, 0], [I64MIN, 0, I64MAX, 0], [2**31, 2**31, 2**31, 2**31]]:
        for mode in ["constant", "reflect", "edge", "wrap"]:
            add(f"pad_{mode}_{len(CASES)}", [const("P", pads, np.int64), op("p", "Pad", ["X", "P"], mode=mode)], {"X": X}, opset=19)
    add("pad_reflect_bigger", [const("P", [0, 5, 0, 5], np.int64), op("p", "Pad", ["X", "P"], mode="reflect")], {"X": X})
    add("pad_reflect_empty", [const("P", [0, 1, 0, 1], np.int64), op("p", "Pad", ["E", "P"], mode="reflect")], {"E": np.zeros((2, 0), np.float32)})
    add("pad_edge_empty", [const("P", [0, 1, 0, 1], np.int64), op("p", "Pad", ["E", "P"], mode="edge")], {"E": np.zeros((2, 0), np.float32)})
    # --- control flow ---
    body_loop = helper.make_graph([op("b_id", "Identity", ["c_in"], ["c_out"]), op("b_add", "Add", ["v_in", "one"], ["v_out"])],
                                  "body", [vi("i", TensorProto.INT64, []), vi("c_in", TensorProto.BOOL, []), vi("v_in")],
                                  [vi("c_out", TensorProto.BOOL), vi("v_out")],
                                  initializer=[numpy_helper.from_array(np.array(1.0, np.float32), "one")])
    for trips in [HUGE, I64MAX, -1]:
        add(f"loop_trips_{trips}", [const("M", trips, np.int64), const("C", True, np.bool_), const("V0", 0.0, np.float32),
                                    op("l", "Loop", ["M", "C", "V0"], ["Y"], body=body_loop)])
    add("loop_no_trip_cond_true", [const("C", True, np.bool_), const("V0", 0.0, np.float32),
                                   op("l", "Loop", ["", "C", "V0"], ["Y"], body=body_loop)])
    body_scan_out = helper.make_graph([op("b_id", "Identity", ["c_in"], ["c_out"]), op("b_add", "Add", ["v_in", "one"], ["v_out"]),
                                       op("b_big", "ConstantOfShape", ["shp"], ["s_out"])],
                                      "body", [vi("i", TensorProto.INT64, []), vi("c_in", TensorProto.BOOL, []), vi("v_in")],
                                      [vi("c_out", TensorProto.BOOL), vi("v_out"), vi("s_out")],
                                      initializer=[numpy_helper.from_array(np.array(1.0, np.float32), "one"),
                                                   numpy_helper.from_array(np.array([1 << 20], np.int64), "shp")])
    add("loop_scan_outputs_accumulate", [const("M", 1 << 20, np.int64), const("C", True, np.bool_), const("V0", 0.0, np.float32),
                                         op("l", "Loop", ["M", "C", "V0"], ["Y", "S"], body=body_scan_out)], outputs=("Y", "S"))
    body_bad = helper.make_graph([op("b_id", "Identity", ["c_in"], ["c_out"])], "body",
                                 [vi("i", TensorProto.INT64, []), vi("c_in", TensorProto.BOOL, [])], [vi("c_out", TensorProto.BOOL)])
    add("loop_body_arity", [const("M", 3, np.int64), const("C", True, np.bool_), const("V0", 0.0, np.float32),
                            op("l", "Loop", ["M", "C", "V0"], ["Y"], body=body_bad)])
    then_g = helper.make_graph([const("a", [1.0, 2.0], np.float32)], "then", [], [vi("a")])
    else_g = helper.make_graph([const("b", [1], np.int64), const("c", [1], np.int64)], "else", [], [vi("b"), vi("c")])
    for cond in [True, False]:
        add(f"if_mismatch_{cond}", [const("C", cond, np.bool_), op("i", "If", ["C"], ["Y"], then_branch=then_g, else_branch=else_g)])
    add("if_cond_empty", [const("C", np.zeros(0, np.bool_)), op("i", "If", ["C"], ["Y"], then_branch=then_g, else_branch=then_g)])
    add("if_no_branches", [const("C", True, np.bool_), op("i", "If", ["C"], ["Y"])])
    scan_body = helper.make_graph([op("sb", "Add", ["s_in", "x_in"], ["s_out"]), op("sb2", "Identity", ["s_out"], ["y_out"])], "sbody",
                                  [vi("s_in"), vi("x_in")], [vi("s_out"), vi("y_out")])
    add("scan_axis_bad", [const("S0", [0.0, 0.0, 0.0], np.float32),
                          op("s", "Scan", ["S0", "X"], ["Y", "Z"], body=scan_body, num_scan_inputs=1, scan_input_axes=[9])],
        {"X": X}, outputs=("Y", "Z"))
    add("scan_num_inputs_bad", [const("S0", [0.0, 0.0, 0.0], np.float32),
                                op("s", "Scan", ["S0", "X"], ["Y", "Z"], body=scan_body, num_scan_inputs=5)], {"X": X}, outputs=("Y", "Z"))
    add("scan_num_inputs_neg", [const("S0", [0.0, 0.0, 0.0], np.float32),
                                op("s", "Scan", ["S0", "X"], ["Y", "Z"], body=scan_body, num_scan_inputs=-1)], {"X": X}, outputs=("Y", "Z"))
    # --- casts / arithmetic ---
    for dst in [TensorProto.INT64, TensorProto.INT32, TensorProto.INT8, TensorProto.UINT8, TensorProto.BOOL, TensorProto.UINT64, TensorProto.FLOAT16]:
        add(f"cast_nan_inf_{dst}", [const("F", [np.nan, np.inf, -np.inf, 3e38, -3e38], np.float32), op("c", "Cast", ["F"], to=dst)])
    add("cast_to_bogus", [op("c", "Cast", ["X"], to=999)], {"X": X})
    add("cast_to_string", [op("c", "Cast", ["X"], to=TensorProto.STRING)], {"X": X})
    for dt in [np.int64, np.int32, np.int8, np.uint8]:
        for o in ["Div", "Mod"]:
            add(f"{o.lower()}_zero_{dt.__name__}", [const("A", [5, -7, 0], dt), const("B", [0, 0, 0], dt), op("d", o, ["A", "B"])])
        add(f"div_min_neg1_{dt.__name__}", [const("A", [np.iinfo(dt).min], dt), const("B", [-1], dt), op("d", "Div", ["A", "B"])])
        add(f"mod_min_neg1_{dt.__name__}", [const("A", [np.iinfo(dt).min], dt), const("B", [-1], dt), op("d", "Mod", ["A", "B"])])
        add(f"fmod_zero_{dt.__name__}", [const("A", [5], dt), const("B", [0], dt), op("d", "Mod", ["A", "B"], fmod=1)])
        add(f"pow_overflow_{dt.__name__}", [const("A", [np.iinfo(dt).max, 3, -2], dt), const("B", [2, 200, 63], dt), op("d", "Pow", ["A", "B"])])
        add(f"pow_neg_exp_{dt.__name__}", [const("A", [0, 2], dt), const("B", [-1, -1] if np.iinfo(dt).min < 0 else [0, 0], dt), op("d", "Pow", ["A", "B"])])
        add(f"arith_overflow_{dt.__name__}", [const("A", [np.iinfo(dt).max, np.iinfo(dt).min], dt), const("B", [np.iinfo(dt).max, np.iinfo(dt).min], dt),
                                               op("a1", "Add", ["A", "B"], ["T1"]), op("a2", "Mul", ["T1", "A"], ["T2"]),
                                               op("a3", "Sub", ["T2", "B"], ["T3"]), op("a4", "Neg", ["T3"], ["T4"]) if np.iinfo(dt).min < 0 else op("a4", "Identity", ["T3"], ["T4"]),
                                               op("a5", "Abs", ["T4"], ["Y"]) if np.iinfo(dt).min < 0 else op("a5", "Identity", ["T4"], ["Y"])])
    add("abs_neg_int64min", [const("A", [I64MIN], np.int64), op("a", "Abs", ["A"], ["T"]), op("n", "Neg", ["T"])])
    add("pow_float_int_exp", [const("A", [2.0, 0.0], np.float32), const("B", [I64MAX, I64MIN], np.int64), op("d", "Pow", ["A", "B"])])
    add("bitshift_huge", [const("A", [1, 2], np.uint8), const("B", [200, 255], np.uint8), op("b", "BitShift", ["A", "B"], direction="LEFT")])
    add("bitshift_huge64", [const("A", [1, 2], np.uint64), const("B", [64, 2**64 - 1], np.uint64), op("b", "BitShift", ["A", "B"], direction="RIGHT")])
    add("cumsum_axis_bad", [const("A", [5], np.int64), op("c", "CumSum", ["X", "A"])], {"X": X})
    add("cumsum_int_overflow", [const("V", [I64MAX, I64MAX], np.int64), const("A", [0], np.int64), op("c", "CumSum", ["V", "A"])])
    add("clip_min_gt_max", [const("L", 5.0, np.float32), const("H", -5.0, np.float32), op("c", "Clip", ["X", "L", "H"])], {"X": X})
    add("clip_int_nonscalar", [const("V", [1, 2], np.int64), const("L", [1, 2], np.int64), op("c", "Clip", ["V", "L"])])
    add("where_bcast_bad", [const("C", [True, False], np.bool_), op("w", "Where", ["C", "X", "X"])], {"X": X})
    add("add_bcast_bad", [op("a", "Add", ["X", "Z"])], {"X": X, "Z": f32(4)})
    add("sum_bcast_huge", [op("a", "Sum", ["P", "Q", "R"])], {"P": f32(64, 1, 1), "Q": f32(1, 64, 1), "R": f32(1, 1, 64)})
    # Within every element limit but slow: 8192^3 multiply-adds in one kernel. shouldStop is only
    # checked between operators, so a node's job deadline cannot end this early.
    add("matmul_slow_8192", [const("S", [8192, 8192], np.int64), op("c", "ConstantOfShape", ["S"], ["A"]), op("m", "MatMul", ["A", "A"])])
    add("bcast_to_huge", [const("S1", [1 << 20, 1], np.int64), const("S2", [1, 1 << 20], np.int64),
                          op("c1", "ConstantOfShape", ["S1"], ["A"]), op("c2", "ConstantOfShape", ["S2"], ["B"]), op("a", "Add", ["A", "B"])])
    # --- reductions ---
    E = np.zeros((0, 3), np.float32)
    for r in ["ArgMax", "ArgMin"]:
        add(f"{r.lower()}_empty", [op("a", r, ["E"], axis=0)], {"E": E})
        add(f"{r.lower()}_axis_bad", [op("a", r, ["X"], axis=7)], {"X": X})
        add(f"{r.lower()}_axis_min", [op("a", r, ["X"], axis=I64MIN)], {"X": X})
        add(f"{r.lower()}_scalar", [op("a", r, ["S"], axis=0)], {"S": np.array(1.0, np.float32)})
    for r in ["ReduceMax", "ReduceMin", "ReduceMean", "ReduceSum", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceLogSumExp",
              "ReduceLogSum", "ReduceSumSquare"]:
        add(f"{r.lower()}_empty", [op("a", r, ["E"], axes=[0])], {"E": E}, opset=13 if r != "ReduceSum" else 13)
        add(f"{r.lower()}_empty_all", [op("a", r, ["E"], keepdims=0)], {"E": E}, opset=13)
        add(f"{r.lower()}_axes_bad", [op("a", r, ["X"], axes=[9, I64MIN])], {"X": X}, opset=13 if r != "ReduceSum" else 11)
    add("reducesum_axes_input_bad", [const("A", [0, 0, 9], np.int64), op("a", "ReduceSum", ["X", "A"])], {"X": X})
    add("reducemax18_axes_dup", [const("A", [1, -1], np.int64), op("a", "ReduceMax", ["X", "A"])], {"X": X}, opset=18)
    add("softmax_axis_bad", [op("s", "Softmax", ["X"], axis=9)], {"X": X})
    add("softmax_empty", [op("s", "Softmax", ["E"], axis=0)], {"E": E})
    add("logsoftmax_axis_min", [op("s", "LogSoftmax", ["X"], axis=I64MIN)], {"X": X})
    add("hardmax_empty", [op("s", "Hardmax", ["E"], axis=1)], {"E": E})
    # --- normalization (owned by others, still probed) ---
    add("batchnorm_short_params", [op("b", "BatchNormalization", ["X4", "S", "B", "M", "V"])], {"X4": X4},
        inits={"S": np.ones(1, np.float32), "B": np.ones(1, np.float32), "M": np.ones(1, np.float32), "V": np.ones(1, np.float32)})
    add("layernorm_axis_bad", [op("l", "LayerNormalization", ["X", "S"], axis=9)], {"X": X}, inits={"S": np.ones(3, np.float32)})
    add("layernorm_scale_short", [op("l", "LayerNormalization", ["X", "S"], axis=-1)], {"X": X}, inits={"S": np.ones(1, np.float32)})
    add("instancenorm_short", [op("l", "InstanceNormalization", ["X4", "S", "B"])], {"X4": X4},
        inits={"S": np.ones(1, np.float32), "B": np.ones(1, np.float32)})
    add("groupnorm_nodiv", [op("l", "GroupNormalization", ["X4", "S", "B"], num_groups=3)], {"X4": X4},
        inits={"S": np.ones(3, np.float32), "B": np.ones(3, np.float32)}, opset=18)
    add("groupnorm_zero", [op("l", "GroupNormalization", ["X4", "S", "B"], num_groups=0)], {"X4": X4},
        inits={"S": np.ones(2, np.float32), "B": np.ones(2, np.float32)}, opset=18)
    add("lrn_size0", [op("l", "LRN", ["X4"], size=0)], {"X4": X4})
    add("lrn_size_huge", [op("l", "LRN", ["X4"], size=2**40)], {"X4": X4})
    # --- recurrent ---
    Xs = f32(2, 1, 3)  # seq, batch, input
    for rnn, gates in [("LSTM", 4), ("GRU", 3), ("RNN", 1)]:
        Wr = np.ones((1, gates * 4, 3), np.float32) * 0.1
        Rr = np.ones((1, gates * 5, 5), np.float32) * 0.1  # hidden 5 vs 4 in W
        add(f"{rnn.lower()}_hidden_mismatch", [op("r", rnn, ["Xs", "W", "R"], ["Y", "H"], hidden_size=4)], {"Xs": Xs},
            inits={"W": Wr, "R": Rr}, outputs=("Y", "H"))
        add(f"{rnn.lower()}_hidden_attr_big", [op("r", rnn, ["Xs", "W", "R"], ["Y", "H"], hidden_size=2**40)], {"Xs": Xs},
            inits={"W": Wr, "R": np.ones((1, gates * 4, 4), np.float32)}, outputs=("Y", "H"))
        add(f"{rnn.lower()}_hidden_zero", [op("r", rnn, ["Xs", "W", "R"], ["Y", "H"], hidden_size=0)], {"Xs": Xs},
            inits={"W": Wr, "R": np.ones((1, gates * 4, 4), np.float32)}, outputs=("Y", "H"))
        add(f"{rnn.lower()}_input_mismatch", [op("r", rnn, ["Xs", "W", "R"], ["Y", "H"], hidden_size=4)], {"Xs": f32(2, 1, 7)},
            inits={"W": Wr, "R": np.ones((1, gates * 4, 4), np.float32)}, outputs=("Y", "H"))
        add(f"{rnn.lower()}_seqlens_bad", [const("L", [99], np.int32), op("r", rnn, ["Xs", "W", "R", "", "L"], ["Y", "H"], hidden_size=4)],
            {"Xs": Xs}, inits={"W": Wr, "R": np.ones((1, gates * 4, 4), np.float32)}, outputs=("Y", "H"))
        add(f"{rnn.lower()}_seqlens_neg", [const("L", [-5], np.int32), op("r", rnn, ["Xs", "W", "R", "", "L"], ["Y", "H"], hidden_size=4)],
            {"Xs": Xs}, inits={"W": Wr, "R": np.ones((1, gates * 4, 4), np.float32)}, outputs=("Y", "H"))
        add(f"{rnn.lower()}_bidir_w_one", [op("r", rnn, ["Xs", "W", "R"], ["Y", "H"], hidden_size=4, direction="bidirectional")],
            {"Xs": Xs}, inits={"W": Wr, "R": np.ones((1, gates * 4, 4), np.float32)}, outputs=("Y", "H"))
        add(f"{rnn.lower()}_h0_bad", [op("r", rnn, ["Xs", "W", "R", "", "", "H0"], ["Y", "H"], hidden_size=4)],
            {"Xs": Xs}, inits={"W": Wr, "R": np.ones((1, gates * 4, 4), np.float32), "H0": np.ones((1, 1, 2), np.float32)}, outputs=("Y", "H"))
        add(f"{rnn.lower()}_bias_short", [op("r", rnn, ["Xs", "W", "R", "B"], ["Y", "H"], hidden_size=4)],
            {"Xs": Xs}, inits={"W": Wr, "R": np.ones((1, gates * 4, 4), np.float32), "B": np.ones((1, 3), np.float32)}, outputs=("Y", "H"))
    # --- misc ops ---
    add("nonzero_scalar", [op("n", "NonZero", ["S"])], {"S": np.array(1.0, np.float32)})
    add("unique_axis_bad", [op("u", "Unique", ["X"], ["U"], axis=9)], {"X": X})
    add("trilu_k_huge", [const("K", I64MIN, np.int64), op("t", "Trilu", ["X", "K"])], {"X": X})
    add("trilu_k_max", [const("K", I64MAX, np.int64), op("t", "Trilu", ["X", "K"], upper=0)], {"X": X})
    add("trilu_rank1", [op("t", "Trilu", ["V"])], {"V": f32(3)})
    add("eyelike_k_min", [op("e", "EyeLike", ["X"], k=I64MIN)], {"X": X})
    add("eyelike_rank3", [op("e", "EyeLike", ["A"])], {"A": f32(2, 2, 2)})
    add("reversesequence_bad", [const("L", [9, -9], np.int64), op("r", "ReverseSequence", ["X", "L"], batch_axis=0, time_axis=1)], {"X": X})
    add("reversesequence_len", [const("L", [1], np.int64), op("r", "ReverseSequence", ["X", "L"], batch_axis=0, time_axis=1)], {"X": X})
    add("reversesequence_same_axes", [const("L", [1, 1], np.int64), op("r", "ReverseSequence", ["X", "L"], batch_axis=0, time_axis=0)], {"X": X})
    add("dft_len_huge", [op("d", "DFT", ["C3", ""], dft_length=HUGE)], {"C3": f32(1, 4, 1)}, opset=17)
    add("dft_len_zero_input", [const("N", 0, np.int64), op("d", "DFT", ["C3", "N"])], {"C3": f32(1, 4, 1)}, opset=17)
    add("stft_bad", [const("S", 0, np.int64), op("d", "STFT", ["C3", "S"])], {"C3": f32(1, 4, 1)}, opset=17)
    add("window_huge", [const("N", HUGE, np.int64), op("w", "HannWindow", ["N"])], opset=17)
    add("window_neg", [const("N", -3, np.int64), op("w", "HannWindow", ["N"])], opset=17)
    add("mel_bad", [const("a", 0, np.int64), const("b", 0, np.int64), const("c", 0, np.int64), const("d", 0.0, np.float32), const("e", 0.0, np.float32),
                    op("m", "MelWeightMatrix", ["a", "b", "c", "d", "e"])], opset=17)
    add("mel_huge", [const("a", 2**30, np.int64), const("b", 2**30, np.int64), const("c", 8000, np.int64), const("d", 0.0, np.float32), const("e", 4000.0, np.float32),
                     op("m", "MelWeightMatrix", ["a", "b", "c", "d", "e"])], opset=17)
    add("random_normal_huge", [op("r", "RandomNormal", [], shape=[HUGE, HUGE])])
    add("random_uniform_like_dtype", [op("r", "RandomUniformLike", ["X"], dtype=999)], {"X": X})
    add("multinomial_huge", [op("r", "Multinomial", ["X"], sample_size=2**40)], {"X": X})
    add("bernoulli_in", [op("r", "Bernoulli", ["X"])], {"X": X})
    add("nms_bad", [const("B", [[[0, 0, 1, 1]]], np.float32), const("S", [[[0.5, 0.2]]], np.float32), const("M", [HUGE], np.int64),
                    op("n", "NonMaxSuppression", ["B", "S", "M"])])
    add("gridsample_bad", [const("G", [[[[5.0, np.nan]]]], np.float32), op("g", "GridSample", ["X4", "G"])], {"X4": X4})
    add("gridsample_rank", [const("G", [[1.0, 1.0]], np.float32), op("g", "GridSample", ["X4", "G"])], {"X4": X4})
    add("col2im_bad", [const("I", [4, 4], np.int64), const("B", [0, 0], np.int64), op("c", "Col2Im", ["X", "I", "B"])], {"X": X}, opset=18)
    add("col2im_huge", [const("I", [HUGE, HUGE], np.int64), const("B", [1, 1], np.int64), op("c", "Col2Im", ["C3", "I", "B"])], {"C3": f32(1, 1, 4)}, opset=18)
    add("centercrop_huge", [const("S", [HUGE, HUGE], np.int64), op("c", "CenterCropPad", ["X", "S"])], {"X": X}, opset=18)
    add("centercrop_neg", [const("S", [-1, 2], np.int64), op("c", "CenterCropPad", ["X", "S"])], {"X": X}, opset=18)
    add("dequantize_axis_bad", [const("Q", [1, 2], np.uint8), const("S", [1.0, 2.0, 3.0], np.float32),
                                op("d", "DequantizeLinear", ["Q", "S"], axis=0)])
    add("quantize_scale_zero", [const("S", 0.0, np.float32), op("q", "QuantizeLinear", ["X", "S"])], {"X": X})
    add("qlinearmatmul_bad", [const("A", [[1, 2]], np.uint8), const("s", 1.0, np.float32), const("z", 0, np.uint8),
                              op("q", "QLinearMatMul", ["A", "s", "z", "A", "s", "z", "s", "z"])])
    add("matmulinteger_bad", [const("A", [[1, 2]], np.uint8), const("Z", [1, 2, 3], np.uint8), op("q", "MatMulInteger", ["A", "A", "Z"])])
    add("convinteger_stride0", [const("A", np.ones((1, 1, 3, 3)), np.uint8), const("W", np.ones((1, 1, 2, 2)), np.uint8),
                                op("q", "ConvInteger", ["A", "W"], strides=[0, 0])])
    add("negloglik_bad_target", [const("T", [[9, -9]], np.int64), op("n", "NegativeLogLikelihoodLoss", ["X", "T"])], {"X": X})
    add("negloglik_target_shape", [const("T", [9], np.int64), op("n", "NegativeLogLikelihoodLoss", ["X", "T"])], {"X": X})
    add("sce_bad_target", [const("T", [7, -7], np.int64), op("n", "SoftmaxCrossEntropyLoss", ["X", "T"])], {"X": X})
    add("sce_ignore_idx", [const("T", [I64MIN, 0], np.int64), op("n", "SoftmaxCrossEntropyLoss", ["X", "T"], ignore_index=I64MIN)], {"X": X})
    add("negloglik_weight_short", [const("T", [1, 2], np.int64), const("W", [1.0], np.float32), op("n", "NegativeLogLikelihoodLoss", ["X", "T", "W"])], {"X": X})
    add("lppool_p_neg", [op("p", "LpPool", ["X4"], kernel_shape=[2, 2], p=-3)], {"X4": X4})
    add("lpnorm_p3", [op("p", "LpNormalization", ["X"], p=3, axis=9)], {"X": X})
    add("meanvarnorm_axes_bad", [op("m", "MeanVarianceNormalization", ["X4"], axes=[9])], {"X4": X4})
    add("attention_like_softmax_empty", [op("s", "Softmax", ["E"], axis=1)], {"E": E})
    add("celu_alpha0", [op("c", "Celu", ["X"], alpha=0.0)], {"X": X})
    add("gather_string", [op("c", "Cast", ["X"], ["S"], to=TensorProto.STRING), const("I", [0], np.int64), op("g", "Gather", ["S", "I"])], {"X": X})
    # ai.onnx.ml
    ml = [helper.make_opsetid("ai.onnx.ml", 3)]
    for n, nd in [("ml_tree_bad_node", helper.make_node("TreeEnsembleRegressor", ["X"], ["Y"], domain="ai.onnx.ml", name="t",
                  nodes_treeids=[0, 0], nodes_nodeids=[0, 1], nodes_featureids=[99, 0], nodes_modes=["BRANCH_LEQ", "LEAF"],
                  nodes_values=[0.5, 0], nodes_truenodeids=[5, 0], nodes_falsenodeids=[7, 0], nodes_missing_value_tracks_true=[0, 0],
                  target_treeids=[0], target_nodeids=[1], target_ids=[9], target_weights=[1.0], n_targets=1)),
                  ("ml_tree_cycle", helper.make_node("TreeEnsembleRegressor", ["X"], ["Y"], domain="ai.onnx.ml", name="t",
                  nodes_treeids=[0, 0], nodes_nodeids=[0, 1], nodes_featureids=[0, 0], nodes_modes=["BRANCH_LEQ", "BRANCH_LEQ"],
                  nodes_values=[0.5, 0.5], nodes_truenodeids=[1, 0], nodes_falsenodeids=[1, 0],
                  target_treeids=[0], target_nodeids=[1], target_ids=[0], target_weights=[1.0], n_targets=1)),
                  ("ml_tree_neg_ids", helper.make_node("TreeEnsembleClassifier", ["X"], ["L", "P"], domain="ai.onnx.ml", name="t",
                  nodes_treeids=[0], nodes_nodeids=[-1], nodes_featureids=[-1], nodes_modes=["LEAF"], nodes_values=[0],
                  nodes_truenodeids=[0], nodes_falsenodeids=[0], class_treeids=[0], class_nodeids=[-1], class_ids=[-5],
                  class_weights=[1.0], classlabels_int64s=[0, 1])),
                  ("ml_linear_coef_short", helper.make_node("LinearRegressor", ["X"], ["Y"], domain="ai.onnx.ml", name="t",
                  coefficients=[1.0], targets=2)),
                  ("ml_linearclass_bad", helper.make_node("LinearClassifier", ["X"], ["L", "P"], domain="ai.onnx.ml", name="t",
                  coefficients=[1.0, 2.0], classlabels_ints=[0, 1, 2])),
                  ("ml_svm_bad", helper.make_node("SVMRegressor", ["X"], ["Y"], domain="ai.onnx.ml", name="t",
                  coefficients=[1.0], support_vectors=[1.0, 2.0], n_supports=9, rho=[0.0])),
                  ("ml_svc_bad", helper.make_node("SVMClassifier", ["X"], ["L", "P"], domain="ai.onnx.ml", name="t",
                  coefficients=[1.0], support_vectors=[1.0, 2.0], vectors_per_class=[5, 5], rho=[0.0], classlabels_ints=[0, 1])),
                  ("ml_scaler_short", helper.make_node("Scaler", ["X"], ["Y"], domain="ai.onnx.ml", name="t", offset=[1.0, 2.0], scale=[1.0, 2.0])),
                  ("ml_normalizer_bad", helper.make_node("Normalizer", ["X"], ["Y"], domain="ai.onnx.ml", name="t", norm="XX")),
                  ("ml_onehotenc_bad", helper.make_node("OneHotEncoder", ["X"], ["Y"], domain="ai.onnx.ml", name="t", cats_int64s=[HUGE])),
                  ("ml_arrayfeat_bad", helper.make_node("ArrayFeatureExtractor", ["X", "I"], ["Y"], domain="ai.onnx.ml", name="t")),
                  ("ml_featvec_bad", helper.make_node("FeatureVectorizer", ["X"], ["Y"], domain="ai.onnx.ml", name="t", inputdimensions=[HUGE])),
                  ("ml_labelenc_bad", helper.make_node("LabelEncoder", ["X"], ["Y"], domain="ai.onnx.ml", name="t", keys_floats=[1.0, 2.0], values_int64s=[1])),
                  ("ml_binarizer", helper.make_node("Binarizer", ["X"], ["Y"], domain="ai.onnx.ml", name="t", threshold=float("nan"))),
                  ("ml_imputer_bad", helper.make_node("Imputer", ["X"], ["Y"], domain="ai.onnx.ml", name="t", imputed_value_floats=[1.0, 2.0])),
                  ("ml_zipmap", helper.make_node("ZipMap", ["X"], ["Y"], domain="ai.onnx.ml", name="t", classlabels_int64s=[1]))]:
        outs = list(nd.output)
        g = helper.make_graph([nd] if n != "ml_arrayfeat_bad" else [const("I", [9, -9], np.int64), nd], "ml",
                              [vi("X", TensorProto.FLOAT, [2, 3])], [vi(o, TensorProto.UNDEFINED) for o in outs])
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)] + ml)
        m.ir_version = 8
        CASES.append((n, m.SerializeToString(), {"X": X}))
    # --- sweep: scalar and empty inputs through many single-input ops ---
    sweep = [("Softmax", dict(axis=0)), ("LogSoftmax", dict(axis=-1)), ("Hardmax", dict(axis=0)), ("Flatten", dict(axis=0)),
             ("Transpose", {}), ("Squeeze", {}), ("Shape", {}), ("Size", {}), ("NonZero", {}), ("Unique", {}),
             ("LpNormalization", dict(axis=0)), ("GlobalMaxPool", {}), ("GlobalAveragePool", {}), ("Trilu", {}),
             ("ReduceMax", dict(keepdims=1)), ("ReduceMean", dict(keepdims=0)), ("ReduceLogSumExp", {}), ("ReduceProd", {}),
             ("Split", dict(axis=0, num_outputs=2)), ("Einsum", dict(equation="...->")), ("Einsum", dict(equation="ij->ji")),
             ("MeanVarianceNormalization", {}), ("Relu", {}), ("Sqrt", {}), ("Identity", {}), ("DepthToSpace", dict(blocksize=2)),
             ("InstanceNormalization", {}), ("LRN", dict(size=3)), ("MaxPool", dict(kernel_shape=[1])), ("Dropout", {}),
             ("Det", {}), ("IsNaN", {}), ("Round", {}), ("Sign", {}), ("Softplus", {}), ("Shrink", {}), ("Mish", {}),
             ("Gelu", {}), ("Col2Im", {}), ("CumSum", {}), ("TopK", {}), ("Gather", {}), ("Expand", {}), ("Tile", {})]
    feeds_sweep = {"scalar": np.array(2.0, np.float32), "empty0": np.zeros((0, 3), np.float32), "empty1": np.zeros((3, 0), np.float32),
                   "empty3": np.zeros((1, 0, 2), np.float32)}
    for opname, attrs in sweep:
        for fname, fv in feeds_sweep.items():
            ins, pre = ["V"], []
            if opname in ("CumSum", "TopK", "Gather", "Expand", "Tile"):
                pre = [const("Z", [0] if opname != "Tile" else [1] * max(fv.ndim, 1), np.int64)]
                ins = ["V", "Z"]
            if opname == "Split":
                outs = ["Y", "Y2"]
            elif opname in ("TopK", "Dropout"):
                outs = ["Y", "Y2"]
            else:
                outs = ["Y"]
            opset = 18 if opname in ("Split", "Col2Im", "ReduceMax", "ReduceMean", "ReduceLogSumExp", "ReduceProd") else 17
            add(f"sweep_{opname.lower()}_{len(CASES)}_{fname}", pre + [op("s", opname, ins, outs, **attrs)], {"V": fv}, outputs=outs, opset=opset)
    # --- graph structure ---
    add("cycle", [op("a", "Relu", ["B"], ["A"]), op("b", "Relu", ["A"], ["B"]), op("c", "Add", ["A", "X"], ["Y"])], {"X": X})
    add("self_loop", [op("a", "Relu", ["A"], ["A"]), op("c", "Add", ["A", "X"], ["Y"])], {"X": X})
    add("output_twice", [op("a", "Relu", ["X"], ["Y"]), op("b", "Neg", ["X"], ["Y"])], {"X": X})
    add("output_overwrites_input", [op("a", "Relu", ["X"], ["X"]), op("b", "Neg", ["X"], ["Y"])], {"X": X})
    add("undefined_input", [op("a", "Relu", ["nope"], ["Y"])], {"X": X})
    add("undefined_output", [op("a", "Relu", ["X"], ["Z"])], {"X": X})
    add("init_shadows_input", [op("a", "Relu", ["X"], ["Y"])], {"X": X}, inits={"X": np.ones((5,), np.float32)})
    add("unknown_op", [op("a", "FooBar", ["X"], ["Y"])], {"X": X})
    add("relu_too_many_inputs", [op("a", "Relu", ["X", "X", "X"], ["Y"])], {"X": X})
    add("add_one_input", [op("a", "Add", ["X"], ["Y"])], {"X": X})
    add("gemm_no_inputs", [op("a", "Gemm", [], ["Y"])])
    add("conv_no_weight", [op("a", "Conv", ["X4"], ["Y"])], {"X4": X4})
    add("constant_no_value", [op("a", "Constant", [], ["Y"])])
    add("constant_two_values", [op("a", "Constant", [], ["Y"], value_float=1.0, value_int=2)])
    add("constant_sparse", [helper.make_node("Constant", [], ["Y"], name="a",
        sparse_value=helper.make_sparse_tensor(numpy_helper.from_array(np.array([1.0], np.float32), "v"),
                                               numpy_helper.from_array(np.array([HUGE], np.int64), "i"), [HUGE]))])
    add("opset_ancient", [op("a", "Relu", ["X"], ["Y"])], {"X": X}, opset=1)
    add("opset_future", [op("a", "Relu", ["X"], ["Y"])], {"X": X}, opset=10**9)
    add("opset_negative", [op("a", "Relu", ["X"], ["Y"])], {"X": X}, opset=-5)
    # deep nesting: If inside If inside ...
    leaf = helper.make_graph([const("a", [1.0], np.float32)], "leaf", [], [vi("a")])
    g = leaf
    for d in range(30):
        g = helper.make_graph([const(f"c{d}", True, np.bool_), op(f"if{d}", "If", [f"c{d}"], [f"o{d}"], then_branch=g, else_branch=leaf)],
                              f"g{d}", [], [vi(f"o{d}")])
    m = helper.make_model(helper.make_graph(list(g.node), "top", [], [vi(g.output[0].name)]), opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    CASES.append(("deep_if_nesting_30", m.SerializeToString(), {}))
    chain = [op("n0", "Relu", ["X"], ["t0"])] + [op(f"n{i}", "Relu", [f"t{i-1}"], [f"t{i}"]) for i in range(1, 20000)] + [op("last", "Identity", ["t19999"], ["Y"])]
    add("long_chain_20000", chain, {"X": X})
    # tensors with wrong raw_data sizes / dims
    t = TensorProto(name="W", data_type=TensorProto.FLOAT, dims=[1000, 1000], raw_data=b"\0" * 8)
    t2 = TensorProto(name="W2", data_type=TensorProto.FLOAT, dims=[-1, 3], float_data=[1, 2, 3])
    t3 = TensorProto(name="W3", data_type=TensorProto.FLOAT, dims=[2**31, 2**31, 2**31])
    t4 = TensorProto(name="W4", data_type=TensorProto.INT64, dims=[3], int64_data=[1])
    t5 = TensorProto(name="W5", data_type=12345, dims=[1], raw_data=b"1234")
    t6 = TensorProto(name="W6", data_type=TensorProto.FLOAT, dims=[2], float_data=[1, 2], raw_data=b"\0" * 8)
    for tt in [t, t2, t3, t4, t5, t6]:
        gg = helper.make_graph([op("a", "Identity", [tt.name], ["Y"])], "t", [], [vi("Y", TensorProto.UNDEFINED)], initializer=[tt])
        m = helper.make_model(gg, opset_imports=[helper.make_opsetid("", 17)])
        m.ir_version = 8
        CASES.append((f"initializer_bad_{tt.name}", m.SerializeToString(), {}))
    # inputs with hostile declared shapes
    gg = helper.make_graph([op("a", "Relu", ["X"], ["Y"])], "t", [vi("X", TensorProto.FLOAT, [HUGE, HUGE])], [vi("Y")])
    m = helper.make_model(gg, opset_imports=[helper.make_opsetid("", 17)]); m.ir_version = 8
    CASES.append(("input_declared_huge_fed_small", m.SerializeToString(), {"X": X}))
    gg = helper.make_graph([op("a", "Relu", ["X"], ["Y"])], "t", [vi("X", 999, [2, 3])], [vi("Y")])
    m = helper.make_model(gg, opset_imports=[helper.make_opsetid("", 17)]); m.ir_version = 8
    CASES.append(("input_declared_bogus_dtype", m.SerializeToString(), {"X": X}))


def raw_cases(seed):
    """0-byte / garbage files and mutated fixture bytes."""
    rng = random.Random(seed)
    out = [("raw_empty", b""), ("raw_garbage", bytes(rng.randrange(256) for _ in range(4096))),
           ("raw_varint_overlong", b"\x3a" + b"\xff" * 20), ("raw_len_huge", b"\x3a\xff\xff\xff\xff\x0f"),
           ("raw_deep_nesting", b"".join(b"\x3a\x80\x80\x04" for _ in range(10000))),
           ("raw_group_wire", b"\x3b" * 100), ("raw_bad_wiretype", b"\x3f\x00")]
    fix = os.path.join(REPO, "Tests/Fixtures/models")
    for fn in sorted(os.listdir(fix)):
        if not fn.endswith(".onnx"):
            continue
        data = open(os.path.join(fix, fn), "rb").read()
        if len(data) > 2_000_000:
            continue
        base = fn[:-5]
        for k in range(6):
            b = bytearray(data)
            for _ in range(rng.choice([1, 2, 8])):
                i = rng.randrange(len(b))
                b[i] ^= 1 << rng.randrange(8)
            out.append((f"mut_{base}_flip{k}", bytes(b)))
        for frac in [0.1, 0.5, 0.99]:
            out.append((f"mut_{base}_trunc{int(frac*100)}", data[: int(len(data) * frac)]))
        # mutate the parsed model structurally: shuffle a dim, set a dim huge
        try:
            m = onnx.load_from_string(data)
        except Exception:
            continue
        for k in range(4):
            m2 = onnx.ModelProto(); m2.CopyFrom(m)
            inits = list(m2.graph.initializer)
            nodes = list(m2.graph.node)
            choice = k % 4
            if choice == 0 and inits:
                t = rng.choice(inits)
                if t.dims:
                    t.dims[rng.randrange(len(t.dims))] = rng.choice([0, -1, HUGE, 7])
            elif choice == 1 and nodes:
                n = rng.choice(nodes)
                for a in n.attribute:
                    if a.type == onnx.AttributeProto.INT:
                        a.i = rng.choice([I64MIN, -1, 0, I64MAX, 2**40])
                    elif a.type == onnx.AttributeProto.INTS and len(a.ints):
                        a.ints[rng.randrange(len(a.ints))] = rng.choice([I64MIN, -1, 0, I64MAX, 2**40])
            elif choice == 2 and len(nodes) > 1:
                n1, n2 = rng.sample(nodes, 2)
                if n1.input and n2.output:
                    n1.input[rng.randrange(len(n1.input))] = n2.output[0]
            elif choice == 3 and nodes:
                n = rng.choice(nodes)
                if n.input:
                    n.input[rng.randrange(len(n.input))] = rng.choice([i.name for i in m2.graph.initializer] or ["zzz"])
            out.append((f"mut_{base}_struct{k}", m2.SerializeToString()))
    return out


def fixture_inputs():
    fix = os.path.join(REPO, "Tests/Fixtures/models")
    return {fn[: -len(".input.json")]: os.path.join(fix, fn) for fn in os.listdir(fix) if fn.endswith(".input.json")}


def to_json_value(x):
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (float, np.floating)):
        if math.isnan(x):
            return "NaN"
        if math.isinf(x):
            return "Infinity" if x > 0 else "-Infinity"
        return float(x)
    return int(x)


def write_inputs(path, feeds):
    obj = {}
    for k, v in feeds.items():
        dt = {np.float32: "float32", np.float64: "float64", np.int64: "int64", np.int32: "int32", np.bool_: "bool",
              np.uint8: "uint8", np.int8: "int8"}[v.dtype.type]
        obj[k] = {"shape": list(v.shape), "dtype": dt, "data": [to_json_value(x) for x in v.reshape(-1)]}
    with open(path, "w") as f:
        json.dump(obj, f)


def classify(rc, stderr, timed_out, rss_kb, rss_limit_kb):
    if timed_out:
        return "timeout"
    if rc >= 128 or rc < 0:
        return "crash"
    if rss_kb is not None and rss_kb > rss_limit_kb:
        return "rss-blowup"
    if rc == 0:
        return "ok"
    if rc in (1, 2) and stderr.strip():
        return "error"
    return f"exit{rc}"


def run(cmd, timeout):
    full = ["/usr/bin/time", "-v"] + cmd if os.path.exists("/usr/bin/time") else cmd
    try:
        p = subprocess.run(["timeout", "-s", "KILL", str(timeout)] + full, capture_output=True, text=True, errors="replace")
    except Exception as e:  # pragma: no cover
        return 255, str(e), False, None
    err = p.stderr
    rss = None
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", err)
    if m:
        rss = int(m.group(1))
    rc = p.returncode
    m2 = re.search(r"Command terminated by signal (\d+)", err)
    if m2:
        rc = 128 + int(m2.group(1))
    m3 = re.search(r"Exit status: (\d+)", err)
    if m3 and not m2:
        rc = int(m3.group(1))
    timed_out = p.returncode in (124, 137, -9)
    # Strip /usr/bin/time's report from the message.
    msg = "\n".join(l for l in err.split("\tCommand being timed")[0].splitlines()
                    if not l.startswith(("Command exited with", "Command terminated by"))).strip()
    return rc, msg, timed_out, rss


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=None)
    ap.add_argument("--murmur", default=os.path.join(REPO, ".build/release/murmur"))
    ap.add_argument("--timeout", type=int, default=20)
    ap.add_argument("--only", default=None)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rss-limit-mb", type=int, default=2048)
    ap.add_argument("--generate-only", action="store_true")
    args = ap.parse_args()
    out = args.out or tempfile.mkdtemp(prefix="murmur-adversarial-")
    os.makedirs(out, exist_ok=True)
    generate()
    fixin = fixture_inputs()
    for name, data in raw_cases(args.seed):
        base = name.split("_")[1] if name.startswith("mut_") else None
        CASES.append((name, data, base))
    counts, bad = {}, []
    for name, data, feeds in CASES:
        if args.only and args.only not in name:
            continue
        mp = os.path.join(out, name + ".onnx")
        with open(mp, "wb") as f:
            f.write(data)
        ip = os.path.join(out, name + ".input.json")
        if isinstance(feeds, str) or feeds is None:
            src = fixin.get(feeds) if feeds else None
            if src:
                with open(src) as s, open(ip, "w") as d:
                    d.write(s.read())
            else:
                with open(ip, "w") as d:
                    d.write("{}")
        else:
            write_inputs(ip, feeds)
        if args.generate_only:
            continue
        results = []
        for what, cmd in [("inspect", [args.murmur, "inspect", mp]), ("infer", [args.murmur, "infer", mp, "--input", ip])]:
            rc, msg, to, rss = run(cmd, args.timeout)
            c = classify(rc, msg, to, rss, args.rss_limit_mb * 1024)
            results.append((what, c, rc, msg, rss))
        worst = next((r for r in results if r[1] not in ("ok", "error")), results[-1])
        counts[worst[1]] = counts.get(worst[1], 0) + 1
        line = msg_line(worst[3])
        print(f"{worst[1]:10s} {name:40s} [{worst[0]} rc={worst[2]} rss={worst[4]}kB] {line}", flush=True)
        if worst[1] not in ("ok", "error"):
            bad.append((name, worst[0], mp, ip, worst[3]))
    if args.generate_only:
        print(f"{len(CASES)} models written to {out}")
        return 0
    print("\nsummary (%d models, dir %s):" % (sum(counts.values()), out))
    for k in sorted(counts):
        print(f"  {k:10s} {counts[k]}")
    for name, what, mp, ip, msg in bad:
        print(f"\nBAD {name}: murmur {what} {mp}" + (f" --input {ip}" if what == "infer" else ""))
        keep = [l for l in msg.splitlines() if re.search(r"Fatal error|crashed:|^\s*[0-9]+ .* at /", l)][:4]
        print("   " + "\n   ".join(keep or msg.splitlines()[-4:]))
    return 1 if bad else 0


def msg_line(m):
    lines = [l for l in m.splitlines() if l.strip()]
    return (lines[-1] if lines else "")[:150]


if __name__ == "__main__":
    sys.exit(main())
