#!/usr/bin/env python3
"""onnxruntime latency for a model + murmur-format input JSON: python3 Scripts/ort_time.py MODEL INPUT THREADS RUNS.
Compare with: .build/release/murmur infer MODEL --input INPUT --threads THREADS --repeat RUNS (same machine, same run)."""
import json, sys, time, numpy as np, onnxruntime as ort
path, inp, threads, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
so = ort.SessionOptions(); so.intra_op_num_threads = threads; so.inter_op_num_threads = 1
s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
d = json.load(open(inp))
feeds = {k: np.array(v["data"], dtype=v["dtype"]).reshape(v["shape"]) for k, v in d.items()}
s.run(None, feeds)
t = []
for _ in range(n):
    t0 = time.perf_counter(); s.run(None, feeds); t.append((time.perf_counter() - t0) * 1e3)
t.sort(); print(f"ort {path.split('/')[-1]}: median {t[len(t)//2]:.3f} ms, best {t[0]:.3f} ms (threads {threads})")
