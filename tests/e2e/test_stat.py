"""stat of documents: type, mode, owner, size, inode, mtime; utimens/chmod/chown commit nothing."""

import os
import stat
import time

from harness import ChronofsTestCase, write_file

DATA = b'{"stat": "me", "n": [1, 2, 3]}\n'


class StatTests(ChronofsTestCase):
    def setUp(self):
        super().setUp()
        os.mkdir(self.doc("c"))
        self.save("c/x.json", DATA)
        self.path = self.doc("c/x.json")

    def test_document_is_regular_file_mode_0644(self):
        st = os.stat(self.path)
        self.assertTrue(stat.S_ISREG(st.st_mode))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o644)

    def test_document_owned_by_mounting_user(self):
        st = os.stat(self.path)
        self.assertEqual(st.st_uid, os.getuid())
        self.assertEqual(st.st_gid, os.getgid())

    def test_size_equals_bytes(self):
        self.assertEqual(os.stat(self.path).st_size, len(DATA))
        self.assertEqual(os.lstat(self.path).st_size, len(DATA))
        entries = {e.name: e for e in os.scandir(self.doc("c"))}
        self.assertEqual(entries["x.json"].stat().st_size, len(DATA))

    def test_size_follows_overwrite(self):
        write_file(self.path, b"[]")
        self.assertEqual(os.stat(self.path).st_size, 2)

    def test_inode_stable(self):
        a = os.stat(self.path).st_ino
        os.listdir(self.doc("c"))
        b = os.stat(self.path).st_ino
        self.assertEqual(a, b)
        self.assertNotEqual(os.stat(self.doc("c")).st_ino, a)

    def test_collection_and_branch_are_directories(self):
        for d in (self.doc("c"), self.main, self.mnt):
            st = os.stat(d)
            self.assertTrue(stat.S_ISDIR(st.st_mode), d)
            self.assertEqual(st.st_uid, os.getuid(), d)

    def test_mtime_is_recent_commit_time(self):
        st = os.stat(self.path)
        self.assertLess(abs(st.st_mtime - time.time()), 120)

    def test_utime_is_kept_and_commits_nothing(self):
        before = self.commit_count()
        os.utime(self.path, (1500000000, 1500000000))
        self.assertEqual(int(os.stat(self.path).st_mtime), 1500000000)
        self.assertEqual(self.commit_count(), before)

    def test_utime_is_kept_after_remount(self):
        os.utime(self.path, ns=(1500000000123456789, 1500000000123456789))
        self.remount()
        self.assertEqual(int(os.stat(self.path).st_mtime), 1500000000)
        self.assertEqual(self.show("c/x.json"), DATA)

    def test_chmod_and_chown_succeed_and_commit_nothing(self):
        before = self.commit_count()
        os.chmod(self.path, 0o644)
        os.chmod(self.path, 0o600)
        os.chown(self.path, os.getuid(), os.getgid())
        self.run_cmd("chmod", "0644", self.path)
        self.assertEqual(self.commit_count(), before)
        self.assertEqual(self.show("c/x.json"), DATA)

    def test_truncate_to_same_size_via_path_commits_nothing(self):
        before = self.commit_count()
        os.truncate(self.path, len(DATA))
        self.assertEqual(self.commit_count(), before)

    def test_statfs_works(self):
        st = os.statvfs(self.main)
        self.assertGreater(st.f_bsize, 0)
        self.run_cmd("df", self.main)

    def test_mtime_set_on_open_descriptor_before_close_is_kept(self):
        # cp -p and tar -x set the time with futimens before they close.
        fd = os.open(self.path, os.O_WRONLY | os.O_TRUNC)
        try:
            os.write(fd, b'{"new": "content"}')
            os.utime(fd, (1400000000, 1400000000))
        finally:
            os.close(fd)
        self.assertEqual(self.show("c/x.json"), b'{"new": "content"}')
        self.assertEqual(int(os.stat(self.path).st_mtime), 1400000000)

    def test_cp_p_keeps_mtime(self):
        src = os.path.join(self.work, "src.json")
        with open(src, "wb") as f:
            f.write(b"[1]")
        os.utime(src, (1400000000, 1400000000))
        self.run_cmd("cp", "-p", src, self.doc("c/copied.json"))
        self.assertEqual(int(os.stat(self.doc("c/copied.json")).st_mtime), 1400000000)
