"""Virtual read-only views reached by name: snapshots (BRANCH@WHEN, BRANCH@COMMIT) and BRANCH@history."""

import errno
import os
import re
import unittest

from harness import ChronofsTestCase, read_file, write_file

VERSION_NAME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ_([0-9a-f]{7})\.json$")


class SnapshotTests(ChronofsTestCase):
    def setUp(self):
        super().setUp()
        self.save("x.json", b'{"v": 1}')
        self.first = self.head()
        self.save("x.json", b'{"v": 2}')

    def snap(self, when):
        return os.path.join(self.mnt, "main@" + when)

    def test_snapshot_by_commit_reads_that_version(self):
        self.assertEqual(read_file(os.path.join(self.snap(self.first[:7]), "x.json")), b'{"v": 1}')
        self.assertEqual(read_file(os.path.join(self.snap(self.first), "x.json")), b'{"v": 1}')

    def test_snapshot_documents_are_mode_0444(self):
        st = os.stat(os.path.join(self.snap(self.first[:7]), "x.json"))
        self.assertEqual(st.st_mode & 0o777, 0o444)

    def test_snapshot_is_read_only(self):
        snap = self.snap(self.first[:7])
        with self.assertErrno(errno.EROFS):
            write_file(os.path.join(snap, "x.json"), b"3", flags=os.O_WRONLY)
        with self.assertErrno(errno.EROFS):
            write_file(os.path.join(snap, "new.json"), b"3")
        with self.assertErrno(errno.EROFS):
            os.unlink(os.path.join(snap, "x.json"))

    def test_snapshot_in_future_is_current_head(self):
        self.assertEqual(read_file(os.path.join(self.snap("2099-01-01"), "x.json")), b'{"v": 2}')
        self.assertEqual(read_file(os.path.join(self.snap("2099-01-01T10:15:00Z"), "x.json")), b'{"v": 2}')

    def test_snapshot_before_first_commit_is_enoent(self):
        with self.assertErrno(errno.ENOENT):
            os.stat(self.snap("1970-01-02"))

    def test_snapshot_of_unknown_commit_is_enoent(self):
        with self.assertErrno(errno.ENOENT):
            os.stat(self.snap("0000000"))


class HistoryTests(ChronofsTestCase):
    def test_history_lists_versions_oldest_first(self):
        self.save("x.json", b'{"v": 1}')
        c1 = self.head()
        self.save("x.json", b'{"v": 2}')
        c2 = self.head()
        hist = os.path.join(self.mnt, "main@history", "x.json")
        names = os.listdir(hist)
        self.assertEqual(len(names), 2, names)
        commits = [VERSION_NAME.match(n).group(1) if VERSION_NAME.match(n) else n for n in names]
        self.assertEqual(commits, [c1[:7], c2[:7]])
        self.assertEqual(read_file(os.path.join(hist, names[0])), b'{"v": 1}')
        self.assertEqual(read_file(os.path.join(hist, names[1])), b'{"v": 2}')

    def test_history_dir_lists_deleted_document(self):
        self.save("gone.json", b'{"bye": 1}')
        os.unlink(self.doc("gone.json"))
        hist = os.path.join(self.mnt, "main@history")
        self.assertIn("gone.json", os.listdir(hist))
        versions = os.listdir(os.path.join(hist, "gone.json"))
        self.assertEqual(len(versions), 1, versions)
        self.assertEqual(read_file(os.path.join(hist, "gone.json", versions[0])), b'{"bye": 1}')
