"""How a mount starts and what it mounts: a relative mountpoint, a
mountpoint already mounted, an empty `git init --bare`, a non-bare
repository's checked-out branch, and time travel under -o branch=NAME."""

import errno
import os
import signal
import subprocess
import time

from harness import DAEMON, FUSERMOUNT, ChronofsTestCase, write_file


def fuse_mounts_on(path):
    n = 0
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if fields[4] == path and fields[fields.index("-") + 1].startswith("fuse"):
                n += 1
    return n


class StartTests(ChronofsTestCase):
    mount_on_setup = False

    def start(self, *args, cwd=None):
        log = open(os.path.join(self.work, "extra.log"), "wb")
        self.addCleanup(log.close)
        p = subprocess.Popen([DAEMON, *args], cwd=cwd, stdin=subprocess.DEVNULL, stdout=log,
                             stderr=subprocess.STDOUT, env=self.env, start_new_session=True)
        self.addCleanup(lambda: p.poll() is None and (p.kill(), p.wait()))
        self.addCleanup(lambda: os.path.ismount(self.mnt) and
                        subprocess.run([FUSERMOUNT, "-uz", self.mnt], capture_output=True))
        return p

    def test_relative_mountpoint_is_unmounted_cleanly_at_stop(self):
        p = self.start("repo.git", "mnt", "-f", "-o", "fsync=off", cwd=self.work)
        deadline = time.monotonic() + 10
        while not os.path.ismount(self.mnt):
            self.assertIsNone(p.poll(), "daemon exited")
            self.assertLess(time.monotonic(), deadline, "not mounted")
            time.sleep(0.02)
        write_file(os.path.join(self.mnt, "main", "a.json"), b"{}")
        p.send_signal(signal.SIGTERM)  # as Ctrl-C on a -f mount
        self.assertEqual(p.wait(10), 0)
        # No dead mount ("Transport endpoint is not connected") left behind.
        self.assertFalse(os.path.ismount(self.mnt))
        self.assertEqual(os.listdir(self.mnt), [])
        self.assertEqual(self.tree(), ["a.json"])

    def test_mounting_on_a_mounted_mountpoint_is_refused(self):
        self.mount()
        write_file(self.doc("a.json"), b"{}")
        r = subprocess.run([DAEMON, self.repo, self.mnt, "-f"], capture_output=True, text=True,
                           env=self.env, timeout=30)
        self.assertEqual(r.returncode, 1)
        self.assertIn("already mounted", r.stderr)
        self.assertIn(self.mnt, r.stderr)
        self.assertEqual(fuse_mounts_on(self.mnt), 1)
        self.assertEqual(self.read_file(self.doc("a.json")), b"{}")


class EmptyBareRepositoryTests(ChronofsTestCase):
    mount_on_setup = False

    def setUp(self):
        super().setUp()
        self.repo = os.path.join(self.work, "empty.git")
        self.run_cmd("git", "init", "-q", "--bare", "-b", "master", self.repo)
        self.mount()

    def test_unborn_head_branch_is_an_empty_directory(self):
        self.assertEqual(os.listdir(self.mnt), ["master"])
        self.assertEqual(os.listdir(os.path.join(self.mnt, "master")), [])
        with self.assertErrno(errno.EEXIST):
            os.mkdir(os.path.join(self.mnt, "master"))

    def test_first_save_makes_the_root_commit(self):
        # No commit to start another branch from yet.
        with self.assertErrno(errno.ENOENT):
            os.mkdir(os.path.join(self.mnt, "dev"))
        self.assertIn("no commit yet", self.read_file(os.path.join(self.mnt, "@log")).decode())
        os.mkdir(self.doc("users", "master"))
        write_file(self.doc("users/a.json", "master"), b'{"a": 1}')
        self.assertEqual(self.commit_count("master"), 1)
        self.assertEqual(self.show("users/a.json", "master"), b'{"a": 1}')
        commit = self.git("cat-file", "-p", "master")
        self.assertNotIn("\nparent ", "\n" + commit)
        write_file(self.doc("users/b.json", "master"), b'{"b": 2}')
        self.assertEqual(self.commit_count("master"), 2)
        self.assertEqual(sorted(os.listdir(self.doc("users", "master"))), ["a.json", "b.json"])
        # A branch can be made from it now.
        os.mkdir(os.path.join(self.mnt, "dev"))
        self.assertEqual(self.head("dev"), self.head("master"))
        self.assertEqual(self.git("fsck", "--strict", "--no-dangling").strip(), "")


class NonBareRepositoryTests(ChronofsTestCase):
    mount_on_setup = False
    check_fsck = False

    def setUp(self):
        super().setUp()
        self.wt = os.path.join(self.work, "wt")
        env = dict(self.env, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@e", GIT_COMMITTER_NAME="t",
                   GIT_COMMITTER_EMAIL="t@e")
        self.run_cmd("git", "init", "-q", "-b", "main", self.wt)
        with open(os.path.join(self.wt, "a.json"), "w") as f:
            f.write("{}")
        self.run_cmd("git", "-C", self.wt, "add", "a.json", env=env)
        self.run_cmd("git", "-C", self.wt, "commit", "-qm", "one", env=env)
        self.run_cmd("git", "-C", self.wt, "branch", "other")
        self.repo = os.path.join(self.wt, ".git")

    def mount_wt(self, options=()):
        # The working tree's path, as a user gives it.
        saved, self.repo = self.repo, self.wt
        try:
            self.mount(options=options)
        finally:
            self.repo = saved

    def status(self):
        return self.run_cmd("git", "-C", self.wt, "status", "--porcelain").stdout.decode()

    def test_checked_out_branch_is_read_only(self):
        self.mount_wt()
        self.assertEqual(self.read_file(self.doc("a.json")), b"{}")
        with self.assertErrno(errno.EROFS):
            write_file(self.doc("b.json"), b"{}")
        with self.assertErrno(errno.EROFS):
            write_file(self.doc("a.json"), b'{"x": 1}')
        with self.assertErrno(errno.EROFS):
            os.unlink(self.doc("a.json"))
        with self.assertErrno(errno.EROFS):
            os.mkdir(self.doc("users"))
        with self.assertErrno(errno.EROFS):
            os.rename(os.path.join(self.mnt, "main"), os.path.join(self.mnt, "moved"))
        self.assertEqual(self.status(), "")
        self.assertEqual(self.commit_count(), 1)
        self.assertIn("checked out in the working tree", self.daemon_log())
        self.assertIn("allow_checked_out", self.daemon_log())
        # Other branches are written as usual.
        self.save("b.json", b'{"b": 1}', branch="other")
        self.assertEqual(self.status(), "")

    def test_allow_checked_out_writes_it(self):
        self.mount_wt(options=("allow_checked_out",))
        self.save("b.json", b'{"b": 1}')
        self.assertEqual(self.commit_count(), 2)


class OneBranchTimeTravelTests(ChronofsTestCase):
    mount_options = ("branch=main",)

    def test_history_snapshots_and_commits_of_the_mounted_branch(self):
        path = os.path.join(self.mnt, "x.json")
        write_file(path, b'{"v": 1}')
        first = self.head()
        time.sleep(1.1)
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        time.sleep(1.1)
        write_file(path, b'{"v": 2}')
        versions = os.listdir(os.path.join(self.mnt, "@history", "x.json"))
        self.assertEqual(len(versions), 2)
        self.assertTrue(versions[0].endswith("_%s.json" % first[:7]), versions)
        with open(os.path.join(self.mnt, "@history", "x.json", versions[0]), "rb") as f:
            self.assertEqual(f.read(), b'{"v": 1}')
        self.assertEqual(self.read_file(os.path.join(self.mnt, "@" + first[:7], "x.json")), b'{"v": 1}')
        self.assertEqual(self.read_file(os.path.join(self.mnt, "@" + when, "x.json")), b'{"v": 1}')
        self.assertEqual(os.listdir(os.path.join(self.mnt, "@" + when)), ["x.json"])
        with self.assertErrno(errno.EROFS):
            write_file(os.path.join(self.mnt, "@" + first[:7], "y.json"), b"{}")
        with self.assertErrno(errno.ENOENT):
            os.stat(os.path.join(self.mnt, "@nonsense"))
        # Still never listed.
        self.assertEqual(os.listdir(self.mnt), ["x.json"])
