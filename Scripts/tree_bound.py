#!/usr/bin/env python3
"""Idealised bound for one shared broadcast tree with random one-shot sources (Specs/gossip.md §11).

Model: a random 5-regular overlay of N nodes (the active views), unit hop times, no loss. A record
from source s is pushed on every link while its hop count at the receiver is <= H (the source's
neighbourhood flood, `eagerFloodHops`), on each other link with probability f at hop H + 1
(`eagerFloodExtra`), and along the tree's links after that. Reported per tree and (H, f), mean over
random sources: hop ratio = mean delivery hops / mean shortest-path hops, and payload copies per
node (every push counts, duplicates included). Trees: the breadth-first tree from the most central
node (the best a shared tree can do), the least-latency tree from a random root (what Plumtree's
first broadcast builds), and the minimum spanning tree under random link keys.

usage: Scripts/tree_bound.py [--nodes 1000] [--seeds 1-3] [--sources 150]
Needs networkx (pip install networkx); not used by any test.
"""
import argparse, random
import networkx as nx

def spread(G, tree, s, H, f, rnd):
    dist, frm, copies, frontier = {s: 0}, {s: None}, 0, [s]
    while frontier:
        nxt = []
        for u in frontier:
            h = dist[u]
            if h < H: targets = G[u]
            elif h == H and f > 0: targets = set(tree[u]) | {v for v in G[u] if rnd.random() < f}
            else: targets = tree[u]
            for v in targets:
                if v == frm[u]: continue
                copies += 1
                if v not in dist: dist[v] = h + 1; frm[v] = u; nxt.append(v)
        frontier = nxt
    return dist, copies

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=1000)
    ap.add_argument("--seeds", default="1-3")
    ap.add_argument("--sources", type=int, default=150)
    a = ap.parse_args()
    lo, hi = (int(x) for x in a.seeds.split("-"))
    N = a.nodes
    print("| tree | H | f | hop ratio (per seed) | copies per node |")
    print("|---|---|---|---|---|")
    results = {}
    for seed in range(lo, hi + 1):
        rnd = random.Random(seed)
        G = nx.random_regular_graph(5, N, seed=seed)
        sp = dict(nx.all_pairs_shortest_path_length(G))
        root = min(G.nodes, key=lambda r: sum(sp[r].values()))
        trees = {"breadth-first from the centre": nx.bfs_tree(G, root).to_undirected()}
        W = G.copy()
        for x, y in W.edges: W[x][y]["w"] = rnd.uniform(5, 50)
        pred, _ = nx.dijkstra_predecessor_and_distance(W, rnd.randrange(N), weight="w")
        trees["least latency from a random root"] = nx.Graph([(v, p[0]) for v, p in pred.items() if p])
        for x, y in W.edges: W[x][y]["k"] = rnd.random()
        trees["minimum spanning tree, random keys"] = nx.minimum_spanning_tree(W, weight="k")
        sources = [rnd.randrange(N) for _ in range(a.sources)]
        for name, T in trees.items():
            adj = {u: list(T[u]) for u in T}
            for H, f in ((0, 0), (1, 0), (2, 0), (2, 0.25), (2, 0.5), (3, 0)):
                hr = cp = 0
                for s in sources:
                    d, c = spread(G, adj, s, H, f, rnd)
                    hr += sum(d.values()) / sum(sp[s].values()); cp += c / (N - 1)
                results.setdefault((name, H, f), []).append((hr / len(sources), cp / len(sources)))
    for (name, H, f), rs in results.items():
        print(f"| {name} | {H} | {f} | {' / '.join(f'{r[0]:.2f}' for r in rs)} | {sum(r[1] for r in rs) / len(rs):.3f} |")

main()
