"""-o logfile=PATH: the daemon's lines go to that file, each naming its
path; a detached daemon with no syslog socket logs beside the repository."""

import os
import subprocess
import time

from harness import DAEMON, ChronofsTestCase, write_file


class LogfileTests(ChronofsTestCase):
    mount_on_setup = False

    def test_logfile_gets_the_lines(self):
        log = os.path.join(self.work, "chronofs.log")
        self.mount(options=("logfile=" + log,))
        write_file(self.doc("a.json"), b"{}")
        try:
            write_file(self.doc("bad.json"), b'{"x": ')
        except OSError:
            pass
        self.unmount()
        with open(log) as f:
            text = f.read()
        self.assertIn("INFO: mounted", text)
        self.assertIn("main/a.json: saved as commit", text)
        self.assertIn("bad.json", text)
        self.assertIn("line 1", text)

    def test_detached_without_syslog_logs_beside_the_repository(self):
        if os.access("/dev/log", os.W_OK):
            self.skipTest("a syslog socket is here: the daemon logs there")
        r = subprocess.run([DAEMON, self.repo, self.mnt, "-o", "fsync=off"],
                           capture_output=True, text=True, timeout=30)
        try:
            self.assertEqual(r.returncode, 0, r.stderr)
            want = os.path.join(os.path.realpath(self.repo), "chronofs", "chronofs.log")
            self.assertIn("logging to " + want, r.stderr)
            deadline = time.monotonic() + 5
            while not os.path.ismount(self.mnt) and time.monotonic() < deadline:
                time.sleep(0.05)
            write_file(self.doc("a.json"), b"{}")
            time.sleep(0.2)
            with open(want) as f:
                self.assertIn("main/a.json: saved", f.read())
        finally:
            subprocess.run(["fusermount3", "-u", self.mnt], capture_output=True)
