"""chronofsctl fsck: the indexes checked against Git; a row broken on
purpose is found, and --repair builds it again."""

import json
import os
import subprocess

from harness import BUILD, ChronofsTestCase, write_file

BREAK = os.path.join(BUILD, "tests", "break_index")


class FsckTests(ChronofsTestCase):
    def setUp(self):
        super().setUp()
        os.mkdir(self.doc("c"))
        for i in range(20):
            write_file(self.doc("c/d%d.json" % i), json.dumps({"age": i % 7}).encode())
        self.unmount()
        self.ctl("index", "create", self.repo, "main", "c", "age")
        self.index = os.path.join(self.repo, "chronofs", "index")

    def fsck(self, *args):
        return self.ctl("fsck", self.repo, *args, check=False)

    def test_clean_repository_is_clean(self):
        r = self.fsck()
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("0 problems", r.stdout)

    def test_broken_ordered_row_is_found_and_repaired(self):
        subprocess.run([BREAK, self.index, "O"], check=True, capture_output=True)
        r = self.fsck()
        self.assertEqual(r.returncode, 1)
        self.assertIn("ordered index age of c: 19 rows, the head's tree gives 20", r.stdout)
        r = self.fsck("--repair")
        self.assertIn("repaired", r.stdout)
        r = self.fsck()
        self.assertEqual(r.returncode, 0, r.stdout)
        self.mount()
        self.assertEqual(len(os.listdir(self.doc("c/@by/age"))), 20)

    def test_broken_time_index_is_found_and_repaired(self):
        subprocess.run([BREAK, self.index, "C"], check=True, capture_output=True)
        r = self.fsck()
        self.assertEqual(r.returncode, 1)
        self.assertIn("missing from the time index", r.stdout)
        self.fsck("--repair")
        self.assertEqual(self.fsck().returncode, 0)
