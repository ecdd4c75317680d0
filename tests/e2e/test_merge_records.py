"""Merges from the index's records of what each commit changed (README,
"Merging, transactions and diffs"): over random histories made through
the mount, by Git beside it and by merges, each merge of one branch into
another is made on copies of the repository from the trees
(CHRONOFS_MERGE=trees), from the records alone (=records, which decline
where they cannot answer) and from the records with the trees behind
(=auto); the merged trees and the merge commits' messages (the
Conflicts: list @conflicts is derived from) are the same. The histories
hold a big fanout collection, a small one (a bucket a document, so
deletions remove buckets) and a flat one at the threshold that saves on
side branches reshard; the merges the records answered must have met
buckets only theirs changed (taken whole), removed, or both changed, a
collection flat on one side and fanout on the other, and one resharded
on both sides of a flat base. Repeated merges the same way and criss-cross
merges, whose merge base is a second parent on one side, are answered by
the records too (the base's first-parent chain composed against the
side's)."""

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


MARKER = ".chronofs-fanout"
FLAT_FULL = 2047  # one below the threshold (README "Storage layout in Git")


def is_bucket(name, kind):
    return kind == "tree" and len(name) == 2 and all(c in "0123456789abcdef" for c in name)


class MergeRecordTests(ChronofsTestCase):
    def fast_commit(self, branch, files, message):
        """One commit of FILES {path: bytes} on BRANCH by git fast-import
        (thousands of files in one process)."""
        out = [b"commit refs/heads/%s\ncommitter o <o@x> 1700000000 +0000\n" % branch.encode(),
               b"data %d\n%s\nfrom %s\n" % (len(message), message.encode(),
                                           self.head(branch).encode())]
        for path, data in sorted(files.items()):
            out.append(b"M 100644 inline %s\ndata %d\n%s\n" % (path.encode(), len(data), data))
        subprocess.run(["git", "--git-dir=" + self.repo, "fast-import", "--quiet"],
                       input=b"".join(out), env=self.env, check=True)

    def listing(self, rev, coll):
        """{name: (kind, id)} of collection COLL's tree at REV ({} if none)."""
        out = self.git("ls-tree", "%s:%s" % (rev, coll), check=False)
        return {line.split("\t")[1]: tuple(line.split("\t")[0].split()[1:])
                for line in out.splitlines()}

    def shapes(self, src, dst):
        """What merging SRC into DST meets, collection by collection, as
        the trees see it: "take" (a bucket only theirs changed),
        "take-delete" (one theirs removed), "both" (buckets both sides
        changed), "flat-fanout" (one side flat, the other fanout),
        "resharded-both" (a flat base, both sides fanout)."""
        base = self.git("merge-base", dst, src, check=False).strip()
        found = set()
        if not base:
            return found
        for coll in ("big", "sm", "fl"):
            lb, lo, lt = (self.listing(r, coll) for r in (base, dst, src))
            fb, fo, ft = (MARKER in x for x in (lb, lo, lt))
            if lo and lt and fo != ft:
                found.add("flat-fanout")
            if lb and not fb and fo and ft:
                found.add("resharded-both")
            if not (fo and ft and (fb or not lb)):
                continue
            for k in {n for x in (lb, lo, lt) for n, (kind, _) in x.items()
                      if is_bucket(n, kind)}:
                ib, io, it = (x.get(k) for x in (lb, lo, lt))
                if it == ib or io == it:
                    continue
                found.add("both" if io != ib else "take-delete" if it is None else "take")
        return found

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

    def step(self, rnd, branches, step, exe=True):
        br = rnd.choice(branches)
        r = rnd.random()
        cdir = self.doc("c", br)
        docs = sorted(os.listdir(cdir)) if os.path.isdir(cdir) else []
        if r < 0.22 or not docs:
            os.makedirs(cdir, exist_ok=True)
            doc = {"s": step, "v": rnd.randrange(3)}
            doc["m%d" % rnd.randrange(3)] = {"x": rnd.randrange(3)}
            write_file(self.doc("c/d%d.json" % rnd.randrange(30), br), json.dumps(doc).encode())
        elif r < 0.28:
            os.unlink(self.doc("c/" + rnd.choice(docs), br))
        elif r < 0.31:
            os.rename(self.doc("c/" + rnd.choice(docs), br),
                      self.doc("c/r%d.json" % rnd.randrange(30), br))
        elif r < 0.39:
            # The small fanout collection: a document alone in its
            # bucket, so a deletion or a rename removes the bucket.
            sm = sorted(os.listdir(self.doc("sm", br)))
            r2 = rnd.random()
            if r2 < 0.4 or not sm:
                write_file(self.doc("sm/s%d.json" % rnd.randrange(40), br),
                           b'{"s": %d}' % step)
            elif r2 < 0.8:
                os.unlink(self.doc("sm/" + rnd.choice(sm), br))
            else:
                os.rename(self.doc("sm/" + rnd.choice(sm), br),
                          self.doc("sm/t%d.json" % rnd.randrange(40), br))
        elif r < 0.49:
            # The flat collection one below the threshold: an addition
            # reshards it on that branch, so sides are flat and fanout
            # (main's stays flat till a merge brings a fanout one).
            if br != "main" and rnd.random() < 0.75:
                write_file(self.doc("fl/n%d.json" % rnd.randrange(40), br),
                           b'{"n": %d}' % step)
            else:
                os.unlink(self.doc("fl/" + rnd.choice(sorted(os.listdir(self.doc("fl", br)))),
                                   br))
        elif r < 0.61:
            # The big collection: fanout; half the time among 12
            # documents, so that both sides change some bucket.
            doc = {"s": step}
            doc["k%d" % rnd.randrange(3)] = rnd.randrange(3)
            i = rnd.randrange(12) if rnd.random() < 0.5 else rnd.randrange(2100)
            write_file(self.doc("big/d%04d.json" % i, br), json.dumps(doc).encode())
        elif r < 0.71:
            files = {big_path(rnd.randrange(2100)): b'{"o": %d}' % step,
                     "c/o%d.json" % rnd.randrange(8): b'{"o": %d}' % step}
            if exe and rnd.random() < 0.1:  # an executable: its records say modes unknown
                files["c/x%d.json" % rnd.randrange(3)] = ("100755", b'{"x": %d}' % step)
            if rnd.random() < 0.2:
                files[big_path(rnd.randrange(2100))] = None
            self.plumbing_commit(br, files)
        elif r < 0.76:
            src, dst = rnd.sample(branches, 2)
            self.ctl("merge", self.repo, src, dst)

    def seed(self):
        """Main's collections: big and sm fanout, fl flat at the threshold."""
        big = {big_path(i): b'{"i": %d}' % i for i in range(2100)}
        big["big/.chronofs-fanout"] = b"fanout\n"
        for i in range(24):  # a small fanout collection: ~1 file a bucket
            big["sm/%s/s%d.json" % (bucket("s%d.json" % i), i)] = b'{"s": %d}' % i
        big["sm/" + MARKER] = b"fanout\n"
        self.fast_commit("main", big, "fanout collections")
        # Apart: a commit of more than 4,096 files gets no record.
        self.fast_commit("main", {"fl/f%04d.json" % i: b'{"f": %d}' % i for i in range(FLAT_FULL)},
                         "a flat collection")
        os.makedirs(self.doc("c"), exist_ok=True)
        write_file(self.doc("c/d0.json"), b'{"a": 1}')

    def three_ways(self, tag, src, dst):
        """Merge SRC into DST on copies from the trees, auto and the records
        alone: auto's and the records' (where they answer) merge is the
        trees'. The records' (returncode, tree, message, stderr), None where
        they declined."""
        trees = self.merge_on_copy(tag, src, dst, "trees")
        self.assertEqual(trees[0], 0, trees[3])
        auto = self.merge_on_copy(tag, src, dst, "auto")
        self.assertEqual(auto[:3], trees[:3], tag)
        recs = self.merge_on_copy(tag, src, dst, "records")
        if recs[0] != 0:
            self.assertIn("cannot answer", recs[3])
            return None
        self.assertEqual(recs[:3], trees[:3], tag)
        return recs

    def base_off_chain(self, src, dst):
        """Whether the merge base of SRC and DST is off the first-parent
        chain of either (a second merge the same way, a criss-cross)."""
        base = self.git("merge-base", dst, src, check=False).strip()
        return bool(base) and any(
            base not in self.git("rev-list", "--first-parent", b).split() for b in (src, dst))

    def test_random_merges_records_match_the_trees(self):
        rnd = random.Random(20261207)
        self.seed()
        answered = declined = merged = 0  # merged: with conflicts
        met = {}  # shapes of the merges the records answered
        for round_ in range(6):
            # Side branches new each round, their first saves resharding
            # fl (repeated merges of the same branches: the next test).
            branches = ["main", "f%d" % round_, "g%d" % round_]
            for b in branches[1:]:
                os.mkdir(os.path.join(self.mnt, b))
                # Its first save reshards fl where main's is still flat.
                write_file(self.doc("fl/%s.json" % b, b), b'{"b": 1}')
            for step in range(30):
                self.step(rnd, branches, 100 * round_ + step)
            if round_ == 2:
                # An executable: its commit's record says modes unknown,
                # so the merges through it are left to the trees.
                self.plumbing_commit("g2", {"c/x0.json": ("100755", b'{"x": 0}')})
            # Every branch indexed, its commits' records written.
            for br in branches:
                os.listdir(os.path.join(self.mnt, br + "@history"))
            self.unmount()
            for src in branches:
                for dst in branches:
                    if src == dst:
                        continue
                    tag = "%d-%s-%s" % (round_, src, dst)
                    shapes = self.shapes(src, dst)
                    recs = self.three_ways(tag, src, dst)
                    if recs is None:
                        declined += 1
                        continue
                    answered += 1
                    merged += "Conflicts:" in recs[2]
                    for sh in shapes:
                        met[sh] = met.get(sh, 0) + 1
            self.mount()
        # Both ways taken, and the records answered every kind of merge.
        self.assertGreater(answered, 3, (answered, declined))
        self.assertGreater(declined, 0, (answered, declined, merged))
        self.assertEqual(sorted(met), ["both", "flat-fanout", "resharded-both", "take",
                                       "take-delete"], met)

    def test_repeated_and_criss_cross_merges_from_the_records(self):
        """Main merges f round after round (the base: f's commit the last
        merge took, a second parent on main's side), main and g merge each
        other in turn (criss-cross), as sync merges a remote branch again
        and again: each merge three ways, then made for real; without
        executables every record has its modes, so the records answer
        every one."""
        rnd = random.Random(20261208)
        self.seed()
        branches = ["main", "f", "g"]
        for b in branches[1:]:
            os.mkdir(os.path.join(self.mnt, b))
            write_file(self.doc("fl/%s.json" % b, b), b'{"b": 1}')
        off = merged = 0  # merges with the base off a chain; with conflicts
        met = set()
        for round_ in range(6):
            for step in range(16):
                self.step(rnd, branches, 100 * round_ + step, exe=False)
            for br in branches:
                os.listdir(os.path.join(self.mnt, br + "@history"))
            self.unmount()
            cross = ("main", "g") if round_ % 2 else ("g", "main")
            for src, dst in (("f", "main"), cross):
                tag = "%d-%s-%s" % (round_, src, dst)
                off += self.base_off_chain(src, dst)
                met |= self.shapes(src, dst)
                recs = self.three_ways(tag, src, dst)
                self.assertIsNotNone(recs, tag)
                merged += "Conflicts:" in recs[2]
                self.ctl("merge", self.repo, src, dst)
            self.mount()
        self.assertGreaterEqual(off, 8, off)
        self.assertGreater(merged, 0)
        self.assertTrue({"take", "both"} <= met, met)

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
