"""Mount at once (issue "Scale and durability", first indexing): the live
view answers while a long history is indexed in the background; a
snapshot read meanwhile waits for the commits it needs and is right; saves
go on; an unmount stops the indexing and the next mount goes on from
where it stopped."""

import json
import os
import re
import subprocess
import time

from harness import ROOT, ChronofsTestCase, git, write_file

GEN = os.path.join(ROOT, "tools", "gen-history.py")
COMMITS, DOCS, START, STEP = 40000, 100, 1700000000, 10


class MountAtOnceTests(ChronofsTestCase):
    mount_on_setup = False

    def setUp(self):
        super().setUp()
        gen = subprocess.run(["python3", GEN, "--commits", str(COMMITS), "--docs", str(DOCS),
                              "--start", str(START), "--step", str(STEP)],
                             capture_output=True, check=True).stdout
        self.run_cmd("git", "--git-dir=" + self.repo, "fast-import", "--quiet", input=gen,
                     stdin=None)

    def test_live_view_at_once_snapshots_right_during_indexing(self):
        t0 = time.monotonic()
        self.mount()
        self.assertEqual(len(os.listdir(self.doc("c"))), DOCS)
        live = time.monotonic() - t0
        # A save goes on while the history is indexed.
        write_file(self.doc("c/new.json"), b'{"new": 1}')
        # The version of d5 at commit 9,000's time: commit 8,905 wrote it.
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(START + 9000 * STEP))
        with open(os.path.join(self.mnt, "main@" + when, "c", "d5.json")) as f:
            self.assertEqual(json.load(f)["v"], 8905)
        # The indexer logs its end after the catch-up the read waited
        # for: a moment later, on its own thread.
        deadline = time.monotonic() + 30
        log = self.daemon_log()
        while "indexed 40001 commits" not in log and time.monotonic() < deadline:
            time.sleep(0.1)
            log = self.daemon_log()
        self.assertIn("indexed 40001 commits", log)
        self.assertLess(live, 5.0, "the live view waited for the history")
        # Indexing went on in the background (progress, not before the mount).
        self.assertLess(log.index("mounted"), log.index("indexed 40001"))

    def test_early_snapshot_is_answered_before_the_indexing_ends(self):
        # Indexed oldest first: a time early in the history needs only
        # the first batch, not the 40,001 commits.
        head = git(self.repo, "rev-parse", "main").strip()
        first = git(self.repo, "rev-list", "--reverse", "main").split()[2]
        self.mount()
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(START + 300 * STEP + 5))
        with open(os.path.join(self.mnt, "main@" + when, "c", "d7.json")) as f:
            self.assertEqual(json.load(f)["v"], 207)
        # Answered before the index reached the head.
        self.assertNotIn("at the head", self.ctl("status", self.repo).stdout,
                         "the read waited for all")
        # A commit named by its full id, written meanwhile, is found too.
        with open(os.path.join(self.mnt, "main@" + first, "c", "d1.json")) as f:
            self.assertEqual(json.load(f)["v"], 1)
        self.assertNotIn("indexed 40001 commits", self.daemon_log(), "the read waited for all")
        # The head's own snapshot by a short id needs all of it: right.
        with open(os.path.join(self.mnt, "main@" + head[:12], "c", "d99.json")) as f:
            self.assertEqual(json.load(f)["v"], 39999)

    def test_a_commit_landing_in_the_past_while_indexing_is_seen(self):
        # An outside commit on top of the head, dated early in the
        # history: at that time it is the newest commit, so a snapshot
        # there must show it, though the indexer started before it and
        # has the early commits written.
        t = START + 300 * STEP + 1
        blob = self.run_cmd("git", "--git-dir=" + self.repo, "hash-object", "-w", "--stdin",
                            input=b'{"v": -7}', stdin=None).stdout.decode().strip()
        env = dict(self.env, GIT_INDEX_FILE=os.path.join(self.work, "outside.index"),
                   GIT_COMMITTER_DATE="%d +0000" % t, GIT_AUTHOR_DATE="%d +0000" % t,
                   GIT_AUTHOR_NAME="o", GIT_AUTHOR_EMAIL="o@example.invalid",
                   GIT_COMMITTER_NAME="o", GIT_COMMITTER_EMAIL="o@example.invalid")
        g = lambda *a: self.run_cmd("git", "--git-dir=" + self.repo, *a,  # noqa: E731
                                    env=env).stdout.decode().strip()
        g("read-tree", "main")
        g("update-index", "--add", "--cacheinfo", "100644,%s,c/d7.json" % blob)
        commit = g("commit-tree", g("write-tree"), "-p", "main", "-m", "dated in the past")
        self.mount()
        g("update-ref", "refs/heads/main", commit)
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t + 4))
        with open(os.path.join(self.mnt, "main@" + when, "c", "d7.json")) as f:
            self.assertEqual(json.load(f)["v"], -7)
        # Before it, the history as it was.
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t - 2))
        with open(os.path.join(self.mnt, "main@" + when, "c", "d7.json")) as f:
            self.assertEqual(json.load(f)["v"], 207)

    def test_unmount_stops_indexing_and_the_next_mount_goes_on(self):
        self.mount()
        os.listdir(self.doc("c"))
        self.unmount()  # while the 40,001 commits are being indexed
        first = self.daemon_log()
        self.mount()
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(START + 39990 * STEP))
        with open(os.path.join(self.mnt, "main@" + when, "c", "d90.json")) as f:
            self.assertEqual(json.load(f)["v"], 39990)
        second = self.daemon_log()
        # The unmount came while commits were being written (a progress
        # line: some were flushed), not while the history was still
        # being walked (then nothing is kept and the next mount does all).
        if "stopped" in first and re.search(r"indexing branch main: [1-9][0-9]* of", first):
            done = [int(w) for w in second.split() if w.isdigit()]
            self.assertIn("indexed", second)
            self.assertTrue(any(0 < n < 40001 for n in done), second)
