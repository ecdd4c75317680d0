"""Harness for the chronofs end-to-end tests: a fresh repository and a real mount per test.

Each test gets its own work directory with a bare repository made by
`chronofsctl init` and the daemon running in the foreground (-f) on a
mountpoint beside it.  Teardown always unmounts with `fusermount3 -u` (which
must succeed), waits for the daemon, falls back to a lazy unmount and a kill,
scans the daemon's log for unexpected errors and runs `git fsck --strict`.

Environment:
  CHRONOFS_BUILD        build directory, relative to the repository root (default: build)
  CHRONOFS_E2E_KEEP=1   keep the work directory of a failed test
  CHRONOFS_E2E_TIMEOUT  seconds before the watchdog kills a hung daemon (default: 300)
"""

import contextlib
import errno
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BUILD = os.path.abspath(os.path.join(ROOT, os.environ.get("CHRONOFS_BUILD", "build")))
DAEMON = os.path.join(BUILD, "fs", "chronofs")
CTL = os.path.join(BUILD, "tools", "chronofsctl")
FUSERMOUNT = shutil.which("fusermount3") or "fusermount3"

MOUNT_TIMEOUT = 10.0
UNMOUNT_TIMEOUT = 10.0
TEST_TIMEOUT = float(os.environ.get("CHRONOFS_E2E_TIMEOUT", "300"))
CMD_TIMEOUT = 120.0

# Log lines that fail a test unless the test declared them expected.
BAD_LOG_LINE = re.compile(r"ERROR|AddressSanitizer|runtime error")

# Identity for commits made "from outside" with the git command line.
OUTSIDE_IDENTITY = {
    "GIT_AUTHOR_NAME": "Outside Tester",
    "GIT_AUTHOR_EMAIL": "outside@example.invalid",
    "GIT_COMMITTER_NAME": "Outside Tester",
    "GIT_COMMITTER_EMAIL": "outside@example.invalid",
}


def unshare_propagation():
    """The propagation for `unshare --mount`: "private", or "unchanged"
    where no mount is shared (a chroot whose root is no mount point, as a
    fresh Debian root: the change is refused there, and not needed)."""
    with open("/proc/self/mountinfo") as f:
        return "private" if "shared:" in f.read() else "unchanged"


def git(repo, *args, raw=False, check=True, env=None):
    """Run `git --git-dir=REPO ARGS...`; return stdout (bytes if raw, else str)."""
    r = subprocess.run(
        ["git", "--git-dir=" + repo, *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        env=env,
        timeout=CMD_TIMEOUT,
    )
    if check and r.returncode != 0:
        raise AssertionError(
            "git %s failed (%d): %s"
            % (" ".join(args), r.returncode, r.stderr.decode(errors="replace").strip())
        )
    return r.stdout if raw else r.stdout.decode(errors="replace")


def fuse_available():
    return os.path.exists("/dev/fuse") and shutil.which("fusermount3") is not None


def write_file(path, data, flags=os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode=0o644):
    """open/write/close with raw syscalls, so an error from close() is raised."""
    if isinstance(data, str):
        data = data.encode()
    fd = os.open(path, flags, mode)
    try:
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
    except BaseException:
        with contextlib.suppress(OSError):
            os.close(fd)
        raise
    os.close(fd)


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


class ChronofsTestCase(unittest.TestCase):
    """Base class: a fresh repository, mounted at self.mnt, per test."""

    mount_on_setup = True  # mount in setUp
    mount_options = ()  # extra -o options for the setUp mount
    fsync = "off"  # fsync= option for the setUp mount
    check_fsck = True  # run `git fsck --strict` at teardown

    # ---- fixture -------------------------------------------------------

    def setUp(self):
        if not fuse_available():
            self.skipTest("FUSE is not available (/dev/fuse or fusermount3 missing)")
        self.work = tempfile.mkdtemp(prefix="chronofs-e2e-")
        self.addCleanup(self._remove_work)
        self.repo = os.path.join(self.work, "repo.git")
        self.mnt = os.path.join(self.work, "mnt")
        self.main = os.path.join(self.mnt, "main")
        self.home = os.path.join(self.work, "home")
        os.mkdir(self.mnt)
        os.mkdir(self.home)
        self.env = dict(os.environ, HOME=self.home, GIT_CONFIG_NOSYSTEM="1", TERM="dumb", LC_ALL="C")
        self.env.pop("GIT_DIR", None)
        self.expected_log = []
        self.proc = None
        self.log_path = None
        self.mount_count = 0
        self._teardown_registered = False
        self._watchdog = None
        self._watchdog_fired = False
        self._cur_options = tuple(self.mount_options)
        self._cur_fsync = self.fsync
        self.ctl("init", self.repo)
        if self.check_fsck:
            self.addCleanup(self._fsck)  # runs after the unmount (cleanups are LIFO)
        if self.mount_on_setup:
            self.mount()

    def _failed(self):
        outcome = getattr(self, "_outcome", None)
        return outcome is not None and not getattr(outcome, "success", True)

    def _remove_work(self):
        if self._failed() and os.environ.get("CHRONOFS_E2E_KEEP"):
            sys.stdout.write("\n[kept work dir %s]\n" % self.work)
            return
        if os.path.ismount(self.mnt):  # never rmtree through a live mount
            subprocess.run([FUSERMOUNT, "-uz", self.mnt], capture_output=True)
        shutil.rmtree(self.work, ignore_errors=True)

    def _fsck(self):
        r = subprocess.run(
            ["git", "--git-dir=" + self.repo, "fsck", "--strict", "--no-progress"],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=CMD_TIMEOUT,
        )
        if r.returncode != 0:
            self.fail("git fsck --strict failed (%d):\n%s%s" % (r.returncode, r.stdout, r.stderr))

    # ---- mounting ------------------------------------------------------

    def mount(self, options=None, fsync=None):
        """Start the daemon on self.mnt and wait until it is mounted."""
        self.assertIsNone(self.proc, "already mounted")
        if not os.access(DAEMON, os.X_OK):
            self.fail("daemon binary not found: %s (build it, or set CHRONOFS_BUILD)" % DAEMON)
        if options is not None:
            self._cur_options = tuple(options)
        if fsync is not None:
            self._cur_fsync = fsync
        opts = ",".join(["fsync=" + self._cur_fsync, *self._cur_options])
        self.mount_count += 1
        self.log_path = os.path.join(self.work, "daemon-%d.log" % self.mount_count)
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [DAEMON, self.repo, self.mnt, "-f", "-o", opts],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                start_new_session=True,
            )
        if not self._teardown_registered:
            self._teardown_registered = True
            self.addCleanup(self._teardown_mount)
            self._watchdog = threading.Timer(TEST_TIMEOUT, self._watchdog_fire)
            self._watchdog.daemon = True
            self._watchdog.start()
        deadline = time.monotonic() + MOUNT_TIMEOUT
        while not os.path.ismount(self.mnt):
            rc = self.proc.poll()
            if rc is not None:
                self.proc = None
                self.fail("daemon exited with status %d before mounting:\n%s" % (rc, self.log_tail()))
            if time.monotonic() > deadline:
                self.proc.kill()
                self.proc.wait()
                self.proc = None
                self.fail("not mounted after %.0f s:\n%s" % (MOUNT_TIMEOUT, self.log_tail()))
            time.sleep(0.02)

    def unmount(self):
        """fusermount3 -u (must succeed), wait for the daemon, scan its log."""
        proc = self.proc
        if proc is None:
            return
        problems = []
        r = subprocess.run([FUSERMOUNT, "-u", self.mnt], capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            problems.append("fusermount3 -u failed (%d): %s" % (r.returncode, r.stderr.strip()))
            subprocess.run([FUSERMOUNT, "-uz", self.mnt], capture_output=True, timeout=60)
        try:
            rc = proc.wait(UNMOUNT_TIMEOUT)
        except subprocess.TimeoutExpired:
            problems.append("daemon still running %.0f s after unmount; killed" % UNMOUNT_TIMEOUT)
            subprocess.run([FUSERMOUNT, "-uz", self.mnt], capture_output=True, timeout=60)
            proc.kill()
            rc = proc.wait()
        if rc != 0 and not problems:
            problems.append("daemon exited with status %d" % rc)
        self.proc = None
        if os.path.ismount(self.mnt):
            subprocess.run([FUSERMOUNT, "-uz", self.mnt], capture_output=True, timeout=60)
            problems.append("still mounted after unmount")
        if self._watchdog_fired:
            problems.append("watchdog: test ran over %.0f s, daemon killed" % TEST_TIMEOUT)
        problems += self._scan_log(self.log_path)
        if problems:
            self.fail("\n".join(problems) + "\n--- daemon log tail ---\n" + self.log_tail())

    def crash(self):
        """kill -9 the daemon, clear the dead mount, scan its log."""
        proc = self.proc
        self.assertIsNotNone(proc, "not mounted")
        proc.kill()
        proc.wait()
        self.proc = None
        r = subprocess.run([FUSERMOUNT, "-u", self.mnt], capture_output=True, timeout=60)
        if r.returncode != 0 or os.path.ismount(self.mnt):
            subprocess.run([FUSERMOUNT, "-uz", self.mnt], capture_output=True, timeout=60)
        problems = self._scan_log(self.log_path)
        if problems:
            self.fail("\n".join(problems) + "\n--- daemon log tail ---\n" + self.log_tail())

    def remount(self, options=None, fsync=None):
        """Unmount (with all teardown checks) and mount again, same options unless given."""
        self.unmount()
        self.mount(options=options, fsync=fsync)

    def _teardown_mount(self):
        if self._watchdog is not None:
            self._watchdog.cancel()
        if self._failed() and self.log_path:
            sys.stdout.write("\n--- daemon log tail (%s) ---\n%s\n" % (self.id(), self.log_tail()))
        self.unmount()

    def _watchdog_fire(self):
        self._watchdog_fired = True
        proc = self.proc
        if proc is not None and proc.poll() is None:
            sys.stdout.write("\n[watchdog: %s ran over %.0f s; killing the daemon]\n" % (self.id(), TEST_TIMEOUT))
            proc.kill()

    # ---- daemon log ----------------------------------------------------

    def expect_log(self, pattern):
        """Declare that log lines matching the regex PATTERN are expected."""
        self.expected_log.append(re.compile(pattern))

    def daemon_log(self):
        if not self.log_path or not os.path.exists(self.log_path):
            return ""
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def log_tail(self, lines=40):
        return "\n".join(self.daemon_log().splitlines()[-lines:])

    def _scan_log(self, path):
        with open(path, "rb") as f:
            text = f.read().decode(errors="replace")
        bad = [
            line
            for line in text.splitlines()
            if BAD_LOG_LINE.search(line) and not any(p.search(line) for p in self.expected_log)
        ]
        return ["unexpected line in daemon log: " + line for line in bad[:20]]

    # ---- commands --------------------------------------------------------

    def run_cmd(self, *cmd, check=True, timeout=CMD_TIMEOUT, **kw):
        """Run a command with the test's environment; return the CompletedProcess."""
        kw.setdefault("stdin", subprocess.DEVNULL)
        kw.setdefault("capture_output", True)
        kw.setdefault("env", self.env)
        r = subprocess.run(list(cmd), timeout=timeout, **kw)
        if check and r.returncode != 0:
            out = r.stdout.decode(errors="replace") if isinstance(r.stdout, bytes) else r.stdout
            err = r.stderr.decode(errors="replace") if isinstance(r.stderr, bytes) else r.stderr
            self.fail("%s exited %d\nstdout: %s\nstderr: %s" % (" ".join(cmd), r.returncode, out, err))
        return r

    def ctl(self, *args, check=True):
        """Run chronofsctl ARGS; return the CompletedProcess (text)."""
        if not os.access(CTL, os.X_OK):
            self.fail("chronofsctl not found: %s (build it, or set CHRONOFS_BUILD)" % CTL)
        return self.run_cmd(CTL, *args, check=check, text=True)

    def git(self, *args, raw=False, check=True):
        return git(self.repo, *args, raw=raw, check=check, env=self.env)

    def commit_count(self, branch="main"):
        return int(self.git("rev-list", "--count", branch).strip())

    def head(self, branch="main"):
        return self.git("rev-parse", "refs/heads/" + branch).strip()

    def branches(self):
        out = self.git("for-each-ref", "--format=%(refname:short)", "refs/heads/")
        return sorted(out.split())

    def tree(self, branch="main"):
        """The committed document paths of BRANCH (git ls-tree -r --name-only)."""
        out = self.git("ls-tree", "-r", "-z", "--name-only", branch, raw=True)
        return sorted(n.decode("utf-8", "surrogateescape") for n in out.split(b"\0") if n)

    def show(self, path, branch="main"):
        """Bytes of PATH as committed on BRANCH (git show BRANCH:PATH)."""
        return self.git("show", "%s:%s" % (branch, path), raw=True)

    def plumbing_commit(self, branch, files, message="outside"):
        """A commit by Git's plumbing beside the mount, on BRANCH: FILES
        {path: bytes, (mode, bytes), or None to delete}; its id."""
        env = dict(self.env, GIT_INDEX_FILE=os.path.join(self.work, "outside-index"),
                   GIT_AUTHOR_NAME="o", GIT_AUTHOR_EMAIL="o@x", GIT_COMMITTER_NAME="o",
                   GIT_COMMITTER_EMAIL="o@x")
        git = ["git", "--git-dir=" + self.repo]
        head = self.head(branch)
        subprocess.run(git + ["read-tree", head], env=env, check=True)
        for path, data in files.items():
            if data is None:
                # Mode 0 removes it; --force-remove wants a work tree.
                subprocess.run(git + ["update-index", "--index-info"], env=env, check=True,
                               input=b"0 %s\t%s\n" % (b"0" * 40, path.encode()))
                continue
            mode, data = data if isinstance(data, tuple) else ("100644", data)
            blob = subprocess.run(git + ["hash-object", "-w", "--stdin"], input=data, env=env,
                                  check=True, capture_output=True).stdout.decode().strip()
            subprocess.run(git + ["update-index", "--add", "--cacheinfo", "%s,%s,%s" % (mode, blob, path)],
                           env=env, check=True)
        tree = subprocess.run(git + ["write-tree"], env=env, check=True,
                              capture_output=True).stdout.decode().strip()
        commit = subprocess.run(git + ["commit-tree", tree, "-p", head, "-m", message], env=env,
                                check=True, capture_output=True).stdout.decode().strip()
        subprocess.run(git + ["update-ref", "refs/heads/" + branch, commit, head], env=env, check=True)
        return commit

    def outside_commit(self, files=None, delete=(), message="outside change", branch="main"):
        """Commit from outside: clone, change, commit, push back into the bare repo."""
        files = files or {}
        clone = tempfile.mkdtemp(prefix="clone-", dir=self.work)
        env = dict(self.env, **OUTSIDE_IDENTITY)
        run = lambda *a: self.run_cmd("git", "-C", clone, *a, env=env)  # noqa: E731
        self.run_cmd("git", "clone", "-q", "--branch", branch, self.repo, clone, env=env)
        for rel, data in files.items():
            full = os.path.join(clone, rel)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "wb") as f:
                f.write(data.encode() if isinstance(data, str) else data)
        for rel in delete:
            os.unlink(os.path.join(clone, rel))
        run("add", "-A")
        run("commit", "-q", "-m", message)
        run("push", "-q", "origin", "HEAD:refs/heads/" + branch)
        shutil.rmtree(clone, ignore_errors=True)

    # ---- files and assertions ---------------------------------------------

    def doc(self, rel, branch="main"):
        """Path of REL inside BRANCH's live view."""
        return os.path.join(self.mnt, branch, rel)

    write_file = staticmethod(write_file)
    read_file = staticmethod(read_file)

    def save(self, rel, data, branch="main"):
        """Write REL in BRANCH and require exactly one new commit holding DATA."""
        before = self.commit_count(branch)
        write_file(self.doc(rel, branch), data)
        data = data.encode() if isinstance(data, str) else data
        self.assertEqual(self.commit_count(branch), before + 1, "saving %s should make one commit" % rel)
        self.assertEqual(self.show(rel, branch), data)

    @contextlib.contextmanager
    def assertErrno(self, code, msg=None):
        """with self.assertErrno(errno.EINVAL): ... requires an OSError with that errno."""
        try:
            yield
        except OSError as e:
            if e.errno != code:
                self.fail(
                    "expected %s, got %s (%s)%s"
                    % (errno.errorcode[code], errno.errorcode.get(e.errno, e.errno), e, " - " + msg if msg else "")
                )
        else:
            self.fail("expected OSError %s, but it succeeded%s" % (errno.errorcode[code], " - " + msg if msg else ""))

    def assertTreeHoldsOnlyDocuments(self, branch="main"):
        for name in self.tree(branch):
            parts = name.split("/")
            self.assertTrue(
                name.endswith(".json") and not any(p.startswith(".") for p in parts),
                "committed tree of %s holds a non-document: %r (tree: %r)" % (branch, name, self.tree(branch)),
            )

    def wait_until(self, predicate, timeout=3.0, interval=0.05, msg="condition"):
        """Poll PREDICATE until true; fail after TIMEOUT seconds."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                if predicate():
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.fail("timed out after %.1f s waiting for %s" % (timeout, msg))
            time.sleep(interval)
