#!/usr/bin/env python3
"""bench-merge.py - merge and diff cost against collection size.

    python3 tools/bench-merge.py [--build BUILD] [--sizes 1000,100000] [--reps 5]

For each size N: a repository whose collection c holds N documents (made
with git fast-import, so the 100,000 case takes seconds), branches ours and
theirs from it, each with 100 documents changed in one commit (different
documents, plus 10 changed on both sides in different members). Then,
side by side in one run: `chronofsctl merge REPO theirs ours` (ours put
back and its index caught up, untimed, before each rep, as a mount keeps
it; theirs indexed once) and `chronofsctl diff REPO ours theirs`, from
the commits' records of changes, and the same diff from the Git trees
alone (CHRONOFS_DIFF=trees: what a diff of commits not indexed yet costs);
median wall time per size and the ratio of the largest size to the
smallest. The goal (issue "Merge, transactions and diffs"): the 100,000
case at most 1.5x the 1,000 case, for both: the cost follows the changed
documents, not the collection. CPU time (user + system of the run and
its children) is printed beside the wall time: on a shared machine it
varies far less. The merge is timed twice per rep: the default way (from
the records of changes where they answer) and from the Git trees alone
(CHRONOFS_MERGE=trees), each on ours put back. Then a second merge
the same way, as sync makes round after round: ours2 (ours with theirs
merged, untimed, then 100 documents of its own changed) merges theirs2
(theirs with 100 more changed): its merge base, theirs, is a second
parent on ours2's side, off its first-parent chain; timed the same two
ways on ours2 put back.
"""

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def fast_import(repo, commands):
    subprocess.run(["git", "--git-dir=" + repo, "fast-import", "--quiet"],
                   input=commands, check=True)


def doc(i, extra=""):
    return ('{"i": %d, "name": "d%d", "age": %d%s}\n' % (i, i, i % 97, extra)).encode()


FANOUT_AT = 2048  # README "Storage layout in Git"


def bucket(name):
    h = 2166136261
    for b in name.encode():
        h = ((h ^ b) * 16777619) & 0xffffffff
    return "%02x" % (h & 0xff)


def git_path(n, i):
    """Where chronofs keeps c/d<i>.json in a collection of N documents:
    flat below the threshold, in its hash bucket above it."""
    name = "d%d.json" % i
    return "c/%s/%s" % (bucket(name), name) if n >= FANOUT_AT else "c/" + name


def make_repo(work, ctl, n):
    repo = os.path.join(work, "r%d.git" % n)
    subprocess.run([ctl, "init", repo], check=True, capture_output=True)
    head = subprocess.run(["git", "--git-dir=" + repo, "rev-parse", "main"],
                          check=True, capture_output=True, text=True).stdout.strip()
    out = [b"commit refs/heads/main\ncommitter b <b@x> 1700000000 +0000\n",
           b"data 4\nbase\nfrom " + head.encode() + b"\n"]
    for i in range(n):
        d = doc(i)
        out.append(b"M 100644 inline %s\ndata %d\n%s\n" % (git_path(n, i).encode(), len(d), d))
    if n >= FANOUT_AT:
        out.append(b"M 100644 inline c/.chronofs-fanout\ndata 7\nfanout\n\n")
    fast_import(repo, b"".join(out))

    def side(branch, first, member, t, frm="refs/heads/main"):
        cmds = [b"commit refs/heads/%s\ncommitter b <b@x> %d +0000\n" % (branch.encode(), t),
                b"data 5\nside\nfrom %s\n" % frm.encode()]
        for i in list(range(first, first + 100)) + list(range(n - 10, n)):
            d = doc(i, ', "%s": 1' % member)
            cmds.append(b"M 100644 inline %s\ndata %d\n%s\n" % (git_path(n, i).encode(), len(d), d))
        return b"".join(cmds)

    fast_import(repo, side("ours", 0, "o", 1700000100))
    fast_import(repo, side("theirs", n // 2, "t", 1700000200))
    # The second merge's sides: theirs merged into ours once, both go on.
    git = ["git", "--git-dir=" + repo]
    subprocess.run(git + ["branch", "ours2", "ours"], check=True)
    subprocess.run([ctl, "merge", repo, "theirs", "ours2"], check=True, capture_output=True)
    subprocess.run(git + ["branch", "theirs2", "theirs"], check=True)
    for b, first, member, t in (("ours2", n // 4, "o2", 1700000300),
                                ("theirs2", 3 * n // 4, "t2", 1700000400)):
        head = subprocess.run(git + ["rev-parse", b], check=True, capture_output=True,
                              text=True).stdout.strip()
        fast_import(repo, side(b, first, member, t, head))
    return repo


def cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed(cmd, env):
    """Wall and CPU seconds of one run of CMD."""
    c0, t0 = cpu(), time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env=env)
    return time.perf_counter() - t0, cpu() - c0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--sizes", default="1000,100000")
    ap.add_argument("--reps", type=int, default=5)
    a = ap.parse_args()
    ctl = os.path.join(a.build, "tools", "chronofsctl")
    sizes = [int(s) for s in a.sizes.split(",")]
    work = tempfile.mkdtemp(prefix="chronofs-bench-merge-")
    env = dict(os.environ)
    res = {}
    try:
        repos = {n: make_repo(work, ctl, n) for n in sizes}
        for n, repo in repos.items():
            git = ["git", "--git-dir=" + repo]
            ours, ours2 = (subprocess.run(git + ["rev-parse", b], check=True,
                                          capture_output=True, text=True).stdout.strip()
                           for b in ("ours", "ours2"))
            merges, tmerges, diffs, tdiffs, merges2, tmerges2 = [], [], [], [], [], []
            # Untimed, once: theirs indexed as a mount keeps every branch,
            # so its commit has its record of changes (index/changes.h).
            for b in ("theirs", "theirs2"):
                subprocess.run([ctl, "log", repo, b, "--at", "2100-01-01"],
                               check=True, capture_output=True)
            trees = dict(env, CHRONOFS_DIFF="trees", CHRONOFS_MERGE="trees")
            # Untimed: the records answer both merges (=records fails
            # where they cannot), or the numbers would be the trees'.
            for into, head, frm in (("ours", ours, "theirs"), ("ours2", ours2, "theirs2")):
                subprocess.run([ctl, "log", repo, into, "--at", "2100-01-01"],
                               check=True, capture_output=True)
                subprocess.run([ctl, "merge", repo, frm, into], check=True, capture_output=True,
                               env=dict(env, CHRONOFS_MERGE="records"))
                subprocess.run(git + ["update-ref", "refs/heads/" + into, head], check=True)
            for _ in range(a.reps):
                for runs, e, into, head, frm in (
                        (merges, env, "ours", ours, "theirs"),
                        (tmerges, trees, "ours", ours, "theirs"),
                        (merges2, env, "ours2", ours2, "theirs2"),
                        (tmerges2, trees, "ours2", ours2, "theirs2")):
                    subprocess.run(git + ["update-ref", "refs/heads/" + into, head],
                                   check=True)
                    # Untimed: the index of ours caught up (as a mount
                    # keeps it), so the merge's own catch-up indexes one
                    # commit.
                    subprocess.run([ctl, "log", repo, into, "--at", "2100-01-01"],
                                   check=True, capture_output=True)
                    runs.append(timed([ctl, "merge", repo, frm, into], e))
                diffs.append(timed([ctl, "diff", repo, ours, "theirs"], env))
                tdiffs.append(timed([ctl, "diff", repo, ours, "theirs"],
                                    trees))
            res[n] = [statistics.median(t[k] for t in runs)
                      for runs in (merges, diffs, tmerges, tdiffs, merges2, tmerges2)
                      for k in (0, 1)]
        print("%-10s %10s %10s %10s %10s %12s %12s %12s %12s" %
              ("documents", "merge (s)", "merge cpu", "diff (s)", "diff cpu",
               "tree merge", "tm cpu", "tree diff", "td cpu"))
        for n in sizes:
            print("%-10d %10.4f %10.4f %10.4f %10.4f %12.4f %12.4f %12.4f %12.4f" %
                  (n, *res[n][:8]))
        print("%-10s %10s %10s %12s %12s" %
              ("documents", "merge2 (s)", "m2 cpu", "tree merge2", "tm2 cpu"))
        for n in sizes:
            print("%-10d %10.4f %10.4f %12.4f %12.4f" % (n, *res[n][8:]))
        lo, hi = sizes[0], sizes[-1]
        r = [res[hi][k] / res[lo][k] for k in range(8)]
        print("ratio %dk/%dk: merge %.2fx (cpu %.2fx), diff %.2fx (cpu %.2fx)"
              " (goal <= 1.5x); from the trees alone (commits without "
              "records): merge %.2fx (cpu %.2fx), diff %.2fx (cpu %.2fx)" %
              (hi // 1000, lo // 1000, *r[:8]))
        r = [res[hi][k] / res[lo][k] for k in range(8, 12)]
        print("second merge the same way: merge %.2fx (cpu %.2fx), from the "
              "trees alone %.2fx (cpu %.2fx)" % tuple(r))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
