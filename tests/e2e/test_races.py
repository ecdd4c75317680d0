"""Races: writers of one document, outside `git gc`, saves during branch changes."""

import errno
import json
import os
import threading

from harness import ChronofsTestCase, read_file, write_file


class RaceTests(ChronofsTestCase):
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
            for i in range(40):
                write_file(self.doc("c/d%02d.json" % i), b'{"i": %d}' % i)
        finally:
            stop.set()
            t.join(60)
        self.assertEqual(gc_errors, [])
        self.assertEqual(len(self.tree()), 40)
        self.assertEqual(self.commit_count(), 41)
        self.assertEqual(read_file(self.doc("c/d39.json")), b'{"i": 39}')

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
