"""chronofsctl watch: a line for a save through the mount, a library put,
an outside git commit and a branch creation; it ends on SIGINT."""

import json
import os
import signal
import subprocess
import time

from harness import CTL, ChronofsTestCase, write_file
from test_library import BindingMixin


class WatchTests(BindingMixin, ChronofsTestCase):
    def test_every_kind_of_commit_is_a_line(self):
        w = subprocess.Popen([CTL, "watch", self.repo], stdout=subprocess.PIPE, text=True)
        lines = []
        try:
            time.sleep(0.5)
            os.mkdir(self.doc("c"))
            write_file(self.doc("c/mount.json"), b'{"by": "mount"}')
            self.py('with ChronoFS(REPO) as db: db.put("main", "c/lib.json", {"by": "lib"})')
            self.outside_commit(files={"c/git.json": '{"by": "git"}'})
            os.mkdir(os.path.join(self.mnt, "feature"))
            time.sleep(1.0)
        finally:
            w.send_signal(signal.SIGINT)
            out, _ = w.communicate(timeout=10)
        self.assertEqual(w.returncode, 0)
        lines = [json.loads(l) for l in out.splitlines()]
        paths = [p["path"] for l in lines for p in l.get("paths", [])]
        for p in ("c/mount.json", "c/lib.json", "c/git.json"):
            self.assertIn(p, paths, lines)
        created = [l for l in lines if l.get("event") == "created"]
        self.assertEqual([l["branch"] for l in created], ["feature"])
        commits = [l["commit"] for l in lines if "paths" in l]
        self.assertEqual(len(commits), len(set(commits)), "a commit reported twice")
        self.assertEqual(commits[-1], self.head())
