#!/usr/bin/env python3
"""Benchmark time travel: random reads of BRANCH@WHEN on a long history.

Reproduce (from the repository root, after `ninja -C build`):

    python3 tools/bench-snapshots.py                  # 100,000 commits, 1,000 documents, 1,000 reads
    python3 tools/bench-snapshots.py --commits 5000   # a quick run

It makes a bare repository with `chronofsctl init`, imports the history that
tools/gen-history.py writes (commit i sets c/d<i % M>.json to
{"v": i, "doc": i % M} at committer time START + i*STEP) with
`git fast-import`, mounts it with `chronofs REPO MNT -f -o fsync=off` (the mount
time includes indexing every commit: the daemon catches up before it serves),
then reads K random MNT/main@<ISO time>/c/d<k>.json paths and checks every
answer against that formula, ENOENT included where the document did not exist
yet (and where the instant is before the first generated commit). Each read is
timed as open + read + close. It prints one table row; the mount is always
unmounted at the end, and the work directory removed unless --keep DIR.

Options: --commits N (100000), --docs M (1000), --reads K (1000), --keep DIR,
--build DIR (build, relative to the repository root), --seed S (1).
fast-import of 100,000 commits takes a minute or two.
"""

import argparse
import errno
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FUSERMOUNT = shutil.which("fusermount3") or "fusermount3"
START = 1700000000  # gen-history.py's defaults, passed explicitly below
STEP = 10


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def expected(when, commits, docs, k):
    """The bytes of c/d<k>.json in main@WHEN, or None for ENOENT."""
    if when < START:
        return None  # before the first generated commit (init's own commit is newer still)
    i = min((when - START) // STEP, commits - 1)  # the commit main@WHEN resolves to
    if i < k:
        return None  # document k is first written by commit k
    v = i - (i - k) % docs  # the last commit <= i that wrote document k
    return b'{"v": %d, "doc": %d}' % (v, k)


def percentile(sorted_values, p):
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, -(-len(sorted_values) * p // 100))
    return sorted_values[int(rank) - 1]


class Mount:
    """The daemon in the foreground on MNT; stop() always unmounts."""

    def __init__(self, daemon, repo, mnt, log_path):
        self.daemon, self.repo, self.mnt, self.log_path = daemon, repo, mnt, log_path
        self.proc = None

    def start(self, timeout=3600.0):
        """Start the daemon and wait until it serves; return the seconds it took."""
        t0 = time.monotonic()
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [self.daemon, self.repo, self.mnt, "-f", "-o", "fsync=off"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        while not os.path.ismount(self.mnt):
            rc = self.proc.poll()
            if rc is not None:
                self.proc = None
                raise SystemExit("daemon exited with status %d before mounting; log: %s" % (rc, self.log_path))
            if time.monotonic() - t0 > timeout:
                raise SystemExit("not mounted after %.0f s; log: %s" % (timeout, self.log_path))
            time.sleep(0.01)
        return time.monotonic() - t0

    def stop(self):
        if self.proc is None:
            if os.path.ismount(self.mnt):
                subprocess.run([FUSERMOUNT, "-uz", self.mnt], capture_output=True)
            return
        r = subprocess.run([FUSERMOUNT, "-u", self.mnt], capture_output=True, text=True)
        if r.returncode != 0:
            sys.stderr.write("fusermount3 -u failed: %s; lazy unmount\n" % r.stderr.strip())
            subprocess.run([FUSERMOUNT, "-uz", self.mnt], capture_output=True)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            sys.stderr.write("daemon still running 30 s after unmount; killed\n")
            self.proc.kill()
            self.proc.wait()
        self.proc = None


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, **kw)
    if r.returncode != 0:
        raise SystemExit("%s failed (%d): %s" % (" ".join(cmd), r.returncode, r.stderr.decode(errors="replace")))
    return r


def import_history(repo, commits, docs):
    gen = subprocess.Popen(
        [
            sys.executable,
            os.path.join(ROOT, "tools", "gen-history.py"),
            "--commits", str(commits),
            "--docs", str(docs),
            "--start", str(START),
            "--step", str(STEP),
        ],
        stdout=subprocess.PIPE,
    )
    # glibc's malloc returns memory to the system after every commit fast-import
    # builds (one brk pair each, slow under some hypervisors); a larger pad and
    # trim threshold make the import several times faster and change nothing else.
    env = dict(os.environ, MALLOC_TOP_PAD_="67108864", MALLOC_TRIM_THRESHOLD_="134217728")
    fi = subprocess.Popen(
        ["git", "--git-dir=" + repo, "fast-import", "--quiet", "--done"], stdin=gen.stdout, env=env
    )
    gen.stdout.close()
    if fi.wait() != 0 or gen.wait() != 0:
        raise SystemExit("gen-history.py | git fast-import failed")


def read_snapshot(path):
    """(bytes or None for ENOENT, seconds) of open + read + close of PATH."""
    t0 = time.perf_counter()
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None, time.perf_counter() - t0
    try:
        chunks = []
        while True:
            b = os.read(fd, 65536)
            if not b:
                break
            chunks.append(b)
    finally:
        os.close(fd)
    return b"".join(chunks), time.perf_counter() - t0


def du(path):
    total = 0
    for top, _, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(top, f)).st_size
            except OSError:
                pass
    return total


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--commits", type=int, default=100000)
    ap.add_argument("--docs", type=int, default=1000)
    ap.add_argument("--reads", type=int, default=1000)
    ap.add_argument("--keep", metavar="DIR", help="work in DIR (made if missing) and keep it")
    ap.add_argument("--build", default=os.environ.get("CHRONOFS_BUILD", "build"))
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    if a.commits < 1 or a.docs < 1 or a.reads < 1:
        ap.error("--commits, --docs and --reads must be positive")
    build = os.path.abspath(os.path.join(ROOT, a.build))
    daemon = os.path.join(build, "fs", "chronofs")
    ctl = os.path.join(build, "tools", "chronofsctl")
    for exe in (daemon, ctl):
        if not os.access(exe, os.X_OK):
            raise SystemExit("%s not found: build first (ninja -C build) or pass --build" % exe)

    if a.keep:
        work = os.path.abspath(a.keep)
        os.makedirs(work, exist_ok=True)
        if os.listdir(work):
            raise SystemExit("--keep %s: the directory is not empty" % work)
    else:
        work = tempfile.mkdtemp(prefix="chronofs-bench-")
    repo = os.path.join(work, "repo.git")
    mnt = os.path.join(work, "mnt")
    os.mkdir(mnt)
    mount = Mount(daemon, repo, mnt, os.path.join(work, "daemon.log"))
    rng = random.Random(a.seed)
    try:
        run([ctl, "init", repo])
        t0 = time.monotonic()
        import_history(repo, a.commits, a.docs)
        import_s = time.monotonic() - t0
        count = int(run(["git", "--git-dir=" + repo, "rev-list", "--count", "main"]).stdout)
        if count != a.commits + 1:
            raise SystemExit("main has %d commits, expected %d" % (count, a.commits + 1))

        mount_s = mount.start()
        index_bytes = du(os.path.join(repo, "chronofs", "index"))

        lo, hi = START - 5 * STEP, START + (a.commits + 5) * STEP
        lat, wrong, enoent, examples = [], 0, 0, []
        for _ in range(a.reads):
            when = rng.randrange(lo, hi)
            k = rng.randrange(a.docs)
            path = os.path.join(mnt, "main@" + iso(when), "c", "d%d.json" % k)
            want = expected(when, a.commits, a.docs, k)
            try:
                got, secs = read_snapshot(path)
            except OSError as e:
                got, secs = "error %s" % errno.errorcode.get(e.errno, e.errno), float("nan")
            if got is None:
                enoent += 1
            if got != want:
                wrong += 1
                if len(examples) < 5:
                    examples.append("%s: got %r, expected %r" % (path[len(mnt) + 1:], got, want))
            if secs == secs:
                lat.append(secs * 1000.0)
        lat.sort()

        mount.stop()
        remount_s = mount.start()  # the index is current: only the catch-up check
        mount.stop()
    finally:
        mount.stop()
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)

    print()
    print("python3 tools/bench-snapshots.py --commits %d --docs %d --reads %d (seed %d)"
          % (a.commits, a.docs, a.reads, a.seed))
    head = ("commits", "fast-import s", "mount+index s", "remount s", "index MB",
            "reads", "ENOENT", "median ms", "p90 ms", "p99 ms", "max ms", "wrong")
    row = (
        "%d" % a.commits,
        "%.1f" % import_s,
        "%.2f" % mount_s,
        "%.2f" % remount_s,
        "%.1f" % (index_bytes / 1e6),
        "%d" % a.reads,
        "%d" % enoent,
        "%.3f" % statistics.median(lat) if lat else "-",
        "%.3f" % percentile(lat, 90),
        "%.3f" % percentile(lat, 99),
        "%.3f" % (lat[-1] if lat else float("nan")),
        "%d" % wrong,
    )
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join("---:" for _ in head) + "|")
    print("| " + " | ".join(row) + " |")
    for e in examples:
        print("wrong: " + e)
    if a.keep:
        print("kept %s" % work)
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
