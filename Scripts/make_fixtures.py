#!/usr/bin/env python3
"""Builds the real-model fixtures for MurmurInference tests (Tests/Fixtures/models).

Each model gets NAME.onnx, NAME.input.json (inputs in `murmur infer` format) and
NAME.expected.json (onnxruntime's outputs, same format, float32 values as shortest repr).
Python is only used here, never at node run time. Requires: numpy onnx onnxruntime
scikit-learn skl2onnx (pip). Deterministic: fixed seeds everywhere.

    python3 Scripts/make_fixtures.py            # writes Tests/Fixtures/models
    python3 Scripts/make_fixtures.py --minilm /tmp/minilm   # full MiniLM-sized stack (benchmarks)
"""
import json, os, sys
import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto
import onnxruntime as ort

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "models")


def tensor_json(a):
    a = np.asarray(a)
    dt = {"float32": "float32", "float64": "float64", "int64": "int64", "int32": "int32",
          "bool": "bool", "int8": "int8", "uint8": "uint8"}[a.dtype.name]
    if a.dtype == np.float32:
        data = [float(repr(float(v))) if np.isfinite(v) else str(v) for v in a.ravel()]
    elif a.dtype == np.bool_:
        data = [bool(v) for v in a.ravel()]
    elif dt.startswith("int") or dt == "uint8":
        data = [int(v) for v in a.ravel()]
    else:
        data = [float(v) for v in a.ravel()]
    return {"shape": list(a.shape), "dtype": dt, "data": data}


def save(name, model, inputs):
    onnx.checker.check_model(model)
    path = os.path.join(OUT, name + ".onnx")
    onnx.save_model(model, path)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    outs = sess.run(None, inputs)
    names = [o.name for o in sess.get_outputs()]
    with open(os.path.join(OUT, name + ".input.json"), "w") as f:
        json.dump({k: tensor_json(v) for k, v in inputs.items()}, f)
    with open(os.path.join(OUT, name + ".expected.json"), "w") as f:
        json.dump({k: tensor_json(v) for k, v in zip(names, outs)}, f)
    print(name, os.path.getsize(path), "bytes;", [(n, o.shape) for n, o in zip(names, outs)])


def mlp():
    from sklearn.neural_network import MLPClassifier
    from sklearn.datasets import make_classification
    from skl2onnx import to_onnx
    X, y = make_classification(400, 20, n_informative=8, n_classes=4, random_state=0)
    X = X.astype(np.float32)
    m = MLPClassifier((64, 32), max_iter=400, random_state=0).fit(X, y)
    model = to_onnx(m, X[:1], options={id(m): {"zipmap": False}}, target_opset={"": 17, "ai.onnx.ml": 3})
    save("mlp", model, {"X": X[:16]})


def sklearn_models():
    """Random forest (TreeEnsembleClassifier), forest regressor (TreeEnsembleRegressor),
    scaler + logistic regression (Scaler, LinearClassifier), normalizer + linear regression."""
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
    from sklearn.linear_model import LogisticRegression, LinearRegression
    from sklearn.preprocessing import StandardScaler, Normalizer
    from sklearn.pipeline import make_pipeline
    from sklearn.datasets import make_classification, make_regression
    from skl2onnx import to_onnx
    X, y = make_classification(300, 12, n_informative=6, n_classes=3, random_state=1)
    X = X.astype(np.float32)
    ops = {"": 17, "ai.onnx.ml": 3}
    rf = RandomForestClassifier(n_estimators=12, max_depth=6, random_state=0).fit(X, y)
    save("forest", to_onnx(rf, X[:1], options={id(rf): {"zipmap": False}}, target_opset=ops), {"X": X[:32]})
    lr = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, y)
    save("logistic", to_onnx(lr, X[:1], options={id(lr.steps[-1][1]): {"zipmap": False}}, target_opset=ops), {"X": X[:32]})
    Xr, yr = make_regression(200, 8, noise=0.1, random_state=2)
    Xr = Xr.astype(np.float32)
    fr = RandomForestRegressor(n_estimators=8, max_depth=5, random_state=0).fit(Xr, yr)
    save("forest_regressor", to_onnx(fr, Xr[:1], target_opset=ops), {"X": Xr[:32]})
    li = make_pipeline(Normalizer(), LinearRegression()).fit(Xr, yr)
    save("linear", to_onnx(li, Xr[:1], target_opset=ops), {"X": Xr[:32]})


def init(name, a):
    return numpy_helper.from_array(np.asarray(a), name)


def cnn():
    rng = np.random.default_rng(1)
    w = lambda *s: (rng.standard_normal(s) * np.sqrt(2.0 / np.prod(s[1:]))).astype(np.float32)
    inits = [
        init("c1.w", w(8, 3, 3, 3)), init("c1.b", (rng.standard_normal(8) * 0.1).astype(np.float32)),
        init("bn.scale", (1 + 0.1 * rng.standard_normal(8)).astype(np.float32)),
        init("bn.bias", (0.1 * rng.standard_normal(8)).astype(np.float32)),
        init("bn.mean", (0.1 * rng.standard_normal(8)).astype(np.float32)),
        init("bn.var", (1 + 0.1 * rng.random(8)).astype(np.float32)),
        init("c2.w", w(16, 8, 3, 3)), init("c2.b", (rng.standard_normal(16) * 0.1).astype(np.float32)),
        init("c3.w", w(16, 1, 3, 3)),  # depthwise
        init("fc.w", w(10, 16)), init("fc.b", (rng.standard_normal(10) * 0.1).astype(np.float32)),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "c1.w", "c1.b"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c1", "bn.scale", "bn.bias", "bn.mean", "bn.var"], ["bn"], epsilon=1e-5),
        helper.make_node("Relu", ["bn"], ["r1"]),
        helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p1", "c2.w", "c2.b"], ["c2"], strides=[2, 2], auto_pad="SAME_UPPER"),
        helper.make_node("Relu", ["c2"], ["r2"]),
        helper.make_node("Conv", ["r2", "c3.w"], ["c3"], group=16, pads=[1, 1, 1, 1], dilations=[1, 1]),
        helper.make_node("Add", ["c3", "r2"], ["res"]),
        helper.make_node("AveragePool", ["res"], ["p2"], kernel_shape=[2, 2], strides=[1, 1]),
        helper.make_node("GlobalAveragePool", ["p2"], ["g"]),
        helper.make_node("Flatten", ["g"], ["f"]),
        helper.make_node("Gemm", ["f", "fc.w", "fc.b"], ["logits"], transB=1),
        helper.make_node("Softmax", ["logits"], ["probs"], axis=-1),
    ]
    graph = helper.make_graph(nodes, "cnn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 32, 32])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10]),
                               helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["N", 10])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="murmur-fixtures")
    model.ir_version = 8
    x = np.random.default_rng(2).standard_normal((2, 3, 32, 32)).astype(np.float32)
    save("cnn", model, {"x": x})


def transformer(name, layers, hidden, heads, inter, vocab, seq, batch, out_dir=None):
    """A BERT encoder in the op shapes PyTorch's exporter emits (Erf GELU, dynamic reshapes)."""
    rng = np.random.default_rng(3)
    d = hidden // heads
    inits, nodes = [], []
    def w(*s, scale=0.05):
        return (rng.standard_normal(s) * scale).astype(np.float32)
    def const(n, a):
        inits.append(init(n, a)); return n
    def node(op, ins, outs, **kw):
        nodes.append(helper.make_node(op, ins, outs, **kw)); return outs[0]
    const("word_emb", w(vocab, hidden, scale=0.5)); const("pos_emb", w(max(64, seq), hidden, scale=0.1))
    const("i64_0", np.array([0], np.int64)); const("i64_1", np.array([1], np.int64))
    const("heads_d", np.array([heads, d], np.int64)); const("hidden_v", np.array([hidden], np.int64))
    const("one_f", np.array(1.0, np.float32)); const("neg_big", np.array(-10000.0, np.float32))
    const("sqrt_d", np.array(np.sqrt(d), np.float32)); const("sqrt2", np.array(np.sqrt(2.0), np.float32))
    const("half", np.array(0.5, np.float32))
    # embeddings
    node("Shape", ["input_ids"], ["ids_shape"])
    node("Gather", ["ids_shape", "i64_1"], ["seq_len"], axis=0)
    node("Gather", ["ids_shape", "i64_0"], ["batch_len"], axis=0)
    node("Squeeze", ["seq_len", "i64_0"], ["seq_scalar"])
    const("zero_s", np.array(0, np.int64)); const("one_s", np.array(1, np.int64))
    node("Range", ["zero_s", "seq_scalar", "one_s"], ["positions"])
    node("Gather", ["word_emb", "input_ids"], ["we"])
    node("Gather", ["pos_emb", "positions"], ["pe"])
    node("Add", ["we", "pe"], ["emb"])
    const("ln_e.g", 1 + w(hidden, scale=0.1)); const("ln_e.b", w(hidden, scale=0.1))
    x = node("LayerNormalization", ["emb", "ln_e.g", "ln_e.b"], ["x0"], axis=-1, epsilon=1e-12)
    # attention mask → additive bias [B, 1, 1, S]
    node("Unsqueeze", ["attention_mask", "i64_1"], ["m1"])
    const("i64_2", np.array([2], np.int64))
    node("Unsqueeze", ["m1", "i64_2"], ["m2"])
    node("Cast", ["m2"], ["mf"], to=TensorProto.FLOAT)
    node("Sub", ["one_f", "mf"], ["minv"])
    mask = node("Mul", ["minv", "neg_big"], ["mask_bias"])
    node("Concat", ["batch_len", "seq_len", "heads_d"], ["split_shape"], axis=0)
    node("Concat", ["batch_len", "seq_len", "hidden_v"], ["merge_shape"], axis=0)
    for l in range(layers):
        p = f"l{l}."
        def lin(inp, n_in, n_out, tag):
            const(p + tag + ".w", w(n_in, n_out)); const(p + tag + ".b", w(n_out, scale=0.02))
            mm = node("MatMul", [inp, p + tag + ".w"], [p + tag + ".mm"])
            return node("Add", [mm, p + tag + ".b"], [p + tag])
        def heads_of(t, perm, tag):
            r = node("Reshape", [t, "split_shape"], [p + tag + ".r"])
            return node("Transpose", [r], [p + tag + ".t"], perm=perm)
        q = heads_of(lin(x, hidden, hidden, "q"), [0, 2, 1, 3], "qh")
        k = heads_of(lin(x, hidden, hidden, "k"), [0, 2, 3, 1], "kh")
        v = heads_of(lin(x, hidden, hidden, "v"), [0, 2, 1, 3], "vh")
        s = node("MatMul", [q, k], [p + "scores"])
        s = node("Div", [s, "sqrt_d"], [p + "scaled"])
        s = node("Add", [s, mask], [p + "masked"])
        a = node("Softmax", [s], [p + "probs"], axis=-1)
        c = node("MatMul", [a, v], [p + "ctx"])
        c = node("Transpose", [c], [p + "ctx.t"], perm=[0, 2, 1, 3])
        c = node("Reshape", [c, "merge_shape"], [p + "ctx.m"])
        o = lin(c, hidden, hidden, "o")
        r = node("Add", [o, x], [p + "res1"])
        const(p + "ln1.g", 1 + w(hidden, scale=0.1)); const(p + "ln1.b", w(hidden, scale=0.1))
        h = node("LayerNormalization", [r, p + "ln1.g", p + "ln1.b"], [p + "h"], axis=-1, epsilon=1e-12)
        f = lin(h, hidden, inter, "ff1")
        e = node("Div", [f, "sqrt2"], [p + "g.div"])
        e = node("Erf", [e], [p + "g.erf"])
        e = node("Add", [e, "one_f"], [p + "g.add"])
        e = node("Mul", [f, e], [p + "g.mul"])
        g = node("Mul", [e, "half"], [p + "gelu"])
        f2 = lin(g, inter, hidden, "ff2")
        r2 = node("Add", [f2, h], [p + "res2"])
        const(p + "ln2.g", 1 + w(hidden, scale=0.1)); const(p + "ln2.b", w(hidden, scale=0.1))
        x = node("LayerNormalization", [r2, p + "ln2.g", p + "ln2.b"], [p + "out"], axis=-1, epsilon=1e-12)
    nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"]))
    node("ReduceMean", [x], ["pooled"], axes=[1], keepdims=0)
    graph = helper.make_graph(nodes, name,
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "seq"])],
        [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "seq", hidden]),
         helper.make_tensor_value_info("pooled", TensorProto.FLOAT, ["batch", hidden])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="murmur-fixtures")
    model.ir_version = 8
    r = np.random.default_rng(4)
    ids = r.integers(0, vocab, (batch, seq)).astype(np.int64)
    mask = np.ones((batch, seq), np.int64)
    mask[-1, seq - 3:] = 0
    global OUT
    if out_dir:
        OUT = out_dir
    save(name, model, {"input_ids": ids, "attention_mask": mask})


def ops():
    """Small graph touching every transcendental and reduction (golden-hash coverage)."""
    nodes = [
        helper.make_node("Exp", ["x"], ["e"]), helper.make_node("Log", ["e"], ["l"]),
        helper.make_node("Tanh", ["x"], ["t"]), helper.make_node("Erf", ["x"], ["er"]),
        helper.make_node("Sigmoid", ["x"], ["sg"]), helper.make_node("Abs", ["x"], ["ab"]),
        helper.make_node("Pow", ["ab", "p"], ["pw"]), helper.make_node("Sqrt", ["ab"], ["sq"]),
        helper.make_node("Sum", ["l", "t", "er", "sg", "pw", "sq"], ["s"]),
        helper.make_node("Softmax", ["s"], ["sm"], axis=1),
        helper.make_node("LogSoftmax", ["s"], ["lsm"], axis=0),
        helper.make_node("ReduceSum", ["s", "ax"], ["rs"], keepdims=1),
        helper.make_node("ReduceMean", ["x"], ["rm"], axes=[0], keepdims=0),
        helper.make_node("ArgMax", ["s"], ["am"], axis=1),
    ]
    graph = helper.make_graph(nodes, "ops", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [8, 16])],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in [("sm", [8, 16]), ("lsm", [8, 16]), ("rs", [8, 1]), ("rm", [16])]]
        + [helper.make_tensor_value_info("am", TensorProto.INT64, [8, 1])],
        [init("p", np.array(1.7, np.float32)), init("ax", np.array([1], np.int64))])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="murmur-fixtures")
    model.ir_version = 8
    x = (np.random.default_rng(5).standard_normal((8, 16)) * 2).astype(np.float32)
    save("ops", model, {"x": x})


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--minilm":
        os.makedirs(sys.argv[2], exist_ok=True)
        transformer("minilm", 6, 384, 12, 1536, 30522, 128, 1, out_dir=sys.argv[2])
        sys.exit(0)
    os.makedirs(OUT, exist_ok=True)
    mlp()
    sklearn_models()
    cnn()
    transformer("transformer", 2, 128, 4, 512, 512, 16, 2)
    ops()
