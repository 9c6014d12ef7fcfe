#!/usr/bin/env python3
"""Numbers of Specs/jobs.md, "Why unanimity-or-escalate": the dispute round's lead rule.

Fresh deciders in rank order are colluders with probability f each (independently: ranks are
hash positions). The colluders' output minus the honest one is a walk with steps +1 (prob. f) and
-1 (prob. 1 - f); a side wins when it leads by m; at most `cap` fresh deciders are asked.
Prints, per r: P(colluders win a dispute), P(undecided at the cap), the expected fresh
executions, the total chance a wrong answer is accepted, and the old strict-majority rule's
P(Bin(4r+1, f) >= 2r+1) for comparison.
"""
from math import comb


def walk(f, m, cap):
    dist = {0: 1.0}
    colluders = honest = steps = 0.0
    for _ in range(cap):
        nxt = {}
        for d, p in dist.items():
            steps += p
            for dd, pp in ((d + 1, f), (d - 1, 1 - f)):
                if dd >= m:
                    colluders += p * pp
                elif dd <= -m:
                    honest += p * pp
                else:
                    nxt[dd] = nxt.get(dd, 0.0) + p * pp
        dist = nxt
    return colluders, honest, steps, sum(dist.values())


def majority(f, t, e):
    return sum(comb(e, k) * f**k * (1 - f)**(e - k) for k in range(t, e + 1))


if __name__ == "__main__":
    for f in (0.1, 0.2):
        print(f"f = {f}")
        print("| r | f^r | m | cap | P(colluders win dispute) | f^r / P | undecided | E[fresh runs] | total wrong | old rule |")
        for r in (1, 2, 3, 5):
            for m in (r + 1, r + 2):
                cap = 8 * r + 1
                pc, _, steps, und = walk(f, m, cap)
                disputes = 1 - f**r - (1 - f)**r
                print(f"| {r} | {f**r:.3g} | {m} | {cap} | {pc:.2g} | {f**r / pc:.0f} | {und:.1g} | {steps:.2f} "
                      f"| {f**r + disputes * pc:.4g} | {majority(f, 2 * r + 1, 4 * r + 1):.2g} |")
