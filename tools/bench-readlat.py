#!/usr/bin/env python3
"""bench-readlat.py - how long a reader waits while another document is saved.

    python3 tools/bench-readlat.py [--reads N] [--fsync on|off] BUILD [BUILD...]

For each BUILD (a meson build directory; give two to compare builds side by
side in one run), mounts a fresh repository with `-o fsync=...` and measures
open()+read()+close() of one document, N times, first with nothing else
running, then while a writer process saves another document of the same
branch in a loop (open, truncate, write, close: one commit each). Prints a
table of p50/p99/max in milliseconds and the writer's saves per second.

The goal (issue "One core"): with fsync=on, the p99 under the writer stays
under 1 ms: reads of other documents must not wait behind a save's fsyncs.
Reproduce: bash tools/build.sh build && python3 tools/bench-readlat.py build
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
path, stop = sys.argv[1], sys.argv[2]
n = 0
t0 = time.monotonic()
while not os.path.exists(stop):
    with open(path, "w") as f:
        f.write('{"n": %d}\n' % n)
    n += 1
print(n / (time.monotonic() - t0))
"""


def percentile(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def wait_mounted(mnt, proc, timeout=20):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise SystemExit("chronofs exited: %s" % proc.stderr.read())
        if os.path.ismount(mnt):
            return
        time.sleep(0.05)
    raise SystemExit("not mounted after %ds" % timeout)


def reads(path, n):
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fd = os.open(path, os.O_RDONLY)
        os.read(fd, 65536)
        os.close(fd)
        out.append((time.perf_counter() - t0) * 1000.0)
    return out


def measure(build, n, fsync):
    work = tempfile.mkdtemp(prefix="chronofs-readlat-")
    repo, mnt = os.path.join(work, "repo.git"), os.path.join(work, "mnt")
    os.mkdir(mnt)
    ctl = os.path.join(build, "tools", "chronofsctl")
    daemon = os.path.join(build, "fs", "chronofs")
    subprocess.run([ctl, "init", repo], check=True, capture_output=True)
    proc = subprocess.Popen([daemon, repo, mnt, "-f", "-o", "fsync=" + fsync],
                            stderr=subprocess.PIPE, text=True)
    writer = None
    try:
        wait_mounted(mnt, proc)
        main = os.path.join(mnt, "main")
        os.mkdir(os.path.join(main, "c"))
        for name in ("r", "w"):
            with open(os.path.join(main, "c", name + ".json"), "w") as f:
                f.write('{"doc": "%s"}\n' % name)
        target = os.path.join(main, "c", "r.json")
        reads(target, 200)  # warm
        idle = reads(target, n)
        stop = os.path.join(work, "stop")
        writer = subprocess.Popen([sys.executable, "-c", WRITER,
                                   os.path.join(main, "c", "w.json"), stop],
                                  stdout=subprocess.PIPE, text=True)
        time.sleep(0.5)
        busy = reads(target, n)
        open(stop, "w").close()
        rate = float(writer.communicate(timeout=30)[0] or 0)
        writer = None
        return idle, busy, rate
    finally:
        if writer:
            writer.kill()
        subprocess.run(["fusermount3", "-u", mnt], check=False)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(work, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("builds", nargs="+")
    ap.add_argument("--reads", type=int, default=3000)
    ap.add_argument("--fsync", default="on", choices=("on", "off"))
    a = ap.parse_args()
    print("open+read+close of one document, %d times, fsync=%s (ms)" %
          (a.reads, a.fsync))
    print("%-28s %8s %8s %8s %8s %8s %8s %9s" %
          ("build", "idle p50", "p99", "max", "busy p50", "p99", "max",
           "saves/s"))
    for b in a.builds:
        idle, busy, rate = measure(b, a.reads, a.fsync)
        print("%-28s %8.3f %8.3f %8.2f %8.3f %8.3f %8.2f %9.0f" %
              (b[-28:], percentile(idle, 50), percentile(idle, 99), max(idle),
               percentile(busy, 50), percentile(busy, 99), max(busy), rate))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
