"""Fault-injection sweeps over `bert` commands (docs/reliability.md#fault-injection).

A sweep runs a command once under BERT_FAULT=count to learn how many writes, fsyncs, renames,
closes and allocations it makes, then once per chosen k with the k-th call of one class failing
(tests/fault/fault_shim.c, preloaded). Before each run the output folder is reset to a previous
good output; afterwards each run must have either
  - exited 0 with exactly the output of a fault-free run, or
  - exited non-zero (no signal, no hang) with an error naming the file and the failed operation
    ("out of memory" for allocations), every output file being either its previous version or its
    new complete version, files that belong together (a TFRecord and its index, a checkpoint
    folder) all of one version, nothing else left behind, and nothing of the previous output lost.
"""
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time

BERT = os.environ.get("BERT_BIN", "build/bert")
BUILD = os.environ.get("BERT_BUILD", os.path.dirname(BERT))
SHIM = os.path.join(BUILD, "tests", "libbert_fault.so")
OPS = ("write", "fsync", "rename", "close", "alloc")
# every k up to FIRST, then SPREAD more evenly up to the count; BERT_FAULT_ALL=1: every k
FIRST, SPREAD = 20, 12
TIMEOUT = int(os.environ.get("BERT_FAULT_TIMEOUT", "120"))
OP_WORDS = {"write": r"writ|flush|No space", "fsync": r"fsync|sync|writ", "rename": r"renam",
            "close": r"clos|writ"}


def require_shim():
    if os.environ.get("BERT_SANITIZED") == "1":
        print("fault injection: not run under the sanitizers (the preloaded allocator would bypass"
              " AddressSanitizer's); `make check` runs it in the plain build")
        sys.exit(0)
    if not os.path.exists(SHIM):
        print(f"FAIL: {SHIM} missing (configure with -DBERT_FAULT_INJECTION=ON)")
        sys.exit(1)


def snapshot(root, normalize=None):
    """relative path -> sha256 of every file under root (of normalize(rel, data) when given)."""
    out = {}
    for d, _, files in os.walk(root):
        for f in files:
            p = os.path.join(d, f)
            rel = os.path.relpath(p, root)
            with open(p, "rb") as fh:
                data = fh.read()
            out[rel] = hashlib.sha256(normalize(rel, data) if normalize else data).hexdigest()
    return out


def run(cmd, fault, report, cwd=None):
    env = dict(os.environ, LD_PRELOAD=SHIM, BERT_FAULT=fault, BERT_FAULT_REPORT=report)
    if os.path.exists(report):
        os.unlink(report)
    try:
        p = subprocess.run(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           timeout=TIMEOUT)
        rc, err = p.returncode, p.stderr.decode(errors="replace")
    except subprocess.TimeoutExpired:
        rc, err = "hang", ""
    counts, injected = {}, ""
    if os.path.exists(report):
        for line in open(report):
            key, _, value = line.strip().partition(" ")
            if key == "injected":
                injected = value
            else:
                counts[key] = int(value)
    return rc, err, counts, injected


def ks(count):
    if os.environ.get("BERT_FAULT_ALL") == "1" or count <= FIRST + SPREAD:
        return list(range(1, count + 1))
    rest = count - FIRST
    return list(range(1, FIRST + 1)) + sorted({FIRST + (rest * i + SPREAD - 1) // SPREAD for i in range(1, SPREAD + 1)})


def file_of(injected):
    """The output file an injected fault hit (temporary suffixes removed), or ''."""
    parts = injected.split(" ", 3)
    path = parts[3] if len(parts) > 3 else ""
    return re.sub(r"\.tmp\.[0-9]+\.[A-Za-z0-9]{6}$", "", os.path.basename(path))


class Sweep:
    def __init__(self, name, cmd, out_dir, group=lambda rel: rel, previous=None, check_success=None, resume=False,
                 normalize=None):
        """cmd writes into out_dir; group(rel) names the set of files rel belongs with; previous
        (a command) writes the previous output into out_dir, copied back before each run;
        check_success(out_dir) -> error or None checks a successful run's output with a reader;
        resume: a resumable command, which may keep what a failed run completed (files of stages
        done) — instead of the previous-or-new rule, a fault-free rerun over what the failed run
        left must give exactly the fault-free output; normalize(rel, data) -> data drops what
        legitimately differs between runs (a timing) before outputs are compared."""
        self.name, self.cmd, self.out, self.group = name, cmd, out_dir, group
        self.previous, self.check_success, self.resume = previous, check_success, resume
        self.normalize = normalize
        self.saved = out_dir.rstrip("/") + ".previous"
        self.failures, self.stats = [], {}

    def reset(self):
        shutil.rmtree(self.out, ignore_errors=True)
        if os.path.isdir(self.saved):
            shutil.copytree(self.saved, self.out)

    def baseline(self, report):
        shutil.rmtree(self.out, ignore_errors=True)
        if self.previous:
            os.makedirs(self.out)
            subprocess.run(self.previous, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            shutil.copytree(self.out, self.saved)
        self.prev = snapshot(self.out, self.normalize) if os.path.isdir(self.out) else {}
        rc, err, counts, _ = run(self.cmd, "count", report)
        if rc != 0:
            sys.exit(f"FAIL {self.name}: fault-free run exited {rc}: {err[-2000:]}")
        self.good = snapshot(self.out, self.normalize)
        return counts

    def judge(self, op, k, rc, err, injected):
        what = f"{self.name} {op}:{k} ({injected or 'nothing injected'})"
        if rc == "hang":
            return f"{what}: no exit within {TIMEOUT} s"
        if rc < 0:
            return f"{what}: killed by signal {-rc}: {err[-800:]}"
        after = snapshot(self.out, self.normalize) if os.path.isdir(self.out) else {}
        if rc == 0:
            if after != self.good:
                return f"{what}: exit 0 but the output differs from a fault-free run: {diff(after, self.good)}"
            return self.check_success(self.out) if self.check_success else None
        return self.judge_failure(what, op, err, injected, after)

    def judge_failure(self, what, op, err, injected, after):
        msg = err.strip().splitlines()[-1] if err.strip() else ""
        if not msg:
            return f"{what}: exit non-zero without a message"
        if op == "alloc":
            if not re.search(r"memory|allocat", msg):
                return f"{what}: the error does not say memory ran out: {msg}"
        else:
            name = file_of(injected)
            if name and name not in err:
                return f"{what}: the error does not name {name}: {msg}"
            if not re.search(OP_WORDS[op], err):
                return f"{what}: the error does not name the failed operation: {msg}"
        if self.resume:
            return None  # judged by the rerun (judge_resume)
        versions = {}
        for rel in set(after) | set(self.prev) | set(self.good):
            v = version(rel, after, self.prev, self.good)
            if v == "other":
                return f"{what}: {rel} is neither its previous nor its new complete version (or a leftover)"
            if v == "lost":
                return f"{what}: {rel} of the previous output is gone"
            if v != "either":
                versions.setdefault(self.group(rel), set()).add(v)
        mixed = [g for g, vs in versions.items() if len(vs - {"missing"}) > 1 or ("missing" in vs and len(vs) > 1)]
        if mixed:
            return f"{what}: files that belong together are of different versions: {mixed}"
        return None

    def judge_resume(self, op, k, report):
        rc, err, _, _ = run(self.cmd, "count", report)
        after = snapshot(self.out, self.normalize) if os.path.isdir(self.out) else {}
        if rc != 0:
            return f"{self.name} {op}:{k}: the rerun after the failure exited {rc}: {err[-800:]}"
        if after != self.good:
            return f"{self.name} {op}:{k}: the rerun after the failure differs from a fault-free run: {diff(after, self.good)}"
        return None

    def sweep(self, tmp):
        report = os.path.join(tmp, f"{self.name}.report")
        start = time.time()
        counts = self.baseline(report)
        runs = 0
        for op in OPS:
            chosen = ks(counts.get(op, 0))
            self.stats[op] = (counts.get(op, 0), len(chosen))
            for k in chosen:
                self.reset()
                rc, err, _, injected = run(self.cmd, f"{op}:{k}", report)
                runs += 1
                problem = self.judge(op, k, rc, err, injected)
                if not problem and rc != 0 and self.resume:
                    problem = self.judge_resume(op, k, report)
                if problem:
                    self.failures.append(problem)
        summary = ", ".join(f"{op} {n} calls/{r} runs" for op, (n, r) in self.stats.items())
        print(f"{self.name}: {runs} runs in {time.time() - start:.1f} s ({summary}); {len(self.failures)} failed")
        for f in self.failures[:40]:
            print("  FAIL", f)
        return self.failures


def version(rel, after, prev, good):
    now, p, g = after.get(rel), prev.get(rel), good.get(rel)
    if now is None:
        return "lost" if p is not None else "missing"
    if now == p and now == g:
        return "either"
    if now == p:
        return "prev"
    if now == g:
        return "good"
    return "other"


def diff(a, b):
    keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    return ", ".join(keys[:6])


def finish(failures):
    if failures:
        print(f"FAIL: {len(failures)} fault-injection run(s) broke the rules")
        sys.exit(1)
    print("ok")
