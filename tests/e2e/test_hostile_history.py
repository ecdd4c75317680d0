"""Hostile histories made with git plumbing: a path that is a file in some
commits and a directory in others (both orders, plain file and document).
The history views list what ever existed."""

import errno
import os
import re
import shutil
import subprocess
import time

from harness import ChronofsTestCase, read_file

VERSION_NAME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ_([0-9a-f]{7})\.json$")
T0 = 1700000000  # committer times T0 + 60 * i: one version name each


class PlumbingCase(ChronofsTestCase):
    """Commits written straight into the bare repository, one whole tree each."""

    mount_on_setup = False

    def setUp(self):
        super().setUp()
        self.made = []  # commit ids, oldest first

    def plumb(self, *args, data=None):
        env = dict(self.env, GIT_DIR=self.repo, GIT_INDEX_FILE=os.path.join(self.work, "plumbing.index"))
        r = subprocess.run(["git", *args], input=data, capture_output=True, env=env, timeout=60)
        self.assertEqual(r.returncode, 0, "git %s: %s" % (" ".join(args), r.stderr.decode(errors="replace")))
        return r.stdout.decode().strip()

    def commit_state(self, files):
        """A commit on main's head whose tree holds exactly FILES {path: bytes}."""
        self.plumb("read-tree", "--empty")
        for path, data in sorted(files.items()):
            blob = self.plumb("hash-object", "-w", "--stdin", data=data)
            self.plumb("update-index", "--add", "--cacheinfo", "100644,%s,%s" % (blob, path))
        tree = self.plumb("write-tree")
        when = "%d +0000" % (T0 + 60 * (len(self.made) + 1))
        env = dict(self.env, GIT_DIR=self.repo, GIT_COMMITTER_DATE=when, GIT_AUTHOR_DATE=when,
                   GIT_AUTHOR_NAME="p", GIT_AUTHOR_EMAIL="p@example.invalid",
                   GIT_COMMITTER_NAME="p", GIT_COMMITTER_EMAIL="p@example.invalid")
        r = subprocess.run(["git", "commit-tree", tree, "-p", self.head(), "-m", "c%d" % len(self.made)],
                           capture_output=True, env=env, timeout=60, check=True)
        commit = r.stdout.decode().strip()
        self.made.append(commit)
        self.plumb("update-ref", "refs/heads/main", commit)
        return commit

    def hist(self, *rel):
        return os.path.join(self.mnt, "main@history", *rel)

    def snap(self, commit, *rel):
        return os.path.join(self.mnt, "main@" + commit[:12], *rel)

    def versions(self, *rel):
        """{commit7: bytes} of the version files listed in main@history/REL/."""
        out = {}
        for name in os.listdir(self.hist(*rel)):
            m = VERSION_NAME.match(name)
            if m:
                out[m.group(1)] = read_file(self.hist(*rel, name))
        return out


class FileDirectoryFlipTests(PlumbingCase):
    """DIR/NAME a directory of documents in some commits and a file in others."""

    def flip(self, name, dir_first):
        d = {"docs/top.json": b'{"t": 1}'}
        dir1 = dict(d, **{"docs/%s/x.json" % name: b'{"x": 1}', "docs/%s/y.json" % name: b'{"y": 1}'})
        dir2 = dict(d, **{"docs/%s/x.json" % name: b'{"x": 2}', "docs/%s/y.json" % name: b'{"y": 1}'})
        file1 = dict(d, **{"docs/" + name: b'{"f": 1}'})
        file2 = dict(d, **{"docs/" + name: b'{"f": 2}'})
        states = [dir1, dir2, file1, file2] if dir_first else [file1, file2, dir1, dir2]
        for s in states:
            self.commit_state(s)
        c = [h[:7] for h in self.made]
        dirs, files = (c[:2], c[2:]) if dir_first else (c[2:], c[:2])
        self.mount()

        listed = os.listdir(self.hist("docs", name))
        self.assertEqual(sorted(n for n in listed if not VERSION_NAME.match(n)), ["x.json", "y.json"], listed)
        # The file's own versions stay listed beside them, and read back.
        self.assertEqual(self.versions("docs", name), {files[0]: b'{"f": 1}', files[1]: b'{"f": 2}'})
        for doc in ("x.json", "y.json"):
            self.assertTrue(os.path.isdir(self.hist("docs", name, doc)), doc)
        self.assertEqual(self.versions("docs", name, "x.json"), {dirs[0]: b'{"x": 1}', dirs[1]: b'{"x": 2}'})
        self.assertEqual(self.versions("docs", name, "y.json"), {dirs[0]: b'{"y": 1}'})
        self.assertEqual(sorted(os.listdir(self.hist("docs"))), sorted([name, "top.json"]))
        # Snapshots show each commit as it was.
        self.assertEqual(read_file(self.snap(self.made[0 if dir_first else 2], "docs", name, "x.json")), b'{"x": 1}')
        self.assertEqual(read_file(self.snap(self.made[2 if dir_first else 0], "docs", name)), b'{"f": 1}')
        return dirs, files

    def test_directory_then_plain_file(self):
        self.flip("sub", dir_first=True)

    def test_plain_file_then_directory(self):
        self.flip("sub", dir_first=False)
        # A save into the directory the head has joins its history.
        self.save("docs/sub/z.json", '{"z": 1}')
        self.assertIn("z.json", os.listdir(self.hist("docs", "sub")))
        self.assertEqual(list(self.versions("docs", "sub", "z.json").values()), [b'{"z": 1}'])
        self.assertEqual(len(self.versions("docs", "sub")), 2)

    def test_directory_then_document(self):
        self.flip("sub.json", dir_first=True)

    def test_document_then_directory(self):
        self.flip("sub.json", dir_first=False)
