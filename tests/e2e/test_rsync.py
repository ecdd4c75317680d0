"""rsync into and out of a branch: one commit per document, a second run transfers nothing."""

import os
import re
import time

from harness import ChronofsTestCase, read_file

DOCS = 300


def make_tree(root, docs=DOCS):
    """DOCS JSON documents in nested directories plus two non-JSON files."""
    for i in range(docs):
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


class SmallTreeTests(ChronofsTestCase):
    """rsync and tar on a 30-document tree: updates, deletions."""

    def setUp(self):
        super().setUp()
        self.src = os.path.join(self.work, "src")
        make_tree(self.src, 30)
        self.run_cmd("rsync", "-a", self.src + "/", self.main + "/")
        self.before = self.commit_count()

    def test_rsync_of_changed_files_commits_only_those(self):
        future = time.time() + 100
        for i in (0, 7, 13):
            p = os.path.join(self.src, "c%d" % (i % 5), "s%d" % (i % 3), "doc%03d.json" % i)
            with open(p, "w") as f:
                f.write('{"i": %d, "name": "DOC %d", "tags": ["a", "b"]}\n' % (i, i))  # same size
            os.utime(p, (future, future))
        self.run_cmd("rsync", "-a", self.src + "/", self.main + "/")
        self.assertEqual(self.commit_count(), self.before + 3)
        self.run_cmd("diff", "-r", self.src, self.main)

    def test_rsync_delete_commits_deletions(self):
        os.unlink(os.path.join(self.src, "c0", "s0", "doc000.json"))
        os.unlink(os.path.join(self.src, "c1", "s1", "doc001.json"))
        os.unlink(os.path.join(self.src, "README.md"))
        self.run_cmd("rsync", "-a", "--delete", self.src + "/", self.main + "/")
        self.assertEqual(self.commit_count(), self.before + 2)
        self.assertEqual(len(self.tree()), 28)
        self.run_cmd("diff", "-r", self.src, self.main)

    def test_tar_extract_commits_once_per_document(self):
        tarball = os.path.join(self.work, "t.tar")
        self.run_cmd("tar", "-C", self.src, "-cf", tarball, "c2")
        dest = self.doc("fromtar")
        os.mkdir(dest)
        self.run_cmd("tar", "-C", dest, "-xf", tarball)
        self.assertEqual(self.commit_count(), self.before + 6)
        self.run_cmd("diff", "-r", os.path.join(self.src, "c2"), os.path.join(dest, "c2"))

    def test_tar_extract_keeps_mtimes(self):
        tarball = os.path.join(self.work, "t.tar")
        for dirpath, _, files in os.walk(os.path.join(self.src, "c2")):
            for f in files:
                os.utime(os.path.join(dirpath, f), (1400000000, 1400000000))
        self.run_cmd("tar", "-C", self.src, "-cf", tarball, "c2")
        dest = self.doc("fromtar")
        os.mkdir(dest)
        self.run_cmd("tar", "-C", dest, "-xf", tarball)
        self.assertEqual(int(os.stat(os.path.join(dest, "c2", "s0", "doc012.json")).st_mtime), 1400000000)

    def test_git_clone_of_repository_matches_mount(self):
        clone = os.path.join(self.work, "clone")
        self.run_cmd("git", "clone", "-q", self.repo, clone)
        for dirpath, _, files in os.walk(clone):
            if ".git" in dirpath.split(os.sep):
                continue
            for f in files:
                rel = os.path.relpath(os.path.join(dirpath, f), clone)
                self.assertEqual(read_file(os.path.join(clone, rel)), read_file(self.doc(rel)), rel)
        self.assertEqual(len(self.tree()), 30)
