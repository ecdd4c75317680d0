"""Changes made to the repository from outside (git commit + push) show up in the mount."""

import os

from harness import ChronofsTestCase, read_file, write_file


class OutsideChangeTests(ChronofsTestCase):
    def test_outside_commit_becomes_visible(self):
        os.listdir(self.main)  # let the kernel cache the listing first
        self.outside_commit({"docs/outside.json": '{"from": "outside"}\n'})
        path = self.doc("docs/outside.json")
        self.wait_until(lambda: os.path.exists(path), timeout=3.0, msg="outside document to appear")
        self.assertEqual(read_file(path), b'{"from": "outside"}\n')
        self.assertIn("docs", os.listdir(self.main))

    def test_outside_change_to_read_document_becomes_visible(self):
        write_file(self.doc("x.json"), b'{"v": 1}')
        self.assertEqual(read_file(self.doc("x.json")), b'{"v": 1}')
        self.outside_commit({"x.json": '{"v": 2, "outside": true}'})
        self.wait_until(
            lambda: read_file(self.doc("x.json")) == b'{"v": 2, "outside": true}',
            timeout=3.0,
            msg="outside change of x.json to show",
        )
        self.assertEqual(os.stat(self.doc("x.json")).st_size, len(b'{"v": 2, "outside": true}'))

    def test_outside_deletion_becomes_visible(self):
        write_file(self.doc("x.json"), b"1")
        write_file(self.doc("y.json"), b"2")
        os.stat(self.doc("x.json"))
        self.outside_commit(delete=["x.json"])
        self.wait_until(lambda: not os.path.exists(self.doc("x.json")), timeout=3.0, msg="x.json to vanish")
        self.assertEqual(os.listdir(self.main), ["y.json"])

    def test_save_after_outside_commit_keeps_outside_change(self):
        write_file(self.doc("mine.json"), b"1")
        self.outside_commit({"theirs.json": "2"})
        write_file(self.doc("mine2.json"), b"3")  # no waiting: the ref update must retry on the new head
        self.assertEqual(self.tree(), ["mine.json", "mine2.json", "theirs.json"])
        self.assertEqual(self.git("rev-list", "--count", "main").strip(), "4")

    def test_outside_reset_becomes_visible(self):
        first = self.head()
        write_file(self.doc("x.json"), b"1")
        self.assertTrue(os.path.exists(self.doc("x.json")))
        self.git("update-ref", "refs/heads/main", first)
        self.wait_until(lambda: not os.path.exists(self.doc("x.json")), timeout=3.0, msg="reset to show")
        self.assertEqual(os.listdir(self.main), [])

    def test_outside_branch_deletion_becomes_visible(self):
        os.mkdir(os.path.join(self.mnt, "gone"))
        self.git("branch", "-D", "gone")
        self.wait_until(lambda: os.listdir(self.mnt) == ["main"], timeout=3.0, msg="deleted branch to vanish")
