"""One core: the rules the library decides hold the same through the mount,
chronofsctl and the library (C via the Python binding): the range grammar of
ordered queries, bare words included, and the path rule of what may be
committed."""

import errno
import json
import os

from harness import ChronofsTestCase, write_file
from test_library import BindingMixin

PEOPLE = {
    "ann": {"name": "ann", "age": 31},
    "bob": {"name": "bob", "age": 25},
    "bea": {"name": "bea", "age": 40},
    "cat": {"name": "cat", "age": 35},
    "dan": {"name": "dan", "age": 25},
    "eve": {"name": "eve"},
    "fay": {"name": 7, "age": None},
}

# Each: a SPEC and the path steps of its range, as the mount takes them.
CASES = [
    ("age", []),
    ("age", ["ge=30"]),
    ("age", ["gt=25", "lt=40"]),
    ("age", ["le=31", "first=2"]),
    ("-age", ["lt=35"]),
    ("name", ["ge=b", "lt=c"]),          # bare words
    ("name", ['ge="b"', 'lt="c"']),      # the same as JSON
    ("name", ["gt=bob"]),
    ("name", ["le=7"]),                  # 7 is JSON: a number
    ("age", ["ge=null", "lt=26"]),
    ("age,name", ["first=3"]),
]

CTL_OPT = {"ge": "--ge", "gt": "--gt", "lt": "--lt", "le": "--le", "first": "--first"}


class RangeGrammarTests(BindingMixin, ChronofsTestCase):
    def setUp(self):
        super().setUp()
        os.mkdir(self.doc("p"))
        for k, v in PEOPLE.items():
            write_file(self.doc("p/%s.json" % k), json.dumps(v).encode())

    def mount_ids(self, spec, steps):
        d = os.path.join(self.doc("p/@by"), spec, *steps)
        names = sorted(os.listdir(d))
        return [n.split("_", 1)[1][:-len(".json")] for n in names]

    def ctl_ids(self, spec, steps):
        opts = []
        for step in steps:
            key, val = step.split("=", 1)
            opts += [CTL_OPT[key], val]
        out = self.ctl("query", self.repo, "main", "p", spec, *opts).stdout
        return [json.loads(line)["id"] for line in out.splitlines() if line.strip()]

    def lib_ids(self, spec, steps):
        out = self.py("""
            with ChronoFS(REPO) as db:
                for i, _ in db.query_steps("main", "p", %r, *%r):
                    print(i)
        """ % (spec, steps))
        return out.split()

    def test_same_rows_through_mount_ctl_and_library(self):
        for spec, steps in CASES:
            with self.subTest(spec=spec, steps=steps):
                mnt = self.mount_ids(spec, steps)
                self.assertEqual(self.ctl_ids(spec, steps), mnt)
                self.assertEqual(self.lib_ids(spec, steps), mnt)
        # The bare word and its JSON spelling are one bound.
        self.assertEqual(self.mount_ids("name", ["ge=b", "lt=c"]), ["bea", "bob"])
        self.assertEqual(self.mount_ids("age", ["gt=25", "lt=40"]), ["ann", "cat"])

    def test_bad_steps_are_refused_everywhere(self):
        for step in ("first=0", "first=-1", "first=18446744073709551616", "xx=1"):
            with self.subTest(step=step):
                with self.assertErrno(errno.ENOENT):
                    os.listdir(os.path.join(self.doc("p/@by/age"), step))
                key = step.split("=", 1)[0]
                if key in CTL_OPT:
                    r = self.ctl("query", self.repo, "main", "p", "age", CTL_OPT[key],
                                 step.split("=", 1)[1], check=False)
                    self.assertNotEqual(r.returncode, 0, step)
                    self.assertIn(step, r.stderr)
                self.py("""
                    import errno
                    with ChronoFS(REPO) as db:
                        try:
                            list(db.query_steps("main", "p", "age", %r))
                        except ChronoFSError as e:
                            assert e.errno == errno.EINVAL, e
                        else:
                            raise SystemExit("accepted %%r" %% %r)
                """ % (step, step))


class LibraryPathRuleTests(BindingMixin, ChronofsTestCase):
    BAD = ["../z.json", "users/../z.json", "users/@by/x.json", "notes.txt",
           "users/.hidden.json", "/abs.json", "a//b.json", "", "./a.json",
           "users/", "@x.json", ".json", "x/" + "l" * 300 + ".json"]

    def test_hostile_paths_are_refused_and_commit_nothing(self):
        before = self.head()
        self.py("""
            import errno
            with ChronoFS(REPO) as db:
                for p in %r:
                    try:
                        db.put("main", p, {"x": 1})
                    except ChronoFSError as e:
                        assert e.errno in (errno.EINVAL, errno.ENAMETOOLONG), (p, e)
                        assert p == "" or p[:40] in str(e), (p, str(e))
                    else:
                        raise SystemExit("put %%r accepted" %% p)
                db.put("main", "users/alice@example.com.json", {"ok": True})
        """ % (self.BAD,))
        self.assertEqual(self.git("rev-list", "--count", "%s..main" % before).strip(), "1")
        self.git("fsck", "--strict", "--no-dangling")
        self.assertEqual(self.tree(), ["users/alice@example.com.json"])
