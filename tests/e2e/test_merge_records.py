"""Merges from the index's records of what each commit changed (README,
"Merging, transactions and diffs"): over random histories made through
the mount, by Git beside it and by merges, each merge of one branch into
another is made on copies of the repository from the trees
(CHRONOFS_MERGE=trees), from the records alone (=records, which decline
where they cannot answer) and from the records with the trees behind
(=auto); the merged trees and the merge commits' messages (the
Conflicts: list @conflicts is derived from) are the same."""

import json
import os
import random
import shutil
import subprocess

from harness import CTL, ChronofsTestCase, write_file


def bucket(name):
    """The hash bucket of a document of a fanout collection (README,
    "Storage layout in Git")."""
    h = 2166136261
    for b in name.encode():
        h = ((h ^ b) * 16777619) & 0xffffffff
    return "%02x" % (h & 0xff)


def big_path(i):
    """Where Git writes big/d<i>.json: the collection is fanout (a flat one
    over the threshold made by Git is another case, not this test's)."""
    name = "d%04d.json" % i
    return "big/%s/%s" % (bucket(name), name)


class MergeRecordTests(ChronofsTestCase):
    def outside_commit_on(self, branch, files, message="outside"):
        """A commit by Git beside the mount: FILES {path: bytes, (mode,
        bytes) or None}."""
        env = dict(self.env, GIT_INDEX_FILE=os.path.join(self.work, "outside-index"),
                   GIT_AUTHOR_NAME="o", GIT_AUTHOR_EMAIL="o@x", GIT_COMMITTER_NAME="o",
                   GIT_COMMITTER_EMAIL="o@x")
        git = ["git", "--git-dir=" + self.repo]
        head = self.head(branch)
        subprocess.run(git + ["read-tree", head], env=env, check=True)
        for path, data in files.items():
            if data is None:
                subprocess.run(git + ["update-index", "--index-info"], env=env, check=True,
                               input=b"0 %s\t%s\n" % (b"0" * 40, path.encode()))
                continue
            mode, data = data if isinstance(data, tuple) else ("100644", data)
            blob = subprocess.run(git + ["hash-object", "-w", "--stdin"], input=data, env=env,
                                  check=True, capture_output=True).stdout.decode().strip()
            subprocess.run(git + ["update-index", "--add", "--cacheinfo",
                                  "%s,%s,%s" % (mode, blob, path)], env=env, check=True)
        tree = subprocess.run(git + ["write-tree"], env=env, check=True,
                              capture_output=True).stdout.decode().strip()
        commit = subprocess.run(git + ["commit-tree", tree, "-p", head, "-m", message], env=env,
                                check=True, capture_output=True).stdout.decode().strip()
        subprocess.run(git + ["update-ref", "refs/heads/" + branch, commit, head], env=env,
                       check=True)

    def merge_on_copy(self, tag, src, dst, way):
        """Merge SRC into DST on a copy of the repository: (returncode,
        tree, message, stderr)."""
        copy = os.path.join(self.work, "copy-%s-%s.git" % (tag, way))
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(self.repo, copy, symlinks=True)
        env = dict(self.env, CHRONOFS_MERGE=way)
        r = self.run_cmd(CTL, "merge", copy, src, dst, env=env, check=False, text=True)
        git = ["git", "--git-dir=" + copy]
        tree = subprocess.run(git + ["rev-parse", dst + "^{tree}"], check=True, text=True,
                              capture_output=True).stdout
        msg = subprocess.run(git + ["log", "-1", "--format=%P%n%B", dst], check=True, text=True,
                             capture_output=True).stdout
        shutil.rmtree(copy)
        return r.returncode, tree, msg, r.stderr

    def step(self, rnd, branches, step):
        br = rnd.choice(branches)
        r = rnd.random()
        cdir = self.doc("c", br)
        docs = sorted(os.listdir(cdir)) if os.path.isdir(cdir) else []
        if r < 0.35 or not docs:
            os.makedirs(cdir, exist_ok=True)
            doc = {"s": step, "v": rnd.randrange(3)}
            doc["m%d" % rnd.randrange(3)] = {"x": rnd.randrange(3)}
            write_file(self.doc("c/d%d.json" % rnd.randrange(30), br), json.dumps(doc).encode())
        elif r < 0.43:
            os.unlink(self.doc("c/" + rnd.choice(docs), br))
        elif r < 0.48:
            os.rename(self.doc("c/" + rnd.choice(docs), br),
                      self.doc("c/r%d.json" % rnd.randrange(30), br))
        elif r < 0.70:
            # The big collection: fanout, buckets both sides change.
            doc = {"s": step}
            doc["k%d" % rnd.randrange(3)] = rnd.randrange(3)
            write_file(self.doc("big/d%04d.json" % rnd.randrange(2100), br),
                       json.dumps(doc).encode())
        elif r < 0.80:
            files = {big_path(rnd.randrange(2100)): b'{"o": %d}' % step,
                     "c/o%d.json" % rnd.randrange(8): b'{"o": %d}' % step}
            if rnd.random() < 0.2:  # an executable: its records say modes unknown
                files["c/x%d.json" % rnd.randrange(3)] = ("100755", b'{"x": %d}' % step)
            if rnd.random() < 0.2:
                files[big_path(rnd.randrange(2100))] = None
            self.outside_commit_on(br, files)
        elif r < 0.88:
            src, dst = rnd.sample(branches, 2)
            self.ctl("merge", self.repo, src, dst)

    def test_random_merges_records_match_the_trees(self):
        rnd = random.Random(20261207)
        big = {big_path(i): b'{"i": %d}' % i for i in range(2100)}
        big["big/.chronofs-fanout"] = b"fanout\n"
        self.outside_commit_on("main", big, "a big collection")
        os.makedirs(self.doc("c"), exist_ok=True)
        write_file(self.doc("c/d0.json"), b'{"a": 1}')
        branches = ["main", "f", "g"]
        for b in branches[1:]:
            os.mkdir(os.path.join(self.mnt, b))
        answered = declined = merged = 0  # merged: with conflicts
        for round_ in range(4):
            for step in range(30):
                self.step(rnd, branches, 100 * round_ + step)
            # Every branch indexed, its commits' records written.
            for br in branches:
                os.listdir(os.path.join(self.mnt, br + "@history"))
            self.unmount()
            for src in branches:
                for dst in branches:
                    if src == dst:
                        continue
                    tag = "%d-%s-%s" % (round_, src, dst)
                    trees = self.merge_on_copy(tag, src, dst, "trees")
                    self.assertEqual(trees[0], 0, trees[3])
                    auto = self.merge_on_copy(tag, src, dst, "auto")
                    self.assertEqual(auto[:3], trees[:3], tag)
                    recs = self.merge_on_copy(tag, src, dst, "records")
                    if recs[0] != 0:
                        self.assertIn("cannot answer", recs[3])
                        declined += 1
                        continue
                    answered += 1
                    merged += "Conflicts:" in recs[2]
                    self.assertEqual(recs[:3], trees[:3], tag)
            self.mount()
        # Both ways taken.
        self.assertGreater(answered, 3, (answered, declined))
        self.assertGreater(declined, 0, (answered, declined, merged))

    def test_a_conflict_from_the_records_is_the_trees_one(self):
        os.makedirs(self.doc("c"), exist_ok=True)
        write_file(self.doc("c/k.json"), b'{"v": 0, "w": 0}')
        for b in ("f", "g"):
            os.mkdir(os.path.join(self.mnt, b))
            write_file(self.doc("c/k.json", b), json.dumps({"v": b, "w": 0}).encode())
            write_file(self.doc("c/%s.json" % b, b), b'{"only": 1}')
        for br in ("f", "g"):
            os.listdir(os.path.join(self.mnt, br + "@history"))
        self.unmount()
        trees = self.merge_on_copy("k", "f", "g", "trees")
        recs = self.merge_on_copy("k", "f", "g", "records")
        self.assertEqual(recs[0], 0, recs[3])
        self.assertIn("Conflicts:\n\tc/k.json", recs[2])
        self.assertEqual(recs[:3], trees[:3])
        self.mount()


if __name__ == "__main__":
    import unittest

    unittest.main()
