"""A document deleted by an outside commit is writable through the mount at
once (the kernel's cached entry of it is looked up again), and reading it
says ENOENT, not a stale answer (issue "Hardened", item 10)."""

import errno
import os

from harness import ChronofsTestCase, read_file, write_file


class StaleNameTests(ChronofsTestCase):
    def test_document_deleted_outside_is_writable_at_once(self):
        os.mkdir(self.doc("c"))
        write_file(self.doc("c/x.json"), b'{"v": 1}')
        self.assertEqual(read_file(self.doc("c/x.json")), b'{"v": 1}')  # cached
        self.outside_commit(delete=["c/x.json"])
        with self.assertErrno(errno.ENOENT):
            read_file(self.doc("c/x.json"))
        write_file(self.doc("c/x.json"), b'{"v": 2}')
        self.assertEqual(self.show("c/x.json"), b'{"v": 2}')
        self.assertEqual(read_file(self.doc("c/x.json")), b'{"v": 2}')
