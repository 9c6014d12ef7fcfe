#!/usr/bin/env python3
"""Builds the scikit-learn fixtures under Tests/Fixtures/ml/ (skl2onnx, zipmap=False).

Each fixture is a directory in the ONNX backend-test layout: model.onnx plus
test_data_set_0/input_*.pb and output_*.pb, where the outputs are onnxruntime's.
Seeded; rerunning gives the same models for the same library versions. Used only to make
fixtures; the tests never run Python.
"""
import os
import sys
import zlib

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper
from skl2onnx import to_onnx
from sklearn.datasets import make_classification, make_regression
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor, GradientBoostingClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression, SGDClassifier, Ridge
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler, Normalizer, MinMaxScaler
from sklearn.svm import LinearSVC

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "ml")
TARGET_OPSET = {"": 13, "ai.onnx.ml": 3}


def save(name, model, X, options=None):
    X = X.astype(np.float32)
    onx = to_onnx(model, X[:1], target_opset=TARGET_OPSET, options=options)
    d = os.path.join(ROOT, name)
    os.makedirs(os.path.join(d, "test_data_set_0"), exist_ok=True)
    onnx.save_model(onx, os.path.join(d, "model.onnx"))
    sess = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0].name
    outs = sess.run(None, {inp: X})
    with open(os.path.join(d, "test_data_set_0", "input_0.pb"), "wb") as f:
        f.write(numpy_helper.from_array(X, inp).SerializeToString())
    for i, (o, meta) in enumerate(zip(outs, sess.get_outputs())):
        with open(os.path.join(d, "test_data_set_0", f"output_{i}.pb"), "wb") as f:
            f.write(numpy_helper.from_array(np.asarray(o), meta.name).SerializeToString())
    ops = sorted({(n.domain or "ai.onnx") + "." + n.op_type for n in onx.graph.node})
    print(f"{name}: {len(onx.SerializeToString())} bytes, ops {ops}, outputs {[o.shape for o in outs]}")


def main():
    rng = np.random.RandomState(0)
    Xc, yc = make_classification(n_samples=200, n_features=8, n_informative=5, n_classes=3, random_state=0)
    Xb, yb = make_classification(n_samples=200, n_features=6, n_informative=4, n_classes=2, random_state=1)
    Xr, yr = make_regression(n_samples=200, n_features=8, n_targets=1, noise=0.5, random_state=2)
    Xr2, yr2 = make_regression(n_samples=200, n_features=5, n_targets=2, noise=0.5, random_state=3)
    test_c = Xc[:16]
    test_b = Xb[:16]
    test_r = Xr[:16]
    nozip = {"zipmap": False}

    save("mlp_classifier", MLPClassifier(hidden_layer_sizes=(16, 8), max_iter=400, random_state=0).fit(Xc, yc), test_c, {MLPClassifier: nozip})
    save("mlp_regressor", MLPRegressor(hidden_layer_sizes=(16,), max_iter=400, random_state=0).fit(Xr, yr), test_r)
    save("rf_classifier", RandomForestClassifier(n_estimators=8, max_depth=5, random_state=0).fit(Xc, yc), test_c, {RandomForestClassifier: nozip})
    save("rf_classifier_binary", RandomForestClassifier(n_estimators=5, max_depth=4, random_state=0).fit(Xb, yb), test_b, {RandomForestClassifier: nozip})
    save("rf_regressor", RandomForestRegressor(n_estimators=8, max_depth=5, random_state=0).fit(Xr, yr), test_r)
    save("rf_regressor_2targets", RandomForestRegressor(n_estimators=4, max_depth=4, random_state=0).fit(Xr2, yr2), Xr2[:16])
    save("gb_classifier", GradientBoostingClassifier(n_estimators=6, max_depth=3, random_state=0).fit(Xc, yc), test_c, {GradientBoostingClassifier: nozip})
    save("gb_classifier_binary", GradientBoostingClassifier(n_estimators=6, max_depth=3, random_state=0).fit(Xb, yb), test_b, {GradientBoostingClassifier: nozip})
    save("linear_regression", LinearRegression().fit(Xr, yr), test_r)
    save("ridge_2targets", Ridge().fit(Xr2, yr2), Xr2[:16])
    save("logistic_multinomial", LogisticRegression(max_iter=500).fit(Xc, yc), test_c, {LogisticRegression: nozip})
    save("logistic_binary", LogisticRegression(max_iter=500).fit(Xb, yb), test_b, {LogisticRegression: nozip})
    save("linear_svc", LinearSVC().fit(Xc, yc), test_c)
    save("scaler_logistic", make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(Xc, yc), test_c, {LogisticRegression: nozip})
    save("minmax_normalizer_ridge", make_pipeline(MinMaxScaler(), Normalizer(norm="l2"), Ridge()).fit(Xr, yr), test_r)
    save("normalizer_l1_max", make_pipeline(Normalizer(norm="l1"), Normalizer(norm="max"), Ridge()).fit(Xr, yr), test_r)

    # ZipMap outputs a sequence of maps; the engine refuses it with a hint. Model only.
    zm = to_onnx(LogisticRegression(max_iter=500).fit(Xb, yb), Xb[:1].astype(np.float32), target_opset=TARGET_OPSET)
    os.makedirs(os.path.join(ROOT, "zipmap_refused"), exist_ok=True)
    onnx.save_model(zm, os.path.join(ROOT, "zipmap_refused", "model.onnx"))


if __name__ == "__main__" and len(sys.argv) == 1:
    sys.exit(main())


# ---------------------------------------------------------------------------------------------
# Operator fixtures beyond the backend node tests: recurrent ops in every direction with
# sequence_lens and initial states, control flow reading outer-scope values. Written to
# Tests/Fixtures/ml/ops/<name>/ in the same layout. Run: python3 Scripts/make_ml_fixtures.py ops
from onnx import TensorProto, helper

OPS_ROOT = os.path.join(ROOT, "ops")


def save_op_model(name, graph, feeds, opset=14):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    d = os.path.join(OPS_ROOT, name)
    os.makedirs(os.path.join(d, "test_data_set_0"), exist_ok=True)
    onnx.save_model(model, os.path.join(d, "model.onnx"))
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    outs = sess.run(None, feeds)
    for i, inp in enumerate(i for i in graph.input if i.name in feeds):
        with open(os.path.join(d, "test_data_set_0", f"input_{i}.pb"), "wb") as f:
            f.write(numpy_helper.from_array(feeds[inp.name], inp.name).SerializeToString())
    for i, (o, meta) in enumerate(zip(outs, sess.get_outputs())):
        with open(os.path.join(d, "test_data_set_0", f"output_{i}.pb"), "wb") as f:
            f.write(numpy_helper.from_array(np.asarray(o), meta.name).SerializeToString())
    print(f"ops/{name}: outputs {[o.shape for o in outs]}")


def vi(name, dtype=TensorProto.FLOAT, shape=None):
    return helper.make_tensor_value_info(name, dtype, shape)


def recurrent(name, op, gates, direction, hidden=5, inp=4, seq=6, batch=3, layout=0, extra=None, lens=True, peep=False):
    rng = np.random.RandomState(zlib.crc32(name.encode()))
    dirs = 2 if direction == "bidirectional" else 1
    xs = (seq, batch, inp) if layout == 0 else (batch, seq, inp)
    hs = (dirs, batch, hidden) if layout == 0 else (batch, dirs, hidden)
    inits = [
        numpy_helper.from_array(rng.uniform(-0.6, 0.6, (dirs, gates * hidden, inp)).astype(np.float32), "W"),
        numpy_helper.from_array(rng.uniform(-0.6, 0.6, (dirs, gates * hidden, hidden)).astype(np.float32), "R"),
        numpy_helper.from_array(rng.uniform(-0.3, 0.3, (dirs, 2 * gates * hidden)).astype(np.float32), "B"),
    ]
    feeds = {"X": rng.uniform(-1, 1, xs).astype(np.float32), "h0": rng.uniform(-0.5, 0.5, hs).astype(np.float32)}
    inputs = ["X", "W", "R", "B", "lens" if lens else "", "h0"]
    graph_inputs = [vi("X", shape=list(xs)), vi("h0", shape=list(hs))]
    if lens:
        feeds["lens"] = np.array([seq, seq - 2, 1][:batch], dtype=np.int32)
        graph_inputs.insert(1, vi("lens", TensorProto.INT32, [batch]))
    outputs = ["Y", "Y_h"]
    if op == "LSTM":
        feeds["c0"] = rng.uniform(-0.5, 0.5, hs).astype(np.float32)
        graph_inputs.append(vi("c0", shape=list(hs)))
        inputs.append("c0")
        outputs.append("Y_c")
        if peep:
            inits.append(numpy_helper.from_array(rng.uniform(-0.5, 0.5, (dirs, 3 * hidden)).astype(np.float32), "P"))
            inputs.append("P")
    attrs = dict(hidden_size=hidden, direction=direction)
    if layout:
        attrs["layout"] = layout
    attrs.update(extra or {})
    node = helper.make_node(op, inputs, outputs, **attrs)
    graph = helper.make_graph([node], name, graph_inputs, [vi(o) for o in outputs], inits)
    save_op_model(name, graph, feeds)


def control_flow():
    # If whose branches read an outer value and contain a nested If reading the outermost scope.
    then_inner = helper.make_graph([helper.make_node("Mul", ["a", "scale"], ["ti"])], "ti", [], [vi("ti")])
    else_inner = helper.make_graph([helper.make_node("Neg", ["a"], ["ei"])], "ei", [], [vi("ei")])
    then_g = helper.make_graph([
        helper.make_node("ReduceSum", ["a"], ["s"], keepdims=0),
        helper.make_node("Greater", ["s", "zero"], ["c2"]),
        helper.make_node("If", ["c2"], ["t_out"], then_branch=then_inner, else_branch=else_inner),
    ], "then", [], [vi("t_out")])
    else_g = helper.make_graph([helper.make_node("Sub", ["a", "scale"], ["e_out"])], "else", [], [vi("e_out")])
    g = helper.make_graph([
        helper.make_node("Relu", ["x"], ["a"]),
        helper.make_node("If", ["cond"], ["y"], then_branch=then_g, else_branch=else_g),
    ], "if_outer_scope", [vi("x", shape=[2, 3]), vi("cond", TensorProto.BOOL, [])], [vi("y")],
        [numpy_helper.from_array(np.array(2.5, np.float32), "scale"), numpy_helper.from_array(np.array(0, np.float32), "zero")])
    x = np.array([[1, -2, 3], [-4, 5, -6]], np.float32)
    save_op_model("if_outer_scope_then", g, {"x": x, "cond": np.array(True)})
    save_op_model("if_outer_scope_else", g, {"x": x, "cond": np.array(False)})

    # Loop: a running sum carried, a scan output per step, an outer-scope weight, early exit by cond.
    body = helper.make_graph([
        helper.make_node("Cast", ["i"], ["fi"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["w", "fi"], ["step"]),
        helper.make_node("Add", ["acc_in", "step"], ["acc_out"]),
        helper.make_node("ReduceSum", ["acc_out"], ["tot"], keepdims=0),
        helper.make_node("Less", ["tot", "limit"], ["cond_out"]),
        helper.make_node("Identity", ["acc_out"], ["scan"]),
    ], "body", [vi("i", TensorProto.INT64, []), vi("cond_in", TensorProto.BOOL, []), vi("acc_in", shape=[3])],
        [vi("cond_out", TensorProto.BOOL, []), vi("acc_out", shape=[3]), vi("scan", shape=[3])])
    g = helper.make_graph([
        helper.make_node("Loop", ["M", "", "acc0"], ["acc", "scans"], body=body),
    ], "loop_outer_scope", [vi("M", TensorProto.INT64, []), vi("acc0", shape=[3])], [vi("acc"), vi("scans")],
        [numpy_helper.from_array(np.array([0.5, -1, 2], np.float32), "w"), numpy_helper.from_array(np.array(20, np.float32), "limit")])
    save_op_model("loop_outer_scope", g, {"M": np.array(10, np.int64), "acc0": np.array([1, 2, 3], np.float32)})


def ops():
    recurrent("lstm_forward_lens", "LSTM", 4, "forward")
    recurrent("lstm_reverse_peepholes", "LSTM", 4, "reverse", peep=True)
    recurrent("lstm_bidirectional_lens", "LSTM", 4, "bidirectional")
    recurrent("lstm_clip_input_forget", "LSTM", 4, "forward", extra=dict(clip=0.7, input_forget=1), lens=False)
    recurrent("gru_bidirectional_lens", "GRU", 3, "bidirectional")
    recurrent("gru_linear_before_reset", "GRU", 3, "forward", extra=dict(linear_before_reset=1))
    recurrent("gru_reverse", "GRU", 3, "reverse", lens=False)
    recurrent("rnn_bidirectional_relu", "RNN", 1, "bidirectional", extra=dict(activations=["Relu", "Tanh"]))
    control_flow()
    dynamic_quantize_lstm()


if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "ops":
    ops()


def dynamic_quantize_lstm():
    """onnxruntime's com.microsoft.DynamicQuantizeLSTM (ddddocr's old OCR model uses it)."""
    rng = np.random.RandomState(7)
    H, I, S, B = 6, 5, 4, 2
    dirs = 2
    W = rng.randint(-127, 128, (dirs, I, 4 * H)).astype(np.int8)
    R = rng.randint(-127, 128, (dirs, H, 4 * H)).astype(np.int8)
    inits = [
        numpy_helper.from_array(W, "W"), numpy_helper.from_array(R, "R"),
        numpy_helper.from_array(rng.uniform(-0.3, 0.3, (dirs, 8 * H)).astype(np.float32), "B"),
        numpy_helper.from_array(np.array([0.004, 0.006], np.float32), "W_scale"),
        numpy_helper.from_array(np.array([0, 0], np.int8), "W_zero_point"),
        numpy_helper.from_array(rng.uniform(0.002, 0.006, (dirs, 4 * H)).astype(np.float32), "R_scale"),
        numpy_helper.from_array(np.zeros((dirs, 4 * H), np.int8), "R_zero_point"),
    ]
    node = helper.make_node("DynamicQuantizeLSTM", ["X", "W", "R", "B", "", "h0", "c0", "", "W_scale", "W_zero_point", "R_scale", "R_zero_point"],
                            ["Y", "Y_h", "Y_c"], domain="com.microsoft", hidden_size=H, direction="bidirectional")
    g = helper.make_graph([node], "dqlstm", [vi("X", shape=[S, B, I]), vi("h0", shape=[dirs, B, H]), vi("c0", shape=[dirs, B, H])],
                          [vi("Y"), vi("Y_h"), vi("Y_c")], inits)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 14), helper.make_opsetid("com.microsoft", 1)])
    model.ir_version = 8
    feeds = {"X": rng.uniform(-1, 1, (S, B, I)).astype(np.float32), "h0": rng.uniform(-0.5, 0.5, (dirs, B, H)).astype(np.float32),
             "c0": rng.uniform(-0.5, 0.5, (dirs, B, H)).astype(np.float32)}
    d = os.path.join(OPS_ROOT, "dynamic_quantize_lstm")
    os.makedirs(os.path.join(d, "test_data_set_0"), exist_ok=True)
    onnx.save_model(model, os.path.join(d, "model.onnx"))
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    outs = sess.run(None, feeds)
    for i, name in enumerate(["X", "h0", "c0"]):
        with open(os.path.join(d, "test_data_set_0", f"input_{i}.pb"), "wb") as f:
            f.write(numpy_helper.from_array(feeds[name], name).SerializeToString())
    for i, (o, meta) in enumerate(zip(outs, sess.get_outputs())):
        with open(os.path.join(d, "test_data_set_0", f"output_{i}.pb"), "wb") as f:
            f.write(numpy_helper.from_array(np.asarray(o), meta.name).SerializeToString())
    print(f"ops/dynamic_quantize_lstm: outputs {[o.shape for o in outs]}")


if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "dqlstm":
    dynamic_quantize_lstm()
