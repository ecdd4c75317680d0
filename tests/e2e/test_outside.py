"""Changes made to the repository from outside (git commit + push) show up in the mount."""

import os
import stat
import subprocess
import threading

from harness import OUTSIDE_IDENTITY, ChronofsTestCase, read_file, write_file


class OutsideChangeTests(ChronofsTestCase):
    def test_outside_commit_becomes_visible(self):
        os.listdir(self.main)  # let the kernel cache the listing first
        self.outside_commit({"docs/outside.json": '{"from": "outside"}\n'})
        path = self.doc("docs/outside.json")
        self.wait_until(lambda: os.path.exists(path), timeout=3.0, msg="outside document to appear")
        self.assertEqual(read_file(path), b'{"from": "outside"}\n')
        self.assertIn("docs", os.listdir(self.main))

    def test_outside_change_to_read_document_becomes_visible(self):
        write_file(self.doc("x.json"), b'{"v": 1}')
        self.assertEqual(read_file(self.doc("x.json")), b'{"v": 1}')
        self.outside_commit({"x.json": '{"v": 2, "outside": true}'})
        self.wait_until(
            lambda: read_file(self.doc("x.json")) == b'{"v": 2, "outside": true}',
            timeout=3.0,
            msg="outside change of x.json to show",
        )
        self.assertEqual(os.stat(self.doc("x.json")).st_size, len(b'{"v": 2, "outside": true}'))

    def test_read_right_after_a_listing_sees_an_outside_change_in_full(self):
        # A listing keeps attributes for a second (README, Caching); a read
        # must never be cut short by the size it cached.
        os.mkdir(self.doc("c"))
        self.save("c/a.json", '{"a": 1}')
        grown = b'{"a": 1, "pad": "' + b"x" * 5000 + b'"}'
        clone = os.path.join(self.work, "clone")
        env = dict(self.env, **OUTSIDE_IDENTITY)
        self.run_cmd("git", "clone", "-q", self.repo, clone, env=env)
        with open(os.path.join(clone, "c/a.json"), "wb") as f:
            f.write(grown)
        self.run_cmd("git", "-C", clone, "commit", "-qam", "grow", env=env)
        for _ in range(3):
            self.run_cmd("ls", "-l", self.doc("c"))  # attributes cached now
            self.assertEqual(read_file(self.doc("c/a.json")), b'{"a": 1}')
        self.run_cmd("git", "-C", clone, "push", "-q", "origin", "HEAD:main", env=env)
        self.assertEqual(read_file(self.doc("c/a.json")), grown)
        self.assertEqual(os.stat(self.doc("c/a.json")).st_size, len(grown))

    def test_outside_deletion_becomes_visible(self):
        write_file(self.doc("x.json"), b"1")
        write_file(self.doc("y.json"), b"2")
        os.stat(self.doc("x.json"))
        self.outside_commit(delete=["x.json"])
        self.wait_until(lambda: not os.path.exists(self.doc("x.json")), timeout=3.0, msg="x.json to vanish")
        self.assertEqual(os.listdir(self.main), ["y.json"])

    def test_save_after_outside_commit_keeps_outside_change(self):
        write_file(self.doc("mine.json"), b"1")
        self.outside_commit({"theirs.json": "2"})
        write_file(self.doc("mine2.json"), b"3")  # no waiting: the ref update must retry on the new head
        self.assertEqual(self.tree(), ["mine.json", "mine2.json", "theirs.json"])
        self.assertEqual(self.git("rev-list", "--count", "main").strip(), "4")

    def test_outside_reset_becomes_visible(self):
        first = self.head()
        write_file(self.doc("x.json"), b"1")
        self.assertTrue(os.path.exists(self.doc("x.json")))
        self.git("update-ref", "refs/heads/main", first)
        self.wait_until(lambda: not os.path.exists(self.doc("x.json")), timeout=3.0, msg="reset to show")
        self.assertEqual(os.listdir(self.main), [])

    def test_outside_branch_deletion_becomes_visible(self):
        os.mkdir(os.path.join(self.mnt, "gone"))
        self.git("branch", "-D", "gone")
        self.wait_until(lambda: os.listdir(self.mnt) == ["main"], timeout=3.0, msg="deleted branch to vanish")

    def test_committed_non_document_is_shown_read_only(self):
        self.outside_commit({"README.md": "# committed readme\n", "d.json": "{}"})
        path = self.doc("README.md")
        self.wait_until(lambda: os.path.exists(path), timeout=3.0, msg="README.md to appear")
        self.assertEqual(read_file(path), b"# committed readme\n")
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o444)
        self.assertEqual(stat.S_IMODE(os.stat(self.doc("d.json")).st_mode), 0o644)

    def cas_commit(self, rel, data):
        """Commit REL=DATA straight into the bare repo, compare-and-swap on main, retried."""
        index = os.path.join(self.work, "index-" + rel.replace("/", "_"))
        env = dict(self.env, GIT_INDEX_FILE=index, **OUTSIDE_IDENTITY)

        def g(*args, **kw):
            return subprocess.run(
                ["git", "--git-dir=" + self.repo, *args], env=env, capture_output=True, text=True, **kw
            )

        for _ in range(50):
            old = g("rev-parse", "refs/heads/main").stdout.strip()
            g("read-tree", old, check=True)
            blob = g("hash-object", "-w", "--stdin", input=data, check=True).stdout.strip()
            g("update-index", "--add", "--cacheinfo", "100644,%s,%s" % (blob, rel), check=True)
            tree = g("write-tree", check=True).stdout.strip()
            new = g("commit-tree", tree, "-p", old, "-m", "outside " + rel, check=True).stdout.strip()
            if g("update-ref", "refs/heads/main", new, old).returncode == 0:
                return
        raise AssertionError("could not commit %s from outside" % rel)

    def test_concurrent_outside_commits_and_saves_lose_nothing(self):
        errors = []

        def outside():
            try:
                for i in range(6):
                    self.cas_commit("out/o%d.json" % i, '{"o": %d}' % i)
            except Exception as e:  # noqa: BLE001
                errors.append(e)

        t = threading.Thread(target=outside)
        t.start()
        os.mkdir(self.doc("in"))
        for i in range(20):
            write_file(self.doc("in/m%d.json" % i), b'{"m": %d}' % i)
        t.join(60)
        self.assertEqual(errors, [])
        tree = self.tree()
        self.assertEqual(len(tree), 26, tree)
        self.assertEqual(self.commit_count(), 1 + 26)
        self.wait_until(lambda: len(os.listdir(self.doc("out"))) == 6, timeout=3.0, msg="outside docs in mount")
        self.assertEqual(len(os.listdir(self.doc("in"))), 20)
