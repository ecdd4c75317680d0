"""Installing: `meson install` into a staging root, the man pages (groff
lint, and every option and command of the programs' --help documented), the
bash completion, the Python binding as installed and as `pip install`ed, and
mounting the installed daemon through mount(8): `mount -t fuse.chronofs` and
an fstab line (`mount -T FSTAB`)."""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import unittest

from harness import BUILD, CTL, DAEMON, ROOT, ChronofsTestCase, read_file, unshare_propagation

MAN = os.path.join(ROOT, "tools", "man")
PAGES = ["chronofs.1", "chronofsctl.1", "libchronofs.3"]
COMPLETION = os.path.join(ROOT, "tools", "completion", "chronofsctl")
BASH_COMPLETION = "/usr/share/bash-completion/bash_completion"
# The path dash (mount.fuse3 runs the daemon through /bin/sh) searches when
# it has no PATH: mount(8) does not pass its own on.
SHELL_DEFAULT_PATH = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]


def render(page):
    """PAGE as plain text, one line per output line, no hyphenation or bold."""
    r = subprocess.run(
        ["groff", "-man", "-Tutf8", "-rLL=200n", "-rHY=0", "-P-cbou", os.path.join(MAN, page)],
        capture_output=True,
        check=True,
    )
    text = r.stdout.decode()
    return text.replace("\u2010", "-").replace("\u2212", "-")


def section(text, name):
    """The lines of the man page section NAME (headings are at column 0)."""
    m = re.search(r"^%s\n(.*?)(?=^\S)" % re.escape(name), text, re.M | re.S)
    if not m:
        raise AssertionError("no section %s" % name)
    return m.group(1)


def help_commands(ctl):
    """The commands `chronofsctl --help` lists: lines with two spaces then a
    lowercase word, kept if `chronofsctl WORD --help` knows it."""
    out = subprocess.run([ctl, "--help"], capture_output=True, text=True, check=True).stdout
    words = re.findall(r"^  ([a-z][a-z-]*)(?: |$)", out, re.M)
    seen = []
    for w in words:
        if w not in seen and subprocess.run([ctl, w, "--help"], capture_output=True).returncode == 0:
            seen.append(w)
    return seen


class ManPageTests(unittest.TestCase):
    def test_pages_render_without_warnings(self):
        for page in PAGES:
            r = subprocess.run(["groff", "-ww", "-z", "-man", os.path.join(MAN, page)],
                               capture_output=True, text=True)
            self.assertEqual((r.returncode, r.stderr), (0, ""), page)
            # As man(1) renders it for a reader, warnings on.
            r = subprocess.run(["man", "--warnings", "-l", os.path.join(MAN, page)],
                               capture_output=True, text=True, env=dict(os.environ, MANPAGER="cat"))
            self.assertEqual((r.returncode, r.stderr), (0, ""), page)
            self.assertIn("NAME", r.stdout)

    def test_every_daemon_option_is_in_chronofs_1(self):
        out = subprocess.run([DAEMON, "--help"], capture_output=True, text=True, check=True).stdout
        opts = sorted(set(re.findall(r"^\s+(?:-\w+,\s+)?-o ([a-z_]+)", out, re.M)))
        self.assertGreaterEqual(len(opts), 3, "no -o options found in:\n" + out)
        options = section(render("chronofs.1"), "OPTIONS")
        missing = [o for o in opts if not re.search(r"-o %s(?:[=|\s]|$)" % o, options, re.M)]
        self.assertEqual(missing, [], "options of chronofs --help missing from chronofs(1)")
        # And the other way round: each -o option the page documents exists.
        documented = set(re.findall(r"^ {7}(?:-d, )?-o ([a-z_]+)", options, re.M))
        self.assertEqual(sorted(documented - set(opts)), [], "chronofs(1) documents unknown options")

    def test_every_ctl_command_is_in_chronofsctl_1(self):
        cmds = help_commands(CTL)
        self.assertGreaterEqual(len(cmds), 2, "no commands parsed from chronofsctl --help")
        text = section(render("chronofsctl.1"), "COMMANDS")
        entries = re.findall(r"^ {7}([a-z][a-z-]*)(?: |$)", text, re.M)
        self.assertEqual([c for c in cmds if c not in entries], [],
                         "commands of chronofsctl --help missing from chronofsctl(1)")
        # Describe only what exists: every entry is a command the tool knows.
        unknown = [e for e in set(entries)
                   if subprocess.run([CTL, e, "--help"], capture_output=True).returncode != 0]
        self.assertEqual(unknown, [], "chronofsctl(1) documents commands the tool lacks")


    def test_every_exported_function_is_in_libchronofs_3(self):
        lib = os.path.join(BUILD, "lib", "libchronofs.so")
        nm = subprocess.run(["nm", "-D", "--defined-only", lib], capture_output=True, text=True,
                            check=True).stdout
        names = sorted(line.split()[-1] for line in nm.splitlines() if " T " in line)
        self.assertGreaterEqual(len(names), 10, nm)
        text = render("libchronofs.3")
        synopsis, description = section(text, "SYNOPSIS"), section(text, "DESCRIPTION")
        self.assertEqual([n for n in names if not re.search(r"\b%s\(" % n, synopsis)], [],
                         "exported functions missing from the SYNOPSIS of libchronofs(3)")
        self.assertEqual([n for n in names if not re.search(r"\b%s\(\)" % n, description)], [],
                         "exported functions not described in libchronofs(3)")


class CompletionTests(ChronofsTestCase):
    """The bash completion, driven as bash does on <TAB>."""

    mount_on_setup = False

    def complete(self, *words):
        """COMPREPLY for the command line WORDS (the last one is being completed)."""
        script = textwrap.dedent("""
            source %s
            source %s
            COMP_WORDS=("$@")
            COMP_CWORD=$(($# - 1))
            COMP_LINE="$*"
            COMP_POINT=${#COMP_LINE}
            _chronofsctl
            printf '%%s\\n' "${COMPREPLY[@]}"
        """) % (BASH_COMPLETION, COMPLETION)
        path = os.path.dirname(CTL) + ":" + os.environ["PATH"]
        r = self.run_cmd("bash", "-c", script, "complete", *words, text=True,
                         env=dict(self.env, PATH=path))
        return [w for w in r.stdout.split("\n") if w]

    def test_commands_options_repositories_and_branches(self):
        if not os.path.exists(BASH_COMPLETION):
            self.fail("bash-completion is not installed (tools/deps.sh installs it)")
        self.assertEqual(self.complete("chronofsctl", ""),
                         sorted(help_commands(CTL)) + ["--help", "--version"])
        self.assertEqual(self.complete("chronofsctl", "qu"), ["query"])
        usage = self.ctl("query", "--help").stdout
        opts = {w.strip("[],;.") for w in usage.split() if w.strip("[").startswith("--")}
        self.assertGreaterEqual(len(opts), 2, usage)
        self.assertEqual(self.complete("chronofsctl", "query", self.repo, "main", "u", "age", "--"),
                         sorted(opts | {"--help"}))
        # After an option that takes a value, nothing is offered; after it,
        # positions count on (BRANCH comes after REPO).
        valued = re.search(r"\[(--[a-z-]+) [A-Z]+\]", usage).group(1)
        self.assertEqual(self.complete("chronofsctl", "query", self.repo, valued, ""), [])
        self.assertEqual(self.complete("chronofsctl", "query", valued, "30", self.repo, "m"), ["main"])
        self.assertEqual(self.complete("chronofsctl", "index", "re"), ["rebuild"])
        self.ctl("init", os.path.join(self.work, "other.git"))
        self.assertEqual(self.complete("chronofsctl", "log", os.path.join(self.work, "oth")),
                         [os.path.join(self.work, "other.git")])
        self.git("branch", "feature", "main")
        self.assertEqual(self.complete("chronofsctl", "log", self.repo, "f"), ["feature"])
        self.assertEqual(self.complete("chronofsctl", "query", self.repo, ""), ["feature", "main"])


def stage_install(test):
    """`meson install --destdir` of the build under test: (stage root, prefix)."""
    stage = tempfile.mkdtemp(prefix="chronofs-stage-")
    test.addCleanup(shutil.rmtree, stage, True)
    test.run_cmd("meson", "install", "-C", BUILD, "--no-rebuild", "--quiet", "--destdir", stage)
    opts = subprocess.run(["meson", "introspect", "--buildoptions", BUILD],
                          capture_output=True, text=True, check=True).stdout
    prefix = [o["value"] for o in json.loads(opts) if o["name"] == "prefix"][0]
    return stage, prefix


def find(root, name):
    return [os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs if f == name]


def sanitizer_env(lib):
    """An ASan-built library needs its runtime loaded first in a plain process."""
    ldd = subprocess.run(["ldd", lib], capture_output=True, text=True).stdout
    m = re.search(r"(\S*libasan\.so\S*) => (\S+)", ldd)
    return {"LD_PRELOAD": m.group(2), "ASAN_OPTIONS": "detect_leaks=0"} if m else {}


class InstallTests(ChronofsTestCase):
    mount_on_setup = False

    def test_install_lays_out_every_part(self):
        stage, prefix = stage_install(self)
        root = stage + prefix
        for rel in ["bin/chronofs", "bin/chronofsctl", "include/chronofs.h",
                    "share/man/man1/chronofs.1", "share/man/man1/chronofsctl.1",
                    "share/man/man3/libchronofs.3",
                    "share/bash-completion/completions/chronofsctl"]:
            self.assertTrue(os.path.isfile(os.path.join(root, rel)), rel)
        self.assertTrue(os.access(os.path.join(root, "bin/chronofs"), os.X_OK))
        sonames = find(root, "libchronofs.so.0")
        self.assertEqual(len(sonames), 1, sonames)
        self.assertEqual(len(find(root, "chronofs.pc")), 1)
        dyn = self.run_cmd("readelf", "-d", sonames[0], text=True).stdout
        self.assertIn("Library soname: [libchronofs.so.0]", dyn)
        self.assertTrue(os.path.islink(os.path.join(os.path.dirname(sonames[0]), "libchronofs.so")))
        # The installed page is the source page, readable by man.
        r = self.run_cmd("man", "--warnings", "-l", os.path.join(root, "share/man/man1/chronofs.1"),
                         text=True, env=dict(self.env, MANPAGER="cat"))
        self.assertIn("fuse.chronofs", r.stdout)

    def test_installed_python_binding_finds_the_library_by_soname(self):
        stage, prefix = stage_install(self)
        mods = find(stage + prefix, "chronofs.py")
        self.assertEqual(len(mods), 1, mods)
        libdir = os.path.dirname(find(stage + prefix, "libchronofs.so.0")[0])
        env = dict(self.env, PYTHONPATH=os.path.dirname(mods[0]), LD_LIBRARY_PATH=libdir,
                   **sanitizer_env(os.path.join(libdir, "libchronofs.so.0")))
        env.pop("CHRONOFS_LIB", None)
        code = textwrap.dedent("""
            import sys, chronofs
            with chronofs.ChronoFS(sys.argv[1]) as db:
                db.put("main", "cfg/app.json", {"theme": "dark"})
                print(db.get("main", "cfg/app.json")["theme"])
            maps = open("/proc/self/maps").read()
            print(chronofs.__file__)
            print([l.split()[-1] for l in maps.splitlines() if "libchronofs" in l][0])
        """)
        out = self.run_cmd(sys.executable, "-c", code, self.repo, text=True, env=env).stdout.split()
        self.assertEqual(out[0], "dark")
        self.assertEqual(out[1], mods[0])
        self.assertEqual(os.path.realpath(out[2]), os.path.realpath(os.path.join(libdir, "libchronofs.so.0")))
        # CHRONOFS_LIB overrides: a wrong one is an ImportError naming it, not a fallback.
        env["CHRONOFS_LIB"] = os.path.join(self.work, "nowhere.so")
        r = self.run_cmd(sys.executable, "-c", "import chronofs", check=False, text=True, env=env)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("nowhere.so", r.stderr)
        self.assertIn("CHRONOFS_LIB", r.stderr)

    def test_pip_install_works_offline_and_help_reads_well(self):
        target = os.path.join(self.work, "site")
        pip_env = dict(self.env, PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
        self.run_cmd(sys.executable, "-m", "pip", "install", "--no-index", "--no-cache-dir",
                     "--target", target, os.path.join(ROOT, "tools", "python"), env=pip_env)
        self.assertTrue(os.path.isfile(os.path.join(target, "chronofs.py")))
        lib = os.path.join(BUILD, "lib", "libchronofs.so")
        env = dict(self.env, PYTHONPATH=target, CHRONOFS_LIB=lib, **sanitizer_env(lib))
        code = textwrap.dedent("""
            import pydoc, chronofs
            print(chronofs.__file__)
            print(chronofs.version())
            print(pydoc.render_doc(chronofs, renderer=pydoc.plaintext))
        """)
        out = self.run_cmd(sys.executable, "-c", code, text=True, env=env).stdout
        lines = out.splitlines()
        self.assertEqual(lines[0], os.path.join(target, "chronofs.py"))
        meson = read_file(os.path.join(ROOT, "meson.build")).decode()
        version = re.search(r"version: '([^']+)'", meson).group(1)
        self.assertEqual(lines[1], version)
        pyproject = read_file(os.path.join(ROOT, "tools", "python", "pyproject.toml")).decode()
        self.assertIn('version = "%s"' % version, pyproject)
        # Every public method has a docstring and type hints in help().
        cls = out[out.index("class ChronoFS("):out.index("class ChronoFSError(")]
        for name in ["get", "get_raw", "put", "put_raw", "delete", "rename", "list", "get_at",
                     "history", "branches", "branch_create", "branch_delete", "branch_rename",
                     "resolve", "commit", "log", "query", "query_range", "index_list",
                     "index_drop", "index_rebuild", "close"]:
            m = re.search(r"^ +\|  %s\(self(.*?)\n(.*?)\n +\|  \n" % name, cls, re.M | re.S)
            self.assertIsNotNone(m, "%s not in help(chronofs)" % name)
            self.assertIn("->", m.group(1), "%s has no return annotation" % name)
            self.assertTrue(m.group(2).strip(" |"), "%s has no docstring" % name)


class MountInstalledTests(ChronofsTestCase):
    """The installed daemon through mount(8), in a private mount namespace
    where the staged prefix is bound over the real one (so mount.fuse3's
    shell finds it on its default path)."""

    mount_on_setup = False

    def run_in_namespace(self, stage, prefix, script):
        wrapped = "set -eu\nmount --bind %s %s\n%s" % (stage + prefix, prefix, script)
        return self.run_cmd("unshare", "--mount", "--propagation", unshare_propagation(), "sh", "-c", wrapped,
                            text=True, check=False, timeout=120)

    def test_mount_t_fuse_chronofs_and_an_fstab_line(self):
        stage, prefix = stage_install(self)
        if prefix + "/bin" not in SHELL_DEFAULT_PATH:
            self.skipTest("build prefix %s is not on the shell's default path" % prefix)
        lib = os.path.join(BUILD, "lib", "libchronofs.so")
        self.run_cmd(sys.executable, "-c", textwrap.dedent("""
            import sys, chronofs
            with chronofs.ChronoFS(sys.argv[1]) as db:
                db.put_raw("main", "cfg/app.json", '{"theme": "dark"}')
        """), self.repo, env=dict(self.env, CHRONOFS_LIB=lib,
                                  PYTHONPATH=os.path.join(ROOT, "tools", "python"), **sanitizer_env(lib)))
        fstab = os.path.join(self.work, "fstab")
        with open(fstab, "w") as f:
            f.write("# chronofs test\n%s  %s  fuse.chronofs  _netdev,nofail,noauto,fsync=on,ro  0  0\n"
                    % (self.repo, self.mnt))
        # The daemon is found by its command line (it holds our repository's
        # path) and waited for after the unmount.
        script = textwrap.dedent("""
            daemon() {
                for p in /proc/[0-9]*; do
                    cat $p/cmdline 2>/dev/null | tr '\\0' ' ' | grep -q "^chronofs $REPO " && echo ${p#/proc/}
                done; true
            }
            gone() {
                [ -n "$1" ] || { echo "no daemon found"; return 1; }
                for i in $(seq 100); do kill -0 $1 2>/dev/null || return 0; sleep 0.1; done
                echo "daemon $1 still running after unmount"; kill $1; return 1
            }
            echo "which: $(env -u PATH /bin/sh -c 'command -v chronofs' || true)"
            mount -t fuse.chronofs "$REPO" "$MNT" -o fsync=on,_netdev
            echo "type: $(awk -v m="$MNT" '$2 == m {print $3}' /proc/mounts)"
            echo "read: $(cat "$MNT/main/cfg/app.json")"
            echo '{"n": 1}' > "$MNT/main/cfg/new.json"
            pid=$(daemon); umount "$MNT"; gone $pid
            mount -T "$FSTAB" "$MNT"
            echo "fstab: $(awk -v m="$MNT" '$2 == m {print $3, $4}' /proc/mounts)"
            echo "read: $(cat "$MNT/main/cfg/new.json")"
            if echo '{}' > "$MNT/main/cfg/ro.json" 2>/dev/null; then echo "ro: writable"; else echo "ro: refused"; fi
            pid=$(daemon); umount "$MNT"; gone $pid
            echo done
        """)
        self.env.update(REPO=self.repo, MNT=self.mnt, FSTAB=fstab)
        r = self.run_in_namespace(stage, prefix, script)
        out = r.stdout
        self.assertEqual(r.returncode, 0, out + r.stderr)
        self.assertIn("which: %s/bin/chronofs" % prefix, out)
        self.assertIn("type: fuse.chronofs", out)
        self.assertIn('read: {"theme": "dark"}', out)
        self.assertIn('read: {"n": 1}', out)
        self.assertRegex(out, r"fstab: fuse.chronofs ro[,\s]")
        self.assertIn("ro: refused", out)
        self.assertTrue(out.rstrip().endswith("done"), out)
        self.assertFalse(os.path.ismount(self.mnt))
        self.assertEqual(self.show("cfg/new.json"), b'{"n": 1}\n')
        self.assertNotIn("cfg/ro.json", self.tree())


if __name__ == "__main__":
    unittest.main()
