"""Outside rewinds (issue #20 "Hardened", item 8): `git update-ref` moving a
branch back, forward again and onto a diverged line, over and over, while a
program saves through the mount. A save never waits for the index catch-up
(it indexed the branch from its root after each rewind: 0.47 s at 12,000
commits, saves at 1/s); afterwards snapshots, @history and @by views agree
with git, and chronofsctl fsck finds the index right."""

import json
import os
import random
import re
import subprocess
import sys
import time

from harness import DAEMON, ROOT, ChronofsTestCase

GEN = os.path.join(ROOT, "tools", "gen-history.py")
COMMITS, DOCS, START, STEP = 3000, 50, 1700000000, 10
SIDE_AT, SIDE = 300, 30  # the diverged line: SIDE commits on main~SIDE_AT
ROUNDS, QUIET_S, STORM_S = 4, 1.0, 2.0
SETTLE_S = 0.3  # after a storm, before its catch-ups count as gone
# The bound on what the rewinds add to a save. Under ASan+UBSan
# every save runs 2-3 times the code (shadow checks, instrumented
# allocations) and so does the catch-up thread beside it on the same two
# cores: three times the bound.
ASAN = "libasan" in subprocess.run(["ldd", DAEMON], capture_output=True, text=True).stdout
P99_BOUND_S = 0.150 if ASAN else 0.050

# The saver, a process of its own (no interpreter lock shared with the
# mover): saves DIR/s<i % 10>.json for SECONDS, one save every 4 ms at
# most (enough samples for a p99; more only loads the machine, and the
# pack thread, whose `git gc --auto` an unmount waits for), timing open +
# write + close of each: [start (CLOCK_MONOTONIC, as the mover's), s].
SAVER = r"""
import json, os, sys, time
d, seconds = sys.argv[1], float(sys.argv[2])
lat, fails, i = [], [], 0
end = time.monotonic() + seconds
while time.monotonic() < end:
    t0 = time.perf_counter()
    at = time.monotonic()
    try:
        fd = os.open(os.path.join(d, "s%d.json" % (i % 10)), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, b'{"i": %d}' % i)
        finally:
            os.close(fd)
    except OSError as e:
        fails.append(str(e))
        os.makedirs(d, exist_ok=True)
        continue
    lat.append((at, time.perf_counter() - t0))
    i += 1
    time.sleep(max(0.0, 0.004 - (time.monotonic() - at)))
json.dump({"lat": lat, "fails": fails}, sys.stdout)
"""


def p99(v):
    v = sorted(v)
    return v[max(0, -(-len(v) * 99 // 100) - 1)]


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


class RewindStormTests(ChronofsTestCase):
    mount_on_setup = False

    def setUp(self):
        super().setUp()
        gen = subprocess.run([sys.executable, GEN, "--commits", str(COMMITS), "--docs", str(DOCS),
                              "--start", str(START), "--step", str(STEP)], capture_output=True, check=True).stdout
        self.run_cmd("git", "--git-dir=" + self.repo, "fast-import", "--quiet", input=gen, stdin=None)
        # The diverged line, under refs/rewind/ (no branch of the mount):
        # one commit dated before the fork, one deleting a document.
        fork = self.git("rev-parse", "main~%d" % SIDE_AT).strip()
        out = [b"reset refs/rewind/side\nfrom %s\n" % fork.encode()]
        for k in range(SIDE):
            when = START - 50 if k == 10 else START + (COMMITS + k) * STEP
            body = b'{"v": %d, "side": true}' % (-k)
            out.append(b"commit refs/rewind/side\ncommitter s <s@example.invalid> %d +0000\ndata 5\nside\n"
                       b"M 100644 inline c/side%d.json\ndata %d\n%s\n" % (when, k % 4, len(body), body))
            out.append(b"M 100644 inline c/d%d.json\ndata %d\n%s\n" % (k % DOCS, len(body), body))
            if k == 20:
                out.append(b"D c/d7.json\n")
        self.run_cmd("git", "--git-dir=" + self.repo, "fast-import", "--quiet", input=b"".join(out), stdin=None)
        self.side = self.git("rev-parse", "refs/rewind/side").strip()
        # A persistent ordered index, kept through every move.
        self.ctl("index", "create", self.repo, "main", "c", "v")

    def rev(self, what):
        r = self.git("rev-parse", "--verify", "-q", what, check=False)
        return r.strip() or None

    def saves(self, seconds):
        return subprocess.Popen([sys.executable, "-c", SAVER, self.doc("s"), str(seconds)],
                                stdout=subprocess.PIPE)

    def ref_value(self, branch="main"):
        """The branch's ref file (loose: nothing here packs refs), read
        without a git process: the mover's git calls cost the saves CPU."""
        with open(os.path.join(self.repo, "refs", "heads", branch)) as f:
            return f.read().strip()

    def mover(self, moves, windows):
        """ROUNDS times: QUIET_S of nothing, then STORM_S of moving main
        back 1-100 commits, forward to a head it left, or onto the
        diverged line, every 30 ms, compare-and-swap on its value. The
        windows of each kind go to WINDOWS, the quiet ones from SETTLE_S
        after the storm before them."""
        rnd, left = random.Random(8), []
        for _ in range(ROUNDS):
            t = time.monotonic()
            windows["quiet"].append((t + SETTLE_S, t + QUIET_S))
            time.sleep(QUIET_S)
            t = time.monotonic()
            while time.monotonic() < t + STORM_S:
                cur = self.ref_value()
                kind = rnd.choice(["back", "back", "forward", "diverge"])
                new = self.rev("%s~%d" % (cur, rnd.randint(1, 100))) if kind == "back" else None
                if kind == "forward" and left:
                    new = left.pop()
                elif new is None:
                    kind, new = "diverge", self.side
                # Saves move main on meanwhile (new stays below it):
                # compare-and-swap on its value now, again if it moved.
                for _ in range(20):
                    cur = self.ref_value()
                    r = subprocess.run(["git", "--git-dir=" + self.repo, "update-ref", "refs/heads/main", new, cur],
                                       capture_output=True, env=self.env)
                    if r.returncode == 0:
                        moves[kind] += 1
                        if kind != "forward":
                            left.append(cur)
                        break
                time.sleep(0.03)
            windows["storm"].append((t, time.monotonic()))

    def chain(self):
        """main's first-parent chain, newest first: (commit, time)."""
        out = self.git("rev-list", "--first-parent", "--format=%H %ct", "--no-commit-header", "main")
        return [(c, int(t)) for c, t in (line.split() for line in out.split("\n") if line)]

    def test_saves_do_not_wait_for_rewinds_and_indexes_agree_with_git(self):
        self.mount()
        os.listdir(os.path.join(self.mnt, "main@history"))  # waits for the first indexing
        os.mkdir(self.doc("s"))
        moves, windows = {"back": 0, "forward": 0, "diverge": 0}, {"quiet": [], "storm": []}
        saver = self.saves(ROUNDS * (QUIET_S + STORM_S) + 0.5)
        try:
            self.mover(moves, windows)
        finally:
            out, _ = saver.communicate(timeout=120)
        storm = json.loads(out)

        def within(kind):
            return [d for at, d in storm["lat"] if any(a <= at < b for a, b in windows[kind])]

        quiet, lat = within("quiet"), within("storm")
        sys.stdout.write("\n  quiet: %d saves, p99 %.1f ms; storm %s: %d saves, p99 %.1f ms, max %.1f ms, "
                         "%d failed\n" % (len(quiet), 1e3 * p99(quiet), moves, len(lat), 1e3 * p99(lat),
                                          1e3 * max(lat), len(storm["fails"])))
        self.assertGreater(moves["back"], 20, moves)
        self.assertGreater(moves["forward"] + moves["diverge"], 20, moves)
        self.assertGreater(len(lat), 200, "saves were held up: %d in %.0f s" % (len(lat), ROUNDS * STORM_S))
        # The bound is on what the rewinds add: on an idle machine a
        # save's p99 with nothing moving is 1-3 ms, on one other programs
        # load it is theirs, measured in the quiet windows between the
        # storms (old: each save after a rewind indexed the branch again,
        # p99 over 500 ms, 1 save/s).
        self.assertLess(p99(lat), P99_BOUND_S + p99(quiet),
                        "save p99 %.1f ms in the storm (%d saves; %.1f ms between)"
                        % (1e3 * p99(lat), len(lat), 1e3 * p99(quiet)))
        # A save onto a head the mover just moved may find its collection
        # gone and is made again (ENOENT); nothing else fails.
        self.assertEqual([f for f in storm["fails"] if "No such file" not in f], [])
        self.check_snapshots()
        self.check_history()
        self.check_ordered()
        self.unmount()
        r = self.ctl("fsck", self.repo, check=False)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("0 problems", r.stdout)

    def check_snapshots(self):
        """BRANCH@COMMIT and BRANCH@WHEN read what git says: WHEN names the
        newest commit whose time, and every later one's, is <= WHEN."""
        chain = self.chain()
        rnd = random.Random(3)
        for commit, _ in [chain[0], chain[-1]] + rnd.sample(chain, 8):
            want = sorted(self.git("ls-tree", "--name-only", commit, "c/").split())
            d = os.path.join(self.mnt, "main@" + commit[:12], "c")
            got = sorted("c/" + n for n in os.listdir(d)) if os.path.isdir(d) else []
            self.assertEqual(got, want, "main@%s/c" % commit[:12])
        least, mins = None, []
        for commit, t in chain:  # newest first: the least time from here to the head
            least = t if least is None else min(least, t)
            mins.append((commit, least))
        for when in rnd.sample(sorted({t for _, t in chain}), 8):
            commit = next(c for c, m in mins if m <= when)
            d = "c/d%d.json" % rnd.randrange(DOCS)
            want = self.git("show", "%s:%s" % (commit, d), raw=True, check=False)
            path = os.path.join(self.mnt, "main@" + iso(when), d)
            if want:
                with open(path, "rb") as f:
                    self.assertEqual(f.read(), want, "main@%s/%s is %s's" % (iso(when), d, commit[:12]))
            else:
                self.assertFalse(os.path.exists(path), "main@%s/%s" % (iso(when), d))

    def check_history(self):
        """@history of a document lists the versions `git log` shows."""
        for path in ("s/s3.json", "s/s8.json", "c/d7.json", "c/side1.json", "c/d%d.json" % (DOCS - 1)):
            out = self.git("log", "--first-parent", "--reverse", "--format=C %H %ct", "--name-status",
                           "main", "--", path)
            want, cur = [], None
            for line in out.split("\n"):
                if line.startswith("C "):
                    cur = line.split()[1:]
                elif line and cur and line[0] != "D":
                    want.append("%s_%s.json" % (iso(int(cur[1])), cur[0][:7]))
            d = os.path.join(self.mnt, "main@history", path)
            got = os.listdir(d) if want else []
            self.assertEqual(got, want, "main@history/%s" % path)

    def check_ordered(self):
        """@by/v lists c's documents at the head by field v, then id."""
        docs = []
        for name in self.git("ls-tree", "--name-only", "main", "c/").split():
            v = json.loads(self.git("show", "main:" + name)).get("v")
            docs.append((v is not None, v if v is not None else 0, name[2:-5]))
        want = [i for _, _, i in sorted(docs)]
        names = os.listdir(self.doc("c/@by/v"))
        got = [re.match(r"^\d+_(.+)\.json$", n).group(1) for n in sorted(names)]
        self.assertEqual(got, want)
