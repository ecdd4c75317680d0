"""The Python binding's calls beyond put/get/query (branch_rename, resolve,
commit, log, query_range, index_list/drop/rebuild), each with an error
path, against a real repository; and the index calls refused beside a
running mount."""

import os
import re
import subprocess
import sys
import textwrap

from harness import BUILD, ROOT, ChronofsTestCase

LIB = os.path.join(BUILD, "lib", "libchronofs.so")


def sanitizer_env():
    """An ASan-built library needs its runtime loaded first in a plain process."""
    ldd = subprocess.run(["ldd", LIB], capture_output=True, text=True).stdout
    m = re.search(r"(\S*libasan\.so\S*) => (\S+)", ldd)
    return {"LD_PRELOAD": m.group(2), "ASAN_OPTIONS": "detect_leaks=0"} if m else {}


PRELUDE = """
import errno, sys
from chronofs import ChronoFS, ChronoFSError
REPO = sys.argv[1]
def err(f, *a, **k):
    try:
        r = f(*a, **k)
        if hasattr(r, "__next__"):
            list(r)
    except ChronoFSError as e:
        return errno.errorcode[e.errno] + ": " + e.strerror
    return "no error"
"""


class PythonApiTests(ChronofsTestCase):
    mount_on_setup = False

    def py(self, code):
        env = dict(self.env, CHRONOFS_LIB=LIB, PYTHONPATH=os.path.join(ROOT, "tools", "python"),
                   **sanitizer_env())
        r = subprocess.run([sys.executable, "-c", PRELUDE + textwrap.dedent(code), self.repo],
                           capture_output=True, text=True, env=env, timeout=60)
        self.assertEqual(r.returncode, 0, "binding script failed:\n" + r.stdout + r.stderr)
        return r.stdout.splitlines()

    def test_a_refused_save_among_others_says_why(self):
        # Saves from several threads at once are made in groups, by
        # whichever thread leads; a refused one still says its own why.
        out = self.py("""
            import threading
            db = ChronoFS(REPO)
            db.put("main", "c/a.json", {})
            said, stop = [], threading.Event()
            def good(t):
                i = 0
                while not stop.is_set():
                    db.put("main", "c/t%d.json" % t, {"i": i})
                    i += 1
            def bad():
                for i in range(60):
                    said.append(err(db.put, "main", "c/a.json/x%d.json" % i, {}).replace("x%d" % i, "xN"))
                stop.set()
            ts = [threading.Thread(target=good, args=(t,)) for t in range(3)]
            ts.append(threading.Thread(target=bad))
            [t.start() for t in ts]
            [t.join() for t in ts]
            print(len(said))
            for m in sorted(set(said)):
                print(m)
        """)
        self.assertEqual(out, ["60", "ENOTDIR: c/a.json/xN.json: not a directory"])

    def test_log_resolve_commit(self):
        out = self.py("""
            with ChronoFS(REPO) as db:
                c1 = db.put("main", "u/a.json", 1)
                c2 = db.put("main", "u/b.json", 2)
                c3 = db.put("main", "u/a.json", 3)
                print(" ".join(e["commit"] for e in db.log("main")))
                print(" ".join(e["commit"] for e in db.log("main", "u/a.json")) == c3 + " " + c1)
                print(db.log("main", "u/a.json")[1]["summary"])
                print(db.resolve("main", c2[:8]) == (c2, db.commit(c2)[0]))
                print(db.resolve("main", "2999-01-01")[0] == c3)
                print(db.commit(c1)[1])
                print(err(db.resolve, "main", "1999-01-01"))
                print(err(db.resolve, "main", "yesterday"))
                print(err(db.commit, "0" * 40).split(":")[0])
                print(err(db.commit, "xyz").split(":")[0])
                print(err(db.log, "nobranch").split(":")[0])
        """)
        self.assertEqual(out[0].split(), self.git("log", "--first-parent", "--format=%H", "main").split())
        self.assertEqual(out[1:6], ["True", "put u/a.json", "True", "True", "put u/a.json"])
        self.assertTrue(out[6].startswith("ENOENT: main@1999-01-01"), out[6])
        self.assertTrue(out[7].startswith("EINVAL: ") and "yesterday" in out[7], out[7])
        self.assertEqual(out[8:], ["ENOENT", "EINVAL", "ENOENT"])

    def test_branch_rename(self):
        out = self.py("""
            with ChronoFS(REPO) as db:
                db.put("main", "x.json", 1)
                db.branch_create("feature")
                db.put("feature", "x.json", 2)
                db.branch_rename("feature", "topic")
                print(",".join(db.branches()), db.get("topic", "x.json"))
                print(err(db.branch_rename, "feature", "other").split(":")[0])
                print(err(db.branch_rename, "topic", "main").split(":")[0])
        """)
        self.assertEqual(out, ["main,topic 2", "ENOENT", "EEXIST"])
        self.assertEqual(self.branches(), ["main", "topic"])

    def test_query_range_and_index_calls(self):
        out = self.py("""
            with ChronoFS(REPO) as db:
                for i, v in [("a", 30), ("b", 20), ("c", 40), ("d", "bob"), ("e", 35)]:
                    db.put("main", "u/%s.json" % i, {"v": v})
                ids = lambda **k: ",".join(i for i, _ in db.query_range("main", "u", "v", **k))
                print(ids())
                print(ids(gt=20, le=40))
                print(ids(gt=20, le=40, first=2))
                print(ids(ge="bob"))
                print(err(db.query_range, "main", "u", "").split(":")[0])
                print(err(db.query_range, "nobranch", "u", "v").split(":")[0])
                print(db.index_list())
                spec = db.index_list()[0]["spec"]
                db.index_rebuild("main", "u", spec)
                print(len(db.index_list()))
                db.index_drop("main", "u", spec)
                print(db.index_list())
                print(err(db.index_rebuild, "main", "u", "").split(":")[0])
                print(err(db.index_rebuild, "nobranch", "u", "v").split(":")[0])
        """)
        self.assertEqual(out[:6], ["b,a,e,c,d", "a,e,c", "a,e", "d", "EINVAL", "ENOENT"])
        self.assertEqual(out[6], "[{'branch': 'main', 'collection': 'u', 'spec': 'v', 'rows': 5}]")
        self.assertEqual(out[7:], ["1", "[]", "EINVAL", "ENOENT"])

    def test_index_calls_refused_beside_a_mount(self):
        self.py("""
            with ChronoFS(REPO) as db:
                db.put("main", "u/a.json", {"v": 1})
                list(db.query("main", "u", "v"))
        """)
        self.mount()
        out = self.py("""
            with ChronoFS(REPO) as db:
                print(err(db.index_drop, "main", "u", "v").split(":")[0])
                print(err(db.index_rebuild, "main", "u", "v").split(":")[0])
                db.put("main", "u/b.json", {"v": 0})
                print(",".join(i for i, _ in db.query_range("main", "u", "v", first=5)))
        """)
        self.assertEqual(out, ["EBUSY", "EBUSY", "b,a"])
        self.assertEqual(sorted(os.listdir(self.doc("u"))), ["a.json", "b.json"])
