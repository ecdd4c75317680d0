"""Names beginning with @ are reserved and never listed; names with @ further in
are ordinary names, listed and copied like any other."""

import errno
import os
import shutil
import subprocess
import tempfile

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


class AtInsideNameTests(ChronofsTestCase):
    """Email addresses are natural ids: users/alice@example.com.json is a
    document like any other (SPEC, The namespace)."""

    def test_documents_with_at_inside_are_listed_copied_and_ranked(self):
        os.mkdir(self.doc("users"))
        write_file(self.doc("users/alice@example.com.json"), b'{"age": 30}')
        write_file(self.doc("users/bob.json"), b'{"age": 20}')
        write_file(self.doc("users/c@d@e.json"), b'{"age": 40}')
        names = sorted(os.listdir(self.doc("users")))
        self.assertEqual(names, ["alice@example.com.json", "bob.json", "c@d@e.json"])
        found = subprocess.run(["find", self.main, "-name", "*@*"], capture_output=True,
                               text=True, check=True).stdout.split()
        self.assertEqual(len(found), 2, found)
        out = tempfile.mkdtemp(prefix="chronofs-at-")
        try:
            subprocess.run(["rsync", "-a", self.doc("users") + "/", out + "/"], check=True)
            self.assertEqual(sorted(os.listdir(out)), names)
            with open(os.path.join(out, "alice@example.com.json"), "rb") as f:
                self.assertEqual(f.read(), b'{"age": 30}')
        finally:
            shutil.rmtree(out)
        ranked = os.listdir(self.doc("users/@by/age"))
        self.assertEqual(sorted(ranked), ["000001_bob.json", "000002_alice@example.com.json",
                                          "000003_c@d@e.json"])
        with open(self.doc("users/@by/age/000002_alice@example.com.json"), "rb") as f:
            self.assertEqual(f.read(), b'{"age": 30}')

    def test_scratch_file_with_at_inside_is_listed_and_removable(self):
        os.mkdir(self.doc("units"))
        write_file(self.doc("units/null@.service"), b"[Unit]\n")
        self.assertEqual(os.listdir(self.doc("units")), ["null@.service"])
        subprocess.run(["rm", "-rf", self.doc("units")], check=True)
        self.assertFalse(os.path.exists(self.doc("units")))
