"""A commit of many documents is indexed in parts (CHRONOFS_INDEX_CHUNK
rows each, small here): an unmount or a kill -9 of the daemon in the middle
of it leaves rows of a commit the index does not count as indexed; after
the next mount @history, BRANCH@WHEN and an ordered view answer exactly as
they do from an index built fresh from Git."""

import os
import shutil
import time

from harness import ChronofsTestCase

DOCS, CHANGED, T0 = 20000, 3000, 1700000000


class IndexChunkTests(ChronofsTestCase):
    mount_on_setup = False

    def setUp(self):
        super().setUp()
        self.index = os.path.join(self.repo, "chronofs", "index")
        # The index of the first commit, with an ordered view on c built
        # (kept up by every catch-up after), then two big outside commits.
        self.fast_import(self.small_stream())
        self.mount()
        self.assertEqual(len(os.listdir(self.doc("c/@by/v"))), 3)
        self.unmount()
        self.small_head = self.head()
        self.fast_import(self.big_stream())
        self.saved = os.path.join(self.work, "index-saved")
        shutil.copytree(self.index, self.saved)
        self.env["CHRONOFS_INDEX_CHUNK"] = "20"

    def fast_import(self, stream):
        self.run_cmd("git", "--git-dir=" + self.repo, "fast-import", "--quiet", input=stream,
                     stdin=None)

    @staticmethod
    def commit(when, body, first=False):
        """A commit on main; the first of a stream on main's tip."""
        return (b"commit refs/heads/main\ncommitter t <t@example.invalid> %d +0000\n"
                b"data 2\nc\n%s%s" % (when, b"from refs/heads/main^0\n" if first else b"", body))

    @staticmethod
    def blob(path, v):
        data = b'{"v": %d, "p": "%s"}' % (v, path.encode())
        return b"M 100644 inline %s\ndata %d\n%s\n" % (path.encode(), len(data), data)

    def small_stream(self):
        return self.commit(T0, b"".join(self.blob("c/a%d.json" % i, i) for i in range(3)),
                           first=True)

    def big_stream(self):
        add = b"".join(self.blob("c/d%d.json" % i, i % 97) for i in range(DOCS))
        change = b"".join(self.blob("c/d%d.json" % i, 1000 + i % 89)
                          for i in range(0, DOCS, DOCS // CHANGED))
        change += b"D c/a1.json\n" + self.blob("c/a0.json", 5)
        small = b"".join(self.commit(T0 + 100 + k, self.blob("c/d%d.json" % k, -k))
                         for k in range(5))
        return self.commit(T0 + 10, add, first=True) + self.commit(T0 + 20, change) + small

    def answers(self):
        """What @history, main@WHEN and the ordered view answer."""
        out = {"names": sorted(os.listdir(self.doc("c", "main@history")))}
        for i in list(range(0, DOCS, 1999)) + [DOCS - 1]:
            p = self.doc("c/d%d.json" % i, "main@history")
            out["versions d%d" % i] = sorted(os.listdir(p)) if os.path.exists(p) else None
        for name in ("a0", "a1", "a2"):
            p = self.doc("c/%s.json" % name, "main@history")
            out["versions " + name] = sorted(os.listdir(p)) if os.path.exists(p) else None
        for t in (T0 + 5, T0 + 15, T0 + 25, T0 + 102, T0 + 200):
            when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
            snap = os.path.join(self.mnt, "main@" + when, "c")
            names = sorted(os.listdir(snap))
            out["at %d" % t] = names
            for n in names[:: len(names) // 7 + 1]:
                with open(os.path.join(snap, n), "rb") as f:
                    out["at %d %s" % (t, n)] = f.read()
        out["by v"] = os.listdir(self.doc("c/@by/v"))
        return out

    def fresh_answers(self):
        """The same from an index built anew from Git (the old one moved
        aside)."""
        shutil.rmtree(self.index)
        self.mount()
        got = self.answers()
        self.unmount()
        return got

    def stop_in_the_commit(self, stop):
        """Mount on the saved index and STOP the daemon while it indexes;
        retried (the saved index again) until the log says the stop came
        between two parts of a commit: then True."""
        for attempt in range(8):
            shutil.rmtree(self.index)
            shutil.copytree(self.saved, self.index)
            self.mount()
            time.sleep(0.05 * attempt)
            stop()
            if "stopped in a commit" in self.daemon_log():
                return True
        return False

    def test_unmount_in_a_big_commit(self):
        self.assertTrue(self.stop_in_the_commit(self.unmount),
                        "no unmount came in the middle of the big commit")
        self.mount()
        got = self.answers()
        self.unmount()
        self.assertEqual(got, self.fresh_answers())
        self.assertEqual(len(got["names"]), DOCS + 3)
        self.assertEqual(len(got["by v"]), DOCS + 2)

    def test_kill_in_a_big_commit(self):
        # kill -9: nothing is logged, so no retry; wherever it came, the
        # next mount's index must answer as a fresh one.
        shutil.rmtree(self.index)
        shutil.copytree(self.saved, self.index)
        self.mount()
        time.sleep(0.1)
        self.crash()
        self.mount()
        got = self.answers()
        self.unmount()
        self.assertEqual(got, self.fresh_answers())

    def test_unmount_in_a_big_commit_then_an_outside_rewrite(self):
        # The unfinished commit is no longer on the branch: a sibling of
        # it with other documents; its rows must go.
        self.assertTrue(self.stop_in_the_commit(self.unmount),
                        "no unmount came in the middle of the big commit")
        self.git("update-ref", "refs/heads/main", self.small_head)
        add = b"".join(self.blob("c/d%d.json" % i, 7) for i in range(0, DOCS, 3))
        self.fast_import(self.commit(T0 + 30, add, first=True))
        self.mount()
        got = self.answers()
        self.unmount()
        self.assertEqual(got, self.fresh_answers())
        self.assertEqual(len(got["names"]), (DOCS + 2) // 3 + 3)
