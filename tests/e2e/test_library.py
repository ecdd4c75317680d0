"""libchronofs: the Python binding, the exported symbols, and a C program built
with pkg-config after `meson install`, each against a real repository (and a
running mount of it)."""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap

from harness import BUILD, ROOT, ChronofsTestCase, read_file

LIB = os.path.join(BUILD, "lib", "libchronofs.so")
BINDING = os.path.join(ROOT, "tools", "python")
EXAMPLE = os.path.join(ROOT, "tools", "examples", "chronofs-example.c")


def sanitizer_env():
    """An ASan-built library needs its runtime loaded first in a plain process."""
    ldd = subprocess.run(["ldd", LIB], capture_output=True, text=True).stdout
    m = re.search(r"(\S*libasan\.so\S*) => (\S+)", ldd)
    if not m:
        return {}
    return {"LD_PRELOAD": m.group(2), "ASAN_OPTIONS": "detect_leaks=0"}


class BindingMixin:
    """Runs Python code using the ctypes binding, with the standard library only."""

    def py(self, code):
        env = dict(self.env, CHRONOFS_LIB=LIB, PYTHONPATH=BINDING, **sanitizer_env())
        script = "import sys\nfrom chronofs import ChronoFS, ChronoFSError\nREPO = %r\n" % self.repo
        r = subprocess.run([sys.executable, "-c", script + textwrap.dedent(code)],
                           capture_output=True, text=True, env=env, timeout=60)
        self.assertEqual(r.returncode, 0, "binding script failed:\n" + r.stdout + r.stderr)
        return r.stdout


class BindingTests(BindingMixin, ChronofsTestCase):
    """The ctypes binding against a mounted repository."""

    def test_put_get_and_commit_in_git_log(self):
        out = self.py("""
            with ChronoFS(REPO) as db:
                c = db.put("main", "users/alice.json", {"name": "alice", "age": 34})
                print(c)
                print(db.get("main", "users/alice.json")["age"])
        """).split()
        self.assertRegex(out[0], r"^[0-9a-f]{40}$")
        self.assertEqual(out[1], "34")
        self.assertEqual(self.head(), out[0])
        self.assertIn("put users/alice.json", self.git("log", "--format=%s", "-n", "1", "main"))

    def test_put_is_visible_at_once_through_the_mount(self):
        self.py("""
            with ChronoFS(REPO) as db:
                db.put_raw("main", "cfg/app.json", '{"theme": "dark"}')
        """)
        self.assertEqual(read_file(self.doc("cfg/app.json")), b'{"theme": "dark"}')
        self.assertIn("app.json", os.listdir(self.doc("cfg")))

    def test_mount_save_is_visible_to_the_binding(self):
        self.save("x.json", b'{"v": 7}')
        self.assertEqual(self.py("""
            with ChronoFS(REPO) as db:
                print(db.get("main", "x.json")["v"])
        """).strip(), "7")

    def test_errors_raise_with_the_library_message(self):
        out = self.py("""
            import errno
            with ChronoFS(REPO) as db:
                try:
                    db.put_raw("main", "bad.json", '{"name": broken')
                except ChronoFSError as e:
                    print(e.errno == errno.EINVAL, "line 1, column 10" in str(e))
                try:
                    db.get("main", "missing.json")
                except ChronoFSError as e:
                    print(e.errno == errno.ENOENT)
        """).split()
        self.assertEqual(out, ["True", "True", "True"])

    def test_history_get_at_and_query(self):
        out = self.py("""
            import json
            with ChronoFS(REPO) as db:
                first = db.put("main", "u/a.json", {"age": 30})
                db.put("main", "u/b.json", {"age": 20})
                db.put("main", "u/c.json", {"age": 40})
                db.put("main", "u/a.json", {"age": 50})
                print(json.dumps(db.get_at("main", first, "u/a.json")))
                print(len(db.history("main", "u/a.json")))
                print(",".join(i for i, _ in db.query("main", "u", "age")))
                print(",".join(i for i, _ in db.query("main", "u", "-age", limit=2)))
                print(",".join(i for i, _ in db.query("main", "u", "age", start=25, stop=45)))
                print(",".join(db.list("main", "u")))
        """).splitlines()
        self.assertEqual(out, ['{"age": 30}', "2", "b,c,a", "a,c", "c", "a.json,b.json,c.json"])
        # The mount sees the same order.
        names = os.listdir(self.doc("u/@by/age"))
        self.assertEqual([n.split("_", 1)[1] for n in names], ["b.json", "c.json", "a.json"])

    def test_branches(self):
        out = self.py("""
            with ChronoFS(REPO) as db:
                db.branch_create("feature")
                print(",".join(db.branches()))
                db.branch_delete("feature")
                print(",".join(db.branches()))
        """).splitlines()
        self.assertEqual(out, ["feature,main", "main"])


class QueryBytesTests(BindingMixin, ChronofsTestCase):
    """Queries with the index database the library's own (nothing mounted)."""

    mount_on_setup = False

    def test_query_hands_back_documents_of_every_size_exactly(self):
        # Index rows carry documents up to 4096 bytes; larger ones are read from Git.
        # Both paths, on either side of the limit, when the index is built from a tree
        # and when later puts keep it current.
        out = self.py("""
            import ctypes, chronofs as m
            def doc(age, size, tag):
                head = '{"age": %d, "tag": "%s", "pad": "' % (age, tag)
                return head + "x" * (size - len(head) - 2) + '"}'
            def raw_query(db):
                it = ctypes.c_void_p()
                db._check(m._query(db._h, b"main", b"s", b"age", None, None, 0, ctypes.byref(it)))
                rows = []
                i, t, n = ctypes.c_char_p(), ctypes.c_char_p(), ctypes.c_size_t()
                while db._check(m._iter_next(it, ctypes.byref(i), ctypes.byref(t), ctypes.byref(n))) == 1:
                    rows.append((i.value.decode(), ctypes.string_at(t, n.value).decode()))
                m._iter_free(it)
                return rows
            sizes = [40, 4095, 4096, 4097, 100000]
            with ChronoFS(REPO) as db:
                want = {}
                for age, size in enumerate(sizes):
                    want["d%d" % size] = doc(age, size, "built")
                    db.put_raw("main", "s/d%d.json" % size, want["d%d" % size])
                print(raw_query(db) == [("d%d" % s, want["d%d" % s]) for s in sizes])
                for age, size in enumerate(sizes):
                    want["d%d" % size] = doc(len(sizes) - age, size, "kept")
                    db.put_raw("main", "s/d%d.json" % size, want["d%d" % size])
                print(raw_query(db) == [("d%d" % s, want["d%d" % s]) for s in reversed(sizes)])
                print([len(v) for v in want.values()] == sizes)
        """).split()
        self.assertEqual(out, ["True", "True", "True"])


class ExportTests(ChronofsTestCase):
    mount_on_setup = False

    def test_only_chronofs_symbols_are_exported(self):
        out = subprocess.run(["nm", "-D", "--defined-only", LIB], capture_output=True,
                             text=True, check=True).stdout
        names = [line.split()[-1] for line in out.splitlines() if line.strip()]
        self.assertTrue(names)
        self.assertEqual([n for n in names if not n.startswith("chronofs_")], [])
        self.assertIn("chronofs_version", names)


class InstalledLibraryTests(ChronofsTestCase):
    """`meson install` into a staging root, then a C program built with pkg-config only."""

    mount_on_setup = False

    def test_c_program_built_with_pkg_config(self):
        stage = tempfile.mkdtemp(prefix="chronofs-stage-")
        self.addCleanup(shutil.rmtree, stage, True)
        self.run_cmd("meson", "install", "-C", BUILD, "--no-rebuild", "--quiet", "--destdir", stage)
        pcs = [os.path.join(d, f) for d, _, fs in os.walk(stage) for f in fs if f == "chronofs.pc"]
        self.assertEqual(len(pcs), 1, pcs)
        env = dict(self.env, PKG_CONFIG_PATH=os.path.dirname(pcs[0]), PKG_CONFIG_SYSROOT_DIR=stage)
        flags = subprocess.run(["pkg-config", "--cflags", "--libs", "chronofs"], env=env,
                               capture_output=True, text=True, check=True).stdout.split()
        exe = os.path.join(stage, "example")
        self.run_cmd("cc", "-o", exe, EXAMPLE, *flags)
        libdir = [f[2:] for f in flags if f.startswith("-L")][0]
        run_env = dict(self.env, LD_LIBRARY_PATH=libdir, **sanitizer_env())
        r = subprocess.run([exe, self.repo], capture_output=True, text=True, env=run_env, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("age >= 30:", r.stdout)
        log = self.git("log", "--format=%s", "main")
        self.assertIn("put users/carol.json", log)
        self.assertEqual(self.show("users/alice.json"), b'{"name": "alice", "age": 35}')
        self.mount()
        self.assertEqual(sorted(os.listdir(self.doc("users"))), ["alice.json", "bob.json", "carol.json"])
