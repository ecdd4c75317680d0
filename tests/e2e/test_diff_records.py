"""Diffs from the index's records of what each commit changed (README,
"Merging, transactions and diffs"): over a random history made through the
mount, by Git beside it and by merges, every diff the records answer is the
tree diff's, byte for byte; where a commit on the way has no record (a mode
changed alone) the records decline and the tree diff answers."""

import json
import os
import random
import subprocess
import time

from harness import CTL, ChronofsTestCase, write_file


class DiffRecordTests(ChronofsTestCase):
    def diff(self, a, b, way, path=None, check=True):
        env = dict(self.env, CHRONOFS_DIFF=way)
        args = [CTL, "diff", self.repo, a, b] + ([path] if path else [])
        return self.run_cmd(*args, env=env, check=check, text=True)

    def records(self, a, b, path=None):
        """The records' answer, once the indexes hold every commit on the
        way (saves are indexed at once, Git's commits by the catch-up)."""
        deadline = time.monotonic() + 20
        while True:
            r = self.diff(a, b, "records", path, check=False)
            if r.returncode == 0 or time.monotonic() > deadline:
                self.assertEqual(r.returncode, 0, "records of %s..%s: %s" % (a, b, r.stderr))
                return r.stdout
            time.sleep(0.2)

    def same(self, a, b, path=None):
        got = self.records(a, b, path)
        want = self.diff(a, b, "trees", path).stdout
        self.assertEqual(got, want, "diff %s %s %s" % (a, b, path or ""))
        self.assertEqual(self.diff(a, b, "auto", path).stdout, want)
        return got

    def test_random_history_records_match_the_tree_diff(self):
        rnd = random.Random(20261206)
        # A collection past the fanout threshold, made by Git: saves into
        # it reshard it, and its records are logical paths.
        big = {"big/d%04d.json" % i: b'{"i": %d}' % i for i in range(2100)}
        self.plumbing_commit("main", big, "a big collection")
        os.makedirs(self.doc("c"), exist_ok=True)
        os.mkdir(os.path.join(self.mnt, "f"))
        branches = ["main", "f"]
        for step in range(150):
            br = rnd.choice(branches)
            r = rnd.random()
            docs = sorted(os.listdir(self.doc("c", br))) if os.path.isdir(self.doc("c", br)) else []
            if r < 0.45 or not docs:
                name = "c/d%d.json" % rnd.randrange(40)
                os.makedirs(self.doc("c", br), exist_ok=True)
                write_file(self.doc(name, br), json.dumps({"s": step, "v": rnd.randrange(5)}).encode())
            elif r < 0.55:
                os.unlink(self.doc("c/" + rnd.choice(docs), br))
            elif r < 0.62:
                os.rename(self.doc("c/" + rnd.choice(docs), br),
                          self.doc("c/r%d.json" % rnd.randrange(40), br))
            elif r < 0.72:
                write_file(self.doc("big/d%04d.json" % rnd.randrange(2100), br),
                           json.dumps({"s": step}).encode())
            elif r < 0.80:
                self.plumbing_commit(br, {"c/o%d.json" % rnd.randrange(10): b'{"o": %d}' % step,
                                         "notes.txt": b"step %d\n" % step})
            elif r < 0.86:
                src, dst = ("f", "main") if rnd.random() < 0.5 else ("main", "f")
                self.ctl("merge", self.repo, src, dst)
            elif r < 0.88 and len(branches) < 4:
                name = "b%d" % step
                os.mkdir(os.path.join(self.mnt, name))
                branches.append(name)
        # Git's commits on a branch no one reads are indexed when one does:
        # @history waits for its branch's catch-up.
        for br in branches:
            os.listdir(os.path.join(self.mnt, br + "@history"))
        commits = self.git("rev-list", "--all").split()
        self.assertGreater(len(commits), 100)
        pairs = [(self.head(a), self.head(b)) for a in branches for b in branches if a != b]
        pairs += [tuple(rnd.sample(commits, 2)) for _ in range(25)]
        answered = 0
        for a, b in pairs:
            out = self.same(a, b)
            answered += bool(out)
            for line in out.splitlines()[:3]:  # a path limits it alike
                path = json.loads(line)["path"]
                self.same(a, b, path)
                self.same(a, b, path.rsplit("/", 1)[0])
        self.assertGreater(answered, len(pairs) // 2, "most diffs are not empty")

    def test_a_mode_changed_alone_leaves_the_diff_to_the_trees(self):
        os.mkdir(self.doc("c"))
        write_file(self.doc("c/a.json"), b'{"a": 1}')
        before = self.head()
        blob = self.git("rev-parse", "main:c/a.json").strip()
        after = self.plumbing_commit("main", {"c/a.json": ("100755", b'{"a": 1}')}, "chmod +x")
        self.assertEqual(self.git("rev-parse", "main:c/a.json").strip(), blob)
        write_file(self.doc("c/b.json"), b'{"b": 1}')
        self.records(after, self.head())  # the commits around it have records
        deadline = time.monotonic() + 20
        while True:  # once indexed, the mode change still has none
            r = self.diff(before, after, "records", check=False)
            if "cannot answer" in r.stderr or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("cannot answer", r.stderr)
        want = self.diff(before, after, "trees").stdout
        self.assertEqual([json.loads(l)["path"] for l in want.splitlines()], ["c/a.json"])
        self.assertEqual(self.diff(before, after, "auto").stdout, want)
        # A save over the executable file makes it a regular one: its
        # commit changed a mode too, so it has no record either.
        mid = self.head()
        write_file(self.doc("c/a.json"), b'{"a": 2}')
        self.assertEqual(self.git("ls-tree", "main", "c/a.json").split()[0], "100644")
        r = self.diff(mid, self.head(), "records", check=False)
        self.assertIn("cannot answer", r.stderr)
        want = self.diff(mid, self.head(), "trees").stdout
        self.assertEqual(self.diff(mid, self.head(), "auto").stdout, want)
        self.assertEqual(len(want.splitlines()), 1)

    def test_long_chains_from_the_records(self):
        """Two branches 1,500 commits each from where they meet: the walk
        holds 3,000 commits (its table of them once cycled through 64
        slots, forever once they filled) and the records answer."""
        os.mkdir(self.doc("c"))
        write_file(self.doc("c/a.json"), b'{"a": 0}')
        start = self.head()
        for br, n in (("x", 1500), ("y", 1500)):
            out = [b"reset refs/heads/%s\nfrom %s\n\n" % (br.encode(), start.encode())]
            for i in range(n):
                data = b'{"%s": %d}' % (br.encode(), i)
                out.append(b"commit refs/heads/%s\ncommitter o <o@x> %d +0000\ndata 1\n.\n"
                           b"M 100644 inline c/%s%d.json\ndata %d\n%s\n"
                           % (br.encode(), 1700000000 + i, br.encode(), i % 7, len(data), data))
            subprocess.run(["git", "--git-dir=" + self.repo, "fast-import", "--quiet"],
                           input=b"".join(out), env=self.env, check=True)
        self.unmount()
        for br in ("x", "y"):  # indexed: every commit has its record
            self.ctl("log", self.repo, br, "--at", "2100-01-01")
        got = self.same("x", "y")
        self.assertEqual(len(got.splitlines()), 14)
        self.mount()
