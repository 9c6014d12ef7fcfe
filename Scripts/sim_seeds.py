#!/usr/bin/env python3
"""Runs `murmur sim --json` over several seeds and prints one table row of the gossip keys.

usage: Scripts/sim_seeds.py [--seeds 1-10] [--jobs 2] [--label NAME] -- <murmur sim arguments>
Prints per-seed lines on stderr and one summary row (mean, and min/max where it matters).
"""
import json, subprocess, sys, concurrent.futures as cf

def main():
    argv = sys.argv[1:]
    seeds, jobs, label, binary = "1-10", 2, None, ".build/release/murmur"
    if "--" in argv:
        k = argv.index("--"); opts, sim = argv[:k], argv[k + 1:]
    else:
        opts, sim = [], argv
    i = 0
    while i < len(opts):
        if opts[i] == "--seeds": seeds = opts[i + 1]; i += 2
        elif opts[i] == "--jobs": jobs = int(opts[i + 1]); i += 2
        elif opts[i] == "--label": label = opts[i + 1]; i += 2
        elif opts[i] == "--bin": binary = opts[i + 1]; i += 2
        else: sys.exit("unknown option " + opts[i])
    lo, hi = (int(x) for x in seeds.split("-"))
    def run(seed):
        out = subprocess.run([binary, "sim", *sim, "--seed", str(seed), "--json"], capture_output=True, text=True, check=True)
        return seed, json.loads(out.stdout)
    rows = []
    with cf.ThreadPoolExecutor(jobs) as ex:
        for seed, r in ex.map(run, range(lo, hi + 1)):
            rows.append(r)
            print(f"seed {seed}: cov {r['coverage_min']:.4f} ae {r['coverage_min_after_antientropy']:.4f} copies {r['payload_copies_per_node']:.3f} "
                  f"hops {r['hops_mean']:.2f}/{r['spt_hops_mean']:.2f}={r['hops_stretch']:.2f} lat p50 {r['latency_stretch_p50']:.2f} p99 {r['latency_stretch_p99']:.2f} "
                  f"ctl {r['control_msgs_per_node_s']:.1f} comps {r['eager_components']}", file=sys.stderr)
    mean = lambda k: sum(r[k] for r in rows) / len(rows)
    missed = sum(1 for r in rows if r["coverage_min"] < 1)
    print(f"| {label or ' '.join(sim)} | {len(rows)} | {min(r['coverage_min'] for r in rows)*100:.2f} % ({missed} seeds < 100 %) | "
          f"{min(r['coverage_min_after_antientropy'] for r in rows)*100:.2f} % | {mean('payload_copies_per_node'):.3f} "
          f"({min(r['payload_copies_per_node'] for r in rows):.3f}–{max(r['payload_copies_per_node'] for r in rows):.3f}) | "
          f"{mean('hops_mean'):.2f} / {mean('spt_hops_mean'):.2f} | {mean('hops_stretch'):.2f} ({max(r['hops_stretch'] for r in rows):.2f}) | "
          f"{mean('latency_stretch_p50'):.2f} / {mean('latency_stretch_p99'):.2f} | {mean('control_msgs_per_node_s'):.1f} | "
          f"{mean('payload_copies_per_node_second_half'):.3f} / {mean('hops_stretch_second_half'):.2f} / {mean('latency_stretch_p50_second_half'):.2f} |")

main()
