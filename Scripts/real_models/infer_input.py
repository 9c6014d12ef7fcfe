#!/usr/bin/env python3
"""Write the input JSON `murmur infer` reads for one fixture case (Tests/Fixtures/real/cases.json).

Usage: infer_input.py CASE [CALL] > input.json
       murmur infer ~/.cache/murmur/real-models/models/CASE.onnx --input input.json --json
Applies the same uint8 -> float32 conversion as the tests. Only the first call carries the
initial recurrent state; later calls need the previous call's state outputs.
"""
import json, os, sys
import numpy as np
from onnx import numpy_helper, TensorProto

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIX = os.path.join(ROOT, "Tests", "Fixtures", "real")
name, call = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 0
case = next(c for c in json.load(open(os.path.join(FIX, "cases.json")))["cases"] if c["name"] == name)
out = {}
for k, spec in case["calls"][call]["inputs"].items():
    t = TensorProto()
    t.ParseFromString(open(os.path.join(FIX, spec["file"]), "rb").read())
    a = numpy_helper.to_array(t)
    if "scale" in spec:
        s = np.asarray(spec["scale"], np.float32).reshape(1, -1, 1, 1)
        o = np.asarray(spec["offset"], np.float32).reshape(1, -1, 1, 1)
        a = (a.astype(np.float32) * s).astype(np.float32) + o
    dtype = {np.dtype(np.float32): "float32", np.dtype(np.int64): "int64", np.dtype(np.int32): "int32"}[a.dtype]
    data = [float(x) for x in a.ravel()] if dtype == "float32" else [int(x) for x in a.ravel()]
    out[k] = {"shape": list(a.shape), "dtype": dtype, "data": data}
json.dump(out, sys.stdout)
