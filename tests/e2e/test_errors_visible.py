"""Errors a person can see: MNT/@log (recent warnings and errors as JSON
lines, never listed) and user.chronofs.error on a document whose last save
was refused."""

import errno
import json
import os
import stat
import subprocess

from harness import ChronofsTestCase, write_file

XATTR = "user.chronofs.error"


def log_entries(mnt):
    with open(os.path.join(mnt, "@log"), "rb") as f:
        data = f.read()
    return [json.loads(line) for line in data.decode().splitlines()]


class ErrorLogTests(ChronofsTestCase):
    def setUp(self):
        super().setUp()
        os.mkdir(self.doc("users"))

    def entries_for(self, path):
        return [e for e in log_entries(self.mnt) if e["path"] == path]

    def test_echo_of_invalid_json_shows_in_log_and_xattr(self):
        # bash ignores the failed close: rc 0, nothing printed.
        r = subprocess.run(["bash", "-c", "echo '{\"name\": \"bad\",' > users/bad.json"],
                           cwd=self.main, capture_output=True, text=True)
        self.assertEqual(r.returncode, 0)
        self.assertEqual(self.tree(), [])
        ents = self.entries_for("main/users/bad.json")
        self.assertEqual(len(ents), 1, log_entries(self.mnt))
        e = ents[0]
        self.assertEqual(set(e), {"time", "level", "path", "operation", "errno", "error", "message"})
        self.assertEqual(e["level"], "WARNING")
        self.assertEqual(e["operation"], "save")
        self.assertEqual((e["errno"], e["error"]), (errno.EINVAL, "EINVAL"))
        self.assertRegex(e["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        self.assertIn("line 2, column 1", e["message"])
        self.assertIn("expected a string key", e["message"])
        # Never had a version: nothing is "kept".
        self.assertNotIn("last committed version is kept", e["message"])
        why = os.getxattr(self.doc("users/bad.json"), XATTR).decode()
        self.assertIn("line 2, column 1: expected a string key", why)
        self.assertEqual(os.listxattr(self.doc("users/bad.json")), [XATTR])

    def test_xattr_cleared_by_next_successful_save(self):
        self.save("users/a.json", b'{"a": 1}')
        self.assertEqual(os.listxattr(self.doc("users/a.json")), [])
        with self.assertErrno(errno.ENODATA):
            os.getxattr(self.doc("users/a.json"), XATTR)
        with self.assertErrno(errno.EINVAL):
            write_file(self.doc("users/a.json"), b'{"a": ')
        why = os.getxattr(self.doc("users/a.json"), XATTR).decode()
        self.assertIn("the last committed version is kept", why)
        self.assertIn("users/a.json", why)
        self.save("users/a.json", b'{"a": 2}')
        with self.assertErrno(errno.ENODATA):
            os.getxattr(self.doc("users/a.json"), XATTR)
        self.assertEqual(os.listxattr(self.doc("users/a.json")), [])

    def test_namespaces_other_than_user_are_unsupported(self):
        # EOPNOTSUPP, not ENODATA: GNU ls -l then stops asking every file
        # for security.selinux and its ACL (it caches "unsupported" per
        # device); a missing user attribute is still ENODATA.
        self.save("users/a.json", b'{"a": 1}')
        for target in (self.doc("users/a.json"), self.doc("users"), self.main):
            for name in ("security.selinux", "security.capability", "system.posix_acl_access",
                         "trusted.x"):
                with self.assertErrno(errno.EOPNOTSUPP):
                    os.getxattr(target, name)
            with self.assertErrno(errno.ENODATA):
                os.getxattr(target, "user.other")
        out = subprocess.run(["ls", "-l", self.doc("users")], capture_output=True, text=True)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertRegex(out.stdout, r"(?m)^-rw-r--r-- 1 .* a\.json$")

    def test_xattr_cleared_by_delete(self):
        self.save("users/a.json", b'{"a": 1}')
        with self.assertErrno(errno.EINVAL):
            write_file(self.doc("users/a.json"), b'[')
        self.assertEqual(os.listxattr(self.doc("users/a.json")), [XATTR])
        os.unlink(self.doc("users/a.json"))
        write_file(self.doc("users/a.json"), b'{}')
        self.assertEqual(os.listxattr(self.doc("users/a.json")), [])

    def test_byte_order_mark_reported_as_one(self):
        with self.assertErrno(errno.EINVAL):
            write_file(self.doc("users/bom.json"), b'\xef\xbb\xbf{"a": 1}')
        ents = self.entries_for("main/users/bom.json")
        self.assertEqual(len(ents), 1)
        self.assertIn("byte-order mark", ents[0]["message"])
        self.assertIn("byte-order mark", os.getxattr(self.doc("users/bom.json"), XATTR).decode())

    def test_emptied_document_named_in_log(self):
        self.save("users/a.json", b'{"a": 1}')
        subprocess.run(["bash", "-c", ": > users/a.json"], cwd=self.main, check=True)
        self.assertEqual(self.show("users/a.json"), b'{"a": 1}')
        ents = self.entries_for("main/users/a.json")
        self.assertEqual(len(ents), 1, log_entries(self.mnt))
        self.assertIn("empty", ents[0]["message"])
        self.assertIn("last committed version is kept", ents[0]["message"])
        # The stderr log names the path too.
        self.assertTrue(any("main/users/a.json" in line and "WARNING" in line
                            for line in self.daemon_log().splitlines()))

    def test_every_warning_line_names_a_path(self):
        with self.assertErrno(errno.EINVAL):
            write_file(self.doc("users/x.json"), b"nul")
        with self.assertErrno(errno.EINVAL):
            os.mkdir(self.doc("@nope"))
        paths = [e["path"] for e in log_entries(self.mnt)]
        self.assertEqual(paths, ["main/users/x.json", "main/@nope"])
        for line in self.daemon_log().splitlines():
            if "WARNING" in line or "ERROR" in line:
                self.assertRegex(line, r"chronofs: \w+: main/")

    def test_log_is_virtual_read_only_and_never_listed(self):
        st = os.stat(os.path.join(self.mnt, "@log"))
        self.assertTrue(stat.S_ISREG(st.st_mode))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o444)
        self.assertEqual(st.st_size, 0)
        self.assertEqual(log_entries(self.mnt), [])
        self.assertNotIn("@log", os.listdir(self.mnt))
        with self.assertErrno(errno.EROFS):
            write_file(os.path.join(self.mnt, "@log"), b"x")
        with self.assertErrno(errno.EROFS):
            os.unlink(os.path.join(self.mnt, "@log"))
        # Not inside a branch: there "@log" is a reserved name like any other.
        with self.assertErrno(errno.ENOENT):
            os.stat(self.doc("@log"))
        with self.assertErrno(errno.EINVAL):
            write_file(self.doc("users/x.json"), b"{")
        # The size follows the content; reads go to the end (direct I/O).
        size = os.stat(os.path.join(self.mnt, "@log")).st_size
        with open(os.path.join(self.mnt, "@log"), "rb") as f:
            self.assertEqual(len(f.read()), size)
        self.assertGreater(size, 0)

    def test_ring_is_bounded(self):
        for i in range(300):
            with self.assertErrno(errno.EINVAL):
                write_file(self.doc("users/r%d.json" % i), b"{")
        ents = log_entries(self.mnt)
        self.assertEqual(len(ents), 256)
        self.assertEqual(ents[0]["path"], "main/users/r44.json")
        self.assertEqual(ents[-1]["path"], "main/users/r299.json")


class ErrorLogOneBranchTests(ChronofsTestCase):
    mount_options = ("branch=main",)

    def test_log_at_root_of_one_branch_mount(self):
        with self.assertErrno(errno.EINVAL):
            write_file(os.path.join(self.mnt, "bad.json"), b"{")
        ents = log_entries(self.mnt)
        self.assertEqual([e["path"] for e in ents], ["main/bad.json"])
        self.assertNotIn("@log", os.listdir(self.mnt))
        self.assertEqual(os.listxattr(os.path.join(self.mnt, "bad.json")), [XATTR])
