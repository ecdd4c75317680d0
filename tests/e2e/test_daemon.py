"""The daemon as a program: arguments, options, daemonizing, authorship, crashes."""

import os
import subprocess
import time

from harness import DAEMON, FUSERMOUNT, ChronofsTestCase, read_file, write_file


class DaemonArgumentTests(ChronofsTestCase):
    mount_on_setup = False
    check_fsck = False

    def test_help_and_version_exit_zero(self):
        r = self.run_cmd(DAEMON, "--help", text=True)
        self.assertIn("fsync", r.stdout + r.stderr)
        r = self.run_cmd(DAEMON, "--version", text=True)
        self.assertRegex(r.stdout + r.stderr, r"\d+\.\d+")

    def test_missing_repository_fails_without_mounting(self):
        r = self.run_cmd(DAEMON, os.path.join(self.work, "nope.git"), self.mnt, "-f", check=False, timeout=20)
        self.assertNotEqual(r.returncode, 0)
        self.assertFalse(os.path.ismount(self.mnt))

    def test_bad_option_value_fails_without_mounting(self):
        for opt in ("fsync=maybe", "max_doc_size=lots"):
            with self.subTest(opt=opt):
                r = self.run_cmd(DAEMON, self.repo, self.mnt, "-f", "-o", opt, check=False, timeout=20)
                self.assertNotEqual(r.returncode, 0)
                self.assertFalse(os.path.ismount(self.mnt))


class DaemonizeTests(ChronofsTestCase):
    """Without -f the daemon detaches; `mount -t fuse.chronofs` works the same way."""

    mount_on_setup = False

    def daemon_pids(self):
        pids = []
        for p in os.listdir("/proc"):
            if not p.isdigit():
                continue
            try:
                with open("/proc/%s/cmdline" % p, "rb") as f:
                    argv = f.read().split(b"\0")
            except OSError:
                continue
            if argv and argv[0].endswith(b"chronofs") and self.mnt.encode() in argv:
                pids.append(int(p))
        return pids

    def finish(self):
        """Unmount the detached daemon and require it to exit by itself."""
        if os.path.ismount(self.mnt):
            r = subprocess.run([FUSERMOUNT, "-u", self.mnt], capture_output=True, text=True, timeout=60)
            if r.returncode != 0:
                subprocess.run([FUSERMOUNT, "-uz", self.mnt], capture_output=True, timeout=60)
                self.fail("fusermount3 -u failed: " + r.stderr)
        deadline = time.monotonic() + 10
        while self.daemon_pids():
            if time.monotonic() > deadline:
                pids = self.daemon_pids()
                states = [open("/proc/%d/stat" % p).read() for p in pids]
                for pid in pids:
                    os.kill(pid, 9)
                self.fail("detached daemon still running 10 s after unmount: %r" % states)
            time.sleep(0.05)

    def use_mount(self):
        self.assertTrue(os.path.ismount(self.mnt))
        write_file(self.doc("d.json"), b'{"detached": true}')
        self.assertEqual(self.show("d.json"), b'{"detached": true}')

    def test_without_f_detaches_and_serves(self):
        self.addCleanup(self.finish)
        r = self.run_cmd(DAEMON, self.repo, self.mnt, "-o", "fsync=off", timeout=30)
        self.assertEqual(r.returncode, 0)
        self.wait_until(lambda: os.path.ismount(self.mnt), timeout=10, msg="detached mount")
        self.use_mount()

    def test_mount_t_fuse_runs_the_daemon(self):
        if not os.path.exists("/sbin/mount.fuse3") and not os.path.exists("/usr/sbin/mount.fuse3"):
            self.skipTest("mount.fuse3 not installed")
        self.addCleanup(self.finish)
        # `mount -t fuse.chronofs` needs chronofs installed on mount's PATH;
        # the TYPE#SOURCE form runs the same helper path with the built binary.
        self.run_cmd("mount", "-t", "fuse", "%s#%s" % (DAEMON, self.repo), self.mnt, "-o", "fsync=off", timeout=30)
        self.wait_until(lambda: os.path.ismount(self.mnt), timeout=10, msg="mount -t fuse")
        self.use_mount()


class AuthorTests(ChronofsTestCase):
    mount_on_setup = False

    def test_author_option_sets_author(self):
        self.mount(options=("author=Jane Doe <jane@example.com>",))
        write_file(self.doc("a.json"), b"1")
        self.assertEqual(self.git("log", "-1", "--format=%an <%ae>", "main").strip(), "Jane Doe <jane@example.com>")

    def test_default_author_is_repository_git_user(self):
        self.git("config", "user.name", "Repo User")
        self.git("config", "user.email", "repo@example.com")
        self.mount()
        write_file(self.doc("a.json"), b"1")
        self.assertEqual(self.git("log", "-1", "--format=%an <%ae>", "main").strip(), "Repo User <repo@example.com>")

    def test_default_author_without_git_user_is_chronofs(self):
        self.mount()
        write_file(self.doc("a.json"), b"1")
        self.assertRegex(self.git("log", "-1", "--format=%an <%ae>", "main").strip(), r"^chronofs <chronofs@.+>$")


class CrashTests(ChronofsTestCase):
    def test_kill_9_loses_no_closed_document(self):
        os.mkdir(self.doc("c"))
        for i in range(10):
            write_file(self.doc("c/d%d.json" % i), b'{"i": %d}' % i)
        write_file(self.doc("notes.txt"), b"scratch")
        self.crash()
        self.assertEqual(len(self.tree()), 10)
        self.mount()
        self.assertEqual(read_file(self.doc("c/d9.json")), b'{"i": 9}')
        self.assertEqual(read_file(self.doc("notes.txt")), b"scratch")
        write_file(self.doc("c/after.json"), b"[]")
        self.assertEqual(len(self.tree()), 11)

    def test_kill_9_with_fsync_on(self):
        self.remount(fsync="on")
        write_file(self.doc("a.json"), b'{"durable": 1}')
        self.crash()
        self.assertEqual(self.show("a.json"), b'{"durable": 1}')
        self.mount()
        self.assertEqual(read_file(self.doc("a.json")), b'{"durable": 1}')

    def test_kill_9_after_set_mtime_keeps_it(self):
        write_file(self.doc("a.json"), b"1")
        os.utime(self.doc("a.json"), (1400000000, 1400000000))
        self.crash()
        self.mount()
        self.assertEqual(int(os.stat(self.doc("a.json")).st_mtime), 1400000000)


class MoreCtlTests(ChronofsTestCase):
    def test_log_with_path_lists_only_that_documents_commits(self):
        write_file(self.doc("a.json"), b"1")
        write_file(self.doc("b.json"), b"2")
        write_file(self.doc("a.json"), b"3")
        lines = self.ctl("log", self.repo, "main", "a.json").stdout.splitlines()
        self.assertEqual(len(lines), 2, lines)
        self.assertTrue(all("a.json" in l for l in lines), lines)


class OutsideBranchWriteTests(ChronofsTestCase):
    def test_write_to_branch_created_outside(self):
        self.git("branch", "ext", "main")
        self.wait_until(lambda: os.path.isdir(os.path.join(self.mnt, "ext")), msg="branch ext")
        write_file(self.doc("e.json", branch="ext"), b'{"ext": 1}')
        self.assertEqual(self.show("e.json", branch="ext"), b'{"ext": 1}')
        self.assertEqual(self.tree("main"), [])


class PlaceholderTests(ChronofsTestCase):
    def test_unlink_of_new_empty_document_commits_nothing(self):
        self.run_cmd("touch", self.doc("x.json"))
        before = self.commit_count()
        os.unlink(self.doc("x.json"))
        self.assertEqual(self.commit_count(), before)
        self.assertFalse(os.path.exists(self.doc("x.json")))
        self.remount()
        self.assertFalse(os.path.exists(self.doc("x.json")))
