"""The index database is derived data (issue 20, item 3): a repository
mounts on a small filesystem, a full disk under the index aborts nothing,
and an index RocksDB reports corrupt is moved aside and rebuilt from Git."""

import errno
import glob
import json
import os
import re
import shutil
import subprocess
import threading
import time

from harness import ChronofsTestCase, write_file


def can_loop_mount():
    return os.geteuid() == 0 and shutil.which("mkfs.ext4") and shutil.which("losetup")


class SmallDiskTests(ChronofsTestCase):
    """A repository on a 64 MiB ext4 filesystem of its own (loop device,
    no blocks reserved for root, so root sees the disk full too)."""

    mount_on_setup = False
    check_fsck = False  # done before the small filesystem goes

    def setUp(self):
        super().setUp()
        if not can_loop_mount():
            self.skipTest("needs root, mkfs.ext4 and a loop device")
        img = os.path.join(self.work, "small.img")
        self.small = os.path.join(self.work, "small")
        os.mkdir(self.small)
        with open(img, "wb") as f:
            f.truncate(64 << 20)
        self.run_cmd("mkfs.ext4", "-q", "-F", "-m", "0", img)
        r = subprocess.run(["mount", "-o", "loop", img, self.small], capture_output=True, text=True)
        if r.returncode != 0:
            self.skipTest("cannot loop-mount: %s" % r.stderr.strip())
        self.addCleanup(subprocess.run, ["umount", "-l", self.small], capture_output=True)
        self.repo = os.path.join(self.small, "repo.git")
        self.ctl("init", self.repo)

    def free(self):
        st = os.statvfs(self.small)
        return st.f_bavail * st.f_frsize

    def fsck(self):
        r = subprocess.run(["git", "--git-dir=" + self.repo, "fsck", "--strict", "--no-progress"],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def by(self, spec, coll="c"):
        return sorted(os.listdir(os.path.join(self.doc(coll), "@by", spec)))

    def test_repository_mounts_and_saves_on_a_64_mib_filesystem(self):
        before = self.free()
        self.mount()
        os.mkdir(self.doc("c"))
        for i in range(200):
            self.save("c/d%03d.json" % i, '{"v": %d}' % (199 - i))
        self.assertEqual(self.by("v")[0], "000001_d199.json")
        # The index takes what it holds, not tens of MiB made ahead.
        self.assertGreater(self.free(), before - (12 << 20), "the mount took %d bytes" % (before - self.free()))
        self.unmount()
        self.fsck()

    def test_full_disk_under_the_index_aborts_nothing(self):
        self.expect_log(r"rocksdb|index")
        self.expect_log(r"save failed|No space left|background packing|no file pool")
        self.mount()
        os.mkdir(self.doc("c"))
        for i in range(300):
            self.save("c/d%03d.json" % i, '{"v": %d, "k%d": 1, "pad": "%s"}' % (i, i, "y" * 300))
        self.assertEqual(len(self.by("v")), 300)
        # Ten more collections: a collection keeps at most 16 indexes.
        for j in range(10):
            os.mkdir(self.doc("e%d" % j))
            for i in range(30):
                # Rows carry documents up to 4 KiB: 150 indexes of 30
                # make ~14 MB of rows, past the 4 MiB memtable.
                self.save("e%d/d%02d.json" % (j, i), '{"k%d": %d, "pad": "%s"}' % (i, i, "y" * 3000))
        stop = threading.Event()
        fills = []

        def fill():  # keep the disk full, whatever is freed
            while not stop.is_set():
                a = self.free()
                if a > 0:
                    p = os.path.join(self.small, "fill-%d" % len(fills))
                    fills.append(p)
                    subprocess.run(["fallocate", "-l", str(a), p], capture_output=True)
                stop.wait(0.05)
        t = threading.Thread(target=fill)
        t.start()
        try:
            failed = 0
            for k in range(150):  # each a new index: writes to RocksDB
                try:
                    for _ in range(3):  # a spec's third use builds it
                        self.by("k%d" % (k % 30), "e%d" % (k // 15))
                except OSError:
                    failed += 1
            self.assertEqual(self.by("v")[0], "000001_d000.json")
            self.assertGreater(failed, 0, "the disk never filled")
            self.unmount()  # exit status 0: no abort
            self.mount()  # on the full disk: mounts, the index read-only
            self.assertEqual(self.by("v")[0], "000001_d000.json")
            self.unmount()
        finally:
            stop.set()
            t.join()
        for p in fills:
            os.unlink(p)
        self.mount()  # space is back: new indexes are built again
        for _ in range(3):
            self.assertEqual(len(self.by("pad,v")), 300)
        self.assertIn("built index pad,v of main/c", self.daemon_log())
        self.save("c/new.json", '{"v": -1}')
        self.assertEqual(self.by("v")[0], "000001_new.json")
        self.unmount()
        self.fsck()

    def test_objects_on_a_full_disk_get_enospc_and_keep_the_old_version(self):
        """A new repository on a nearly full disk mounts (its index made
        small); a save the disk cannot hold fails with ENOSPC, not EIO,
        keeps the last version, and saves resume once space is back."""
        self.expect_log(r"No space left|bytes free")
        hog = os.path.join(self.small, "hog")
        subprocess.run(["fallocate", "-l", str(self.free() - (6 << 20)), hog], check=True)
        self.mount()
        self.assertRegex(self.daemon_log(), r"bytes free: made with a 256 KiB memtable")
        self.save("keep.json", '{"v": 1}')
        def big():  # 2 MiB that no compression shrinks below 1 MiB
            return ('{"x": "%s"}' % os.urandom(1 << 20).hex()).encode()
        got = None
        for i in range(12):
            try:
                write_file(self.doc("big%d.json" % i), big())
            except OSError as e:
                got = e.errno
                break
        self.assertEqual(got, errno.ENOSPC, "no ENOSPC after %d saves" % i)
        with self.assertErrno(errno.ENOSPC):
            write_file(self.doc("keep.json"), big())
        self.assertEqual(self.show("keep.json"), b'{"v": 1}')
        os.unlink(hog)
        write_file(self.doc("keep.json"), b'{"v": 2}')
        self.assertEqual(self.show("keep.json"), b'{"v": 2}')
        self.unmount()
        self.fsck()


def truncate_ssts(test, index):
    ssts = glob.glob(os.path.join(index, "*.sst"))
    test.assertTrue(ssts, os.listdir(index))
    for p in ssts:
        os.truncate(p, 100)


def delete_current(test, index):
    os.unlink(os.path.join(index, "CURRENT"))


def garbage_manifest(test, index):
    manifests = glob.glob(os.path.join(index, "MANIFEST-*"))
    test.assertTrue(manifests, os.listdir(index))
    for p in manifests:
        with open(p, "wb") as f:
            f.write(os.urandom(300))


# The line that says what happened, why, and where the old copy went.
MOVED_LINE = re.compile(
    r"WARNING: index (\S+) cannot be opened \((Corruption[^\n]*)\): moved to (\S+); it is rebuilt from Git")


class CorruptIndexTests(ChronofsTestCase):
    """A corrupt index is moved aside with a log line and rebuilt, by the
    daemon and by chronofsctl, for each of three corruptions."""

    def fill(self):
        """A collection with an ordered index, on disk (.sst) once unmounted."""
        os.mkdir(self.doc("c"))
        for i in range(30):
            self.save("c/d%02d.json" % i, '{"v": %d}' % (29 - i))
        self.assertEqual(sorted(os.listdir(os.path.join(self.doc("c"), "@by", "v")))[0], "000001_d29.json")
        self.unmount()
        return os.path.join(self.repo, "chronofs", "index")

    def assertMovedAside(self, text, index):
        """TEXT holds one line naming INDEX, the reason, and the copy kept (which exists)."""
        lines = MOVED_LINE.findall(text)
        self.assertEqual(len(lines), 1, text)
        path, why, to = lines[0]
        self.assertEqual(path, index)
        self.assertTrue(why.strip(), text)
        self.assertTrue(to.startswith(index + ".broken-"), to)
        self.assertTrue(os.path.isdir(to), to)
        self.assertEqual(glob.glob(index + ".broken-*"), [to])

    def corrupt_and_remount(self, damage):
        index = self.fill()
        damage(self, index)
        self.expect_log(r"index .* cannot be opened")
        self.mount()
        self.assertMovedAside(self.daemon_log(), index)
        by = sorted(os.listdir(os.path.join(self.doc("c"), "@by", "v")))
        self.assertEqual(len(by), 30)
        self.assertEqual(by[0], "000001_d29.json")
        self.save("c/d00.json", '{"v": -5}')
        self.assertEqual(sorted(os.listdir(os.path.join(self.doc("c"), "@by", "v")))[0], "000001_d00.json")

    def corrupt_and_ctl(self, damage):
        index = self.fill()
        damage(self, index)
        r = self.ctl("query", self.repo, "main", "c", "v")
        self.assertMovedAside(r.stderr, index)
        rows = [json.loads(line) for line in r.stdout.splitlines()]
        self.assertEqual([row["id"] for row in rows], ["d%02d" % i for i in range(29, -1, -1)])
        r = self.ctl("log", self.repo, "main", "--at", "2099-01-01")
        self.assertEqual(r.stderr, "", "rebuilt once, not again")
        self.assertIn(self.head(), r.stdout)
        self.mount()  # the daemon takes the rebuilt index as it is
        self.assertNotIn("cannot be opened", self.daemon_log())
        self.assertEqual(len(os.listdir(os.path.join(self.doc("c"), "@by", "v"))), 30)

    def test_truncated_sst(self):
        self.corrupt_and_remount(truncate_ssts)

    def test_deleted_current(self):
        self.corrupt_and_remount(delete_current)

    def test_garbage_manifest(self):
        self.corrupt_and_remount(garbage_manifest)

    def test_ctl_truncated_sst(self):
        self.corrupt_and_ctl(truncate_ssts)

    def test_ctl_deleted_current(self):
        self.corrupt_and_ctl(delete_current)

    def test_ctl_garbage_manifest(self):
        self.corrupt_and_ctl(garbage_manifest)

    def test_ctl_second_copy_in_one_second(self):
        """A copy already kept under this second's name stays; the new one gets .2."""
        index = self.fill()
        now = int(time.time())
        kept = ["%s.broken-%d" % (index, t) for t in range(now - 1, now + 30)]
        for d in kept:
            os.mkdir(d)
            write_file(os.path.join(d, "KEEP"), b"older copy")
        delete_current(self, index)
        r = self.ctl("query", self.repo, "main", "c", "v")
        lines = MOVED_LINE.findall(r.stderr)
        self.assertEqual(len(lines), 1, r.stderr)
        to = lines[0][2]
        self.assertRegex(to, r"\.broken-\d+\.2$")
        self.assertIn(to[:-2], kept)
        moved = os.listdir(to)
        self.assertTrue(moved and "KEEP" not in moved, moved)  # the damaged database itself
        for d in kept:
            self.assertEqual(os.listdir(d), ["KEEP"], d)
        self.assertEqual(len(r.stdout.splitlines()), 30)

    def test_ctl_index_that_cannot_be_moved_aside_fails_cleanly(self):
        """A file in the way of every name it could get: an error, no crash (it was SIGSEGV)."""
        index = self.fill()
        now = int(time.time())
        for t in range(now - 1, now + 60):
            write_file("%s.broken-%d" % (index, t), b"in the way")
        garbage_manifest(self, index)
        r = self.ctl("log", self.repo, "main", "--at", "2099-01-01", check=False)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertRegex(r.stderr, r"ERROR: index %s cannot be opened \(Corruption.*\) nor moved aside: Not a directory"
                         % re.escape(index))
        self.assertEqual(r.stdout, "")
