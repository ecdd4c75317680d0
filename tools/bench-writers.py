#!/usr/bin/env python3
"""bench-writers.py - saves per second with fsync=on, one writer against four.

    python3 tools/bench-writers.py [--secs 8] BUILD [BUILD...]

For each BUILD (side by side in one run), mounts a fresh repository with
fsync=on and runs, for SECS seconds each, 1 and then 4 writer processes,
each saving its own document of one branch in a loop (open, truncate,
write, close: one durable commit each). Prints saves per second and the
ratio 4/1. The goal (issue "Scale and durability", group commit): 4
writers at least 2.5x one writer, every save still its own commit.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

WRITER = r"""
import os, sys, time
path, until = sys.argv[1], float(sys.argv[2])
n = 0
while time.time() < until:
    with open(path, "w") as f:
        f.write('{"n": %d}\n' % n)
    n += 1
print(n)
"""


def run(build, secs):
    work = tempfile.mkdtemp(prefix="chronofs-writers-")
    repo, mnt = os.path.join(work, "r.git"), os.path.join(work, "mnt")
    os.mkdir(mnt)
    subprocess.run([os.path.join(build, "tools", "chronofsctl"), "init", repo],
                   check=True, capture_output=True)
    d = subprocess.Popen([os.path.join(build, "fs", "chronofs"), repo, mnt, "-f",
                          "-o", "fsync=on"], stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            if os.path.ismount(mnt):
                break
            time.sleep(0.05)
        os.mkdir(os.path.join(mnt, "main", "w"))
        out = {}
        for n in (1, 4):
            until = time.time() + secs
            ps = [subprocess.Popen([sys.executable, "-c", WRITER,
                                    os.path.join(mnt, "main", "w", "d%d.json" % k), str(until)],
                                   stdout=subprocess.PIPE, text=True) for k in range(n)]
            out[n] = sum(int(p.communicate()[0]) for p in ps) / secs
        commits = int(subprocess.run(["git", "--git-dir=" + repo, "rev-list", "--count", "main"],
                                     capture_output=True, text=True).stdout)
        return out, commits
    finally:
        subprocess.run(["fusermount3", "-u", mnt])
        d.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("builds", nargs="+")
    ap.add_argument("--secs", type=float, default=8)
    a = ap.parse_args()
    print("%-28s %10s %10s %7s %8s" % ("build", "1 writer", "4 writers", "ratio", "commits"))
    for b in a.builds:
        out, commits = run(b, a.secs)
        print("%-28s %8.0f/s %8.0f/s %6.2fx %8d" % (b[-28:], out[1], out[4], out[4] / out[1], commits))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
