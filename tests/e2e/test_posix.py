"""POSIX where programs rely on it, for scratch files and directories, as
libfuse's passthrough_ll over ext4 does it: symbolic links, fifos, sockets
and device nodes, hard links, the caller's mode and owner, files open
after unlink and rename, O_DIRECT, directory link counts, the branch
root's mode and mtime. Mounted with allow_other,default_permissions and
driven by another user where users matter."""

import errno
import mmap
import os
import socket
import sqlite3
import stat
import subprocess
import tarfile
import tempfile
import time

from harness import ChronofsTestCase, write_file

USER = 12345  # a uid/gid no one has: the "other user" of these tests
OTHER = 12346


class PosixTests(ChronofsTestCase):
    mount_options = ("allow_other", "default_permissions")

    def setUp(self):
        if os.geteuid() != 0:
            self.skipTest("needs root (allow_other and another user)")
        super().setUp()
        os.chmod(self.work, 0o755)  # the other user reaches the mount

    def as_user(self, script, uid=USER, check=True, cwd=None):
        """Run sh -c SCRIPT in the branch (or CWD) as UID (gid the same)."""
        r = subprocess.run(["setpriv", "--reuid=%d" % uid, "--regid=%d" % uid, "--clear-groups",
                            "sh", "-c", script], cwd=cwd or self.main, capture_output=True, text=True,
                           env=self.env, timeout=60)
        if check and r.returncode != 0:
            self.fail("as uid %d: %s: %d %s" % (uid, script, r.returncode, r.stderr))
        return r

    # ---- special files ----------------------------------------------------

    def test_symlinks_are_scratch_entries(self):
        write_file(self.doc("target.txt"), b"pointed at")
        os.symlink("target.txt", self.doc("link"))
        os.symlink("/nonexistent/elsewhere", self.doc("dangling"))
        st = os.lstat(self.doc("link"))
        self.assertTrue(stat.S_ISLNK(st.st_mode))
        self.assertEqual(st.st_size, len("target.txt"))
        self.assertEqual(os.readlink(self.doc("link")), "target.txt")
        self.assertEqual(os.readlink(self.doc("dangling")), "/nonexistent/elsewhere")
        self.assertEqual(self.read_file(self.doc("link")), b"pointed at")  # the kernel follows it
        self.assertEqual(sorted(os.listdir(self.main)), ["dangling", "link", "target.txt"])
        out = subprocess.run(["find", self.main, "-type", "l"], capture_output=True, text=True).stdout
        self.assertEqual(sorted(out.split()), [self.doc("dangling"), self.doc("link")])
        self.assertEqual(self.tree(), [])
        with self.assertErrno(errno.EEXIST):
            os.symlink("x", self.doc("link"))
        self.remount()
        self.assertEqual(os.readlink(self.doc("link")), "target.txt")
        os.unlink(self.doc("link"))
        self.assertFalse(os.path.lexists(self.doc("link")))
        self.assertEqual(self.commit_count(), 1)

    def test_fifo_socket_and_device_nodes(self):
        os.mkfifo(self.doc("p"))
        self.assertTrue(stat.S_ISFIFO(os.lstat(self.doc("p")).st_mode))
        # A fifo works as one: the kernel serves it, not the daemon.
        r = subprocess.Popen(["cat", self.doc("p")], stdout=subprocess.PIPE)
        with open(self.doc("p"), "wb") as f:
            f.write(b"through the fifo")
        self.assertEqual(r.communicate(timeout=10)[0], b"through the fifo")
        s = socket.socket(socket.AF_UNIX)
        s.bind(self.doc("sock"))
        s.close()
        self.assertTrue(stat.S_ISSOCK(os.lstat(self.doc("sock")).st_mode))
        os.mknod(self.doc("p2"), stat.S_IFIFO | 0o640)
        self.assertEqual(os.lstat(self.doc("p2")).st_mode, stat.S_IFIFO | 0o640)
        # A device node wherever this machine lets root make one.
        probe = os.path.join(self.work, "probe")
        try:
            os.mknod(probe, stat.S_IFCHR | 0o600, os.makedev(1, 3))
        except OSError:
            pass
        else:
            os.mknod(self.doc("null"), stat.S_IFCHR | 0o600, os.makedev(1, 3))
            st = os.lstat(self.doc("null"))
            self.assertTrue(stat.S_ISCHR(st.st_mode))
            self.assertEqual(st.st_rdev, os.makedev(1, 3))
        listed = {e.name: e for e in os.scandir(self.main)}
        self.assertTrue(listed["p"].is_file() is False and stat.S_ISFIFO(listed["p"].stat(follow_symlinks=False).st_mode))
        self.assertEqual(self.tree(), [])
        self.remount()
        self.assertTrue(stat.S_ISFIFO(os.lstat(self.doc("p")).st_mode))

    def test_tar_extracts_symlinks_and_hard_links(self):
        src = tempfile.mkdtemp(dir=self.work)
        os.mkdir(os.path.join(src, "d"))
        write_file(os.path.join(src, "d", "f.txt"), b"file")
        os.symlink("f.txt", os.path.join(src, "d", "rel"))
        os.symlink("d", os.path.join(src, "up"))
        os.link(os.path.join(src, "d", "f.txt"), os.path.join(src, "d", "hard"))
        tarball = os.path.join(self.work, "t.tar")
        with tarfile.open(tarball, "w") as t:
            t.add(src, arcname="x")
        self.run_cmd("tar", "xf", tarball, "-C", self.main)
        self.assertEqual(os.readlink(self.doc("x/d/rel")), "f.txt")
        self.assertEqual(os.readlink(self.doc("x/up")), "d")
        self.assertEqual(os.stat(self.doc("x/d/hard")).st_nlink, 2)
        self.assertEqual(os.stat(self.doc("x/d/hard")).st_ino, os.stat(self.doc("x/d/f.txt")).st_ino)
        self.assertEqual(self.read_file(self.doc("x/up/rel")), b"file")
        self.run_cmd("diff", "-r", "--no-dereference", src, self.doc("x"))

    # ---- hard links -----------------------------------------------------------

    def test_hard_links_between_scratch_files(self):
        write_file(self.doc("a"), b"one")
        os.link(self.doc("a"), self.doc("h"))
        self.assertEqual(os.stat(self.doc("a")).st_nlink, 2)
        self.assertEqual(os.stat(self.doc("a")).st_ino, os.stat(self.doc("h")).st_ino)
        with open(self.doc("h"), "ab") as f:
            f.write(b" two")
        self.assertEqual(self.read_file(self.doc("a")), b"one two")
        os.unlink(self.doc("a"))
        self.assertEqual(os.stat(self.doc("h")).st_nlink, 1)
        self.assertEqual(self.read_file(self.doc("h")), b"one two")

    def test_hard_links_to_or_from_documents_fail_eperm(self):
        self.save("d.json", b"{}")
        write_file(self.doc("s"), b"{}")
        with self.assertErrno(errno.EPERM):
            os.link(self.doc("d.json"), self.doc("h"))
        with self.assertErrno(errno.EPERM):
            os.link(self.doc("s"), self.doc("e.json"))
        self.assertEqual(self.tree(), ["d.json"])
        os.mkdir(self.doc("dir"))
        with self.assertErrno(errno.EPERM):
            os.link(self.doc("dir"), self.doc("dir2"))

    # ---- modes and owners -------------------------------------------------------

    def test_caller_mode_is_kept(self):
        # The branch root is the mount's (0755, the mounting user's): the
        # user works in a directory of their own, as in a home.
        os.mkdir(self.doc("home"))
        os.chown(self.doc("home"), USER, USER)
        home = self.doc("home")
        self.as_user("umask 077 && mkdir m && touch f", cwd=home)
        self.as_user("umask 0 && python3 -c \"import os; os.close(os.open('g', os.O_CREAT | os.O_WRONLY, 0o666))\"",
                     cwd=home)
        self.as_user("umask 0 && mkdir -m 1777 t", cwd=home)
        self.assertEqual(stat.S_IMODE(os.stat(self.doc("home/m")).st_mode), 0o700)
        self.assertEqual(stat.S_IMODE(os.stat(self.doc("home/f")).st_mode), 0o600)
        self.assertEqual(stat.S_IMODE(os.stat(self.doc("home/g")).st_mode), 0o666)
        self.assertEqual(stat.S_IMODE(os.stat(self.doc("home/t")).st_mode), 0o1777)
        for n in ("m", "f", "g", "t"):
            st = os.stat(self.doc("home/" + n))
            self.assertEqual((st.st_uid, st.st_gid), (USER, USER), n)
        # Private means private to the other user.
        self.assertNotEqual(self.as_user("cat f", uid=OTHER, check=False, cwd=home).returncode, 0)
        self.assertNotEqual(self.as_user("ls m", uid=OTHER, check=False, cwd=home).returncode, 0)
        self.as_user("echo mine > f && cat f && ls m", cwd=home)
        # Not the branch root: it is the mount's.
        self.assertNotEqual(self.as_user("touch x", check=False).returncode, 0)
        os.chmod(self.doc("home/f"), 0o640)
        self.assertEqual(stat.S_IMODE(os.stat(self.doc("home/f")).st_mode), 0o640)
        self.remount()
        self.assertEqual(stat.S_IMODE(os.stat(self.doc("home/m")).st_mode), 0o700)
        self.assertEqual(os.stat(self.doc("home/m")).st_uid, USER)

    def test_chown_is_shown_and_checked(self):
        write_file(self.doc("a"), b"root's")
        os.chmod(self.doc("a"), 0o644)
        self.assertNotEqual(self.as_user("echo x >> a", check=False).returncode, 0)
        os.chown(self.doc("a"), USER, 456)
        st = os.stat(self.doc("a"))
        self.assertEqual((st.st_uid, st.st_gid), (USER, 456))
        self.as_user("echo x >> a")
        self.assertEqual(self.read_file(self.doc("a")), b"root'sx\n")
        self.remount()
        self.assertEqual(os.stat(self.doc("a")).st_uid, USER)
        # Documents stay the mounting user's (SPEC): chown changes nothing.
        self.save("d.json", b"{}")
        os.chown(self.doc("d.json"), USER, USER)
        self.assertEqual(os.stat(self.doc("d.json")).st_uid, 0)

    def test_directory_mode_kept_after_it_holds_documents(self):
        os.mkdir(self.doc("c"), 0o750)
        write_file(self.doc("c/a.json"), b"{}")
        self.assertEqual(stat.S_IMODE(os.stat(self.doc("c")).st_mode), 0o750)
        os.chmod(self.doc("c"), 0o700)
        self.assertEqual(stat.S_IMODE(os.stat(self.doc("c")).st_mode), 0o700)

    # ---- open files ------------------------------------------------------------

    def test_open_scratch_file_survives_unlink_and_rename(self):
        fd = os.open(self.doc("u"), os.O_CREAT | os.O_RDWR, 0o600)
        try:
            os.write(fd, b"abc")
            os.unlink(self.doc("u"))
            self.assertFalse(os.path.exists(self.doc("u")))
            st = os.fstat(fd)
            self.assertEqual((st.st_size, st.st_nlink), (3, 0))
            self.assertEqual(os.pread(fd, 10, 0), b"abc")
            os.write(fd, b"def")
            self.assertEqual(os.fstat(fd).st_size, 6)
        finally:
            os.close(fd)
        write_file(self.doc("r1"), b"data")
        fd = os.open(self.doc("r1"), os.O_RDONLY)
        try:
            os.rename(self.doc("r1"), self.doc("r2"))
            self.assertEqual(os.fstat(fd).st_size, 4)
            self.assertEqual(os.read(fd, 10), b"data")
        finally:
            os.close(fd)
        # What programs do with it.
        with tempfile.TemporaryFile(dir=self.main) as f:
            f.write(b"x" * 100000)
            f.flush()
            f.seek(0)
            self.assertEqual(os.fstat(f.fileno()).st_size, 100000)
            self.assertEqual(len(f.read()), 100000)
        db = sqlite3.connect(self.doc("s.db"))
        db.execute("create table t (x)")
        db.executemany("insert into t values (?)", [(i,) for i in range(100)])
        db.commit()
        self.assertEqual(db.execute("select count(*) from t").fetchone()[0], 100)
        db.close()
        self.run_cmd("sh", "-c", "seq 1000 | sort -r -T %s > %s" % (self.main, self.doc("sorted")))
        self.assertEqual(self.read_file(self.doc("sorted")).split(b"\n")[0], b"999")
        self.assertEqual(self.tree(), [])

    def test_open_document_survives_unlink_and_rename(self):
        self.save("d.json", b'{"a": 1}')
        fd = os.open(self.doc("d.json"), os.O_RDONLY)
        try:
            os.unlink(self.doc("d.json"))
            self.assertEqual(os.fstat(fd).st_size, 8)
            self.assertEqual(os.read(fd, 100), b'{"a": 1}')
        finally:
            os.close(fd)
        self.assertEqual(self.tree(), [])
        self.save("e.json", b"[1]")
        fd = os.open(self.doc("e.json"), os.O_RDONLY)
        try:
            os.rename(self.doc("e.json"), self.doc("f.json"))
            self.assertEqual(os.fstat(fd).st_size, 3)
            self.assertEqual(os.read(fd, 100), b"[1]")
        finally:
            os.close(fd)
        self.assertEqual(self.tree(), ["f.json"])
        # A writer of an unlinked document saves nothing when it closes.
        self.save("g.json", b"{}")
        fd = os.open(self.doc("g.json"), os.O_WRONLY | os.O_TRUNC)
        os.unlink(self.doc("g.json"))
        os.write(fd, b'{"late": true}')
        os.close(fd)
        self.assertEqual(self.tree(), ["f.json"])

    def test_o_direct_reads(self):
        write_file(self.doc("big"), b"z" * 8192)
        self.save("d.json", b'{"a": 1}')
        for name, want in (("big", b"z" * 4096), ("d.json", b'{"a": 1}')):
            fd = os.open(self.doc(name), os.O_RDONLY | os.O_DIRECT)
            try:
                buf = mmap.mmap(-1, 4096)
                n = os.readv(fd, [buf])
                self.assertEqual(buf[:n], want, name)
            finally:
                os.close(fd)
        fd = os.open(self.doc("big"), os.O_WRONLY | os.O_DIRECT)
        try:
            buf = mmap.mmap(-1, 4096)
            buf.write(b"y" * 4096)
            self.assertEqual(os.pwritev(fd, [buf], 0), 4096)
        finally:
            os.close(fd)
        self.assertEqual(self.read_file(self.doc("big"))[:4097], b"y" * 4096 + b"z")

    # ---- directories -------------------------------------------------------------

    def test_directory_link_count_is_one(self):
        os.makedirs(self.doc("a/b/c"))
        write_file(self.doc("col/x.json"), b"{}") if os.path.isdir(self.doc("col")) else None
        for d in (self.mnt, self.main, self.doc("a"), self.doc("a/b")):
            self.assertEqual(os.stat(d).st_nlink, 1, d)
        out = subprocess.run(["find", self.main, "-type", "d"], capture_output=True, text=True).stdout
        self.assertEqual(sorted(out.split()), [self.main, self.doc("a"), self.doc("a/b"), self.doc("a/b/c")])

    def test_branch_root_mode_is_the_mounts(self):
        for op in (lambda p: os.chmod(p, 0o700), lambda p: os.chown(p, USER, USER)):
            for p in (self.main, self.mnt):
                with self.assertErrno(errno.EPERM):
                    op(p)
        self.assertEqual(stat.S_IMODE(os.stat(self.main).st_mode), 0o755)
        os.utime(self.main)  # touch succeeds

    def test_branch_root_mtime_follows_scratch_entries(self):
        before = os.stat(self.main).st_mtime_ns
        time.sleep(0.05)
        write_file(self.doc("new.txt"), b"x")
        after = os.stat(self.main).st_mtime_ns
        self.assertGreater(after, before)
        time.sleep(0.05)
        os.unlink(self.doc("new.txt"))
        self.assertGreater(os.stat(self.main).st_mtime_ns, after)


class GitSymlinkTests(ChronofsTestCase):
    """A symbolic link in a Git tree (mode 120000, made by others) is shown
    as a read-only symbolic link."""

    def test_committed_symlink_is_a_read_only_link(self):
        os.mkdir(self.doc("cfg"))
        self.save("cfg/app.json", b'{"a": 1}')
        clone = tempfile.mkdtemp(dir=self.work)
        env = dict(self.env, GIT_AUTHOR_NAME="o", GIT_AUTHOR_EMAIL="o@e", GIT_COMMITTER_NAME="o",
                   GIT_COMMITTER_EMAIL="o@e")
        self.run_cmd("git", "clone", "-q", self.repo, clone, env=env)
        os.symlink("cfg/app.json", os.path.join(clone, "current"))
        self.run_cmd("git", "-C", clone, "add", "current", env=env)
        self.run_cmd("git", "-C", clone, "commit", "-qm", "link", env=env)
        self.run_cmd("git", "-C", clone, "push", "-q", "origin", "HEAD:main", env=env)
        self.assertIn("120000", self.git("ls-tree", "main", "current"))
        link = self.doc("current")
        st = os.lstat(link)
        self.assertTrue(stat.S_ISLNK(st.st_mode))
        self.assertEqual(st.st_size, len("cfg/app.json"))
        self.assertEqual(os.readlink(link), "cfg/app.json")
        self.assertEqual(self.read_file(link), b'{"a": 1}')
        self.assertIn("current", os.listdir(self.main))
        self.assertTrue(next(e for e in os.scandir(self.main) if e.name == "current").is_symlink())
        with self.assertErrno(errno.EPERM):
            os.chown(link, 1, 1, follow_symlinks=False)
        with self.assertErrno(errno.EPERM):
            os.link(link, self.doc("hard"), follow_symlinks=False)
        # In a snapshot too.
        snap = os.path.join(self.mnt, "main@" + self.head()[:7], "current")
        self.assertEqual(os.readlink(snap), "cfg/app.json")
        # mv copies it (a scratch link) and commits the old one's deletion.
        self.run_cmd("mv", link, self.doc("moved"))
        self.assertEqual(os.readlink(self.doc("moved")), "cfg/app.json")
        self.assertNotIn("current", self.tree())
        self.assertEqual(self.tree(), ["cfg/app.json"])


class LongPathTests(ChronofsTestCase):
    """A path through the mount reaches its scratch file whenever the mount
    path itself is short enough, though the backing path (under the
    repository's chronofs/scratch/) is longer."""

    def test_path_near_path_max(self):
        rel = []
        limit = 4095  # strlen of the longest path open(2) takes
        while len(self.main) + 1 + len("/".join(rel + ["x" * 200])) + 12 < limit:
            rel.append("d%03d" % len(rel) + "x" * 196)
        pad = limit - (len(self.main) + 1 + len("/".join(rel)) + 1 + 10)
        if pad > 0:
            rel.append("p" * min(pad, 255))
        dirpath = os.path.join(self.main, *rel)
        os.makedirs(dirpath)
        name = os.path.join(dirpath, "f" * (limit - len(dirpath) - 1 - 5) + ".json")
        self.assertLessEqual(len(name), limit)
        backing = len(os.path.join(self.repo, "chronofs", "scratch", "main")) + len(name) - len(self.main)
        self.assertGreater(backing, limit, "the test would not test anything")
        scratch = name[:-5] + ".txt"
        write_file(scratch, b"deep")
        self.assertEqual(self.read_file(scratch), b"deep")
        self.assertIn(os.path.basename(scratch), os.listdir(dirpath))
        os.rename(scratch, scratch[:-4] + ".tx2")
        os.unlink(scratch[:-4] + ".tx2")
        # A document there is saved as usual.
        write_file(name, b'{"deep": true}')
        self.assertEqual(self.show(os.path.relpath(name, self.main)), b'{"deep": true}')
