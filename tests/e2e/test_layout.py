"""Storage layout: small collections are stored flat, large ones with a hash
fanout that the mount presents flat (README, "Storage layout")."""

import hashlib
import json
import os
import shutil
import subprocess
import time

from harness import CTL, ROOT, ChronofsTestCase, git, read_file, write_file

GEN = os.path.join(ROOT, "tools", "gen-history.py")
FANOUT_AT = 2048


def bucket(name):
    h = 2166136261
    for ch in name.encode():
        h = ((h ^ ch) * 16777619) & 0xFFFFFFFF
    return "%02x" % (h & 0xFF)


def sub_bucket(name):
    h = 2166136261
    for ch in name.encode():
        h = ((h ^ ch) * 16777619) & 0xFFFFFFFF
    return "%02x" % ((h >> 8) & 0xFF)


def blob_id(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class LayoutTests(ChronofsTestCase):
    mount_on_setup = False

    def fast_import(self, flat):
        gen = subprocess.run(["python3", GEN, "--flat", str(flat), "--commits", "0", "--collection", "c"],
                             capture_output=True, check=True).stdout
        self.run_cmd("git", "--git-dir=" + self.repo, "fast-import", "--quiet", "--done", input=gen, stdin=None)

    def test_small_collection_stays_flat(self):
        self.mount()
        os.mkdir(self.doc("users"))
        write_file(self.doc("users/alice.json"), b'{"a": 1}')
        self.assertEqual(self.show("users/alice.json"), b'{"a": 1}')

    def test_large_flat_collection_is_resharded_by_the_first_save(self):
        self.fast_import(FANOUT_AT + 10)
        self.mount()
        before = self.commit_count()
        self.assertEqual(len(os.listdir(self.doc("c"))), FANOUT_AT + 10)
        write_file(self.doc("c/new.json"), b'{"v": 1}')
        self.assertEqual(self.commit_count(), before + 1, "the reshard is part of the one save")
        top = self.git("ls-tree", "--name-only", "main", "c/").split()
        self.assertIn("c/.chronofs-fanout", top)
        self.assertTrue(all(os.path.basename(p) == ".chronofs-fanout" or len(os.path.basename(p)) == 2
                            for p in top), top[:5])
        self.assertEqual(self.show("c/%s/new.json" % bucket("new.json")), b'{"v": 1}')
        self.assertEqual(self.show("c/%s/b7.json" % bucket("b7.json")), b'{"id": 7, "v": -1}')
        # Presented flat, every document once.
        names = os.listdir(self.doc("c"))
        self.assertEqual(len(names), FANOUT_AT + 11)
        self.assertEqual(len(set(names)), len(names))
        self.assertNotIn(".chronofs-fanout", names)
        self.assertEqual(read_file(self.doc("c/b7.json")), b'{"id": 7, "v": -1}')

    def test_overwriting_a_document_of_a_large_flat_collection_reshards_it(self):
        self.fast_import(FANOUT_AT + 10)
        self.mount()
        before = self.commit_count()
        write_file(self.doc("c/b5.json"), b'{"id": 5, "v": 7}')
        self.assertEqual(self.commit_count(), before + 1)
        self.assertEqual(self.show("c/%s/b5.json" % bucket("b5.json")), b'{"id": 5, "v": 7}')
        self.assertEqual(len(os.listdir(self.doc("c"))), FANOUT_AT + 10)
        self.assertEqual(len(os.listdir(self.doc("c/b5.json", branch="main@history"))), 2)

    def test_reshard_moves_every_file_and_keeps_subcollections(self):
        self.fast_import(FANOUT_AT + 300)
        self.mount()
        os.mkdir(self.doc("c/sub"))
        write_file(self.doc("c/sub/x.json"), b'{"x": 1}')
        flat = {l.split("\t")[1]: l.split()[2]
                for l in self.git("ls-tree", "main:c").splitlines()}
        self.assertEqual(len(flat), FANOUT_AT + 301)
        write_file(self.doc("c/b9.json"), b'{"id": 9, "v": 2}')
        write_file(self.doc("c/zz-new.json"), b'{"v": 3}')
        want = dict(flat)
        del want["sub"]
        want["b9.json"] = blob_id(b'{"id": 9, "v": 2}')
        want["zz-new.json"] = blob_id(b'{"v": 3}')
        got = {}
        for l in self.git("ls-tree", "-r", "main:c").splitlines():
            path, blob = l.split("\t")[1], l.split()[2]
            if path.startswith("sub/") or path == ".chronofs-fanout":
                continue
            b, name = path.split("/")
            self.assertEqual(b, bucket(name), path)
            got[name] = blob
        self.assertEqual(got, want)
        self.assertEqual(self.show("c/sub/x.json"), b'{"x": 1}')
        self.assertIn("sub", os.listdir(self.doc("c")))
        self.assertEqual(read_file(self.doc("c/sub/x.json")), b'{"x": 1}')
        self.assertEqual(len(os.listdir(self.doc("c"))), FANOUT_AT + 302)

    def test_fanout_collection_keeps_history_views_and_snapshots(self):
        self.fast_import(FANOUT_AT + 10)
        self.mount()
        flat = self.head()
        write_file(self.doc("c/b3.json"), b'{"id": 3, "v": 99}')
        write_file(self.doc("c/b4.json"), b'{"id": 4, "v": 100}')
        # The reshard is no new version of the documents it moved.
        self.assertEqual(len(os.listdir(self.doc("c/b5.json", branch="main@history"))), 1)
        self.assertEqual(len(os.listdir(self.doc("c/b3.json", branch="main@history"))), 2)
        self.assertEqual(read_file(self.doc("c/b3.json", branch="main@" + flat[:7])), b'{"id": 3, "v": -1}')
        top = sorted(os.listdir(self.doc("c/@by/-v")))[:2]
        self.assertEqual([n.split("_", 1)[1] for n in top], ["b4.json", "b3.json"])
        os.unlink(self.doc("c/b4.json"))
        self.assertNotIn("b4.json", os.listdir(self.doc("c")))
        self.assertEqual(len(os.listdir(self.doc("c"))), FANOUT_AT + 9)

    def bucket_of_names(self, n, b="00"):
        """N names of documents whose bucket is B."""
        names, i = [], 0
        while len(names) < n:
            name = "s%d.json" % i
            if bucket(name) == b:
                names.append(name)
            i += 1
        return names

    def test_a_bucket_of_2048_files_is_split_by_the_next_save(self):
        """A save into a bucket that holds 2,047 files splits it into 256
        sub-buckets by the hash's second byte, in the same commit; every
        reader takes it: the listing, reads, history and snapshots from
        before the split, both diffs, a merge from a branch made before
        it, the next saves into it, and git fsck."""
        names = self.bucket_of_names(FANOUT_AT + 2)
        lines = ["commit refs/heads/main", "committer t <t@x> 1700000000 +0000", "data 4", "init",
                 "from refs/heads/main^0", "M 100644 inline c/.chronofs-fanout", "data 7", "fanout"]
        for name in names[:FANOUT_AT - 1] + ["x.json"]:
            body = '{"n": "%s"}' % name
            lines += ["M 100644 inline c/%s/%s" % (bucket(name), name), "data %d" % len(body), body]
        self.run_cmd("git", "--git-dir=" + self.repo, "fast-import", "--quiet",
                     input=("\n".join(lines) + "\n").encode(), stdin=None)
        self.git("branch", "before", "main")
        before = self.head()
        self.mount()
        write_file(self.doc("c/b-side.json", branch="before"), b'{"side": 1}')
        n0 = self.commit_count()
        new = names[FANOUT_AT - 1]
        write_file(self.doc("c/" + new), b'{"new": 1}')
        self.assertEqual(self.commit_count(), n0 + 1, "the split is part of the one save")
        top = self.git("ls-tree", "main:c/00").splitlines()
        self.assertEqual(top[0].split("\t")[1], ".chronofs-fanout")
        self.assertTrue(all(l.split()[1] == "tree" and len(l.split("\t")[1]) == 2 for l in top[1:]), top[:3])
        for name in (new, names[0], names[100]):
            self.assertEqual(self.git("cat-file", "-t", "main:c/00/%s/%s" % (sub_bucket(name), name)).strip(), "blob")
        listed = os.listdir(self.doc("c"))
        self.assertEqual(len(listed), FANOUT_AT + 1)
        self.assertEqual(set(listed), set(names[:FANOUT_AT]) | {"x.json"})
        self.assertEqual(read_file(self.doc("c/" + names[7])), b'{"n": "%s"}' % names[7].encode())
        self.assertEqual(read_file(self.doc("c/" + new)), b'{"new": 1}')
        # The state before the split, and a document's history across it.
        self.assertEqual(len(os.listdir(self.doc("c", branch="main@" + before[:7]))), FANOUT_AT)
        write_file(self.doc("c/" + names[7]), b'{"n": 7}')
        self.assertEqual(len(os.listdir(self.doc("c/" + names[7], branch="main@history"))), 2)
        self.assertEqual(read_file(self.doc("c/" + names[7], branch="main@" + before[:7])),
                         b'{"n": "%s"}' % names[7].encode())
        for way in ("trees", "records"):
            out = self.run_cmd(CTL, "diff", self.repo, before, "main", env=dict(self.env, CHRONOFS_DIFF=way),
                               text=True).stdout
            got = sorted((json.loads(l)["path"], json.loads(l)["op"]) for l in out.splitlines())
            self.assertEqual(got, sorted([("c/" + new, "add"), ("c/" + names[7], "modify")]), way)
        # The next save goes into its sub-bucket; a deletion leaves it split.
        last = names[FANOUT_AT]
        write_file(self.doc("c/" + last), b'{"last": 1}')
        self.assertEqual(self.show("c/00/%s/%s" % (sub_bucket(last), last)), b'{"last": 1}')
        os.unlink(self.doc("c/" + names[3]))
        self.assertNotIn(names[3], os.listdir(self.doc("c")))
        self.assertIn(".chronofs-fanout", self.git("ls-tree", "--name-only", "main:c/00").split())
        # A branch from before the split, merged both ways: from the
        # trees and from the index's records alike (on copies first).
        for src, dst in (("before", "main"), ("main", "before")):
            trees = {}
            for way in ("trees", "records"):
                copy = os.path.join(self.work, "copy-%s.git" % way)
                shutil.rmtree(copy, ignore_errors=True)
                shutil.copytree(self.repo, copy, symlinks=True)
                r = self.run_cmd(CTL, "merge", copy, src, dst, env=dict(self.env, CHRONOFS_MERGE=way),
                                 check=False, text=True)
                self.assertEqual(r.returncode, 0, (way, r.stderr))
                trees[way] = git(copy, "rev-parse", dst + "^{tree}")
                shutil.rmtree(copy)
            self.assertEqual(trees["trees"], trees["records"], (src, dst))
        self.ctl("merge", self.repo, "before", "main")
        self.ctl("merge", self.repo, "main", "before")
        for b in ("main", "before"):
            docs = os.listdir(self.doc("c", branch=b))
            self.assertEqual(len(docs), FANOUT_AT + 2, b)
            self.assertEqual(read_file(self.doc("c/b-side.json", branch=b)), b'{"side": 1}', b)
            self.assertEqual(read_file(self.doc("c/" + last, branch=b)), b'{"last": 1}', b)
            self.assertEqual(read_file(self.doc("c/" + names[7], branch=b)), b'{"n": 7}', b)
        self.remount()
        self.assertEqual(read_file(self.doc("c/" + names[9])), b'{"n": "%s"}' % names[9].encode())
        self.git("fsck", "--no-progress")

    def warm_lines(self):
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return [l for l in f if "warmed the tree memo" in l]

    def wait_warm(self):
        for _ in range(500):
            lines = self.warm_lines()
            if lines:
                return lines
            time.sleep(0.02)
        return []

    def test_the_next_mount_warms_the_buckets_of_the_collections_saved_into(self):
        """A mount remembers the collections its saves went to
        (chronofs/warm) and the next mount loads their buckets into the
        tree memo in the background, with a log line; a mount that only
        reads leaves the list as it was."""
        self.fast_import(FANOUT_AT + 500)
        os.makedirs(os.path.join(self.repo, "chronofs"), exist_ok=True)
        self.mount()
        write_file(self.doc("c/b1.json"), b'{"id": 1, "v": 1}')  # reshards
        os.mkdir(self.doc("small"))
        write_file(self.doc("small/x.json"), b'{"x": 1}')
        self.assertEqual(self.warm_lines(), [], "nothing to warm at the first mount")
        self.unmount()
        with open(os.path.join(self.repo, "chronofs", "warm")) as f:
            self.assertEqual(f.read(), "main\tsmall\nmain\tc\n")
        buckets = [l for l in self.git("ls-tree", "main:c").splitlines() if l.split()[1] == "tree"]
        self.mount()
        lines = self.wait_warm()
        self.assertEqual(len(lines), 1, lines)
        self.assertIn("with %d trees" % len(buckets), lines[0])
        # Saves and reads meanwhile and after see the same documents.
        write_file(self.doc("c/b2.json"), b'{"id": 2, "v": 2}')
        self.assertEqual(read_file(self.doc("c/b2.json")), b'{"id": 2, "v": 2}')
        self.assertEqual(read_file(self.doc("c/b3.json")), b'{"id": 3, "v": -1}')
        self.assertEqual(self.show("c/%s/b2.json" % bucket("b2.json")), b'{"id": 2, "v": 2}')
        # A mount that only reads: the list stays, and is used again.
        self.remount()
        self.assertEqual(len(self.wait_warm()), 1)
        self.assertEqual(len(os.listdir(self.doc("c"))), FANOUT_AT + 500)
        self.remount()
        self.assertEqual(len(self.wait_warm()), 1)
        with open(os.path.join(self.repo, "chronofs", "warm")) as f:
            self.assertEqual(f.read(), "main\tc\nmain\tsmall\n")

    def test_a_file_git_puts_beside_the_buckets_is_the_document(self):
        """A commit made with Git that writes c/b5.json into a fanout
        collection puts it beside the buckets, next to the bucket's older
        copy: the mount, history, diff, merge and the next save all take
        the file beside the buckets as the document."""
        self.fast_import(FANOUT_AT + 10)
        self.git("branch", "flat", "main")
        self.mount()
        write_file(self.doc("c/b1.json"), b'{"id": 1, "v": 1}')  # reshards
        os.mkdir(os.path.join(self.mnt, "f"))
        write_file(self.doc("c/b9.json", branch="f"), b'{"id": 9, "v": 9}')
        before = self.head()
        self.outside_commit({"c/b5.json": '{"id": 5, "v": 55}', "c/b6.json": '{"id": 6, "v": 66}'})
        self.outside_commit({"c/b7.json": '{"id": 7, "v": 77}'}, branch="flat")
        top = self.git("ls-tree", "--name-only", "main", "c/").split()
        self.assertIn("c/b5.json", top)
        self.assertEqual(self.show("c/%s/b5.json" % bucket("b5.json")), b'{"id": 5, "v": -1}')
        # Read, listed once, one new version, one diff line.
        self.assertEqual(read_file(self.doc("c/b5.json")), b'{"id": 5, "v": 55}')
        names = os.listdir(self.doc("c"))
        self.assertEqual(len(names), FANOUT_AT + 10)
        self.assertEqual(len(set(names)), len(names))
        self.assertEqual(len(os.listdir(self.doc("c/b5.json", branch="main@history"))), 2)
        for way in ("trees", "records"):
            out = self.run_cmd(CTL, "diff", self.repo, before, "main", env=dict(self.env, CHRONOFS_DIFF=way),
                               text=True).stdout
            lines = [json.loads(l) for l in out.splitlines()]
            self.assertEqual([(l["path"], l["op"]) for l in lines],
                             [("c/b5.json", "modify"), ("c/b6.json", "modify")], way)
        # Merged into a fanout branch and into a flat one: the new value,
        # in its bucket.
        self.ctl("merge", self.repo, "main", "f")
        self.ctl("merge", self.repo, "main", "flat")
        for b in ("f", "flat"):
            self.assertEqual(read_file(self.doc("c/b5.json", branch=b)), b'{"id": 5, "v": 55}', b)
            self.assertEqual(self.show("c/%s/b5.json" % bucket("b5.json"), b), b'{"id": 5, "v": 55}', b)
            self.assertNotIn("c/b5.json", self.git("ls-tree", "--name-only", b, "c/").split(), b)
            self.assertEqual(len(os.listdir(self.doc("c", branch=b))), FANOUT_AT + 10, b)
        self.assertEqual(read_file(self.doc("c/b7.json", branch="flat")), b'{"id": 7, "v": 77}')
        # Merged into the branch that has it: kept, beside f's change.
        self.ctl("merge", self.repo, "f", "main")
        self.assertEqual(read_file(self.doc("c/b5.json")), b'{"id": 5, "v": 55}')
        self.assertEqual(read_file(self.doc("c/b9.json")), b'{"id": 9, "v": 9}')
        # A save moves it into its bucket; a deletion removes both copies.
        write_file(self.doc("c/b5.json"), b'{"id": 5, "v": 555}')
        self.assertEqual(self.show("c/%s/b5.json" % bucket("b5.json")), b'{"id": 5, "v": 555}')
        self.assertNotIn("c/b5.json", self.git("ls-tree", "--name-only", "main", "c/").split())
        os.unlink(self.doc("c/b6.json"))
        self.assertEqual(self.git("ls-tree", "-r", "--name-only", "main", "c/", raw=True).count(b"/b6.json"), 0)
        self.assertNotIn("b6.json", os.listdir(self.doc("c")))
        self.assertEqual(read_file(self.doc("c/b5.json")), b'{"id": 5, "v": 555}')
        self.assertEqual(len(os.listdir(self.doc("c/b5.json", branch="main@history"))), 3)
