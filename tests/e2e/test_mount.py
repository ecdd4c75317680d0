"""Mounting: init, remount, mount options ro / branch= / fsync=on, concurrent writers."""

import errno
import os
import threading

from harness import ChronofsTestCase, read_file, write_file


class InitTests(ChronofsTestCase):
    mount_on_setup = False

    def test_init_makes_bare_repo_with_main_and_one_empty_commit(self):
        self.assertEqual(self.git("rev-parse", "--is-bare-repository").strip(), "true")
        self.assertEqual(self.branches(), ["main"])
        self.assertEqual(self.commit_count(), 1)
        self.assertEqual(self.tree(), [])
        self.assertEqual(self.git("symbolic-ref", "HEAD").strip(), "refs/heads/main")

    def test_mount_of_fresh_repo_lists_main(self):
        self.mount()
        self.assertEqual(os.listdir(self.mnt), ["main"])
        self.assertEqual(os.listdir(self.main), [])


class RemountTests(ChronofsTestCase):
    def test_remount_keeps_documents_and_scratch_files(self):
        os.makedirs(self.doc("users/2026"))
        write_file(self.doc("users/2026/a.json"), b'{"a": 1}')
        write_file(self.doc("b.json"), b"[true]")
        write_file(self.doc("README.md"), b"read me")
        write_file(self.doc("users/.draft"), b"draft")
        self.remount()
        self.assertEqual(read_file(self.doc("users/2026/a.json")), b'{"a": 1}')
        self.assertEqual(read_file(self.doc("b.json")), b"[true]")
        self.assertEqual(read_file(self.doc("README.md")), b"read me")
        self.assertEqual(read_file(self.doc("users/.draft")), b"draft")
        self.assertEqual(sorted(os.listdir(self.main)), ["README.md", "b.json", "users"])

    def test_remount_after_deleting_index_rebuilds(self):
        write_file(self.doc("a.json"), b'{"a": 1}')
        self.unmount()
        import shutil

        shutil.rmtree(os.path.join(self.repo, "chronofs"), ignore_errors=True)
        self.mount()
        self.assertEqual(read_file(self.doc("a.json")), b'{"a": 1}')
        write_file(self.doc("b.json"), b"2")
        self.assertEqual(self.tree(), ["a.json", "b.json"])


class ReadOnlyTests(ChronofsTestCase):
    mount_on_setup = False

    def setUp(self):
        super().setUp()
        self.mount()
        os.mkdir(self.doc("c"))
        write_file(self.doc("c/a.json"), b'{"a": 1}')
        self.unmount()
        self.mount(options=("ro",))
        self.before = self.commit_count()

    def test_ro_mount_reads(self):
        self.assertEqual(read_file(self.doc("c/a.json")), b'{"a": 1}')

    def test_ro_mount_writes_fail_erofs(self):
        with self.assertErrno(errno.EROFS):
            write_file(self.doc("c/a.json"), b'{"a": 2}', flags=os.O_WRONLY)
        with self.assertErrno(errno.EROFS):
            write_file(self.doc("new.json"), b"{}")
        with self.assertErrno(errno.EROFS):
            os.mkdir(self.doc("d"))
        with self.assertErrno(errno.EROFS):
            os.unlink(self.doc("c/a.json"))
        with self.assertErrno(errno.EROFS):
            os.rename(self.doc("c/a.json"), self.doc("c/b.json"))
        with self.assertErrno(errno.EROFS):
            os.mkdir(os.path.join(self.mnt, "feature"))
        self.assertEqual(self.commit_count(), self.before)
        self.assertEqual(self.show("c/a.json"), b'{"a": 1}')


class BranchOptionTests(ChronofsTestCase):
    mount_on_setup = False

    def setUp(self):
        super().setUp()
        self.mount()
        write_file(self.doc("x.json"), b'{"on": "main"}')
        os.mkdir(os.path.join(self.mnt, "other"))
        write_file(self.doc("o.json", branch="other"), b"1")
        self.unmount()
        self.mount(options=("branch=main",))

    def test_branch_option_shows_branch_documents_at_root(self):
        self.assertEqual(os.listdir(self.mnt), ["x.json"])
        self.assertEqual(read_file(os.path.join(self.mnt, "x.json")), b'{"on": "main"}')

    def test_branch_option_saves_commit_to_that_branch(self):
        before = self.commit_count("main")
        other = self.head("other")
        write_file(os.path.join(self.mnt, "y.json"), b"[1]")
        self.assertEqual(self.commit_count("main"), before + 1)
        self.assertEqual(self.show("y.json"), b"[1]")
        self.assertEqual(self.head("other"), other)


class FsyncOnTests(ChronofsTestCase):
    fsync = "on"

    def test_fsync_on_mount_saves_one_commit_per_document(self):
        before = self.commit_count()
        for i in range(3):
            write_file(self.doc("d%d.json" % i), b'{"i": %d}' % i)
        self.assertEqual(self.commit_count(), before + 3)
        self.assertEqual(self.show("d2.json"), b'{"i": 2}')
        fd = os.open(self.doc("d0.json"), os.O_WRONLY | os.O_TRUNC)
        os.write(fd, b'{"i": "synced"}')
        os.fsync(fd)
        os.close(fd)
        self.assertEqual(self.commit_count(), before + 4)


class ConcurrencyTests(ChronofsTestCase):
    def test_concurrent_writers_lose_no_commit(self):
        threads, per_thread = 4, 10
        before = self.commit_count()
        errors = []

        def writer(t):
            try:
                os.makedirs(self.doc("t%d" % t), exist_ok=True)
                for i in range(per_thread):
                    write_file(self.doc("t%d/d%d.json" % (t, i)), b'{"t": %d, "i": %d}' % (t, i))
            except Exception as e:  # noqa: BLE001
                errors.append(e)

        ws = [threading.Thread(target=writer, args=(t,)) for t in range(threads)]
        for w in ws:
            w.start()
        for w in ws:
            w.join(60)
        self.assertEqual(errors, [])
        self.assertEqual(self.commit_count(), before + threads * per_thread)
        self.assertEqual(len(self.tree()), threads * per_thread)
        self.assertEqual(self.show("t3/d9.json"), b'{"t": 3, "i": 9}')
