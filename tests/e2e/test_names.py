"""Names and directory listings: odd characters, long names, big directories, odd file types."""

import errno
import os

from harness import ChronofsTestCase, read_file, write_file


class NameTests(ChronofsTestCase):
    def test_document_names_with_special_characters(self):
        names = ["with space.json", "ünïcödé ☃.json", "quote'\".json", "#hash%&.json", "x.json.json", "-dash.json"]
        for n in names:
            write_file(self.doc(n), b'{"n": 1}')
        self.assertEqual(self.commit_count(), 1 + len(names))
        self.assertEqual(sorted(self.tree()), sorted(names))
        self.assertEqual(sorted(os.listdir(self.main)), sorted(names))
        for n in names:
            self.assertEqual(read_file(self.doc(n)), b'{"n": 1}', n)

    def test_long_names(self):
        name = "n" * 250 + ".json"
        write_file(self.doc(name), b"[]")
        self.assertEqual(self.tree(), [name])
        with self.assertErrno(errno.ENAMETOOLONG):
            write_file(self.doc("n" * 251 + ".json"), b"[]")

    def test_deep_path(self):
        rel = "/".join("d%02d" % i for i in range(30)) + "/deep.json"
        os.makedirs(self.doc(os.path.dirname(rel)))
        write_file(self.doc(rel), b"1")
        self.assertEqual(self.tree(), [rel])

    def test_uppercase_extension_is_scratch(self):
        write_file(self.doc("X.JSON"), b"not json")
        self.assertEqual(self.tree(), [])
        self.assertEqual(read_file(self.doc("X.JSON")), b"not json")

    def test_o_excl_on_existing_document_fails_eexist(self):
        write_file(self.doc("a.json"), b"1")
        with self.assertErrno(errno.EEXIST):
            os.close(os.open(self.doc("a.json"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))

    def test_rename_onto_itself_commits_nothing(self):
        write_file(self.doc("a.json"), b"1")
        before = self.commit_count()
        os.rename(self.doc("a.json"), self.doc("a.json"))
        self.assertEqual(self.commit_count(), before)
        self.assertEqual(self.tree(), ["a.json"])

    def test_unlink_missing_document_fails_enoent(self):
        with self.assertErrno(errno.ENOENT):
            os.unlink(self.doc("missing.json"))

    def test_hard_link_symlink_and_fifo_fail_cleanly_or_work(self):
        write_file(self.doc("a.json"), b"1")
        before = self.commit_count()
        for make in (
            lambda: os.link(self.doc("a.json"), self.doc("b.json")),
            lambda: os.symlink("a.json", self.doc("link")),
            lambda: os.mkfifo(self.doc("fifo")),
        ):
            try:
                make()
            except OSError:
                pass
        self.assertLessEqual(self.commit_count(), before + 1)  # a hard link may save b.json
        self.assertEqual(read_file(self.doc("a.json")), b"1")
        write_file(self.doc("after.json"), b"2")
        self.assertIn("after.json", self.tree())

    def test_xattrs_do_not_break_cp_a(self):
        src = os.path.join(self.work, "src")
        os.makedirs(os.path.join(src, "c"))
        with open(os.path.join(src, "c", "a.json"), "w") as f:
            f.write('{"a": 1}')
        try:
            os.listxattr(self.main)
        except OSError as e:
            self.assertIn(e.errno, (errno.ENOTSUP, errno.ENOSYS, errno.ENODATA))
        self.run_cmd("cp", "-a", os.path.join(src, "c"), self.main + "/")
        self.assertEqual(self.tree(), ["c/a.json"])


class BigDirectoryTests(ChronofsTestCase):
    def test_large_directory_lists_every_entry_once(self):
        docs = {"big/document-with-a-longish-name-%04d.json" % i: '{"i": %d}' % i for i in range(600)}
        self.outside_commit(docs)
        big = self.doc("big")
        self.wait_until(lambda: os.path.isdir(big) and len(os.listdir(big)) >= 600, timeout=5, msg="600 docs")
        for i in range(60):
            write_file(os.path.join(big, ".scratch-file-%03d" % i), b"s")
        names = os.listdir(big)
        self.assertEqual(len(names), len(set(names)), "duplicate entries in readdir")
        self.assertEqual(len(names), 660)
        out = self.run_cmd("ls", "-f", big, text=True).stdout.split()
        self.assertEqual(len([n for n in out if n not in (".", "..")]), 660)
        self.assertEqual(read_file(os.path.join(big, "document-with-a-longish-name-0599.json")), b'{"i": 599}')
        write_file(os.path.join(big, "document-with-a-longish-name-0000.json"), b'{"i": "changed"}')
        self.assertEqual(self.show("big/document-with-a-longish-name-0000.json"), b'{"i": "changed"}')
        self.assertEqual(len(self.tree()), 600)
