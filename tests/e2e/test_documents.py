"""Documents: create, read, overwrite, delete, rename; one commit per save."""

import errno
import os

from harness import ChronofsTestCase, read_file, write_file


class DocumentTests(ChronofsTestCase):
    def test_create_makes_exactly_one_commit(self):
        before = self.commit_count()
        write_file(self.doc("alice.json"), b'{"name": "alice"}\n')
        self.assertEqual(self.commit_count(), before + 1)
        self.assertEqual(self.tree(), ["alice.json"])

    def test_committed_bytes_equal_cat_byte_for_byte(self):
        data = '{\r\n  "name":"Zoë ☃",   "n" : [1 ,2,3]\t}'.encode()  # odd spacing, CRLF, no final newline
        write_file(self.doc("odd.json"), data)
        cat = self.run_cmd("cat", self.doc("odd.json")).stdout
        self.assertEqual(cat, data)
        self.assertEqual(self.show("odd.json"), cat)

    def test_commit_parent_is_previous_head(self):
        old = self.head()
        write_file(self.doc("a.json"), b"{}")
        self.assertEqual(self.git("rev-parse", "main^").strip(), old)

    def test_commit_message_names_path(self):
        os.mkdir(self.doc("users"))
        write_file(self.doc("users/alice.json"), b'{"a": 1}')
        self.assertIn("users/alice.json", self.git("log", "-1", "--format=%B", "main"))
        os.unlink(self.doc("users/alice.json"))
        self.assertIn("users/alice.json", self.git("log", "-1", "--format=%B", "main"))

    def test_overwrite_makes_one_commit_with_new_bytes(self):
        self.save("a.json", b'{"v": 1}')
        before = self.commit_count()
        write_file(self.doc("a.json"), b'{"v": 2, "more": true}')
        self.assertEqual(self.commit_count(), before + 1)
        self.assertEqual(self.show("a.json"), b'{"v": 2, "more": true}')
        self.assertEqual(read_file(self.doc("a.json")), b'{"v": 2, "more": true}')

    def test_overwrite_with_shorter_content_leaves_no_tail(self):
        self.save("a.json", b'{"long": "aaaaaaaaaaaaaaaaaaaaaaaa"}')
        write_file(self.doc("a.json"), b"[1]")
        self.assertEqual(read_file(self.doc("a.json")), b"[1]")
        self.assertEqual(self.show("a.json"), b"[1]")

    def test_saving_identical_bytes_makes_no_commit(self):
        self.save("a.json", b'{"same": true}\n')
        before = self.commit_count()
        write_file(self.doc("a.json"), b'{"same": true}\n')
        self.assertEqual(self.commit_count(), before)

    def test_open_and_close_without_writing_makes_no_commit(self):
        self.save("a.json", b'{"x": 1}')
        before = self.commit_count()
        fd = os.open(self.doc("a.json"), os.O_RDWR)
        os.close(fd)
        with open(self.doc("a.json"), "rb") as f:
            f.read()
        self.assertEqual(self.commit_count(), before)

    def test_unlink_commits_a_deletion(self):
        self.save("a.json", b"{}")
        self.save("b.json", b"{}")
        before = self.commit_count()
        os.unlink(self.doc("a.json"))
        self.assertEqual(self.commit_count(), before + 1)
        self.assertEqual(self.tree(), ["b.json"])
        self.assertFalse(os.path.exists(self.doc("a.json")))
        self.assertNotIn("a.json", os.listdir(self.main))

    def test_rename_document_commits_once(self):
        self.save("old.json", b'{"k": "v"}')
        before = self.commit_count()
        os.rename(self.doc("old.json"), self.doc("new.json"))
        self.assertEqual(self.commit_count(), before + 1)
        self.assertEqual(self.tree(), ["new.json"])
        self.assertEqual(self.show("new.json"), b'{"k": "v"}')
        self.assertFalse(os.path.exists(self.doc("old.json")))
        self.assertEqual(read_file(self.doc("new.json")), b'{"k": "v"}')

    def test_rename_document_into_other_collection_commits_once(self):
        os.mkdir(self.doc("a"))
        os.mkdir(self.doc("b"))
        self.save("a/x.json", b"[1]")
        before = self.commit_count()
        os.rename(self.doc("a/x.json"), self.doc("b/x.json"))
        self.assertEqual(self.commit_count(), before + 1)
        self.assertEqual(self.tree(), ["b/x.json"])

    def test_rename_over_existing_document_commits_once(self):
        self.save("src.json", b'{"from": "src"}')
        self.save("dst.json", b'{"from": "dst"}')
        before = self.commit_count()
        os.rename(self.doc("src.json"), self.doc("dst.json"))
        self.assertEqual(self.commit_count(), before + 1)
        self.assertEqual(self.tree(), ["dst.json"])
        self.assertEqual(self.show("dst.json"), b'{"from": "src"}')
        self.assertEqual(read_file(self.doc("dst.json")), b'{"from": "src"}')

    def test_new_empty_document_is_visible_and_commits_nothing(self):
        before = self.commit_count()
        self.run_cmd("touch", self.doc("x.json"))
        self.assertTrue(os.path.isfile(self.doc("x.json")))
        self.assertEqual(os.stat(self.doc("x.json")).st_size, 0)
        self.assertIn("x.json", os.listdir(self.main))
        self.assertEqual(self.commit_count(), before)
        self.assertEqual(self.tree(), [])

    def test_empty_document_written_later_commits_once(self):
        self.run_cmd("touch", self.doc("x.json"))
        before = self.commit_count()
        write_file(self.doc("x.json"), b'{"later": 1}', flags=os.O_WRONLY)
        self.assertEqual(self.commit_count(), before + 1)
        self.assertEqual(self.show("x.json"), b'{"later": 1}')

    def test_truncate_then_writes_is_one_commit_of_final_content(self):
        self.save("a.json", b'{"v": "original"}')
        before = self.commit_count()
        fd = os.open(self.doc("a.json"), os.O_WRONLY | os.O_TRUNC)
        os.write(fd, b'{"v": ')
        os.write(fd, b'"final"}')
        os.close(fd)
        self.assertEqual(self.commit_count(), before + 1)
        self.assertEqual(self.show("a.json"), b'{"v": "final"}')
        self.assertEqual(read_file(self.doc("a.json")), b'{"v": "final"}')

    def test_ftruncate_then_writes_is_one_commit_of_final_content(self):
        self.save("a.json", b'{"v": "original, quite long"}')
        before = self.commit_count()
        fd = os.open(self.doc("a.json"), os.O_RDWR)
        os.ftruncate(fd, 0)
        os.pwrite(fd, b'{"v": 2}', 0)
        os.close(fd)
        self.assertEqual(self.commit_count(), before + 1)
        self.assertEqual(self.show("a.json"), b'{"v": 2}')

    def test_writes_at_offsets_are_one_commit(self):
        # No subprocess while the file is open: its exec closes a copy of
        # the descriptor, which the kernel reports to the daemon as a flush.
        before = self.commit_count()
        fd = os.open(self.doc("p.json"), os.O_RDWR | os.O_CREAT, 0o644)
        os.pwrite(fd, b'"bbbb"]', 7)
        os.pwrite(fd, b'["aa", ', 0)
        os.close(fd)
        self.assertEqual(self.commit_count(), before + 1)
        self.assertEqual(self.show("p.json"), b'["aa", "bbbb"]')

    def test_close_of_a_dup_mid_write_loses_no_data(self):
        # Closing a duplicate (or a forked child's copy) flushes half-written
        # bytes; that may be refused, but the writes must stay in the open file.
        before = self.commit_count()
        fd = os.open(self.doc("d.json"), os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            os.write(fd, b'{"a": ')
            dup = os.dup(fd)
            try:
                os.close(dup)
            except OSError:
                pass
            os.write(fd, b"1}")
        finally:
            os.close(fd)
        self.assertEqual(self.show("d.json"), b'{"a": 1}')
        self.assertEqual(read_file(self.doc("d.json")), b'{"a": 1}')
        self.assertEqual(self.commit_count(), before + 1)

    def test_close_after_refused_flush_of_a_dup_still_fails_einval(self):
        self.save("e.json", b'{"ok": 1}')
        before = self.commit_count()
        fd = os.open(self.doc("e.json"), os.O_WRONLY | os.O_TRUNC)
        os.write(fd, b'{"ok": broken')
        dup = os.dup(fd)
        try:
            os.close(dup)
        except OSError:
            pass
        with self.assertErrno(errno.EINVAL, "the last close of an invalid document must not report success"):
            os.close(fd)
        self.assertEqual(self.commit_count(), before)
        self.assertEqual(self.show("e.json"), b'{"ok": 1}')

    def test_cp_into_branch_commits_once(self):
        src = os.path.join(self.work, "src.json")
        with open(src, "wb") as f:
            f.write(b'{"copied": true}\n')
        before = self.commit_count()
        self.run_cmd("cp", src, self.doc("copied.json"))
        self.run_cmd("cp", "-p", src, self.doc("copied_p.json"))
        self.assertEqual(self.commit_count(), before + 2)
        self.assertEqual(self.show("copied.json"), b'{"copied": true}\n')
        self.assertEqual(self.show("copied_p.json"), b'{"copied": true}\n')

    def test_shell_redirect_saves_once(self):
        before = self.commit_count()
        self.run_cmd("sh", "-c", "echo '{\"sh\": 1}' > \"$1\"", "sh", self.doc("sh.json"))
        self.assertEqual(self.commit_count(), before + 1)
        self.assertEqual(self.show("sh.json"), b'{"sh": 1}\n')

    def test_emptying_a_document_keeps_its_last_committed_version(self):
        self.save("e.json", b'{"keep": 1}')
        before = self.commit_count()
        try:
            write_file(self.doc("e.json"), b"")  # open O_TRUNC, close: empty is not JSON
        except OSError as e:
            self.assertEqual(e.errno, errno.EINVAL)
        self.assertEqual(self.commit_count(), before)
        self.assertEqual(self.show("e.json"), b'{"keep": 1}')
        self.assertEqual(read_file(self.doc("e.json")), b'{"keep": 1}')

    def test_fsync_commits_and_close_adds_nothing(self):
        before = self.commit_count()
        fd = os.open(self.doc("f.json"), os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            os.write(fd, b'{"synced": true}')
            os.fsync(fd)
            self.assertEqual(self.commit_count(), before + 1)
            self.assertEqual(self.show("f.json"), b'{"synced": true}')
        finally:
            os.close(fd)
        self.assertEqual(self.commit_count(), before + 1)

    def test_one_mebibyte_document_round_trips(self):
        data = ("[" + ",".join('"%06d"' % i for i in range(120000)) + "]").encode()
        self.assertGreater(len(data), 1 << 20)
        self.save("big.json", data)
        self.assertEqual(read_file(self.doc("big.json")), data)
        self.assertEqual(os.stat(self.doc("big.json")).st_size, len(data))

    def test_read_at_offset(self):
        data = b'{"abcdefghijklmnopqrstuvwxyz": 0}'
        self.save("r.json", data)
        fd = os.open(self.doc("r.json"), os.O_RDONLY)
        try:
            self.assertEqual(os.pread(fd, 5, 3), data[3:8])
            self.assertEqual(os.pread(fd, 100, len(data) - 2), data[-2:])
            self.assertEqual(os.pread(fd, 10, len(data) + 10), b"")
        finally:
            os.close(fd)
