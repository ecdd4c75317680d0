"""chronofsctl index drop|rebuild right after an unmount: it waits (saying
so) for a daemon that is still stopping, and names the holder when the
index is not let go."""

import os
import subprocess
import time

from harness import CTL, ChronofsTestCase, write_file


class IndexHolderTests(ChronofsTestCase):
    def setUp(self):
        super().setUp()
        os.mkdir(self.doc("users"))
        write_file(self.doc("users/a.json"), b'{"age": 3}')
        # A spec's third use makes its persistent index (the core's rule).
        for _ in range(3):
            self.assertEqual(os.listdir(self.doc("users/@by/age")), ["000001_a.json"])

    def test_rebuild_waits_for_the_mount_to_let_go(self):
        p = subprocess.Popen([CTL, "index", "rebuild", self.repo], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=self.env)
        time.sleep(1.0)  # it is waiting on the mount by now
        self.unmount()
        out, err = p.communicate(timeout=30)
        self.assertEqual(p.returncode, 0, err)
        self.assertIn("waiting up to 5 s", err)
        self.assertEqual(out, "rebuilt main users age\n")
        self.assertIn("main\tusers\tage\t1", self.ctl("index", "list", self.repo).stdout)

    def test_holder_is_named_when_it_does_not_go(self):
        start = time.monotonic()
        r = self.ctl("index", "drop", self.repo, "main", "users", "age", check=False)
        self.assertGreaterEqual(time.monotonic() - start, 4.5)
        self.assertEqual(r.returncode, 1)
        self.assertIn("waiting up to 5 s", r.stderr)
        self.assertIn("held by another process (pid %d, chronofs" % self.proc.pid, r.stderr)
        # Nothing was dropped.
        self.assertEqual(os.listdir(self.doc("users/@by/age")), ["000001_a.json"])
