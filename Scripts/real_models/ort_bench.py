#!/usr/bin/env python3
"""onnxruntime timing server for `murmur-bench inference` (section `models`).

Reads one JSON job per line on stdin and answers one JSON line on stdout:
  job:    {"model": PATH, "threads": T, "repeats": R,
           "inputs": {NAME: {"dtype": "float32"|"int64"|"int32", "shape": [...], "file": RAW_LE_PATH}}}
  answer: {"best_ms": B, "median_ms": M, "runs": R, "version": V}  or  {"error": "..."}
Sessions are cached per (model, threads) so the bench can interleave its own runs with these.
"""
import json, sys, time

try:
    import numpy as np
    import onnxruntime as ort
except Exception as e:  # the bench prints the reference as missing
    print(json.dumps({"error": f"import failed: {e}"}), flush=True)
    sys.exit(0)

sessions = {}
for line in sys.stdin:
    try:
        job = json.loads(line)
        key = (job["model"], job["threads"])
        if key not in sessions:
            so = ort.SessionOptions()
            so.intra_op_num_threads = job["threads"]
            so.inter_op_num_threads = 1
            sessions[key] = ort.InferenceSession(job["model"], so, providers=["CPUExecutionProvider"])
        s = sessions[key]
        feeds = {k: np.fromfile(v["file"], dtype=v["dtype"]).reshape(v["shape"]) for k, v in job["inputs"].items()}
        s.run(None, feeds)
        t = []
        for _ in range(max(1, job["repeats"])):
            t0 = time.perf_counter(); s.run(None, feeds); t.append((time.perf_counter() - t0) * 1e3)
        t.sort()
        print(json.dumps({"best_ms": t[0], "median_ms": t[len(t) // 2], "runs": len(t), "version": ort.__version__}), flush=True)
    except Exception as e:
        print(json.dumps({"error": str(e)[:200]}), flush=True)
