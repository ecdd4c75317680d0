#!/usr/bin/env python3
"""Benchmark outside rewinds: what a `git update-ref` that moves a branch
back costs the index catch-up, and what a storm of them costs saves.

Reproduce (from the repository root, after `ninja -C build`):

    python3 tools/bench-rewind.py                    # 12,000 commits
    python3 tools/bench-rewind.py --commits 3000 --storm 5

It makes a bare repository with `chronofsctl init`, imports the history of
tools/gen-history.py with `git fast-import` and a diverged line of 50
commits forked 500 commits below the tip (under refs/bench/, not a branch),
mounts it (`chronofs REPO MNT -f -o fsync=off`) and waits for the first
indexing. Then:

- rewind cost: R times, `git update-ref` moves main DEPTH commits back and
  the time of the first snapshot lookup after it (MNT/main@<commit>, a name
  not looked up before: it waits for the catch-up) is taken; then main is
  moved forward again to where it was, timed the same way;
- no moves: the saves of the storm below, alone (the reference);
- storm: one process saves MNT/main/s/s<i % 10>.json in a loop for S
  seconds, timing each save (open + write + close), while this one moves
  main back (1 to 200 commits), forward again, or onto the diverged line,
  every 20 ms with `git update-ref NEW OLD`.

It prints the medians of the rewind and forward lookups and the storm's
save count, rate, p50, p99 and max; the mount is always unmounted at the
end and the work directory removed unless --keep DIR.

Options: --commits N (12000), --docs M (100), --rewinds R (10), --depth D
(100), --storm S (10), --build DIR (build), --keep DIR, --seed.
"""

import argparse
import json
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

# The saver, a process of its own: the lookups and git calls of this one
# must not share its interpreter lock.
SAVER = r"""
import json, os, sys, time
d, seconds = sys.argv[1], float(sys.argv[2])
os.makedirs(d, exist_ok=True)
lat, fails, i = [], 0, 0
end = time.monotonic() + seconds
while time.monotonic() < end:
    body = b'{"i": %d}' % i
    t0 = time.perf_counter()
    try:
        fd = os.open(os.path.join(d, "s%d.json" % (i % 10)), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, body)
        finally:
            os.close(fd)
    except OSError:
        fails += 1  # the collection rewound away under it: made again below
        os.makedirs(d, exist_ok=True)
        continue
    lat.append(time.perf_counter() - t0)
    i += 1
json.dump({"lat": lat, "fails": fails}, sys.stdout)
"""


def percentile(v, p):
    v = sorted(v)
    return v[max(0, -(-len(v) * p // 100) - 1)] if v else float("nan")


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, **kw)
    if r.returncode != 0:
        raise SystemExit("%s failed (%d): %s" % (" ".join(cmd), r.returncode, r.stderr.decode(errors="replace")))
    return r.stdout.decode().strip()


class Repo:
    def __init__(self, path):
        self.path = path

    def git(self, *args, check=True, stdin=None):
        r = subprocess.run(["git", "--git-dir=" + self.path, *args], capture_output=True, input=stdin)
        if check and r.returncode != 0:
            raise SystemExit("git %s failed: %s" % (" ".join(args), r.stderr.decode(errors="replace")))
        return r.stdout.decode().strip() if r.returncode == 0 else None

    def move(self, ref, new, old):
        """Compare-and-swap REF from OLD to NEW; False if it moved meanwhile."""
        return self.git("update-ref", ref, new, old, check=False) is not None


def make_history(repo, commits, docs, side_at=500, side_len=50):
    gen = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "gen-history.py"),
                          "--commits", str(commits), "--docs", str(docs)], capture_output=True, check=True).stdout
    env = dict(os.environ, MALLOC_TOP_PAD_="67108864", MALLOC_TRIM_THRESHOLD_="134217728")
    subprocess.run(["git", "--git-dir=" + repo.path, "fast-import", "--quiet", "--done"], input=gen,
                   env=env, check=True)
    # The diverged line: commits on a fork point, never on main.
    fork = repo.git("rev-parse", "main~%d" % min(side_at, commits - 1))
    out = [b"reset refs/bench/side\nfrom %s\n" % fork.encode()]
    for k in range(side_len):
        out.append(b"commit refs/bench/side\ncommitter side <side@example.invalid> %d +0000\n"
                   b"data 4\nside\nM 100644 inline c/side%d.json\ndata 10\n{\"k\": %03d}\n"
                   % (1800000000 + k, k % 5, k))
    out.append(b"done\n")
    subprocess.run(["git", "--git-dir=" + repo.path, "fast-import", "--quiet", "--done"],
                   input=b"".join(out), check=True)
    return repo.git("rev-parse", "refs/bench/side")


def lookup(mnt, commit):
    """Seconds of the first lookup of MNT/main@COMMIT (it waits for the catch-up)."""
    t0 = time.perf_counter()
    os.stat(os.path.join(mnt, "main@" + commit[:12]))
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--commits", type=int, default=12000)
    ap.add_argument("--docs", type=int, default=100)
    ap.add_argument("--rewinds", type=int, default=10)
    ap.add_argument("--depth", type=int, default=100)
    ap.add_argument("--storm", type=float, default=10.0)
    ap.add_argument("--build", default=os.environ.get("CHRONOFS_BUILD", "build"))
    ap.add_argument("--keep", metavar="DIR")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--moves", default="back,back,forward,diverge", help="the storm's moves, drawn evenly")
    ap.add_argument("--no-reference", action="store_true", help="skip the saves with nothing moving")
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    build = os.path.abspath(os.path.join(ROOT, a.build))
    daemon, ctl = os.path.join(build, "fs", "chronofs"), os.path.join(build, "tools", "chronofsctl")
    work = os.path.abspath(a.keep) if a.keep else tempfile.mkdtemp(prefix="chronofs-bench-")
    os.makedirs(work, exist_ok=True)
    repo, mnt = Repo(os.path.join(work, "repo.git")), os.path.join(work, "mnt")
    os.makedirs(mnt, exist_ok=True)
    run([ctl, "init", repo.path])
    side = make_history(repo, a.commits, a.docs)
    log = open(os.path.join(work, "daemon.log"), "ab")
    proc = subprocess.Popen([daemon, repo.path, mnt, "-f", "-o", "fsync=off"], stdin=subprocess.DEVNULL,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        while not os.path.ismount(mnt):
            if proc.poll() is not None:
                raise SystemExit("daemon exited; log in %s" % work)
            time.sleep(0.01)
        t0 = time.monotonic()
        lookup(mnt, repo.git("rev-parse", "main"))
        print("first indexing of %d commits: %.2f s (mount to snapshot)" % (a.commits, time.monotonic() - t0))
        back, fwd = [], []
        for i in range(a.rewinds):
            # Every lookup a name not looked up before (the kernel keeps
            # what it was told): a target one deeper each time.
            tip = repo.git("rev-parse", "main")
            old = repo.git("rev-parse", "main~%d" % (a.depth + i))
            repo.move("refs/heads/main", old, tip)
            back.append(lookup(mnt, old))
            repo.move("refs/heads/main", tip, old)
            fwd.append(lookup(mnt, repo.git("rev-parse", "main~%d" % (i + 1))))
        print("rewind %d+ commits back at %d commits: lookup after it median %.1f ms (min %.1f, max %.1f); "
              "forward again %.1f ms" % (a.depth, a.commits, 1e3 * statistics.median(back), 1e3 * min(back),
                                         1e3 * max(back), 1e3 * statistics.median(fwd)))
        # The same saves with nothing moving main: the reference.
        quiet = [0] if a.no_reference else json.loads(run([sys.executable, "-c", SAVER, os.path.join(mnt, "main", "q"), str(a.storm)]))["lat"]
        print("no moves %.0f s: %d saves (%.0f/s), p50 %.1f ms, p99 %.1f ms, max %.1f ms"
              % (a.storm, len(quiet), len(quiet) / a.storm, 1e3 * percentile(quiet, 50),
                 1e3 * percentile(quiet, 99), 1e3 * max(quiet)))
        saver = subprocess.Popen([sys.executable, "-c", SAVER, os.path.join(mnt, "main", "s"), str(a.storm)],
                                 stdout=subprocess.PIPE)
        moves = {"back": 0, "forward": 0, "diverge": 0, "raced": 0}
        seen = []
        end = time.monotonic() + a.storm
        while time.monotonic() < end:
            with open(os.path.join(repo.path, "refs", "heads", "main")) as f:
                cur = f.read().strip()  # no git process: the saves need the CPU
            kind = rnd.choice(a.moves.split(","))
            if kind == "back":
                new = repo.git("rev-parse", "%s~%d" % (cur, rnd.randint(1, 200)), check=False)
                if new is None:  # not that many below: the root is near
                    continue
                seen.append(cur)
            elif kind == "forward" and seen:
                new = seen.pop()
            else:
                kind, new = "diverge", side
                seen.append(cur)
            moves[kind if repo.move("refs/heads/main", new, cur) else "raced"] += 1
            time.sleep(0.02)
        res = json.loads(saver.communicate()[0])
        lat = res["lat"]
        t0 = time.perf_counter()
        os.stat(os.path.join(mnt, "main@history"))
        after = time.perf_counter() - t0
        print("storm %.0f s: moves %s; %d saves (%.0f/s), p50 %.1f ms, p99 %.1f ms, max %.1f ms, %d failed; "
              "@history after it %.1f ms" % (a.storm, moves, len(lat), len(lat) / a.storm,
                                             1e3 * percentile(lat, 50), 1e3 * percentile(lat, 99),
                                             1e3 * max(lat), res["fails"], 1e3 * after))
    finally:
        t0 = time.monotonic()
        r = subprocess.run([FUSERMOUNT, "-u", mnt], capture_output=True, text=True)
        if r.returncode != 0:
            sys.stderr.write("fusermount3 -u: %s; lazy unmount\n" % r.stderr.strip())
            subprocess.run([FUSERMOUNT, "-uz", mnt], capture_output=True)
        try:
            proc.wait(60)
            print("unmount: the daemon ended %.1f s after fusermount3 -u" % (time.monotonic() - t0))
        except subprocess.TimeoutExpired:
            sys.stderr.write("daemon still running 60 s after the unmount: killed\n")
            proc.kill()
            proc.wait()
        if not a.keep and not os.path.ismount(mnt):  # never remove through a mount
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
