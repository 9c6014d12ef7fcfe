# Verified-job latency on N local nodes (r = 3, q = 2, the mlp fixture), jobs submitted one at a time
# at rotating entry nodes: python3 Scripts/jobs_latency.py .build/release/murmur 8 200
# [concurrent]: also measure throughput. (Ports 17800+ and 17900+; a stand-in for `murmur-bench jobs`, which is not built yet)
import json, subprocess, sys, time, urllib.request, os, signal, tempfile, shutil
B = sys.argv[1]; N = int(sys.argv[2]); J = int(sys.argv[3])
M = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fixtures", "models")
root = tempfile.mkdtemp(prefix="murmur-lat-")
procs = []
try:
    for i in range(N):
        args = [B, "node", "--listen", f"127.0.0.1:{17800+i}", "--control", f"127.0.0.1:{17900+i}", "--data", f"{root}/n{i}",
                "--gossip-fast", "--slots", "2", "--serve", "all", "--parent-pid", str(os.getpid())]
        if i: args += ["--join", "127.0.0.1:17800"]
        procs.append(subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    time.sleep(3)
    def req(i, method, path, body=None, t=30):
        r = urllib.request.Request(f"http://127.0.0.1:{17900+i}{path}", method=method, data=json.dumps(body).encode() if body is not None else None)
        try:
            with urllib.request.urlopen(r, timeout=t) as f: return json.load(f)
        except urllib.error.HTTPError as e: return json.load(e)
    print(req(0, "POST", "/v1/models", {"path": M + "/mlp.onnx"}))
    for _ in range(100):
        if all(any(m["held"] for m in req(i, "GET", "/v1/models")["models"]) for i in range(N)): break
        time.sleep(0.1)
    time.sleep(1)
    inp = json.load(open(M + "/mlp.input.json"))
    lat = []; ok = 0
    t0 = time.time()
    for k in range(J):
        i = k % N
        s = time.time()
        a = req(i, "POST", "/v1/jobs", {"model": "mlp", "input": inp, "redundancy": 3, "quorum": 2})
        v = req(i, "GET", f"/v1/jobs/{a['job_id']}?wait=20")
        lat.append((time.time() - s) * 1000)
        ok += v["state"] == "verified"
    wall = time.time() - t0
    if len(sys.argv) > 4 and sys.argv[4] == "concurrent":
        # Throughput: submit all jobs first (round robin), then collect every outcome.
        t1 = time.time()
        ids = [(k % N, req(k % N, "POST", "/v1/jobs", {"model": "mlp", "input": inp, "redundancy": 3, "quorum": 2})["job_id"]) for k in range(J)]
        submitted = time.time() - t1
        done = sum(req(i, "GET", f"/v1/jobs/{j}?wait=30")["state"] == "verified" for i, j in ids)
        total = time.time() - t1
        print(f"concurrent: {J} jobs submitted in {submitted:.2f} s, {done} verified, all outcomes after {total:.2f} s = {done/total:.0f} verified jobs/s")
    lat.sort()
    print(f"nodes={N} jobs={J} verified={ok} p50={lat[len(lat)//2]:.1f}ms p99={lat[int(len(lat)*0.99)-1]:.1f}ms max={lat[-1]:.1f}ms sequential_jobs_per_s={J/wall:.1f}")
finally:
    for p in procs: p.terminate()
    for p in procs: p.wait(5)
    shutil.rmtree(root, ignore_errors=True)
