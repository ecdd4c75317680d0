"""Merging branches (SPEC "Merging, transactions and diffs"): the case matrix,
each merged with `chronofsctl merge` while the repository is mounted and
checked through the mount and through Git; @conflicts; --squash;
transactions; chronofsctl diff against an independent RFC 6902 applier."""

import copy
import errno
import json
import os
import subprocess
import time

from harness import ChronofsTestCase, write_file
from test_library import BindingMixin


def apply_patch(doc, patch):
    """RFC 6902 add/remove/replace (what chronofsctl diff emits), written
    here from the RFC, independent of the C code."""

    def split(ptr):
        if ptr == "":
            return []
        assert ptr.startswith("/"), ptr
        return [p.replace("~1", "/").replace("~0", "~") for p in ptr[1:].split("/")]

    for op in patch:
        parts = split(op["path"])
        if not parts:
            if op["op"] == "remove":
                doc = None
            else:
                doc = copy.deepcopy(op["value"])
            continue
        parent = doc
        for p in parts[:-1]:
            parent = parent[int(p)] if isinstance(parent, list) else parent[p]
        key = parts[-1]
        if isinstance(parent, list):
            if op["op"] == "add":
                parent.insert(len(parent) if key == "-" else int(key), copy.deepcopy(op["value"]))
            elif op["op"] == "remove":
                del parent[int(key)]
            else:
                parent[int(key)] = copy.deepcopy(op["value"])
        else:
            if op["op"] == "remove":
                del parent[key]
            else:
                if op["op"] == "replace":
                    assert key in parent, op
                parent[key] = copy.deepcopy(op["value"])
    return doc


class MergeTests(ChronofsTestCase):
    def put(self, branch, rel, value):
        d = os.path.dirname(self.doc(rel, branch))
        os.makedirs(d, exist_ok=True)
        text = value if isinstance(value, str) else json.dumps(value)
        write_file(self.doc(rel, branch), text.encode())

    def get(self, branch, rel):
        with open(self.doc(rel, branch), "rb") as f:
            return json.loads(f.read())

    def git_get(self, branch, rel):
        """REL in BRANCH's Git tree, wherever the layout keeps it (a fanout
        collection's documents are in buckets)."""
        d, name = os.path.split(rel)
        for path in self.git("ls-tree", "-r", "--name-only", branch, d + "/").splitlines():
            if path in (rel, "%s/%s/%s" % (d, path.split("/")[-2], name)) and path.endswith("/" + name):
                return json.loads(self.show(path, branch))
        self.fail("%s not in %s" % (rel, branch))

    def branch_from_main(self, name="f"):
        os.mkdir(os.path.join(self.mnt, name))

    def merge(self, src="f", into="main", *extra):
        return self.ctl("merge", self.repo, src, into, *extra).stdout

    def both(self, rel, expect, branch="main"):
        """REL reads EXPECT through the mount and in Git."""
        self.assertEqual(self.get(branch, rel), expect)
        self.assertEqual(self.git_get(branch, rel), expect)

    def test_disjoint_documents(self):
        self.put("main", "c/a.json", {"v": 1})
        self.branch_from_main()
        self.put("f", "c/b.json", {"v": 2})
        self.put("main", "c/c.json", {"v": 3})
        out = self.merge()
        self.assertIn("0 conflicts", out)
        self.both("c/a.json", {"v": 1})
        self.both("c/b.json", {"v": 2})
        self.both("c/c.json", {"v": 3})
        parents = self.git("rev-list", "--parents", "-n", "1", "main").split()
        self.assertEqual(len(parents), 3, "a merge commit has two parents")

    def test_disjoint_members_and_equal_changes(self):
        self.put("main", "c/a.json", {"x": 1, "y": 1, "z": 1})
        self.branch_from_main()
        self.put("f", "c/a.json", {"x": 2, "y": 1, "z": 5})
        self.put("main", "c/a.json", {"x": 1, "y": 3, "z": 5})
        out = self.merge()
        self.assertIn("0 conflicts", out)
        self.both("c/a.json", {"x": 2, "y": 3, "z": 5})

    def test_same_member_changed_differently(self):
        self.put("main", "c/a.json", {"x": 1, "keep": True})
        self.branch_from_main()
        self.put("main", "c/a.json", {"x": "ours", "keep": True})
        time.sleep(1.1)  # theirs is the newer change
        self.put("f", "c/a.json", {"x": "theirs", "keep": True})
        out = self.merge()
        self.assertIn("1 conflict", out)
        self.both("c/a.json", {"x": "theirs", "keep": True})
        msg = self.git("log", "-1", "--format=%B", "main")
        self.assertIn("Conflicts:\n\tc/a.json", msg)
        top = os.path.join(self.mnt, "main@conflicts")
        self.assertEqual(os.listdir(top), ["c"])
        merges = os.listdir(os.path.join(top, "c", "a.json"))
        self.assertEqual(len(merges), 1)
        self.assertTrue(merges[0].endswith("_" + self.head()[:7]), merges)
        d = os.path.join(top, "c", "a.json", merges[0])
        self.assertEqual(sorted(os.listdir(d)), ["base.json", "conflicts.json", "merged.json",
                                                 "ours.json", "theirs.json"])
        rd = lambda n: json.loads(open(os.path.join(d, n), "rb").read())  # noqa: E731
        self.assertEqual(rd("base.json"), {"x": 1, "keep": True})
        self.assertEqual(rd("ours.json"), {"x": "ours", "keep": True})
        self.assertEqual(rd("theirs.json"), {"x": "theirs", "keep": True})
        self.assertEqual(rd("merged.json"), {"x": "theirs", "keep": True})
        c = rd("conflicts.json")["conflicts"]
        self.assertEqual(len(c), 1)
        self.assertEqual((c[0]["pointer"], c[0]["ours"], c[0]["theirs"], c[0]["winner"]),
                         ("/x", "ours", "theirs", "theirs"))
        # Nothing of it is listed in the branch itself.
        self.assertNotIn("main@conflicts", os.listdir(self.mnt))

    def test_modify_against_delete_keeps_the_modification(self):
        self.put("main", "c/a.json", {"v": 1})
        self.put("main", "c/b.json", {"v": 1})
        self.branch_from_main()
        os.unlink(self.doc("c/a.json", "f"))
        self.put("main", "c/a.json", {"v": 2})
        self.put("f", "c/b.json", {"v": 3})
        os.unlink(self.doc("c/b.json"))
        out = self.merge()
        self.both("c/a.json", {"v": 2})
        self.both("c/b.json", {"v": 3})
        self.assertIn("2 conflicts", out)

    def test_add_against_add(self):
        self.branch_from_main()
        self.put("main", "c/n.json", {"a": 1, "same": 0})
        time.sleep(1.1)
        self.put("f", "c/n.json", {"b": 2, "same": 0})
        self.merge()
        self.both("c/n.json", {"a": 1, "same": 0, "b": 2})

    def test_nested_objects_three_levels(self):
        base = {"l1": {"l2": {"l3": {"a": 1, "b": 1}, "s": 1}}}
        self.put("main", "c/n.json", base)
        self.branch_from_main()
        ours = copy.deepcopy(base)
        ours["l1"]["l2"]["l3"]["a"] = 2
        theirs = copy.deepcopy(base)
        theirs["l1"]["l2"]["l3"]["b"] = 3
        theirs["l1"]["l2"]["new"] = True
        self.put("main", "c/n.json", ours)
        self.put("f", "c/n.json", theirs)
        self.assertIn("0 conflicts", self.merge())
        self.both("c/n.json", {"l1": {"l2": {"l3": {"a": 2, "b": 3}, "s": 1, "new": True}}})

    def test_arrays_and_type_changes_are_whole_values(self):
        self.put("main", "c/a.json", {"arr": [1, 2, 3], "t": 1})
        self.branch_from_main()
        self.put("main", "c/a.json", {"arr": [1, 2, 3, 4], "t": 1})
        time.sleep(1.1)
        self.put("f", "c/a.json", {"arr": [0, 1, 2, 3], "t": "one"})
        self.merge()
        # theirs changed both later: the whole array and the type change
        self.both("c/a.json", {"arr": [0, 1, 2, 3], "t": "one"})

    def test_exact_number_and_string_text_survive_a_member_merge(self):
        text = '{"big": 12345678901234567890, "huge": 1.0e400, "z": -0.0, "e": "\\u00e9", "x": 1}'
        self.put("main", "c/n.json", text)
        self.branch_from_main()
        self.put("f", "c/n.json", text.replace('"x": 1', '"x": 2'))
        self.put("main", "c/n.json", text + "\n")  # only ours' layout changed
        self.put("main", "c/n.json", text.replace('"z": -0.0', '"z": -0.0, "w": 1'))
        self.merge()
        raw = self.show("c/n.json").decode()
        for token in ("12345678901234567890", "1.0e400", "-0.0", '"\\u00e9"', '"x": 2', '"w": 1'):
            self.assertIn(token, raw)
        with open(self.doc("c/n.json"), "rb") as f:
            self.assertEqual(f.read().decode(), raw)

    def test_flat_side_against_fanout_side_of_3000_documents(self):
        # main's collection grows past the fanout threshold; f's stays flat.
        os.mkdir(self.doc("big"))
        files = {"big/d%04d.json" % i: '{"i": %d}' % i for i in range(1900)}
        self.outside_commit(files=files, message="1900 documents")
        self.branch_from_main()
        more = {"big/d%04d.json" % i: '{"i": %d}' % i for i in range(1900, 3000)}
        self.outside_commit(files=more, message="to 3000")
        self.put("main", "big/d0000.json", {"i": 0, "ours": 1})  # reshards
        self.assertIn("big/.chronofs-fanout", self.git("ls-tree", "-r", "--name-only", "main"))
        self.put("f", "big/d0001.json", {"i": 1, "theirs": 1})
        self.put("f", "big/new.json", {"new": 1})
        self.assertNotIn("big/.chronofs-fanout", self.git("ls-tree", "-r", "--name-only", "f"))
        self.assertIn("0 conflicts", self.merge())
        self.both("big/d0000.json", {"i": 0, "ours": 1})
        self.both("big/d0001.json", {"i": 1, "theirs": 1})
        self.both("big/new.json", {"new": 1})
        self.assertEqual(len(os.listdir(self.doc("big"))), 3001)
        self.git("fsck", "--strict", "--no-dangling")

    def test_a_merge_indexes_what_it_changed(self):
        # Unmounted, the index of main at its head: the merge commit is
        # indexed from the merge's own list of changes (no tree diff).
        # The indexes then agree with Git: fsck, the ordered index,
        # main@WHEN.
        self.put("main", "c/a.json", {"age": 1})
        self.put("main", "c/b.json", {"age": 2})
        self.put("main", "c/gone.json", {"age": 9})
        self.branch_from_main()
        self.put("f", "c/a.json", {"age": 10})
        self.put("f", "c/new.json", {"age": 5})
        os.unlink(self.doc("c/gone.json", "f"))
        self.put("main", "c/b.json", {"age": 20})
        self.unmount()
        self.ctl("index", "create", self.repo, "main", "c", "age")
        before = self.head("main")
        self.assertIn("0 conflicts", self.merge())
        fsck = self.ctl("fsck", self.repo, check=False).stdout
        self.assertFalse([l for l in fsck.splitlines() if l.startswith("main")], fsck)
        rows = [json.loads(l) for l in self.ctl("query", self.repo, "main", "c", "age").stdout.splitlines()]
        self.assertEqual([r["doc"]["age"] for r in rows], [5, 10, 20])
        at = self.ctl("log", self.repo, "main", "--at", "2100-01-01").stdout.split()
        self.assertIn(self.head("main"), at)
        self.assertNotEqual(before, self.head("main"))
        self.mount()
        self.both("c/a.json", {"age": 10})
        self.assertFalse(os.path.exists(self.doc("c/gone.json")))

    def test_fast_forward_squash_and_bad_input(self):
        self.branch_from_main()
        self.put("f", "c/a.json", {"v": 1})
        self.put("f", "c/b.json", {"v": 2})
        self.assertIn("fast-forward", self.merge())
        self.assertEqual(self.head("main"), self.head("f"))
        self.assertIn("up to date", self.merge())
        os.mkdir(os.path.join(self.mnt, "draft"))
        self.put("draft", "c/a.json", {"v": 10})
        self.put("draft", "c/c.json", {"v": 30})
        before = self.commit_count("main")
        self.assertIn("squashed", self.merge("draft", "main", "--squash", "-m", "draft done"))
        self.assertEqual(self.commit_count("main"), before + 1)
        self.assertEqual(len(self.git("rev-list", "--parents", "-n", "1", "main").split()), 2)
        self.both("c/a.json", {"v": 10})
        self.both("c/c.json", {"v": 30})
        for args, msg in ((("main", "main"), "itself"), (("nosuch", "main"), "nosuch")):
            r = self.ctl("merge", self.repo, *args, check=False)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn(msg, r.stderr)


class TransactionTests(BindingMixin, ChronofsTestCase):
    def test_a_thousand_documents_are_one_commit(self):
        before = self.commit_count()
        self.py("""
            with ChronoFS(REPO) as db:
                with db.transaction("main", message="bulk load") as tx:
                    for i in range(1000):
                        tx.put("bulk/d%d.json" % i, {"i": i})
                    assert tx.get("bulk/d7.json") == {"i": 7}
                print(tx.commit_id)
        """)
        self.assertEqual(self.commit_count(), before + 1)
        self.assertEqual(len(os.listdir(self.doc("bulk"))), 1000)
        self.assertEqual(self.git("log", "-1", "--format=%s"), "bulk load\n")

    def test_one_invalid_document_commits_nothing_and_is_named(self):
        before = self.head()
        out = self.py("""
            with ChronoFS(REPO) as db:
                try:
                    with db.transaction("main") as tx:
                        for i in range(10):
                            tx.put("t/ok%d.json" % i, {"i": i})
                        tx.put_raw("t/bad.json", '{"x": ')
                except ChronoFSError as e:
                    print(e.errno, e)
        """)
        self.assertIn("22 ", out)
        self.assertIn("t/bad.json", out)
        self.assertIn("line 1", out)
        self.assertEqual(self.head(), before)

    def test_strict_fails_exactly_when_its_documents_were_touched(self):
        out = self.py("""
            import errno
            with ChronoFS(REPO) as db:
                db.put("main", "s/a.json", {"v": 0})
                db.put("main", "s/b.json", {"v": 0})
                tx = db.transaction("main", strict=True)
                tx.put("s/a.json", {"v": 1})
                db.put("main", "s/b.json", {"v": 2})    # another document
                print("untouched", tx.commit() is not None)
                tx = db.transaction("main", strict=True)
                tx.put("s/a.json", {"v": 3})
                db.put("main", "s/a.json", {"v": 4})    # its document
                try:
                    tx.commit()
                except ChronoFSError as e:
                    print("touched", e.errno == errno.EBUSY)
                tx = db.transaction("main")             # not strict: merged
                tx.put("s/a.json", {"v": 5, "w": 1})
                db.put("main", "s/b.json", {"v": 6})
                print("merged", tx.commit() is not None)
                print(db.get("main", "s/a.json"), db.get("main", "s/b.json"))
        """)
        self.assertIn("untouched True", out)
        self.assertIn("touched True", out)
        self.assertIn("merged True", out)
        self.assertIn("{'v': 5, 'w': 1} {'v': 6}", out)

    def test_misuse_is_refused(self):
        out = self.py("""
            import errno
            with ChronoFS(REPO) as db:
                tx = db.transaction("main")
                tx.put("m/a.json", {})
                from chronofs import _tx_abort
                _tx_abort(tx._h)
                try:
                    tx.commit()
                except ChronoFSError as e:
                    print("after abort", e.errno == errno.EINVAL, e)
                try:
                    db.transaction("nosuch")
                except ChronoFSError as e:
                    print("no branch", e.errno == errno.ENOENT)
        """)
        self.assertIn("after abort True", out)
        self.assertIn("no branch True", out)


class DiffTests(ChronofsTestCase):
    def test_diff_patches_turn_a_into_b(self):
        os.mkdir(self.doc("c"))
        docs = {"a": {"x": 1, "l": [1, 2], "o": {"p": 1, "a/b": 2, "t~": 3}},
                "b": {"gone": True}, "c": [1, {"k": "v"}]}
        for k, v in docs.items():
            write_file(self.doc("c/%s.json" % k), json.dumps(v).encode())
        a = self.head()
        write_file(self.doc("c/a.json"),
                   json.dumps({"x": 2, "l": [1, 2, 3], "o": {"p": 1, "a/b": 5, "n": None}}).encode())
        os.unlink(self.doc("c/b.json"))
        write_file(self.doc("c/c.json"), json.dumps([{"k": "w"}]).encode())
        write_file(self.doc("c/d.json"), json.dumps({"new": 1}).encode())
        out = self.ctl("diff", self.repo, a, "main").stdout
        lines = [json.loads(l) for l in out.splitlines()]
        self.assertEqual([(l["path"], l["op"]) for l in lines],
                         [("c/a.json", "modify"), ("c/b.json", "delete"), ("c/c.json", "modify"),
                          ("c/d.json", "add")])
        for l in lines:
            name = l["path"]
            old = json.loads(self.show(name, a)) if l["op"] != "add" else None
            new = apply_patch(copy.deepcopy(old), l["patch"])
            if l["op"] == "delete":
                self.assertIsNone(new)
            else:
                self.assertEqual(new, json.loads(self.show(name, "main")), name)
        # A path limits it; BRANCH@WHEN names a commit.
        out = self.ctl("diff", self.repo, a, "main", "c/d.json").stdout
        self.assertEqual(len(out.splitlines()), 1)
        r = self.ctl("diff", self.repo, "main@1999-01-01", "main", check=False)
        self.assertNotEqual(r.returncode, 0)
