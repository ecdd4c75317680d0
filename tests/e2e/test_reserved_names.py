"""Names beginning with @ are reserved, and no name containing @ is ever listed."""

import errno
import os
import subprocess

from harness import ChronofsTestCase, write_file


class ReservedNameTests(ChronofsTestCase):
    def test_create_document_named_at_fails_einval(self):
        with self.assertErrno(errno.EINVAL):
            write_file(self.doc("@x.json"), b"{}")
        self.assertEqual(self.tree(), [])

    def test_create_scratch_named_at_fails_einval(self):
        with self.assertErrno(errno.EINVAL):
            write_file(self.doc("@notes.txt"), b"hi")

    def test_mkdir_named_at_in_branch_fails_einval(self):
        with self.assertErrno(errno.EINVAL):
            os.mkdir(self.doc("@dir"))

    def test_mkdir_named_at_at_root_fails_einval(self):
        with self.assertErrno(errno.EINVAL):
            os.mkdir(os.path.join(self.mnt, "@branch"))
        self.assertEqual(self.branches(), ["main"])

    def test_rename_to_at_name_fails_einval(self):
        write_file(self.doc("a.json"), b"{}")
        with self.assertErrno(errno.EINVAL):
            os.rename(self.doc("a.json"), self.doc("@a.json"))
        self.assertEqual(self.tree(), ["a.json"])

    def test_listings_show_no_at_names(self):
        os.mkdir(self.doc("users"))
        write_file(self.doc("users/a.json"), b'{"age": 3}')
        head = self.head()
        # Look the virtual names up first: being resolved must not make them listed.
        for p in (
            os.path.join(self.mnt, "main@history"),
            os.path.join(self.mnt, "main@" + head[:7]),
            self.doc("users/@by/age"),
        ):
            try:
                os.stat(p)
            except OSError:
                pass
        for d in (self.mnt, self.main, self.doc("users")):
            out = subprocess.run(["ls", "-a", d], capture_output=True, text=True, check=True).stdout
            at = [n for n in out.split() if "@" in n]
            self.assertEqual(at, [], "ls -a %s lists %r" % (d, at))
        for dirpath, dirnames, filenames in os.walk(self.mnt):
            for n in dirnames + filenames:
                self.assertNotIn("@", n, os.path.join(dirpath, n))
