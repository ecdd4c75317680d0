"""Hostile histories made with git plumbing: a path that is a file in some
commits and a directory in others (both orders, plain file and document),
and a tree object missing from an old commit. The history views list what
ever existed, and a missing object costs only what it held."""

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


class VersionSpelledNameTests(PlumbingCase):
    def test_a_document_named_as_a_version_of_its_directory(self):
        """docs/sub a file, then a directory holding a document named as that
        file's version: listed once, and both ls and cat find the version."""
        c1 = self.commit_state({"docs/sub": b'{"f": 1}'})
        name = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(T0 + 60)) + "_%s.json" % c1[:7]
        self.commit_state({"docs/sub/" + name: b'{"doc": 1}', "docs/sub/x.json": b'{"x": 1}'})
        self.mount()
        listed = os.listdir(self.hist("docs", "sub"))
        self.assertEqual(sorted(listed), sorted([name, "x.json"]))
        self.assertTrue(os.path.isfile(self.hist("docs", "sub", name)))
        self.assertEqual(read_file(self.hist("docs", "sub", name)), b'{"f": 1}')
        self.assertEqual(os.listdir(self.hist("docs", "sub", "x.json"))[0][-12:-5], self.made[1][:7])


class MissingTreeTests(PlumbingCase):
    """One loose tree object of an old commit deleted: the rest answers."""

    def build(self):
        """Six commits; each changes docs/x.json, top.json and adds otherN/."""
        self.state = {"docs/keep.json": b'{"keep": 1}'}
        for i in range(1, 7):
            self.state["docs/x.json"] = b'{"v": %d}' % i
            self.state["top.json"] = b'{"top": %d}' % i
            self.state["other%d/o.json" % i] = b'{"o": %d}' % i
            self.commit_state(self.state)

    def lose(self, obj):
        """Move the loose file of OBJ away; put it back before the teardown's git fsck."""
        path = os.path.join(self.repo, "objects", obj[:2], obj[2:])
        kept = os.path.join(self.work, "lost-" + obj)
        shutil.move(path, kept)
        self.addCleanup(self.restore, kept, path)

    @staticmethod
    def restore(kept, path):
        os.makedirs(os.path.dirname(path), exist_ok=True)  # an unmount removes empty ones
        shutil.move(kept, path)

    def missing_lines(self, tree):
        return [line for line in self.daemon_log().splitlines() if tree in line]

    def test_other_snapshots_history_and_saves_work(self):
        self.build()
        c3 = self.made[2]
        tree = self.git("rev-parse", c3 + ":docs").strip()
        self.lose(tree)
        self.expect_log(r"ERROR: index of branch main: tree %s, needed to index commit %s, is missing" % (tree, c3))
        self.mount()

        self.assertEqual(read_file(self.doc("docs/x.json")), b'{"v": 6}')
        for i, commit in enumerate(self.made, 1):
            self.assertEqual(read_file(self.snap(commit, "top.json")), b'{"top": %d}' % i)
            self.assertEqual(read_file(self.snap(commit, "other%d" % i, "o.json")), b'{"o": %d}' % i)
            if commit != c3:
                self.assertEqual(read_file(self.snap(commit, "docs", "x.json")), b'{"v": %d}' % i)
        with self.assertRaises(OSError):
            os.listdir(self.snap(c3, "docs"))
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(T0 + 60 * 4 + 30))
        self.assertEqual(read_file(os.path.join(self.mnt, "main@" + when, "docs", "x.json")), b'{"v": 4}')

        # The history of what could be read: every version but the one
        # the missing tree held.
        self.assertEqual(sorted(os.listdir(self.hist())), ["docs"] + ["other%d" % i for i in range(1, 7)] + ["top.json"])
        want = {h[:7]: b'{"v": %d}' % i for i, h in enumerate(self.made, 1) if h != c3}
        self.assertEqual(self.versions("docs", "x.json"), want)
        self.assertEqual(len(self.versions("top.json")), 6)
        self.assertEqual(self.versions("other3", "o.json"), {c3[:7]: b'{"o": 3}'})
        self.assertIn(b'{"keep": 1}', self.versions("docs", "keep.json").values())

        # Saves and outside commits are indexed on top.
        self.save("docs/x.json", '{"v": 7}')
        self.commit_state(dict(self.state, **{"docs/x.json": b'{"v": 8}'}))
        self.assertEqual(sorted(self.versions("docs", "x.json").values())[-2:], [b'{"v": 7}', b'{"v": 8}'])
        self.assertEqual(read_file(self.snap(self.made[-1], "docs", "x.json")), b'{"v": 8}')
        self.assertIsNone(self.proc.poll(), "the daemon runs")
        self.assertEqual(len(self.missing_lines(tree)), 1, self.daemon_log())
        # The next mount has nothing left to index: no new line.
        self.remount()
        self.assertEqual(len(self.versions("top.json")), 6)
        self.assertEqual(self.missing_lines(tree), [])

    def test_missing_root_tree(self):
        self.build()
        c3 = self.made[2]
        tree = self.git("rev-parse", c3 + "^{tree}").strip()
        self.lose(tree)
        self.expect_log(r"ERROR: index of branch main: tree %s, needed to index commit %s, is missing" % (tree, c3))
        self.mount()
        self.assertEqual(read_file(self.snap(self.made[1], "docs", "x.json")), b'{"v": 2}')
        self.assertEqual(read_file(self.snap(self.made[3], "docs", "x.json")), b'{"v": 4}')
        with self.assertRaises(OSError) as e:
            os.listdir(self.snap(c3))
        self.assertIn(e.exception.errno, (errno.ENOENT, errno.EIO))
        # Read as empty, the commit's tree took every document away and
        # the next one brought them all back: versions there.
        c4 = self.made[3]
        want = {h[:7]: b'{"v": %d}' % i for i, h in enumerate(self.made, 1) if h != c3}
        self.assertEqual(self.versions("docs", "x.json"), want)
        self.assertEqual(self.versions("other3", "o.json"), {c4[:7]: b'{"o": 3}'})
        self.assertEqual(self.versions("other2", "o.json"), {self.made[1][:7]: b'{"o": 2}', c4[:7]: b'{"o": 2}'})
        self.assertEqual(len(self.missing_lines(tree)), 1, self.daemon_log())
