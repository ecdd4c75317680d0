"""chronofsctl import: a directory tree as ONE commit; every document
validated first (one bad file refuses all and is named); other files
skipped and counted."""

import json
import os

from harness import ChronofsTestCase


class ImportTests(ChronofsTestCase):
    mount_on_setup = False

    def make_tree(self, n, bad=False):
        src = os.path.join(self.work, "src")
        for i in range(n):
            d = os.path.join(src, "c", "s%d" % (i % 3))
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, "d%d.json" % i), "w") as f:
                json.dump({"i": i}, f)
        with open(os.path.join(src, "README.md"), "w") as f:
            f.write("not a document\n")
        os.makedirs(os.path.join(src, ".git"), exist_ok=True)
        with open(os.path.join(src, ".git", "x.json"), "w") as f:
            f.write("{}")
        if bad:
            with open(os.path.join(src, "c", "bad.json"), "w") as f:
                f.write('{"i": ')
        return src

    def test_a_tree_is_one_commit(self):
        src = self.make_tree(1500)
        before = self.commit_count()
        out = self.ctl("import", self.repo, "main", src, "-m", "bulk").stdout
        self.assertIn("imported 1500 documents", out)
        self.assertIn("2 other files skipped", out)
        self.assertEqual(self.commit_count(), before + 1)
        self.assertEqual(len(self.tree()), 1500)
        self.assertEqual(json.loads(self.show("c/s1/d4.json")), {"i": 4})
        self.git("fsck", "--strict", "--no-dangling")
        self.mount()
        self.assertEqual(sorted(os.listdir(self.doc("c"))), ["s0", "s1", "s2"])
        self.assertEqual(len(os.listdir(self.doc("c/s2"))), 500)

    def test_one_bad_document_refuses_it_all(self):
        src = self.make_tree(50, bad=True)
        before = self.head()
        r = self.ctl("import", self.repo, "main", src, check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("c/bad.json", r.stderr)
        self.assertIn("invalid JSON", r.stderr)
        self.assertEqual(self.head(), before)
