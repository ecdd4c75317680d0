"""Branches as top-level directories: list, create, rename, delete, nested names."""

import errno
import os

from harness import ChronofsTestCase, read_file, write_file


class BranchTests(ChronofsTestCase):
    def br(self, name):
        return os.path.join(self.mnt, name)

    def test_ls_lists_branches(self):
        self.assertEqual(os.listdir(self.mnt), ["main"])
        self.git("branch", "other", "main")
        self.wait_until(lambda: sorted(os.listdir(self.mnt)) == ["main", "other"], msg="branch 'other' listed")
        self.assertTrue(os.path.isdir(self.br("other")))

    def test_mkdir_creates_branch_with_mains_documents(self):
        os.mkdir(self.doc("users"))
        write_file(self.doc("users/a.json"), b'{"a": 1}')
        write_file(self.doc("b.json"), b"[2]")
        os.mkdir(self.br("feature"))
        self.assertEqual(self.branches(), ["feature", "main"])
        self.assertEqual(self.head("feature"), self.head("main"))
        self.assertEqual(self.tree("feature"), ["b.json", "users/a.json"])
        self.assertEqual(read_file(self.doc("users/a.json", branch="feature")), b'{"a": 1}')
        self.assertIn("feature", os.listdir(self.mnt))

    def test_write_on_branch_commits_there_only(self):
        os.mkdir(self.br("feature"))
        main_before = self.commit_count("main")
        write_file(self.doc("f.json", branch="feature"), b'{"on": "feature"}')
        self.assertEqual(self.commit_count("feature"), main_before + 1)
        self.assertEqual(self.commit_count("main"), main_before)
        self.assertEqual(self.tree("feature"), ["f.json"])
        self.assertEqual(self.tree("main"), [])
        self.assertFalse(os.path.exists(self.doc("f.json")))

    def test_mv_renames_branch(self):
        write_file(self.doc("a.json"), b"1")
        os.mkdir(self.br("feature"))
        write_file(self.doc("f.json", branch="feature"), b"2")
        head = self.head("feature")
        os.rename(self.br("feature"), self.br("feature2"))
        self.assertEqual(self.branches(), ["feature2", "main"])
        self.assertEqual(self.head("feature2"), head)
        self.assertEqual(sorted(os.listdir(self.mnt)), ["feature2", "main"])
        self.assertEqual(read_file(self.doc("f.json", branch="feature2")), b"2")

    def test_rm_rf_deletes_branch(self):
        os.mkdir(self.doc("users"))
        write_file(self.doc("users/a.json"), b"1")
        os.mkdir(self.br("feature2"))
        main_head = self.head("main")
        self.run_cmd("rm", "-rf", self.br("feature2"))
        self.assertEqual(self.branches(), ["main"])
        self.assertEqual(os.listdir(self.mnt), ["main"])
        self.assertEqual(self.head("main"), main_head)
        self.assertEqual(self.tree("main"), ["users/a.json"])

    def test_rmdir_of_empty_branch_deletes_it(self):
        os.mkdir(self.br("empty"))
        os.rmdir(self.br("empty"))
        self.assertEqual(self.branches(), ["main"])

    def test_rmdir_of_branch_with_documents_fails_enotempty(self):
        write_file(self.doc("a.json"), b"1")
        os.mkdir(self.br("feature"))
        with self.assertErrno(errno.ENOTEMPTY):
            os.rmdir(self.br("feature"))
        self.assertEqual(self.branches(), ["feature", "main"])

    def test_branch_with_slash_shows_as_nested_directories(self):
        write_file(self.doc("a.json"), b'{"x": 1}')
        self.git("branch", "a/b", "main")
        self.wait_until(lambda: os.path.isdir(self.br("a/b")), msg="MNT/a/b/ to appear")
        self.assertEqual(sorted(os.listdir(self.mnt)), ["a", "main"])
        self.assertEqual(os.listdir(self.br("a")), ["b"])
        self.assertEqual(read_file(self.br("a/b/a.json")), b'{"x": 1}')

    def test_invalid_branch_name_fails_einval(self):
        with self.assertErrno(errno.EINVAL):
            os.mkdir(self.br("bad..name"))
        with self.assertErrno(errno.EINVAL):
            os.mkdir(self.br("bad.lock"))
        self.assertEqual(self.branches(), ["main"])

    def test_rename_document_across_branches_fails_exdev(self):
        write_file(self.doc("a.json"), b"1")
        os.mkdir(self.br("feature"))
        with self.assertErrno(errno.EXDEV):
            os.rename(self.doc("a.json"), self.doc("b.json", branch="feature"))
        self.assertEqual(self.tree("main"), ["a.json"])
        self.assertEqual(self.tree("feature"), ["a.json"])


    def test_deleting_head_branch_fails_ebusy(self):
        with self.assertErrno(errno.EBUSY):
            os.rmdir(self.br("main"))
        self.assertEqual(self.branches(), ["main"])

    def test_mkdir_branch_name_holding_at_fails_einval(self):
        with self.assertErrno(errno.EINVAL):
            os.mkdir(self.br("fe@ture"))
        self.assertEqual(self.branches(), ["main"])
