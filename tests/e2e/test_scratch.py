"""Scratch files: listed in the live view, readable, never committed, kept across remounts."""

import os

from harness import ChronofsTestCase, read_file, write_file

SCRATCH = {
    "README.md": b"# notes\n",
    ".hidden": b"secret",
    "x.json~": b'{"backup": 1}',
    "4913": b"",
    "notes.txt": b"not json at all {",
}


class ScratchTests(ChronofsTestCase):
    def write_scratch(self):
        before = self.commit_count()
        for name, data in SCRATCH.items():
            write_file(self.doc(name), data)
        self.assertEqual(self.commit_count(), before)

    def test_scratch_files_listed_readable_and_not_committed(self):
        self.write_scratch()
        listed = os.listdir(self.main)
        for name, data in SCRATCH.items():
            self.assertIn(name, listed)
            self.assertEqual(read_file(self.doc(name)), data)
            self.assertEqual(os.stat(self.doc(name)).st_size, len(data))
        self.assertEqual(self.tree(), [])

    def test_scratch_files_survive_remount(self):
        self.write_scratch()
        self.remount()
        for name, data in SCRATCH.items():
            self.assertEqual(read_file(self.doc(name)), data, name)
        self.assertEqual(sorted(os.listdir(self.main)), sorted(SCRATCH))
        self.assertEqual(self.tree(), [])

    def test_scratch_renamed_onto_document_name_commits_once(self):
        write_file(self.doc("draft.txt"), b'{"from": "scratch"}')
        before = self.commit_count()
        os.rename(self.doc("draft.txt"), self.doc("doc.json"))
        self.assertEqual(self.commit_count(), before + 1)
        self.assertEqual(self.tree(), ["doc.json"])
        self.assertEqual(self.show("doc.json"), b'{"from": "scratch"}')
        self.assertNotIn("draft.txt", os.listdir(self.main))

    def test_json_under_hidden_directory_is_scratch(self):
        os.mkdir(self.doc(".cache"))
        write_file(self.doc(".cache/a.json"), b'{"cached": 1}')
        write_file(self.doc(".cache/broken.json"), b"{not json")  # no validation for scratch
        self.assertEqual(self.tree(), [])
        self.assertEqual(read_file(self.doc(".cache/a.json")), b'{"cached": 1}')
        self.assertIn(".cache", os.listdir(self.main))

    def test_scratch_in_nested_collection(self):
        os.makedirs(self.doc("c/d"))
        write_file(self.doc("c/d/README.md"), b"about d")
        self.assertEqual(self.tree(), [])
        self.assertEqual(os.listdir(self.doc("c/d")), ["README.md"])
        self.remount()
        self.assertEqual(read_file(self.doc("c/d/README.md")), b"about d")

    def test_scratch_file_unlink_commits_nothing(self):
        write_file(self.doc("tmp.txt"), b"x")
        before = self.commit_count()
        os.unlink(self.doc("tmp.txt"))
        self.assertEqual(self.commit_count(), before)
        self.assertNotIn("tmp.txt", os.listdir(self.main))

    def test_scratch_is_per_branch(self):
        os.mkdir(os.path.join(self.mnt, "feature"))
        write_file(self.doc("README.md"), b"main notes")
        self.assertNotIn("README.md", os.listdir(self.doc("", branch="feature")))

    def test_scratch_files_are_not_in_snapshots_or_history(self):
        write_file(self.doc("doc.json"), b"{}")
        write_file(self.doc("README.md"), b"notes")
        head = self.head()
        snap = os.path.join(self.mnt, "main@" + head[:7])
        self.assertEqual(os.listdir(snap), ["doc.json"])
        self.assertEqual(os.listdir(os.path.join(self.mnt, "main@history")), ["doc.json"])
