#!/usr/bin/env python3
"""bench-lookups.py - does looking things up slow the saves that follow?

    python3 tools/bench-lookups.py [--build BUILD] [--specs 1000] [--saves 300] [--reps 5]

Two mounts of two copies of one repository (a 1,000-document collection,
fsync=off). Through one of them a reader first lists SPECS distinct
`@by/SPEC/` views of the collection (fields no document has, and
fields some have: what a curious or hostile reader can do); the other is
left alone. Then, side by side, alternating rep by rep, SAVES saves of
random documents through each. Prints the median time per save of both
and their ratio. The goal (issue "Hardened", item 6): with 1,000 distinct
lookups made, the save cost within 1.5x of none; before the rule that a
spec becomes a persistent index only after repeated use (README "When an
index is persistent"), every lookup left an index each later save kept.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def mount(daemon, repo, mnt, logf):
    os.makedirs(mnt, exist_ok=True)
    p = subprocess.Popen([daemon, repo, mnt, "-f", "-o", "fsync=off"],
                         stdout=logf, stderr=logf)
    deadline = time.time() + 60
    while not os.path.ismount(mnt):
        if p.poll() is not None or time.time() > deadline:
            raise SystemExit("mount of %s failed" % repo)
        time.sleep(0.02)
    return p


def unmount(p, mnt):
    for _ in range(50):
        if subprocess.run(["fusermount3", "-u", mnt]).returncode == 0:
            break
        time.sleep(0.2)
    p.wait(timeout=120)


def saves(coll, n, ndocs, seq):
    t = time.perf_counter()
    for i in range(n):
        seq[0] += 1
        k = (seq[0] * 7919) % ndocs
        with open(os.path.join(coll, "d%d.json" % k), "w") as f:
            f.write(json.dumps({"i": k, "age": k % 97, "n": seq[0]}))
    return (time.perf_counter() - t) / n


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--specs", type=int, default=1000)
    ap.add_argument("--saves", type=int, default=300)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--docs", type=int, default=1000)
    a = ap.parse_args()
    ctl = os.path.join(a.build, "tools", "chronofsctl")
    daemon = os.path.join(a.build, "fs", "chronofs")
    work = tempfile.mkdtemp(prefix="chronofs-bench-lookups-")
    procs = []
    try:
        src = os.path.join(work, "src", "c")
        os.makedirs(src)
        for k in range(a.docs):
            with open(os.path.join(src, "d%d.json" % k), "w") as f:
                json.dump({"i": k, "age": k % 97, "name": "n%d" % k}, f)
        repos = [os.path.join(work, r) for r in ("none.git", "looked.git")]
        for r in repos:
            subprocess.run([ctl, "init", r], check=True, capture_output=True)
            subprocess.run([ctl, "import", r, "main", os.path.dirname(src)],
                           check=True, capture_output=True)
        mnts = [os.path.join(work, m) for m in ("mnt-none", "mnt-looked")]
        logf = open(os.path.join(work, "daemon.log"), "ab")
        for r, m in zip(repos, mnts):
            procs.append((mount(daemon, r, m, logf), m))
        colls = [os.path.join(m, "main", "c") for m in mnts]
        t = time.perf_counter()
        fields = ["age", "i", "name"]
        for s in range(a.specs):
            spec = ("f%d" % s if s % 4 else
                    "%s,f%d" % (fields[s % 3], s))
            os.listdir(os.path.join(colls[1], "@by", spec))
        look_s = time.perf_counter() - t
        seq = [0]
        saves(colls[0], 20, a.docs, seq), saves(colls[1], 20, a.docs, seq)
        per = {0: [], 1: []}
        for rep in range(a.reps):
            order = (0, 1) if rep % 2 == 0 else (1, 0)
            for i in order:
                per[i].append(saves(colls[i], a.saves, a.docs, seq))
        lr = subprocess.run([ctl, "index", "list", repos[1]],
                            capture_output=True, text=True)
        if lr.returncode:
            raise SystemExit("chronofsctl index list: " + lr.stderr.strip())
        listed = lr.stdout
        none, looked = (statistics.median(per[0]), statistics.median(per[1]))
        print("%d distinct @by lookups in %.1f s; then %d saves x %d reps "
              "each, alternating" % (a.specs, look_s, a.saves, a.reps))
        print("ms per save: no lookups %s; after the lookups %s" % (
            " ".join("%.2f" % (x * 1e3) for x in per[0]),
            " ".join("%.2f" % (x * 1e3) for x in per[1])))
        print("median: no lookups %.2f ms, after %d lookups %.2f ms: %.2fx "
              "(goal <= 1.5x)" % (none * 1e3, a.specs, looked * 1e3,
                                   looked / none))
        print("persistent indexes after the lookups (chronofsctl index "
              "list): %d" % len([x for x in listed.splitlines() if x.strip()]))
    finally:
        for p, m in procs:
            unmount(p, m)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
