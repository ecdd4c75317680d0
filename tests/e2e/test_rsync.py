"""rsync into and out of a branch: one commit per document, a second run transfers nothing."""

import os
import re

from harness import ChronofsTestCase

DOCS = 300


def make_tree(root):
    """300 JSON documents in nested directories plus two non-JSON files."""
    for i in range(DOCS):
        d = os.path.join(root, "c%d" % (i % 5), "s%d" % (i % 3))
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "doc%03d.json" % i), "w") as f:
            f.write('{"i": %d, "name": "doc %d", "tags": ["a", "b"]}\n' % (i, i))
    with open(os.path.join(root, "README.md"), "w") as f:
        f.write("# source tree\n")
    with open(os.path.join(root, "c1", "notes.txt"), "w") as f:
        f.write("scratch\n")


class RsyncTests(ChronofsTestCase):
    def setUp(self):
        super().setUp()
        self.src = os.path.join(self.work, "src")
        make_tree(self.src)

    def rsync_in(self, *extra):
        return self.run_cmd("rsync", "-a", *extra, self.src + "/", self.main + "/", text=True, timeout=300)

    def test_rsync_in_commits_once_per_document_and_diff_is_clean(self):
        before = self.commit_count()
        self.rsync_in()
        self.assertEqual(self.commit_count(), before + DOCS)
        self.assertEqual(len(self.tree()), DOCS)
        self.assertTreeHoldsOnlyDocuments()
        self.run_cmd("diff", "-r", self.src, self.main)
        self.assertEqual(self.show("c0/s0/doc000.json"), b'{"i": 0, "name": "doc 0", "tags": ["a", "b"]}\n')

    def test_second_rsync_transfers_nothing_and_commits_nothing(self):
        self.rsync_in()
        before = self.commit_count()
        out = self.rsync_in("--stats").stdout
        m = re.search(r"Number of regular files transferred: ([\d,]+)", out)
        self.assertIsNotNone(m, out)
        self.assertEqual(m.group(1), "0", out)
        self.assertEqual(self.commit_count(), before)

    def test_rsync_out_of_mount_matches_source(self):
        self.rsync_in()
        out = os.path.join(self.work, "out")
        self.run_cmd("rsync", "-a", self.main + "/", out + "/", timeout=300)
        self.run_cmd("diff", "-r", self.src, out)
