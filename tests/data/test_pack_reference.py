"""`bert data pack --histogram` against a re-statement of the reference's planners in numpy
(test-time only; scipy is not available, so Lawson-Hanson NNLS is written out here too):

* NNLSHP as data/packing/pack_pretraining_data.py get_packing_recipe: recursive strategy
  enumeration, weighted NNLS (lengths 1..8 weighted sqrt(8 / 2L)), rint, leftovers to [l, L-l],
  placeholders for over-used lengths; on small histograms the strategies, repeat counts, padding
  and the printed statistics must match exactly; a hand-checked case must give the exact packing.
* SPFHP and LPFHP as the Packed BERT paper's spfhp.py / lpfhp.py on the paper's Wikipedia
  histogram: the same strategies with the same counts.
"""
import collections
import json
import os
import re
import subprocess
import sys
import tempfile
from functools import lru_cache

import numpy as np

BIN = os.environ["BERT_BIN"]


# ---------------------------------------------------------------- NNLSHP (reference)

@lru_cache(maxsize=None)
def strategies(start, minimum, target, depth):
    gap = target - start
    out = []
    if depth == 1:
        if gap >= minimum:
            out.append((gap,))
    else:
        for new in range(minimum, gap + 1):
            if target - start - new == 0:
                out.append((new,))
            else:
                for option in strategies(start + new, new, target, depth - 1):
                    out.append((new,) + option)
    return out


def nnls(A, b):
    """Lawson-Hanson with the Fortran original's entry test (the column must be independent of
    the passive set and get a positive coefficient) and src/data/nnls.c's tolerance on the dual
    and tie rule (values within 1e-9 relative of the largest go to the lowest index)."""
    m, n = A.shape
    tol = 10.0 * (m + 1) * np.finfo(float).eps * np.linalg.norm(A, axis=0).max() * np.linalg.norm(b)
    x, P = np.zeros(n), []
    while True:
        w = A.T @ (b - A @ x)
        w[P] = 0
        while True:
            t = int(np.argmax(w))
            if w[t] <= tol:
                return x
            t = int(np.nonzero(w >= w[t] - 1e-9 * w[t])[0][0])
            a = A[:, t]
            if P:
                proj = A[:, P] @ np.linalg.lstsq(A[:, P], a, rcond=None)[0]
                independent = np.linalg.norm(a - proj) > 1e-9 * np.linalg.norm(a)
            else:
                independent = np.linalg.norm(a) > 0
            if independent and len(P) < m and np.linalg.lstsq(A[:, P + [t]], b, rcond=None)[0][-1] > 0:
                P.append(t)
                break
            w[t] = 0
        while True:
            z = np.linalg.lstsq(A[:, P], b, rcond=None)[0]
            if (z > 0).all():
                x[:] = 0
                x[P] = z
                break
            xp = x[P]
            cand = [i for i in range(len(P)) if z[i] <= 0]
            ratios = [xp[i] / (xp[i] - z[i]) if xp[i] - z[i] > 0 else 0.0 for i in cand]
            hit = cand[int(np.argmin(ratios))]
            x[P] = xp + min(ratios) * (z - xp)
            x[P[hit]] = 0
            P = [p for p in P if x[p] > 0]


def nnlshp(histogram, L, S):
    strategy_set = strategies(0, 1, L, S)
    A = np.zeros((L, len(strategy_set)))
    for i, s in enumerate(strategy_set):
        for length in s:
            A[length - 1, i] += 1
    w0 = np.ones(L)
    w0[:8] = 8 / (2 * L)
    w0 = np.sqrt(w0)
    mixture = np.rint(nnls(w0[:, None] * A, w0 * histogram))
    residual = histogram - A @ mixture
    for length in np.arange(1, L + 1)[residual > 0]:
        mixture[strategy_set.index(tuple(sorted([length, L - length])))] += residual[length - 1]
    residual = histogram - A @ mixture
    padding = np.where(residual < 0, -residual, 0)
    used = {strategy_set[i]: int(mixture[i]) for i in np.nonzero(mixture)[0]}
    packs = int(mixture.sum())
    efficiency = 1 - (np.arange(1, L + 1) * padding).sum() / (packs * L)
    return used, padding.astype(int).tolist(), packs, efficiency, len(strategy_set)


# ---------------------------------------------------------------- SPFHP / LPFHP (paper)

def add_pack(pack, count, tmp, final, limit, offset):
    (final if len(pack) == limit or offset == 0 else tmp)[offset].append((count, pack))


def spfhp(histogram, L, S):
    tmp, final = collections.defaultdict(list), collections.defaultdict(list)
    for i in range(L):
        n, length, offset = int(histogram[L - 1 - i]), L - i, i + 1
        while n > 0:
            if tmp.get(length + offset):
                count0, pack = tmp[length + offset].pop()
                count = min(count0, n)
                if count0 > n:
                    tmp[length + offset].append((count0 - n, pack))
                    n = 0
                else:
                    n -= count0
                add_pack(pack + [length], count, tmp, final, S, offset)
            else:
                offset -= 1
            if offset < 0:
                add_pack([length], n, tmp, final, S, i)
                n = 0
    return collect(tmp, final)


def lpfhp(histogram, L, S):
    tmp, final = collections.defaultdict(list), collections.defaultdict(list)
    for i in range(L):
        n, length, offset = int(histogram[L - 1 - i]), L - i, 0
        while n > 0:
            if tmp.get(length + offset):
                count0, pack = tmp[length + offset].pop()
                repeat = min(1 + offset // length, S - len(pack))
                while n // repeat == 0:
                    repeat -= 1
                count = min(count0, n // repeat)
                if count0 > count:
                    tmp[length + offset].append((count0 - count, pack))
                    n -= count * repeat
                else:
                    n -= count0 * repeat
                add_pack(pack + [length] * repeat, count, tmp, final, S, offset - (repeat - 1) * length)
                offset = 0
            else:
                offset += 1
            if offset >= L - length + 1:
                repeat = min(L // length, S)
                while n // repeat == 0:
                    repeat -= 1
                add_pack([length] * repeat, n // repeat, tmp, final, S, L - length * repeat)
                n -= n // repeat * repeat
    return collect(tmp, final)


def collect(tmp, final):
    used = collections.Counter()
    for table in (final, tmp):
        for entries in table.values():
            for count, pack in entries:
                used[tuple(sorted(pack))] += count
    return used


# ---------------------------------------------------------------- bert data pack --histogram

def run_plan(tmp, counts, algorithm, S, name):
    hist = os.path.join(tmp, name + ".json")
    plan = os.path.join(tmp, name + ".plan.json")
    with open(hist, "w") as f:
        json.dump({"counts": [int(c) for c in counts]}, f)
    out = subprocess.run([BIN, "data", "pack", "--histogram", hist, "--algorithm", algorithm,
                          "--max-sequences-per-pack", str(S), "--plan-output", plan],
                         capture_output=True, text=True)
    if out.returncode:
        sys.exit("bert data pack failed: " + out.stderr)
    with open(plan) as f:
        return json.load(f), out.stdout


def plan_counter(plan):
    used = collections.Counter()
    for s, r in zip(plan["strategies"], plan["repeat"]):
        used[tuple(s)] += r
    return used


def fail(msg):
    sys.exit("FAIL: " + msg)


def check_nnlshp(tmp, counts, S, name):
    L = len(counts)
    used, padding, packs, efficiency, enumerated = nnlshp(np.array(counts, dtype=float), L, S)
    plan, stdout = run_plan(tmp, counts, "nnlshp", S, name)
    if plan["enumerated"] != enumerated:
        fail("%s: %d strategies enumerated, the reference %d" % (name, plan["enumerated"], enumerated))
    if dict(plan_counter(plan)) != used:
        fail("%s: strategy counts differ:\n C  %s\n py %s" % (name, sorted(plan_counter(plan).items()),
                                                           sorted(used.items())))
    if plan["padding"] != padding or plan["packs"] != packs:
        fail("%s: padding or packs differ" % name)
    printed = re.search(r"Packing efficiency \(fraction of real tokens\): ([0-9.]+)", stdout).group(1)
    if printed != "%3.4f" % efficiency:
        fail("%s: printed efficiency %s, reference %3.4f" % (name, printed, efficiency))
    line = "New number of samples: %d, original %d." % (packs, sum(counts))
    if line not in stdout or ("Number of strategies utilized: %d" % len(used)) not in stdout:
        fail("%s: statistics lines differ:\n%s" % (name, stdout))
    print("%s: %d strategies used, %d packs, efficiency %.4f — identical" % (name, len(used), packs, efficiency))


def main():
    tmp = tempfile.mkdtemp(prefix="bertc-pack-ref-")
    # Hand-checked: lengths 3 and 5 pair up exactly, 8 stands alone: 4 + 5 packs, no padding.
    hand = [0, 0, 4, 0, 4, 0, 0, 5]
    plan, stdout = run_plan(tmp, hand, "nnlshp", 3, "hand")
    if dict(plan_counter(plan)) != {(3, 5): 4, (8,): 5} or plan["packs"] != 9 or sum(plan["padding"]):
        fail("hand case: %s" % plan_counter(plan))
    if "Packing efficiency (fraction of real tokens): 1.0000" not in stdout:
        fail("hand case efficiency")
    rng = np.random.default_rng(5)
    # A BERT-like shape: many full-length sequences, a broad hump of shorter ones.
    for L, S in ((32, 3), (48, 2), (64, 3)):
        lengths = np.concatenate([np.full(300, L), rng.integers(4, L, 500), rng.normal(0.6 * L, L / 6, 400)])
        lengths = np.clip(np.rint(lengths), 1, L).astype(int)
        counts = np.bincount(lengths, minlength=L + 1)[1:]
        check_nnlshp(tmp, counts.tolist(), S, "nnlshp L=%d S=%d" % (L, S))
    with open("tests/data/packing/wikipedia_512_histogram.json") as f:
        wiki = json.load(f)["counts"]
    for algorithm, fn in (("spfhp", spfhp), ("lpfhp", lpfhp)):
        for S in (3, 12, 16):
            plan, _ = run_plan(tmp, wiki, algorithm, S, "%s_%d" % (algorithm, S))
            ref = fn(np.array(wiki), 512, S)
            if plan_counter(plan) != ref:
                fail("%s S=%d: strategies differ from the paper's algorithm" % (algorithm, S))
            print("%s S=%d on Wikipedia-512: %d packs, efficiency %.6f — identical strategies" %
                  (algorithm, S, plan["packs"], plan["efficiency"]))
    print("OK")


main()
