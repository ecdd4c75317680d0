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

    def test_allow_other_alone_checks_modes(self):
        """allow_other implies default_permissions: another user cannot
        write the mounting user's documents or make branches."""
        self.save("x.json", b'{"mine": 1}')
        os.chmod(self.work, 0o755)
        rc, out = as_nobody("import os\ntry:\n open(%r, 'w').write('{}')\n print('written')\n"
                            "except OSError as e:\n print(e.errno)" % self.doc("x.json"))
        self.assertEqual(out.strip(), str(errno.EACCES), out)
        rc, out = as_nobody("import os\ntry:\n os.mkdir(%r)\n print('made')\n"
                            "except OSError as e:\n print(e.errno)" % os.path.join(self.mnt, "theirs"))
        self.assertEqual(out.strip(), str(errno.EACCES), out)
        rc, out = as_nobody("import os\ntry:\n os.unlink(%r)\n print('removed')\n"
                            "except OSError as e:\n print(e.errno)" % self.doc("x.json"))
        self.assertEqual(out.strip(), str(errno.EACCES), out)
        self.assertEqual(self.show("x.json"), b'{"mine": 1}')

    def test_no_setuid_or_world_writable_file_under_the_gitdir(self):
        """A client's chmod 4755 / 0777 / 2775 is shown through the mount
        but never carried by the real file under GITDIR/chronofs."""
        tool = os.path.join(self.main, "tool")
        with open("/usr/bin/id", "rb") as f:
            write_file(tool, f.read())
        os.chmod(tool, 0o4755)
        os.mkdir(os.path.join(self.main, "open"))
        os.chmod(os.path.join(self.main, "open"), 0o777)
        shared = os.path.join(self.main, "open", "notes.txt")
        write_file(shared, b"hello")
        os.chmod(shared, 0o2777)
        self.assertEqual(os.stat(tool).st_mode & 0o7777, 0o4755)
        self.assertEqual(os.stat(os.path.join(self.main, "open")).st_mode & 0o7777, 0o777)
        self.assertEqual(os.stat(shared).st_mode & 0o7777, 0o2777)
        private = os.path.join(self.repo, "chronofs")
        self.assertEqual(os.stat(private).st_mode & 0o077, 0, oct(os.stat(private).st_mode))
        seen = 0
        for root, dirs, files in os.walk(private):
            for name in dirs + files:
                st = os.lstat(os.path.join(root, name))
                if not (os.path.isfile(os.path.join(root, name)) or os.path.isdir(os.path.join(root, name))):
                    continue
                seen += 1
                self.assertEqual(st.st_mode & 0o6000, 0, os.path.join(root, name))
                self.assertEqual(st.st_mode & 0o022, 0, os.path.join(root, name))
        self.assertGreater(seen, 3)
        # The setuid copy of id run from the gitdir is no root shell.
        real = [os.path.join(r, f) for r, _, fs in os.walk(private) for f in fs if f == "tool"]
        self.assertEqual(len(real), 1, real)
        rc, out = as_nobody("import subprocess\nprint(subprocess.run([%r, '-u'], capture_output=True,"
                            " text=True).stdout)" % real[0])
        self.assertNotEqual(out.strip(), "0", out)
        # A chmod back to a plain mode is shown as such.
        os.chmod(tool, 0o644)
        self.assertEqual(os.stat(tool).st_mode & 0o7777, 0o644)
