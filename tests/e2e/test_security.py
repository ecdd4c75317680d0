"""Who can reach the mount: only the mounting user unless allow_other is
asked; default_permissions makes the kernel check modes."""

import errno
import os
import subprocess
import sys

from harness import ChronofsTestCase, read_file, write_file

NOBODY = 65534


def as_nobody(code):
    """Run Python CODE as uid/gid nobody; return (exit status, output)."""
    python = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
    r = subprocess.run([python, "-c", code], capture_output=True, text=True, cwd="/",
                       user=NOBODY, group=NOBODY, extra_groups=[], timeout=60)
    return r.returncode, r.stdout + r.stderr


class AccessTests(ChronofsTestCase):
    def setUp(self):
        if os.getuid() != 0:
            self.skipTest("needs root to run a second user")
        super().setUp()

    def test_other_users_cannot_reach_the_mount_by_default(self):
        self.save("x.json", b'{"secret": 1}')
        os.chmod(self.work, 0o755)
        rc, out = as_nobody("import os\ntry:\n os.listdir(%r)\n print('listed')\n"
                            "except OSError as e:\n print(e.errno)" % self.main)
        self.assertEqual(out.strip(), str(errno.EACCES), out)

    def test_default_permissions_mounts_and_saves(self):
        self.remount(options=("default_permissions",))
        self.save("x.json", b'{"a": 1}')
        self.assertEqual(read_file(self.doc("x.json")), b'{"a": 1}')
        write_file(self.doc("y.json"), b'{"b": 2}')
        self.assertEqual(self.show("y.json"), b'{"b": 2}')

    def test_default_permissions_with_allow_other_checks_modes(self):
        self.remount(options=("default_permissions", "allow_other"))
        self.save("x.json", b'{"a": 1}')
        os.chmod(self.work, 0o755)
        # Documents are 0644, owned by the mounting user: others may read,
        # not write.
        rc, out = as_nobody("print(open(%r).read())" % self.doc("x.json"))
        self.assertEqual(out.strip(), '{"a": 1}', out)
        rc, out = as_nobody("import os\ntry:\n open(%r, 'w').write('{}')\n print('written')\n"
                            "except OSError as e:\n print(e.errno)" % self.doc("x.json"))
        self.assertEqual(out.strip(), str(errno.EACCES), out)


class AllowOtherTests(ChronofsTestCase):
    mount_options = ("allow_other",)

    def setUp(self):
        if os.getuid() != 0:
            self.skipTest("needs root to run a second user")
        super().setUp()

    def test_allow_other_lets_another_user_read(self):
        self.save("x.json", b'{"shared": 1}')
        os.chmod(self.work, 0o755)
        rc, out = as_nobody("print(open(%r).read())" % self.doc("x.json"))
        self.assertEqual(out.strip(), '{"shared": 1}', out)
