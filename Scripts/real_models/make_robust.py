#!/usr/bin/env python3
"""Tiny ONNX models with the quirks real exports carry (issue 8 item 3), and onnxruntime's outputs.

Writes Tests/Fixtures/real/robust/<name>.onnx, <name>.in_<i>.pb, <name>.out_<i>.pb and robust.json:
  dynamic_dims      symbolic dims, run at two sizes (shapes known only at run time)
  wrong_out_shape   declares output [1, 2] but computes [3, 4] (the engine trusts what it computes)
  unused_init       carries initializers no node reads (one of them a huge-looking shape)
  opset_NN          the same small graph (Unsqueeze, ReduceSum, Softmax, Clip, Split) written for opsets 11..20
  negative_dim      declares a dim as -1 (paddle2onnx's way of saying "dynamic")
  unknown_op        an op no engine knows (com.example.Frobnicate v3): must be refused at load time
"""
import json, os
import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, TensorProto, numpy_helper

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "real", "robust")
os.makedirs(OUT, exist_ok=True)
rng = np.random.default_rng(7)
cases = []


def save_model(name, model):
    onnx.save(model, os.path.join(OUT, name + ".onnx"))


def case(name, model, feeds_list, check=True):
    save_model(name, model)
    sess = ort.InferenceSession(os.path.join(OUT, name + ".onnx"), providers=["CPUExecutionProvider"])
    outs = [o.name for o in sess.get_outputs()]
    runs = []
    for ri, feeds in enumerate(feeds_list):
        res = sess.run(outs, feeds)
        entry = {"inputs": {}, "outputs": {}}
        for i, (k, v) in enumerate(feeds.items()):
            f = f"{name}.run{ri}.in_{i}.pb"
            open(os.path.join(OUT, f), "wb").write(numpy_helper.from_array(v, k).SerializeToString())
            entry["inputs"][k] = f
        for i, (k, v) in enumerate(zip(outs, res)):
            f = f"{name}.run{ri}.out_{i}.pb"
            open(os.path.join(OUT, f), "wb").write(numpy_helper.from_array(v, k).SerializeToString())
            entry["outputs"][k] = f
        runs.append(entry)
    cases.append({"name": name, "runs": runs})


X = lambda shape: helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)
Y = lambda shape: helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)

# dynamic dims: y = Softmax(Reshape(x, [batch, -1]) @ W) with batch and width only known at run time
w = numpy_helper.from_array(rng.standard_normal((12, 5)).astype(np.float32), "W")
nodes = [helper.make_node("Shape", ["x"], ["s"]),
         helper.make_node("Gather", ["s", "zero"], ["b"], axis=0),
         helper.make_node("Unsqueeze", ["b", "ax0"], ["b1"]),
         helper.make_node("Concat", ["b1", "minus1"], ["shape"], axis=0),
         helper.make_node("Reshape", ["x", "shape"], ["flat"]),
         helper.make_node("Slice", ["flat", "st", "en", "ax1"], ["cut"]),
         helper.make_node("MatMul", ["cut", "W"], ["mm"]),
         helper.make_node("Softmax", ["mm"], ["y"], axis=-1)]
inits = [w, numpy_helper.from_array(np.array(0, np.int64), "zero"), numpy_helper.from_array(np.array([0], np.int64), "ax0"),
         numpy_helper.from_array(np.array([-1], np.int64), "minus1"), numpy_helper.from_array(np.array([0], np.int64), "st"),
         numpy_helper.from_array(np.array([12], np.int64), "en"), numpy_helper.from_array(np.array([1], np.int64), "ax1")]
g = helper.make_graph(nodes, "dyn", [X(["batch", "c", "h"])], [Y(["batch", 5])], inits)
case("dynamic_dims", helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]),
     [{"x": rng.standard_normal((2, 3, 4)).astype(np.float32)}, {"x": rng.standard_normal((3, 2, 8)).astype(np.float32)}])

# wrong declared output shape
g = helper.make_graph([helper.make_node("Transpose", ["x"], ["t"], perm=[1, 0]), helper.make_node("Relu", ["t"], ["y"])],
                      "wrong", [X([4, 3])], [Y([1, 2])])
case("wrong_out_shape", helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]),
     [{"x": rng.standard_normal((4, 3)).astype(np.float32)}])

# unused initializers
g = helper.make_graph([helper.make_node("Add", ["x", "bias"], ["y"])], "unused", [X([2, 3])], [Y([2, 3])],
                      [numpy_helper.from_array(np.ones(3, np.float32), "bias"),
                       numpy_helper.from_array(np.arange(6, dtype=np.int64).reshape(2, 3), "unused_int"),
                       numpy_helper.from_array(np.zeros((4, 4), np.float32), "unused_float")])
case("unused_init", helper.make_model(g, opset_imports=[helper.make_opsetid("", 11)]),
     [{"x": rng.standard_normal((2, 3)).astype(np.float32)}])

# the same graph at opsets 11..20 (axes move from attributes to inputs at 13 / 18)
for opset in range(11, 21):
    inits = [numpy_helper.from_array(np.array(-0.5, np.float32), "lo"), numpy_helper.from_array(np.array(0.75, np.float32), "hi")]
    nodes = []
    if opset < 13:
        nodes.append(helper.make_node("Unsqueeze", ["x"], ["u"], axes=[0]))
        nodes.append(helper.make_node("ReduceSum", ["u"], ["r"], axes=[2], keepdims=1))
        nodes.append(helper.make_node("Split", ["u"], ["s1", "s2"], axis=2, split=[1, 2]))
    else:
        inits.append(numpy_helper.from_array(np.array([0], np.int64), "ax0"))
        inits.append(numpy_helper.from_array(np.array([2], np.int64), "ax2"))
        inits.append(numpy_helper.from_array(np.array([1, 2], np.int64), "split"))
        nodes.append(helper.make_node("Unsqueeze", ["x", "ax0"], ["u"]))
        nodes.append(helper.make_node("ReduceSum", ["u", "ax2"], ["r"], keepdims=1))
        nodes.append(helper.make_node("Split", ["u", "split"], ["s1", "s2"], axis=2))
    # ReduceMean's axes become an input at opset 18
    if opset < 18:
        nodes.append(helper.make_node("ReduceMean", ["u"], ["rm"], axes=[1], keepdims=1))
    else:
        nodes.append(helper.make_node("ReduceMean", ["u", "ax1m"], ["rm"], keepdims=1))
        inits.append(numpy_helper.from_array(np.array([1], np.int64), "ax1m"))
    nodes += [helper.make_node("Softmax", ["u"], ["sm"], axis=-1),
              helper.make_node("Clip", ["sm", "lo", "hi"], ["c"]),
              helper.make_node("Mul", ["c", "r"], ["m0"]),
              helper.make_node("Sub", ["m0", "rm"], ["m"]),
              helper.make_node("Concat", ["m", "s1", "s2"], ["y"], axis=2)]
    g = helper.make_graph(nodes, f"opset{opset}", [X([2, 3])], [Y([1, 2, 6])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = min(m.ir_version, 9)
    onnx.checker.check_model(m)
    case(f"opset_{opset}", m, [{"x": rng.standard_normal((2, 3)).astype(np.float32)}])

# paddle2onnx writes dynamic dims as dim_value -1 (ppocr_mobile_v2_cls declares x as [-1, 3, ?, ?]):
# a negative declared dim means "unknown", not a size to check against.
g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "negative_dim", [X([-1, 3])], [Y([-1, 3])])
case("negative_dim", helper.make_model(g, opset_imports=[helper.make_opsetid("", 11)]),
     [{"x": rng.standard_normal((2, 3)).astype(np.float32)}])

# unknown op
g = helper.make_graph([helper.make_node("Frobnicate", ["x"], ["y"], domain="com.example")], "unknown", [X([2])], [Y([2])])
save_model("unknown_op", helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.example", 3)]))

with open(os.path.join(OUT, "robust.json"), "w") as f:
    json.dump({"generated_by": "Scripts/real_models/make_robust.py", "onnxruntime": ort.__version__, "cases": cases}, f, indent=1)
    f.write("\n")
