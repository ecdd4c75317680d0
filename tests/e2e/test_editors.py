"""Editor save patterns: vim, sed -i, the backup dance, write-temp-and-rename; one commit each."""

import os
import time

from harness import ChronofsTestCase, read_file, write_file

ORIGINAL = b'{"n": 1, "name": "doc"}\n'
EDITED = b'{"n": 2, "name": "doc"}\n'


class EditorTests(ChronofsTestCase):
    def setUp(self):
        super().setUp()
        self.save("x.json", ORIGINAL)
        self.before = self.commit_count()

    def assertOneSave(self):
        self.assertEqual(read_file(self.doc("x.json")), EDITED)
        self.assertEqual(self.show("x.json"), EDITED)
        self.assertEqual(self.commit_count(), self.before + 1)
        self.assertTreeHoldsOnlyDocuments()
        self.assertEqual(self.tree(), ["x.json"])

    def vim(self, *settings):
        cmd = ["vim", "-es", "-u", "NONE", "-i", "NONE"]
        for s in settings:
            cmd += ["-c", s]
        cmd += ["-c", "%s/1/2/", "-c", "wq", self.doc("x.json")]
        self.run_cmd(*cmd, timeout=60)

    def test_vim_save_makes_one_commit(self):
        self.vim()
        self.assertOneSave()

    def test_vim_backupcopy_no_save_makes_one_commit(self):
        self.vim("set backupcopy=no writebackup")
        self.assertOneSave()

    def test_vim_backupcopy_auto_save_makes_one_commit(self):
        self.vim("set nocompatible backupcopy=auto writebackup")
        self.assertOneSave()

    def test_vim_save_commits_nothing_more_later(self):
        self.vim("set backupcopy=no writebackup")
        time.sleep(3)  # past the rename-away deletion delay
        self.assertOneSave()

    def test_sed_in_place_makes_one_commit(self):
        self.run_cmd("sed", "-i", "s/1/2/", self.doc("x.json"))
        self.assertOneSave()

    def test_backup_dance_by_hand_makes_one_commit(self):
        path = self.doc("x.json")
        os.rename(path, path + "~")
        write_file(path, EDITED)
        os.unlink(path + "~")
        self.assertOneSave()
        time.sleep(3)  # no deletion commit may follow later
        self.assertOneSave()
        self.assertNotIn("x.json~", os.listdir(self.main))

    def test_backup_dance_keeps_backup_readable_until_unlinked(self):
        path = self.doc("x.json")
        os.rename(path, path + "~")
        self.assertEqual(read_file(path + "~"), ORIGINAL)
        write_file(path, EDITED)
        self.assertEqual(read_file(path + "~"), ORIGINAL)
        os.unlink(path + "~")
        self.assertOneSave()

    def test_write_temp_and_rename_over_makes_one_commit(self):
        tmp = self.doc(".x.json.tmp123")
        write_file(tmp, EDITED)
        self.assertEqual(self.commit_count(), self.before)
        os.rename(tmp, self.doc("x.json"))
        self.assertOneSave()
        self.assertNotIn(".x.json.tmp123", os.listdir(self.main))
