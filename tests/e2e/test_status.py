"""chronofsctl status: branches and their heads, the index's state, the
mounts of the repository."""

import os

from harness import ChronofsTestCase, write_file


class StatusTests(ChronofsTestCase):
    def test_branches_index_and_mounts(self):
        write_file(self.doc("a.json"), b"{}")
        os.mkdir(os.path.join(self.mnt, "feature"))
        out = self.ctl("status", self.repo).stdout
        self.assertIn("branch main: head %s, index at the head" % self.head()[:12], out)
        self.assertIn("branch feature: head %s" % self.head("feature")[:12], out)
        self.assertIn("mounted on %s" % os.path.realpath(self.mnt), out)
        self.unmount()
        self.outside_commit(files={"b.json": "{}"})
        out = self.ctl("status", self.repo).stdout
        self.assertIn("not mounted", out)
        self.assertIn("branch main: head %s, index behind" % self.head()[:12], out)
