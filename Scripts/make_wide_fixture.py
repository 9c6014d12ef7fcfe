#!/usr/bin/env python3
"""Tests/Fixtures/models/wide.onnx and wide.input.json: a model whose input (8192 floats, about
90 KB as canonical JSON) and output (8192 floats, 32 KiB) are both over the job record's inline
limits (48 KiB input, 8 KiB output), so a mesh job with it fetches both by hash
(Specs/node-jobs.md §7). y = Relu(x) * 0.5 + 1. Seeded; run from the repository root."""
import json, random
import onnx
from onnx import TensorProto, helper

N = 8192
x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, N])
y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, N])
half = helper.make_tensor("half", TensorProto.FLOAT, [], [0.5])
one = helper.make_tensor("one", TensorProto.FLOAT, [], [1.0])
nodes = [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Mul", ["r", "half"], ["m"]),
         helper.make_node("Add", ["m", "one"], ["y"])]
graph = helper.make_graph(nodes, "wide", [x], [y], initializer=[half, one])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="murmur-fixtures")
model.ir_version = 8
onnx.checker.check_model(model)
onnx.save(model, "Tests/Fixtures/models/wide.onnx")
rng = random.Random(7)
data = [round(rng.uniform(-1, 1), 6) for _ in range(N)]
json.dump({"x": {"shape": [1, N], "data": data}}, open("Tests/Fixtures/models/wide.input.json", "w"))
