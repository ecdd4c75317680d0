"""The machinery of the sync tests (test_sync.py, test_sync_storm.py):
real Git servers on 127.0.0.1, started from Debian's packages in the
test's temporary directory and stopped by PID on every path; machines
(a clone made by `chronofsctl clone` and the chronofs mount on it); and
the test base with a bare remote that refuses non-fast-forward pushes,
served over git:// by `git daemon` (subclasses serve other transports)."""

import json
import os
import signal
import socket
import subprocess
import time

from harness import BAD_LOG_LINE, DAEMON, FUSERMOUNT, MOUNT_TIMEOUT, ChronofsTestCase, write_file

INTERVAL = 1  # sync_interval of the mounts, seconds


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, up, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.settimeout(0.2)
            ok = s.connect_ex(("127.0.0.1", port)) == 0
        if ok == up:
            return True
        time.sleep(0.05)
    return False


class Server:
    """One server process started here, stopped by its PID."""

    def __init__(self, test, argv, port, log, env=None, cwd=None):
        self.test, self.argv, self.port, self.log_path = test, argv, port, log
        self.env, self.cwd = env or test.env, cwd
        self.proc = None

    def start(self):
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         env=self.env, cwd=self.cwd, start_new_session=True)
        if not wait_port(self.port, True):
            self.stop()
            self.test.fail("%s did not listen on port %d:\n%s" % (self.argv[0], self.port, self.log()))

    def stop(self):
        """SIGTERM to the server's own process group (its PID), then wait;
        SIGKILL if it lingers. The port is free afterwards."""
        if self.proc is None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.proc.wait(5)
                break
            except subprocess.TimeoutExpired:
                continue
        self.proc.wait()
        self.proc = None
        wait_port(self.port, False)

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")[-3000:]


class Machine:
    """A clone of the remote and the chronofs mount on it."""

    def __init__(self, test, name):
        self.test, self.name = test, name
        self.repo = os.path.join(test.work, name + ".git")
        self.mnt = os.path.join(test.work, "mnt-" + name)
        self.log_path = os.path.join(test.work, "daemon-%s.log" % name)
        self.proc = None
        self.interval, self.options = INTERVAL, ()
        os.mkdir(self.mnt)

    def mount(self, interval=None, options=None):
        """Mount, syncing every INTERVAL seconds, with -o OPTIONS too; left
        out: those of the last mount."""
        if interval is not None:
            self.interval = interval
        if options is not None:
            self.options = tuple(options)
        opts = ",".join(["fsync=off,sync=origin,sync_interval=%d" % self.interval, *self.options])
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([DAEMON, self.repo, self.mnt, "-f", "-o", opts],
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                         env=self.test.env, start_new_session=True)
        deadline = time.monotonic() + MOUNT_TIMEOUT
        while not os.path.ismount(self.mnt):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.unmount()
                self.test.fail("%s not mounted:\n%s" % (self.name, self.log()))
            time.sleep(0.02)

    def unmount(self):
        if self.proc is None:
            return []
        problems = []
        r = subprocess.run([FUSERMOUNT, "-u", self.mnt], capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            problems.append("fusermount3 -u %s: %s" % (self.mnt, r.stderr.strip()))
            subprocess.run([FUSERMOUNT, "-uz", self.mnt], capture_output=True, timeout=60)
        try:
            rc = self.proc.wait(15)
        except subprocess.TimeoutExpired:
            problems.append("%s: daemon still running 15 s after unmount" % self.name)
            self.proc.kill()
            rc = self.proc.wait()
        if rc != 0:
            problems.append("%s: daemon exited %d" % (self.name, rc))
        self.proc = None
        bad = [line for line in self.log().splitlines() if BAD_LOG_LINE.search(line)]
        problems += ["%s log: %s" % (self.name, line) for line in bad]
        return problems

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def path(self, rel, branch="main"):
        return os.path.join(self.mnt, branch, rel)

    def read(self, rel, branch="main"):
        with open(self.path(rel, branch), "rb") as f:
            return json.loads(f.read())

    def write(self, rel, doc, branch="main"):
        os.makedirs(os.path.dirname(self.path(rel, branch)), exist_ok=True)
        write_file(self.path(rel, branch), json.dumps(doc))

    def status(self):
        with open(os.path.join(self.mnt, "@sync"), "rb") as f:
            return json.loads(f.read())

    def refs(self):
        return subprocess.run(["git", "--git-dir=" + self.repo, "for-each-ref"], capture_output=True,
                              text=True, env=self.test.env, check=True).stdout


class SyncBase(ChronofsTestCase):
    """Two machines on a bare remote served over git:// (subclasses: other
    transports)."""

    mount_on_setup = False
    check_fsck = False  # the clones and the remote are checked here
    # How soon a save is read on the other machine: two intervals and the
    # rounds' own time (over git://; a round over ssh or HTTP opens more
    # connections, each slow on a loaded machine under ASan).
    travel = 2 * INTERVAL + 1.0
    interval = INTERVAL  # the mounts' sync_interval

    def setUp(self):
        super().setUp()
        self.base = os.path.join(self.work, "srv")
        os.mkdir(self.base)
        self.remote = os.path.join(self.base, "remote.git")
        self.run_cmd("git", "init", "-q", "--bare", self.remote)
        self.run_cmd("git", "--git-dir=" + self.remote, "config", "receive.denyNonFastForwards", "true")
        self.run_cmd("git", "--git-dir=" + self.remote, "config", "receive.denyDeletes", "false")
        self.servers = []
        self.machines = []
        self.addCleanup(self._stop_all)
        self.url = self.serve()

    # git:// by default
    def serve(self):
        self.port = free_port()
        self.daemon = Server(self, ["git", "daemon", "--export-all", "--enable=receive-pack", "--reuseaddr",
                                    "--base-path=" + self.base, "--port=%d" % self.port,
                                    "--listen=127.0.0.1", self.base],
                             self.port, os.path.join(self.work, "git-daemon.log"))
        self.servers.append(self.daemon)
        self.daemon.start()
        return "git://127.0.0.1:%d/remote.git" % self.port

    def _stop_all(self):
        problems = []
        for m in self.machines:
            problems += m.unmount()
        for s in self.servers:
            s.stop()
        if problems:
            self.fail("\n".join(problems))
        for repo in [self.remote] + [m.repo for m in self.machines]:
            r = subprocess.run(["git", "--git-dir=" + repo, "fsck", "--strict", "--no-progress"],
                               capture_output=True, text=True, env=self.env)
            self.assertEqual(r.returncode, 0, "fsck %s: %s" % (repo, r.stdout + r.stderr))

    def wait_until(self, predicate, timeout=3.0, interval=0.05, msg="condition"):
        """The harness's, with the machines' logs on a timeout."""
        try:
            super().wait_until(predicate, timeout=timeout, interval=interval, msg=msg)
        except AssertionError as e:
            logs = "".join("\n--- %s ---\n%s" % (m.name, "\n".join(m.log().splitlines()[-15:]))
                           for m in self.machines)
            raise AssertionError("%s%s" % (e, logs)) from None

    def machine(self, name, mount=True, options=()):
        m = Machine(self, name)
        self.ctl("clone", self.url, m.repo)
        self.machines.append(m)
        if mount:
            m.mount(self.interval, options)
        return m

    def two(self):
        a = self.machine("a")
        a.write("u/seed.json", {"seed": 1})
        b = self.machine("b")
        self.wait_until(lambda: b.read("u/seed.json") == {"seed": 1}, timeout=self.travel + 2,
                        msg="the seed on b")
        self.wait_until(lambda: self.remote_head() == self.git_head(a) == self.git_head(b),
                        timeout=self.travel + 2, msg="a, b and the remote at one head")
        return a, b

    def git_at(self, repo, *args):
        return subprocess.run(["git", "--git-dir=" + repo, *args], capture_output=True, text=True,
                              env=self.env, check=True).stdout

    def remote_head(self, branch="main"):
        return self.git_at(self.remote, "rev-parse", "refs/heads/" + branch).strip()

    def git_head(self, m, branch="main"):
        return self.git_at(m.repo, "rev-parse", "refs/heads/" + branch).strip()

    def offline(self):
        """Stop the server; wait until both mounts saw a failed round."""
        self.daemon.stop()
        for m in self.machines:
            n = m.status()["failures"]
            self.wait_until(lambda: m.status()["failures"] > n, timeout=3 * INTERVAL + 2,
                            msg="%s noticing the remote is gone" % m.name)

    def online(self):
        self.daemon.start()

    def converged(self, a, b, rel, doc, timeout=None):
        timeout = timeout or 2 * self.travel + 3
        self.wait_until(lambda: a.read(rel) == doc and b.read(rel) == doc, timeout=timeout,
                        msg="%s = %r on both machines" % (rel, doc))
        self.wait_until(lambda: self.remote_head() == self.git_head(a) == self.git_head(b),
                        timeout=timeout, msg="one head everywhere")
