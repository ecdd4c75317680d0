"""Collections: nested directories, empty collections, rmdir."""

import errno
import os

from harness import ChronofsTestCase, read_file, write_file


class CollectionTests(ChronofsTestCase):
    def test_nested_collections_store_nested_paths(self):
        os.makedirs(self.doc("users/2026/q4"))
        before = self.commit_count()
        write_file(self.doc("users/2026/q4/x.json"), b'{"deep": true}')
        self.assertEqual(self.commit_count(), before + 1)
        self.assertEqual(self.tree(), ["users/2026/q4/x.json"])
        self.assertEqual(self.show("users/2026/q4/x.json"), b'{"deep": true}')
        self.assertEqual(read_file(self.doc("users/2026/q4/x.json")), b'{"deep": true}')
        self.assertEqual(os.listdir(self.doc("users")), ["2026"])
        self.assertEqual(os.listdir(self.doc("users/2026/q4")), ["x.json"])

    def test_mkdir_makes_empty_collection_that_exists_while_empty(self):
        before = self.commit_count()
        os.mkdir(self.doc("empty"))
        self.assertTrue(os.path.isdir(self.doc("empty")))
        self.assertIn("empty", os.listdir(self.main))
        self.assertEqual(os.listdir(self.doc("empty")), [])
        self.assertEqual(self.commit_count(), before)

    def test_mkdir_existing_collection_fails_eexist(self):
        os.mkdir(self.doc("c"))
        with self.assertErrno(errno.EEXIST):
            os.mkdir(self.doc("c"))

    def test_rmdir_of_empty_collection(self):
        os.mkdir(self.doc("empty"))
        os.rmdir(self.doc("empty"))
        self.assertFalse(os.path.exists(self.doc("empty")))
        self.assertNotIn("empty", os.listdir(self.main))

    def test_rmdir_after_all_documents_deleted(self):
        os.mkdir(self.doc("c"))
        write_file(self.doc("c/a.json"), b"1")
        write_file(self.doc("c/b.json"), b"2")
        before = self.commit_count()
        os.unlink(self.doc("c/a.json"))
        os.unlink(self.doc("c/b.json"))
        self.assertEqual(self.commit_count(), before + 2)
        self.assertEqual(self.tree(), [])
        os.rmdir(self.doc("c"))
        self.assertFalse(os.path.exists(self.doc("c")))
        self.assertEqual(self.commit_count(), before + 2)

    def test_rmdir_of_collection_with_documents_fails_enotempty(self):
        os.mkdir(self.doc("c"))
        write_file(self.doc("c/a.json"), b"1")
        with self.assertErrno(errno.ENOTEMPTY):
            os.rmdir(self.doc("c"))
        self.assertEqual(self.tree(), ["c/a.json"])

    def test_rm_rf_collection_commits_deletions(self):
        os.makedirs(self.doc("c/sub"))
        write_file(self.doc("c/a.json"), b"1")
        write_file(self.doc("c/sub/b.json"), b"2")
        write_file(self.doc("keep.json"), b"3")
        self.run_cmd("rm", "-rf", self.doc("c"))
        self.assertFalse(os.path.exists(self.doc("c")))
        self.assertEqual(self.tree(), ["keep.json"])

    def test_mv_of_collection_moves_its_documents(self):
        os.makedirs(self.doc("old/sub"))
        write_file(self.doc("old/a.json"), b"1")
        write_file(self.doc("old/sub/b.json"), b"2")
        self.run_cmd("mv", self.doc("old"), self.doc("new"))
        self.assertEqual(self.tree(), ["new/a.json", "new/sub/b.json"])
        self.assertFalse(os.path.exists(self.doc("old")))
        self.assertEqual(read_file(self.doc("new/sub/b.json")), b"2")
