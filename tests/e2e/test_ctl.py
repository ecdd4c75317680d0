"""chronofsctl: log, --help, --version."""

import os
import re

from harness import ChronofsTestCase, write_file


class CtlLogTests(ChronofsTestCase):
    def test_log_prints_one_line_per_commit_newest_first(self):
        for name in ("a.json", "b.json", "c.json"):
            write_file(self.doc(name), b'{"n": "%s"}' % name.encode())
        lines = self.ctl("log", self.repo, "main").stdout.splitlines()
        ids = self.git("rev-list", "main").split()
        self.assertEqual(len(lines), len(ids), lines)
        for line, full in zip(lines, ids):
            shown = re.findall(r"\b[0-9a-f]{7,40}\b", line)
            self.assertTrue(any(full.startswith(s) for s in shown), "%r does not show %s" % (line, full))
            self.assertRegex(line, r"\d{4}-\d\d-\d\d|\d{2}:\d{2}")
        self.assertIn("c.json", lines[0])
        self.assertIn("a.json", lines[2])


class CtlOptionTests(ChronofsTestCase):
    mount_on_setup = False
    check_fsck = False

    def test_help_exits_zero(self):
        r = self.ctl("--help")
        self.assertTrue((r.stdout + r.stderr).strip())
        self.assertIn("init", r.stdout + r.stderr)

    def test_version_exits_zero(self):
        r = self.ctl("--version")
        self.assertRegex(r.stdout + r.stderr, r"\d+\.\d+")

    def test_unknown_subcommand_fails(self):
        r = self.ctl("no-such-subcommand", check=False)
        self.assertNotEqual(r.returncode, 0)

    def test_init_of_existing_repo_does_not_destroy_it(self):
        before = self.commit_count()
        self.ctl("init", self.repo, check=False)
        self.assertEqual(self.commit_count(), before)
        self.assertTrue(os.path.isdir(self.repo))
