"""Races: writers of one document, outside `git gc`, saves during branch changes."""

import errno
import json
import os
import threading
import time

from harness import ChronofsTestCase, read_file, write_file


class ThreadsCase(ChronofsTestCase):
    def run_threads(self, target, n):
        errors = []

        def wrap(i):
            try:
                target(i)
            except Exception as e:  # noqa: BLE001
                errors.append(e)

        ts = [threading.Thread(target=wrap, args=(i,)) for i in range(n)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(90)
        return errors


class RaceTests(ThreadsCase):
    def test_many_writers_of_one_document_leave_it_consistent(self):
        path = self.doc("shared.json")
        written = set()

        def writer(t):
            for i in range(15):
                body = b'{"writer": %d, "round": %d}' % (t, i)
                written.add(body)
                try:
                    write_file(path, body)
                except OSError as e:  # interleaved truncate+write may be refused, never worse
                    if e.errno != errno.EINVAL:
                        raise

        self.assertEqual(self.run_threads(writer, 4), [])
        final = self.show("shared.json")
        self.assertIn(final, written)
        self.assertEqual(read_file(path), final)
        for commit in self.git("log", "--format=%H", "main", "--", "shared.json").split():
            json.loads(self.show("shared.json", branch=commit))  # every committed version is JSON

    def test_outside_git_gc_during_saves_loses_nothing(self):
        os.mkdir(self.doc("c"))
        stop = threading.Event()
        gc_errors = []

        def gc():
            while not stop.is_set():
                r = self.run_cmd("git", "--git-dir=" + self.repo, "gc", "-q", check=False)
                if r.returncode != 0 and b"already running" not in r.stderr:  # the daemon's own gc --auto
                    gc_errors.append(r.stderr)
                    return

        t = threading.Thread(target=gc)
        t.start()
        try:
            # Enough saves for the store to merge its packs, and pack
            # them again, while a gc lists them (it failed one run in 5).
            for i in range(400):
                write_file(self.doc("c/d%02d.json" % (i % 40)), b'{"i": %d}' % i)
        finally:
            stop.set()
            t.join(60)
        self.assertEqual(gc_errors, [])
        # A gc's garbage sweep takes a pack it saw the .idx of and not the
        # .pack for garbage, and unlinks the .idx: no pack may lose it.
        packs = os.listdir(os.path.join(self.repo, "objects", "pack"))
        self.assertEqual([n for n in packs if n.endswith(".pack") and n[:-5] + ".idx" not in packs], [])
        self.git("fsck", "--strict")
        self.assertEqual(len(self.tree()), 40)
        self.assertEqual(self.commit_count(), 401)
        self.assertEqual(read_file(self.doc("c/d39.json")), b'{"i": 399}')

    def test_saves_on_two_branches_in_parallel(self):
        os.mkdir(os.path.join(self.mnt, "feature"))

        def writer(t):
            branch = ("main", "feature")[t % 2]
            for i in range(10):
                write_file(self.doc("t%d_%d.json" % (t, i), branch=branch), b"[%d]" % i)

        self.assertEqual(self.run_threads(writer, 4), [])
        self.assertEqual(len(self.tree("main")), 20)
        self.assertEqual(len(self.tree("feature")), 20)
        self.assertEqual(self.commit_count("main"), 21)
        self.assertEqual(self.commit_count("feature"), 21)


class GroupCommitTests(ThreadsCase):
    """With fsync=on, saves of several writers at once are made by one
    flush (group commit); each is still its own commit, indexed before its
    close returns."""

    fsync = "on"

    def test_each_save_of_a_group_is_its_own_commit_with_its_own_mtime(self):
        os.mkdir(self.doc("g"))
        late = []

        def writer(t):
            for i in range(20):
                path = self.doc("g/w%d.json" % t)
                before = time.time_ns()
                write_file(path, b'{"writer": %d, "round": %d}' % (t, i))
                after = time.time_ns()
                # The save's own time, from the index: a commit the
                # indexes had not taken shows its commit's whole second.
                m = os.stat(path).st_mtime_ns
                if not before <= m <= after:
                    late.append((t, i, before, m, after))

        self.assertEqual(self.run_threads(writer, 4), [])
        self.assertEqual(late, [])
        self.assertEqual(self.commit_count(), 1 + 4 * 20)
        for t in range(4):
            versions = os.listdir(os.path.join(self.mnt, "main@history", "g", "w%d.json" % t))
            self.assertEqual(len(versions), 20)
            self.assertEqual(read_file(self.doc("g/w%d.json" % t)), b'{"writer": %d, "round": 19}' % t)


class AppendAndSizeTests(ChronofsTestCase):
    def test_append_keeps_existing_bytes(self):
        self.save("a.json", b'{"a": 1}')
        fd = os.open(self.doc("a.json"), os.O_WRONLY | os.O_APPEND)
        os.write(fd, b"\n")
        os.close(fd)
        self.assertEqual(self.show("a.json"), b'{"a": 1}\n')
        self.assertEqual(self.commit_count(), 3)

    def test_default_max_doc_size_is_16_mib(self):
        data = b'"' + b"x" * (16 * 1024 * 1024) + b'"'
        with self.assertErrno(errno.EFBIG):
            write_file(self.doc("huge.json"), data)
        self.assertEqual(self.tree(), [])
