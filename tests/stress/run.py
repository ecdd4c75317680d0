#!/usr/bin/env python3
"""chronofs "never lose a write" suite: concurrency, crashes, bad input, hostile repositories.

    python3 tests/stress/run.py [-v] [--keep] [SCENARIO ...]

Runs each scenario against the real daemon on a fresh repository under a
temporary directory and prints one line per scenario with its counts, then
`stress: N passed, M failed`. Failure details go to stderr. Standard library
only. Scenarios (all by default):

  concurrency      threads and processes saving distinct documents and one
                   shared document through the mount, while outside git
                   (plumbing update-ref, a work clone's commit + push, and a
                   fetch into the repository) commits to the same branch
  reader-close     a reader's close while a writer has the document half written
  rename-race      concurrent rename and write of the same document
  crash-kill9      kill -9 of the daemon in a write storm of 4 processes
                   (fsync=off), lazy unmount, remount, check everything
  crash-kill9-fsync  the same with fsync=on
  stale-lock       the refs/heads/main.lock a kill -9 leaves inside a ref update: the next mount saves
  fsync-durability strace of the daemon (fsync=on): object and ref fsyncs
                   happen before the close that made the commit returns
  bad-input        invalid JSON, oversized documents, huge offsets, bad
                   branch and reserved names, long names, snapshots, renames
  hostile-repo     a repository built with git plumbing holding `..`, a
                   300-byte name, a blob that is not JSON, a symlink, a
                   gitlink, a missing object, a tree/blob mix-up

Environment:
  CHRONOFS_BUILD           build directory relative to the repository root (default: build)
  CHRONOFS_STRESS_SECONDS  length of each write storm in seconds (default: 5)
"""

import contextlib
import errno
import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BUILD = os.path.abspath(os.path.join(ROOT, os.environ.get("CHRONOFS_BUILD", "build")))
DAEMON = os.path.join(BUILD, "fs", "chronofs")
CTL = os.path.join(BUILD, "tools", "chronofsctl")
FUSERMOUNT = shutil.which("fusermount3") or "fusermount3"
STORM = float(os.environ.get("CHRONOFS_STRESS_SECONDS", "5"))
VERBOSE = False
KEEP = False

SANITIZER = re.compile(r"AddressSanitizer|LeakSanitizer|runtime error|Segmentation fault|Assertion")
GONE = (errno.ENOTCONN, errno.ECONNABORTED, errno.ENODEV)  # the daemon died under us
OUTSIDE = {
    "GIT_AUTHOR_NAME": "Outside Tester",
    "GIT_AUTHOR_EMAIL": "outside@example.invalid",
    "GIT_COMMITTER_NAME": "Outside Tester",
    "GIT_COMMITTER_EMAIL": "outside@example.invalid",
}


def log(msg):
    if VERBOSE:
        sys.stderr.write("    %s\n" % msg)
        sys.stderr.flush()


def ename(code):
    return errno.errorcode.get(code, str(code)) if isinstance(code, int) else str(code)


def blob_id(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def body(tag, seq):
    """A document body; same length for every seq < 9,000,000 and equal-length tags."""
    return b'{"v":%d,"w":"%s"}' % (1000000 + seq, tag.encode())


def save(path, data, flags=os.O_WRONLY | os.O_CREAT | os.O_TRUNC):
    """open/write/close with raw syscalls; raises OSError from any of them (close included)."""
    fd = os.open(path, flags, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    except BaseException:
        with contextlib.suppress(OSError):
            os.close(fd)
        raise
    os.close(fd)


def read(path):
    with open(path, "rb") as f:
        return f.read()


class Failure(Exception):
    pass


# ---------------------------------------------------------------------------
# a repository, a mount


class Env:
    """A work directory with a bare repository (chronofsctl init) and a mountpoint."""

    def __init__(self, name):
        self.work = tempfile.mkdtemp(prefix="chronofs-stress-%s-" % name)
        self.repo = os.path.join(self.work, "repo.git")
        self.mnt = os.path.join(self.work, "mnt")
        self.home = os.path.join(self.work, "home")
        os.mkdir(self.mnt)
        os.mkdir(self.home)
        self.env = dict(os.environ, HOME=self.home, GIT_CONFIG_NOSYSTEM="1", LC_ALL="C", TERM="dumb")
        self.env.pop("GIT_DIR", None)
        self.proc = None
        self.logs = []
        self.mounts = 0
        run([CTL, "init", self.repo], env=self.env)

    # -- git -----------------------------------------------------------------

    def git(self, *args, check=True, raw=False, env=None, input=None):
        r = subprocess.run(
            ["git", "--git-dir=" + self.repo, *args],
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            capture_output=True,
            env=env or self.env,
            timeout=120,
        )
        if check and r.returncode:
            raise Failure("git %s: %s" % (" ".join(args), r.stderr.decode(errors="replace").strip()))
        return r if not check else (r.stdout if raw else r.stdout.decode(errors="replace"))

    def head(self, branch="main"):
        return self.git("rev-parse", "refs/heads/" + branch).strip()

    def fsck(self):
        r = self.git("fsck", "--strict", "--no-progress", check=False)
        return r.returncode, (r.stdout + r.stderr).decode(errors="replace").strip()

    def locks(self):
        found = []
        for d, _, files in os.walk(self.repo):
            if os.path.join(self.repo, "chronofs") in d:
                continue
            found += [os.path.relpath(os.path.join(d, f), self.repo) for f in files if f.endswith(".lock")]
        return sorted(found)

    # -- mounting --------------------------------------------------------------

    def mount(self, fsync="off", options=(), prefix=(), env=None):
        assert self.proc is None
        self.mounts += 1
        path = os.path.join(self.work, "daemon-%d.log" % self.mounts)
        self.logs.append(path)
        opts = ",".join(["fsync=" + fsync, *options])
        with open(path, "wb") as logf:
            self.proc = subprocess.Popen(
                [*prefix, DAEMON, self.repo, self.mnt, "-f", "-o", opts],
                stdin=subprocess.DEVNULL,
                stdout=logf,
                stderr=subprocess.STDOUT,
                env=dict(self.env, **(env or {})),
                start_new_session=True,
            )
        deadline = time.monotonic() + 30
        while not os.path.ismount(self.mnt):
            if self.proc.poll() is not None:
                rc = self.proc.returncode
                self.proc = None
                raise Failure("daemon exited %d before mounting: %s" % (rc, self.log_tail()))
            if time.monotonic() > deadline:
                self.kill()
                raise Failure("not mounted after 30 s: %s" % self.log_tail())
            time.sleep(0.02)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def unmount(self):
        """fusermount3 -u, wait; on trouble -uz and kill. Returns a list of problems."""
        problems = []
        proc, self.proc = self.proc, None
        if proc is None:
            if os.path.ismount(self.mnt):
                subprocess.run([FUSERMOUNT, "-uz", self.mnt], capture_output=True)
            return problems
        if proc.poll() is not None:
            problems.append("daemon had exited with status %s" % proc.returncode)
        r = subprocess.run([FUSERMOUNT, "-u", self.mnt], capture_output=True, text=True)
        if r.returncode:
            if proc.poll() is None:
                problems.append("fusermount3 -u failed: %s" % r.stderr.strip())
            subprocess.run([FUSERMOUNT, "-uz", self.mnt], capture_output=True)
        try:
            rc = proc.wait(20)
            if rc not in (0, None) and not problems:
                problems.append("daemon exited with status %d" % rc)
        except subprocess.TimeoutExpired:
            problems.append("daemon still running 20 s after unmount; killed")
            subprocess.run([FUSERMOUNT, "-uz", self.mnt], capture_output=True)
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if os.path.ismount(self.mnt):
            subprocess.run([FUSERMOUNT, "-uz", self.mnt], capture_output=True)
        return problems

    def kill(self):
        """kill -9 the daemon, then fusermount3 -uz the dead mount."""
        proc, self.proc = self.proc, None
        if proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        subprocess.run([FUSERMOUNT, "-uz", self.mnt], capture_output=True)

    def log_text(self, which=-1):
        if not self.logs:
            return ""
        with open(self.logs[which], "rb") as f:
            return f.read().decode(errors="replace")

    def log_tail(self, n=15):
        return "\n".join(self.log_text().splitlines()[-n:])

    def sanitizer_lines(self):
        bad = []
        for p in self.logs:
            with open(p, "rb") as f:
                bad += [ln for ln in f.read().decode(errors="replace").splitlines() if SANITIZER.search(ln)]
        return bad

    def close(self, failed):
        self.unmount()
        if failed and KEEP:
            sys.stderr.write("    [kept %s]\n" % self.work)
        else:
            shutil.rmtree(self.work, ignore_errors=True)


def run(cmd, check=True, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("stdin", subprocess.DEVNULL)
    r = subprocess.run(cmd, timeout=kw.pop("timeout", 120), **kw)
    if check and r.returncode:
        err = r.stderr.decode(errors="replace") if isinstance(r.stderr, bytes) else r.stderr
        raise Failure("%s exited %d: %s" % (" ".join(cmd), r.returncode, (err or "").strip()))
    return r


# ---------------------------------------------------------------------------
# history of a branch, from git


def history(e, branch="main"):
    """[(commit, subject, [(path, new blob or None)])] along the first-parent chain, oldest first."""
    out = e.git("log", "--first-parent", "--reverse", "--no-renames", "--raw", "--no-abbrev", "-z",
                "--format=%x01%H %s", "refs/heads/" + branch, raw=True)
    commits = []
    for chunk in out.split(b"\x01")[1:]:
        head, _, rest = chunk.partition(b"\0")
        sha, _, subject = head.decode(errors="replace").partition(" ")
        changes = []
        fields = [f for f in rest.split(b"\0")]
        i = 0
        while i < len(fields):
            meta = fields[i].strip(b"\n")
            if not meta.startswith(b":"):
                i += 1
                continue
            parts = meta.split()
            status = parts[4].decode()
            path = fields[i + 1].decode(errors="surrogateescape")
            new = parts[3].decode()
            changes.append((path, None if status == "D" else new))
            i += 2
        commits.append((sha, subject, changes))
    return commits


def is_linear(e, branch="main"):
    full = int(e.git("rev-list", "--count", "refs/heads/" + branch).strip())
    first = int(e.git("rev-list", "--count", "--first-parent", "refs/heads/" + branch).strip())
    merges = e.git("rev-list", "--merges", "refs/heads/" + branch).split()
    return full == first and not merges, full


def head_docs(e, prefix, branch="main"):
    """{path: bytes} of the documents under PREFIX at BRANCH's head."""
    names = [n for n in e.git("ls-tree", "-r", "-z", "--name-only", "refs/heads/" + branch, "--", prefix,
                               raw=True).decode().split("\0") if n]
    if not names:
        return {}
    inp = "".join("refs/heads/%s:%s\n" % (branch, n) for n in names).encode()
    out = e.git("cat-file", "--batch", raw=True, input=inp)
    docs, pos = {}, 0
    for n in names:
        nl = out.index(b"\n", pos)
        size = int(out[pos:nl].split()[2])
        docs[n] = out[nl + 1:nl + 1 + size]
        pos = nl + 1 + size + 1
    return docs


# ---------------------------------------------------------------------------
# writers (threads here, or processes running this file with --worker)


def writer(cfg):
    """Save cfg["docs"] round-robin until cfg["until"] (time.time()) or cfg["count"] saves.

    Records one dict per save: {"p": rel, "b": body, "t0", "t1": monotonic ns, "ok": bool, "err": errno}.
    Stops at the first error when cfg["stop_on_error"] (crash storms), or when the mount is gone.
    """
    recs = []
    outf = open(cfg["out"], "a") if cfg.get("out") else None
    seq, i = 0, 0
    try:
        while True:
            if "count" in cfg and i >= cfg["count"]:
                break
            if time.time() >= cfg["until"]:
                break
            if cfg.get("duty"):  # save in bursts: on ms of saves, off ms of rest
                on, off = cfg["duty"]
                phase = (time.time() * 1000) % (on + off)
                if phase >= on:
                    time.sleep((on + off - phase) / 1000.0)
                    continue
            rel = cfg["docs"][i % len(cfg["docs"])]
            seq = cfg.get("seq0", 0) + i
            data = body(cfg["tag"], seq)
            rec = {"p": rel, "b": data.decode(), "t0": time.monotonic_ns()}
            try:
                save(os.path.join(cfg["main"], rel), data)
                rec["ok"] = True
            except OSError as ex:
                rec["ok"] = False
                rec["err"] = ex.errno
            rec["t1"] = time.monotonic_ns()
            recs.append(rec)
            if outf:
                outf.write(json.dumps(rec) + "\n")
                outf.flush()
            i += 1
            if not rec["ok"] and (cfg.get("stop_on_error") or rec["err"] in GONE):
                break
    finally:
        if outf:
            outf.close()
    return recs


def worker_main(argv):
    cfg = json.loads(argv[0])
    writer(cfg)
    return 0


def spawn_worker(cfg):
    return subprocess.Popen([sys.executable, os.path.abspath(__file__), "--worker", json.dumps(cfg)],
                            stdin=subprocess.DEVNULL)


def wait_writers(procs, hung):
    """Wait for writer processes; one HUNG problem for each that had to be killed."""
    problems = []
    for p in procs:
        try:
            p.wait(60)
        except subprocess.TimeoutExpired:
            p.kill()
            problems.append(hung)
    return problems


def load_records(path):
    recs = []
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                with contextlib.suppress(ValueError):
                    recs.append(json.loads(line))
    return recs


# ---------------------------------------------------------------------------
# outside git


class Outside:
    """Commits to refs/heads/main from outside the mount, three ways, until stopped."""

    def __init__(self, e, until):
        self.e = e
        self.until = until
        self.env = dict(e.env, **OUTSIDE)
        self.messages = []  # subjects of outside commits that landed
        self.errors = []
        self.retries = 0
        self.lock = threading.Lock()
        for name in ("clone-push", "clone-fetch"):  # made before the storm, sharing the repository's objects
            r = self.g("clone", "-q", "--shared", e.repo, os.path.join(e.work, name))
            if r.returncode:
                raise Failure("git clone: %s" % r.stderr.decode(errors="replace"))

    def landed(self, msg):
        with self.lock:
            self.messages.append(msg)

    def g(self, *args, cwd=None, input=None, env=None):
        cmd = ["git"] + (["-C", cwd] if cwd else ["--git-dir=" + self.e.repo]) + list(args)
        t0 = time.monotonic()
        r = subprocess.run(cmd, input=input, capture_output=True, env=env or self.env, timeout=60)
        took = time.monotonic() - t0
        if took > 0.5:
            log("slow outside git (%.1f s): %s" % (took, " ".join(args)))
        return r

    def plumbing(self):
        """hash-object, read-tree/update-index/write-tree in a private index, commit-tree, update-ref (CAS)."""
        n = 0
        idx = os.path.join(self.e.work, "outside.index")
        env = dict(self.env, GIT_INDEX_FILE=idx)
        while time.time() < self.until:
            rel = "w/o-plumb-%03d.json" % n
            msg = "outside plumbing %d" % n
            blob = self.g("hash-object", "-w", "--stdin", input=body("opl", n)).stdout.decode().strip()
            for attempt in range(200):
                old = self.g("rev-parse", "refs/heads/main").stdout.decode().strip()
                steps = [
                    ("read-tree", old),
                    ("update-index", "--add", "--cacheinfo", "100644,%s,%s" % (blob, rel)),
                ]
                ok = all(self.g(*s, env=env).returncode == 0 for s in steps)
                tree = self.g("write-tree", env=env).stdout.decode().strip()
                c = self.g("commit-tree", tree, "-p", old, "-m", msg).stdout.decode().strip()
                if ok and tree and c and self.g("update-ref", "-m", msg, "refs/heads/main", c, old).returncode == 0:
                    self.landed(msg)
                    break
                self.retries += 1
                time.sleep(0.005)
            else:
                self.errors.append("plumbing commit %d never landed" % n)
            n += 1
            time.sleep(0.05)

    def clone_push(self):
        """git commit in a work clone, then git push; pull --rebase and push again when rejected."""
        clone = os.path.join(self.e.work, "clone-push")
        n = 0
        while time.time() < self.until:
            rel = "w/o-push-%03d.json" % n
            msg = "outside push %d" % n
            os.makedirs(os.path.join(clone, "w"), exist_ok=True)
            with open(os.path.join(clone, rel), "wb") as f:
                f.write(body("opu", n))
            self.g("add", rel, cwd=clone)
            self.g("commit", "-q", "-m", msg, cwd=clone)
            for attempt in range(100):
                if self.g("push", "-q", "origin", "HEAD:refs/heads/main", cwd=clone).returncode == 0:
                    self.landed(msg)
                    break
                self.retries += 1
                self.g("pull", "-q", "--rebase", "origin", "main", cwd=clone)
            else:
                self.errors.append("push %d never landed" % n)
            n += 1
            time.sleep(0.05)

    def fetch_into(self):
        """Commit in another clone, then `git fetch CLONE HEAD:refs/heads/main` run in the repository."""
        clone = os.path.join(self.e.work, "clone-fetch")
        n = 0
        while time.time() < self.until:
            rel = "w/o-fetch-%03d.json" % n
            msg = "outside fetch %d" % n
            os.makedirs(os.path.join(clone, "w"), exist_ok=True)
            with open(os.path.join(clone, rel), "wb") as f:
                f.write(body("ofe", n))
            self.g("add", rel, cwd=clone)
            self.g("commit", "-q", "-m", msg, cwd=clone)
            for attempt in range(100):
                if self.g("fetch", "-q", clone, "HEAD:refs/heads/main").returncode == 0:
                    self.landed(msg)
                    break
                self.retries += 1
                self.g("pull", "-q", "--rebase", "origin", "main", cwd=clone)
            else:
                self.errors.append("fetch %d never landed" % n)
            n += 1
            time.sleep(0.05)

    def racer(self):
        """Empty commits built here (objects written as git writes loose objects) and moved in with
        `git update-ref NEW OLD` right away: a compare-and-swap window of one git process, so these land
        inside the daemon's bursts of saves and make its own compare-and-swap retry on a moved head."""
        import zlib
        n = 0
        objects = os.path.join(self.e.repo, "objects")

        def read_object(sha):
            path = os.path.join(objects, sha[:2], sha[2:])
            try:
                with open(path, "rb") as f:
                    raw = zlib.decompress(f.read())
                return raw[raw.index(b"\0") + 1:]
            except FileNotFoundError:  # packed
                return self.g("cat-file", "commit", sha).stdout

        while time.time() < self.until:
            msg = "outside racer %d" % n
            for attempt in range(200):
                try:  # the loose ref, as git reads it (the daemon never packs refs)
                    with open(os.path.join(self.e.repo, "refs", "heads", "main")) as f:
                        old = f.read().strip()
                except FileNotFoundError:
                    old = self.g("rev-parse", "refs/heads/main").stdout.decode().strip()
                tree = read_object(old).split(b"\n", 1)[0].split()[1].decode()
                stamp = "%d +0000" % int(time.time())
                content = ("tree %s\nparent %s\nauthor %s <%s> %s\ncommitter %s <%s> %s\n\n%s\n" % (
                    tree, old, OUTSIDE["GIT_AUTHOR_NAME"], OUTSIDE["GIT_AUTHOR_EMAIL"], stamp,
                    OUTSIDE["GIT_COMMITTER_NAME"], OUTSIDE["GIT_COMMITTER_EMAIL"], stamp, msg)).encode()
                raw = b"commit %d\0" % len(content) + content
                sha = hashlib.sha1(raw).hexdigest()
                d = os.path.join(objects, sha[:2])
                os.makedirs(d, exist_ok=True)
                tmp = os.path.join(d, "tmp_racer_%d" % os.getpid())
                with open(tmp, "wb") as f:
                    f.write(zlib.compress(raw))
                os.rename(tmp, os.path.join(d, sha[2:]))
                if self.g("update-ref", "-m", msg, "refs/heads/main", sha, old).returncode == 0:
                    self.landed(msg)
                    break
                self.retries += 1
            else:
                self.errors.append("racer commit %d never landed" % n)
            n += 1
            time.sleep(0.02)

    def threads(self):
        return [threading.Thread(target=self._guard, args=(f,))
                for f in (self.plumbing, self.clone_push, self.fetch_into, self.racer)]

    def _guard(self, f):
        try:
            f()
        except Exception:  # noqa: BLE001
            self.errors.append(traceback.format_exc())


# ---------------------------------------------------------------------------
# checks shared by scenarios


def check_acked(e, recs, hist):
    """Every acknowledged save of a single-writer document is a version of it in history.

    Returns (acked, found, problems)."""
    versions = {}
    for _, _, changes in hist:
        for path, blob in changes:
            versions.setdefault(path, set()).add(blob)
    acked = [r for r in recs if r["ok"]]
    found = sum(1 for r in acked if blob_id(r["b"].encode()) in versions.get(r["p"], ()))
    problems = []
    for r in acked:
        if blob_id(r["b"].encode()) not in versions.get(r["p"], ()):
            problems.append("acknowledged save of %s (%s) is not in history" % (r["p"], r["b"]))
            if len(problems) > 5:
                break
    return len(acked), found, problems


def check_view(e, coll, field="v", snapshot=None, docs=None):
    """The @by view of COLL lists exactly its documents (DOCS, else the .json names listed in COLL),
    ordered by FIELD. Returns (view count, document count, problems)."""
    base = os.path.join(e.mnt, snapshot or "main", coll)
    if docs is None:
        docs = [n for n in os.listdir(base) if n.endswith(".json")]
    docs = sorted(docs)
    view = sorted(os.listdir(os.path.join(base, "@by", field)))
    problems = []
    ids = sorted(n.split("_", 1)[1] for n in view)
    if ids != docs:
        problems.append("@by/%s of %s lists %d entries, the collection %d documents; missing %s extra %s" % (
            field, coll, len(view), len(docs), sorted(set(docs) - set(ids))[:5], sorted(set(ids) - set(docs))[:5]))
    vals = []
    for n in view:
        with contextlib.suppress(OSError, ValueError):
            vals.append(json.loads(read(os.path.join(base, "@by", field, n))).get(field))
    if vals != sorted(vals, key=lambda v: (v is None, v)):
        problems.append("@by/%s of %s is not in order" % (field, coll))
    return len(view), len(docs), problems


def check_mount_agrees(e, prefix):
    """Every document under PREFIX reads through the mount as at the head in git."""
    problems = []
    docs = head_docs(e, prefix)
    for rel, data in docs.items():
        try:
            got = read(os.path.join(e.mnt, "main", rel))
        except OSError as ex:
            problems.append("read %s through the mount: %s" % (rel, ename(ex.errno)))
            continue
        if got != data:
            problems.append("%s reads %r through the mount, %r in git" % (rel, got[:60], data[:60]))
    listed = set()
    base = os.path.join(e.mnt, "main", prefix)
    if os.path.isdir(base):
        listed = {prefix + "/" + n for n in os.listdir(base) if n.endswith(".json")}
    if listed != set(docs):
        problems.append("the mount lists %d documents in %s, git has %d" % (len(listed), prefix, len(docs)))
    return problems[:8]


# ---------------------------------------------------------------------------
# scenarios: each returns (summary, problems)


# Writers of the concurrency scenario save in bursts (ms on, ms off): the daemon commits far faster
# than a git process starts, so without the pauses an outside compare-and-swap (which read the head
# a few hundred ms earlier) would almost never win; with them outside commits land both inside
# bursts (racing the daemon's own compare-and-swap) and between them.
DUTY = (700, 500)


def scenario_concurrency(e):
    """Threads + processes on distinct documents and on one shared document, plus outside git."""
    e.mount()
    main = os.path.join(e.mnt, "main")
    os.mkdir(os.path.join(main, "w"))
    save(os.path.join(main, "w", "seed.json"), body("sd0", 0))
    os.listdir(os.path.join(main, "w", "@by", "v"))  # build the ordered index before the storm
    outside = Outside(e, 0)
    until = outside.until = time.time() + STORM + 2
    cfgs = []
    for t in range(4):
        cfgs.append(dict(main=main, docs=["w/t%d_%d.json" % (t, k) for k in range(4)], tag="t%02d" % t, until=until, duty=DUTY))
    for t in range(1):
        cfgs.append(dict(main=main, docs=["w/shared.json"], tag="s%02d" % t, until=until, duty=DUTY))
    pcfgs = []
    for p in range(2):
        pcfgs.append(dict(main=main, docs=["w/p%d_%d.json" % (p, k) for k in range(4)], tag="p%02d" % p, until=until,
                          duty=DUTY, out=os.path.join(e.work, "p%d.jsonl" % p)))
    for p in range(2):
        pcfgs.append(dict(main=main, docs=["w/shared.json"], tag="q%02d" % p, until=until,
                          duty=DUTY, out=os.path.join(e.work, "q%d.jsonl" % p)))
    results = [None] * len(cfgs)
    crashes = []

    def thread_main(i):
        try:
            results[i] = writer(cfgs[i])
        except Exception:  # noqa: BLE001
            crashes.append(traceback.format_exc())

    reader_errors = []
    reader_refused = [0]
    reads = [0]

    def reader():
        w = os.path.join(main, "w")
        while time.time() < until:
            what = "ls w"
            try:
                names = os.listdir(w)
                what = "ls w/@by/v"
                view = os.listdir(os.path.join(w, "@by", "v"))
                reads[0] += 2
                for n in random.sample(names, min(3, len(names))):
                    what = "read w/" + n
                    with contextlib.suppress(FileNotFoundError):
                        read(os.path.join(w, n))  # may be mid-save (truncated): not checked
                        reads[0] += 1
                for n in random.sample(view, min(2, len(view))):
                    what = "read w/@by/v/" + n
                    with contextlib.suppress(FileNotFoundError):
                        read(os.path.join(w, "@by", "v", n))
                        reads[0] += 1
            except OSError as ex:
                if ex.errno == errno.EINVAL and what == "read w/shared.json":
                    reader_refused[0] += 1  # the reader-close bug (scenario reader-close): counted, not failed here
                else:
                    reader_errors.append("reader: %s: %s" % (what, ename(ex.errno)))
            time.sleep(0.01)

    threads = [threading.Thread(target=thread_main, args=(i,)) for i in range(len(cfgs))]
    threads += outside.threads() + [threading.Thread(target=reader)]
    procs = [spawn_worker(c) for c in pcfgs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(STORM + 120)
    for p in procs:
        p.wait(STORM + 120)
    problems = list(crashes) + outside.errors[:5] + reader_errors[:5]
    if not e.alive():
        problems.append("daemon died: %s" % e.log_tail())
        return "daemon died", problems
    recs = [r for rs in results if rs for r in rs]
    for c in pcfgs:
        recs += load_records(c["out"])
    single = [r for r in recs if r["p"] != "w/shared.json"]
    shared = [r for r in recs if r["p"] == "w/shared.json"]
    errs = [r for r in single if not r["ok"]]
    for r in errs[:5]:
        problems.append("save of %s failed: %s" % (r["p"], ename(r["err"])))

    hist = history(e)
    acked, found, pr = check_acked(e, single, hist)
    problems += pr
    linear, ncommits = is_linear(e)
    if not linear:
        problems.append("main is not a first-parent chain")
    subjects = {s for _, s, _ in hist}
    lost_outside = [m for m in outside.messages if m not in subjects]
    problems += ["outside commit lost: %s" % m for m in lost_outside[:5]]
    # one commit per acknowledged single-writer save, nothing more
    per_path = {}
    for _, _, changes in hist:
        for path, _ in changes:
            per_path[path] = per_path.get(path, 0) + 1
    for path in sorted({r["p"] for r in single}):
        n_ack = sum(1 for r in single if r["p"] == path and r["ok"])
        if per_path.get(path, 0) != n_ack:
            problems.append("%s: %d acknowledged saves, %d commits" % (path, n_ack, per_path.get(path, 0)))
            break
    # the shared document: every committed version is one somebody wrote whole; every
    # acknowledged body is in history unless another writer's save overlapped it
    written = {blob_id(r["b"].encode()) for r in shared}
    shared_versions = [b for _, _, ch in hist for p, b in ch if p == "w/shared.json"]
    torn = [b for b in shared_versions if b not in written]
    if torn:
        problems.append("w/shared.json has %d committed versions nobody wrote" % len(torn))
    sv = set(shared_versions)
    shared_acked = [r for r in shared if r["ok"]]
    shared_lost = 0
    for r in shared_acked:
        if blob_id(r["b"].encode()) in sv:
            continue
        overlapped = any(o is not r and o["t0"] < r["t1"] and r["t0"] < o["t1"] for o in shared)
        if not overlapped:
            shared_lost += 1
    if shared_lost:
        problems.append("w/shared.json: %d acknowledged saves with no overlapping writer are not in history" % shared_lost)
    shared_errs = {}
    for r in shared:
        if not r["ok"]:
            shared_errs[ename(r["err"])] = shared_errs.get(ename(r["err"]), 0) + 1
    if set(shared_errs) - {"EINVAL"}:
        problems.append("w/shared.json saves failed with %s" % shared_errs)
    expected_commits = 1 + 1 + acked + len(shared_versions) + len(outside.messages)
    if ncommits != expected_commits:
        problems.append("main has %d commits, expected 1 + 1 + %d saves + %d shared + %d outside = %d" % (
            ncommits, acked, len(shared_versions), len(outside.messages), expected_commits))
    # final content of each single-writer document: its last acknowledged save
    docs = head_docs(e, "w")
    last = {}
    for r in sorted(single, key=lambda r: r["t1"]):
        if r["ok"]:
            last[r["p"]] = r["b"].encode()
    for p, b in last.items():
        if docs.get(p) != b:
            problems.append("%s at the head is %r, last acknowledged %r" % (p, docs.get(p), b))
            break
    time.sleep(0.2)
    problems += check_mount_agrees(e, "w")
    nview, ndocs, pr = check_view(e, "w")
    problems += pr
    problems += e.unmount()
    rc, out = e.fsck()
    if rc:
        problems.append("git fsck --strict: %s" % out[:500])
    problems += ["daemon log: " + ln for ln in e.sanitizer_lines()[:5]]
    summary = ("saves acknowledged %d, saves found %d, lost %d, shared-doc saves %d (acked %d, committed %d, "
               "lost %d), outside commits %d (%s; retries %d), commits %d, @by/v %d == docs %d, reads %d" % (
                   acked, found, acked - found, len(shared), len(shared_acked), len(shared_versions), shared_lost,
                   len(outside.messages),
                   ", ".join("%s %d" % (k, sum(1 for m in outside.messages if m.split()[1] == k))
                             for k in ("plumbing", "push", "fetch", "racer")),
                   outside.retries, ncommits, nview, ndocs, reads[0]) +
               (", reader closes refused %d" % reader_refused[0] if reader_refused[0] else ""))
    return summary, problems


def scenario_reader_close(e):
    """A reader's close() while another process has the document open, truncated and half written: the
    reader's close must neither fail nor commit the writer's unfinished bytes."""
    e.mount()
    p = os.path.join(e.mnt, "main", "s.json")
    save(p, b'{"v": 1}')
    before = int(e.git("rev-list", "--count", "refs/heads/main").strip())
    head_before = e.git("rev-parse", "refs/heads/main").strip()
    problems = []
    fd = os.open(p, os.O_WRONLY | os.O_TRUNC)
    closes = refused = 0
    try:
        for part in (b"[1", b"]", b"  "):  # after "]" the unfinished content happens to be valid JSON
            os.write(fd, part)
            r = os.open(p, os.O_RDONLY)
            os.read(r, 100)
            closes += 1
            try:
                os.close(r)
            except OSError as ex:
                refused += 1
                problems.append("reader's close with the writer at %r failed: %s" % (part, ename(ex.errno)))
        # No git subprocess while the writer's descriptor is open: a fork
        # copies it, and the copy's close (at exec) is a flush of a writable
        # file, which saves. Read the ref file instead.
        with open(os.path.join(e.repo, "refs", "heads", "main")) as f:
            mid_head = f.read().strip()
        if mid_head != head_before:
            problems.append("reader closes committed the writer's unfinished content (head moved to %s)" % mid_head)
    finally:
        os.close(fd)
    after = int(e.git("rev-list", "--count", "refs/heads/main").strip())
    if after != before + 1 or e.git("show", "refs/heads/main:s.json", raw=True) != b"[1]  ":
        problems.append("the writer's close made %d commits (expected 1)" % (after - before))
    problems += e.unmount()
    return "reader closes %d, refused %d, commits %d (expected 1)" % (closes, refused, after - before), problems


def scenario_rename_race(e):
    """One thread writes r/x.json over and over, another renames it away and back; a third renames temporaries onto it."""
    e.mount()
    main = os.path.join(e.mnt, "main")
    os.mkdir(os.path.join(main, "r"))
    x, y = os.path.join(main, "r", "x.json"), os.path.join(main, "r", "y.json")
    save(x, body("r00", 0))
    until = time.time() + min(STORM, 4)
    counts = {"writes": 0, "renames": 0, "tmp-renames": 0}
    errs = {}
    crashes = []

    def note(kind, ex):
        k = "%s %s" % (kind, ename(ex.errno))
        errs[k] = errs.get(k, 0) + 1

    def w():
        i = 0
        while time.time() < until:
            i += 1
            try:
                fd = os.open(x, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            except OSError as ex:
                note("open", ex)
                continue
            try:
                os.write(fd, body("r00", i))
            except OSError as ex:
                note("write", ex)
            try:
                os.close(fd)
                counts["writes"] += 1
            except OSError as ex:
                note("close", ex)

    def r():
        while time.time() < until:
            try:
                os.rename(x, y)
                os.rename(y, x)
                counts["renames"] += 2
            except OSError as ex:
                note("rename", ex)

    def t():
        i = 0
        while time.time() < until:
            i += 1
            tmp = os.path.join(main, "r", ".x.json.tmp%d" % (i % 3))
            try:
                save(tmp, body("r01", i))
                os.rename(tmp, x)
                counts["tmp-renames"] += 1
            except OSError as ex:
                note("tmp", ex)

    def guard(f):
        try:
            f()
        except Exception:  # noqa: BLE001
            crashes.append(traceback.format_exc())

    ths = [threading.Thread(target=guard, args=(f,)) for f in (w, r, t)]
    for th in ths:
        th.start()
    for th in ths:
        th.join(120)
    problems = list(crashes)
    if not e.alive():
        problems.append("daemon died: %s" % e.log_tail())
        return "daemon died", problems
    # ENOENT: the name was renamed away at that instant; EINVAL: a save that caught the document
    # truncated by the other writer; ESTALE: a close of a document that a rename replaced meanwhile
    # (its bytes are not saved, and the close says so)
    bad = {k: v for k, v in errs.items() if k.split()[1] not in ("ENOENT", "EINVAL", "EEXIST", "ESTALE")}
    if bad:
        problems.append("unexpected errors: %s" % bad)
    time.sleep(2.5)  # pending deletions of renamed-away documents settle
    for rel, data in head_docs(e, "r").items():
        try:
            json.loads(data)
        except ValueError:
            problems.append("%s committed as invalid JSON: %r" % (rel, data[:80]))
    problems += check_mount_agrees(e, "r")
    linear, ncommits = is_linear(e)
    if not linear:
        problems.append("main is not a first-parent chain")
    problems += e.unmount()
    rc, out = e.fsck()
    if rc:
        problems.append("git fsck --strict: %s" % out[:500])
    problems += ["daemon log: " + ln for ln in e.sanitizer_lines()[:5]]
    summary = "writes %d, renames %d, temp renames %d, refused %s, commits %d" % (
        counts["writes"], counts["renames"], counts["tmp-renames"],
        ", ".join("%s %d" % kv for kv in sorted(errs.items())) or "none", ncommits)
    return summary, problems


def scenario_crash(e, fsync, rounds):
    """ROUNDS times: 4 writer processes save for a while; kill -9 the daemon mid-storm; fusermount3 -uz;
    remount; check that nothing acknowledged is lost and every index caught up."""
    e.mount(fsync=fsync)
    main = os.path.join(e.mnt, "main")
    os.mkdir(os.path.join(main, "c"))
    save(os.path.join(main, "c", "seed.json"), body("sd0", 0))
    os.listdir(os.path.join(main, "c", "@by", "v"))  # a persistent ordered index to catch up later
    problems = []
    recs = []
    totals = dict(interrupted=0, locks=[], placeholders=0, behind=0)
    seq_of = lambda b: json.loads(b)["v"] - 1000000  # noqa: E731
    rng = random.Random()
    for rnd in range(rounds):
        storm = max(1.5, STORM * 0.6) * rng.uniform(0.7, 1.3)
        until = time.time() + storm + 30  # writers run until the daemon dies
        cfgs = [dict(main=main, docs=["c/p%d_%d.json" % (p, k) for k in range(6 + 2 * rnd)], tag="p%02d" % p,
                     until=until, seq0=100000 * rnd, out=os.path.join(e.work, "crash-%d-p%d.jsonl" % (rnd, p)),
                     stop_on_error=True) for p in range(4)]
        procs = [spawn_worker(c) for c in cfgs]
        time.sleep(storm)
        before_kill = time.monotonic_ns()
        e.kill()
        problems += wait_writers(procs, "a writer hung after the daemon was killed")
        rrecs = [r for c in cfgs for r in load_records(c["out"])]
        recs += rrecs
        totals["interrupted"] += sum(1 for r in rrecs if not r["ok"] and r["t1"] >= before_kill)
        for r in [r for r in rrecs if not r["ok"] and r["t1"] < before_kill][:3]:
            problems.append("save of %s failed before the kill: %s" % (r["p"], ename(r["err"])))
        locks = e.locks()
        totals["locks"] += locks
        e.mount(fsync=fsync)
        hist = history(e)
        # every document's last acknowledged version, or a later one, is at the head
        docs = head_docs(e, "c")
        last = {}
        for r in recs:
            if r["ok"]:
                last[r["p"]] = max(last.get(r["p"], -1), seq_of(r["b"]))
        for p, sq in last.items():
            try:
                have = seq_of(docs[p])
            except (KeyError, ValueError):
                have = -1
            if have < sq:
                totals["behind"] += 1
                problems.append("round %d: %s: head holds seq %d, last acknowledged %d" % (rnd, p, have, sq))
        # what the mount lists: the committed documents, plus (allowed) an empty placeholder for a
        # new document whose first save was interrupted by the kill (created, never closed)
        names = {n for n in os.listdir(os.path.join(main, "c")) if n.endswith(".json")}
        committed = {os.path.basename(p) for p in docs}
        interrupted = {os.path.basename(r["p"]) for r in recs if not r["ok"]}
        placeholders = sorted(n for n in names - committed
                              if n in interrupted and os.stat(os.path.join(main, "c", n)).st_size == 0)
        totals["placeholders"] += len(placeholders)
        if names - committed - set(placeholders):
            problems.append("round %d: the mount lists documents git does not have: %s" % (
                rnd, sorted(names - committed)[:5]))
        if committed - names:
            problems.append("round %d: the mount does not list committed documents: %s" % (
                rnd, sorted(committed - names)[:5]))
        # indexes caught up: the ordered view, a snapshot of the head, the history of a document
        head = e.head()
        nview, ndocs, pr = check_view(e, "c", docs=committed)
        problems += ["round %d: %s" % (rnd, x) for x in pr]
        snap = "main@" + head[:7]
        try:
            snap_docs = sorted(os.listdir(os.path.join(e.mnt, snap, "c")))
            if snap_docs != sorted(committed):
                problems.append("round %d: %s/c lists %d documents, the head has %d" % (
                    rnd, snap, len(snap_docs), len(docs)))
            _, _, pr = check_view(e, "c", snapshot=snap, docs=committed)
            problems += ["round %d: %s: %s" % (rnd, snap, x) for x in pr]
        except OSError as ex:
            problems.append("round %d: %s/c: %s" % (rnd, snap, ename(ex.errno)))
        if last:
            p = max(last, key=lambda k: last[k])
            try:
                vers = os.listdir(os.path.join(e.mnt, "main@history", p))
                n_commits = sum(1 for _, _, ch in hist for q, _ in ch if q == p)
                if len(vers) != n_commits:
                    problems.append("round %d: main@history/%s lists %d versions, git has %d" % (
                        rnd, p, len(vers), n_commits))
            except OSError as ex:
                problems.append("round %d: main@history/%s: %s" % (rnd, p, ename(ex.errno)))
        # the next save works (no stale lock stops it), and lands on the head
        try:
            t0 = time.monotonic()
            save(os.path.join(main, "c", "after.json"), body("aft", rnd))
            took = time.monotonic() - t0
            if e.head() == head:
                problems.append("round %d: the save after the remount made no commit" % rnd)
            if took > 2:
                problems.append("round %d: the save after the remount took %.1f s" % (rnd, took))
        except OSError as ex:
            problems.append("round %d: the save after the remount failed: %s (lock files after the kill: %s)" % (
                rnd, ename(ex.errno), locks or "none"))
        if problems:
            break
    hist = history(e)
    acked, found, pr = check_acked(e, recs, hist)
    problems += pr
    linear, ncommits = is_linear(e)
    if not linear:
        problems.append("main is not a first-parent chain")
    problems += e.unmount()
    locks_left = e.locks()
    if locks_left:
        problems.append("lock files left after the last clean unmount: %s" % locks_left)
    rc, out = e.fsck()
    if rc:
        problems.append("git fsck --strict: %s" % out[:500])
    problems += ["daemon log: " + ln for ln in e.sanitizer_lines()[:5]]
    summary = ("kills %d, saves acknowledged %d, saves found %d, lost %d, documents behind %d, interrupted saves %d, "
               "lock files after kills %d%s, commits %d, @by/v %d == docs %d, empty placeholders %d" % (
                   rounds, acked, found, acked - found, totals["behind"], totals["interrupted"],
                   len(totals["locks"]), " (%s)" % ",".join(totals["locks"]) if totals["locks"] else "", ncommits,
                   nview, ndocs, totals["placeholders"]))
    return summary, problems


class BlockStack:
    """Loop devices and their mounts, undone in reverse order in every path."""

    def __init__(self):
        self.undo = []

    def loop(self, image, direct=False):
        r = run(["losetup", "-f", "--show", *(["--direct-io=on"] if direct else []), image], text=True)
        dev = r.stdout.strip()
        self.undo.append(["losetup", "-d", dev])
        return dev

    def mount(self, dev, where, *opts):
        os.makedirs(where, exist_ok=True)
        run(["mount", *opts, dev, where])
        self.undo.append(["umount", where])

    def pop(self):
        cmd = self.undo.pop()
        if run(cmd, check=False).returncode and cmd[0] == "umount":
            run(["umount", "-l", cmd[1]], check=False)

    def close(self):
        while self.undo:
            self.pop()


def scenario_power_loss(e):
    """A power cut under 4 fsync=on writers, without a VM: the repository lives on ext4 (with and without a
    journal) on a loop device whose backing file sits on XFS. `cp --reflink=always` of that file takes
    the device's contents at one instant (XFS clones under the file's locks, after in-flight direct I/O):
    every write the device completed, nothing the kernel still held in its page cache. Each such image
    is then recovered as after a power loss (journal replay, or e2fsck) and must hold every save whose
    close returned 0 before the clone began, in a repository git fsck accepts and chronofs mounts and
    saves to. (A device that loses completed writes it has not flushed is not modelled; the fsync
    order that covers it is checked by fsync-durability.)"""
    for tool in ("losetup", "mount", "mkfs.xfs", "mkfs.ext4", "e2fsck"):
        if not shutil.which(tool):
            raise Failure("power-loss needs %s (bash tools/deps.sh installs it)" % tool)
    if os.geteuid() != 0:
        raise Failure("power-loss needs root (loop devices)")
    problems = []
    totals = dict(snaps=0, acked=0, found=0, after=0, torn=0, records=0, packs=0, refs=0)
    stack = BlockStack()
    rng = random.Random()
    try:
        outer = os.path.join(e.work, "outer")
        img = os.path.join(e.work, "outer.img")
        with open(img, "wb") as f:
            f.truncate(1 << 30)
        dev = stack.loop(img)
        run(["mkfs.xfs", "-q", "-m", "reflink=1", dev])
        stack.mount(dev, outer)
        for variant, mkfs in (("journal", []), ("no journal", ["-O", "^has_journal"])):
            inner, disk = os.path.join(e.work, "inner"), os.path.join(outer, "disk.img")
            with open(disk, "wb") as f:
                f.truncate(384 << 20)
            idev = stack.loop(disk, direct=True)
            run(["mkfs.ext4", "-q", "-F", *mkfs, idev])
            stack.mount(idev, inner)
            e.repo = os.path.join(inner, "repo.git")
            run([CTL, "init", e.repo], env=e.env)
            e.mount(fsync="on")
            main = os.path.join(e.mnt, "main")
            os.mkdir(os.path.join(main, "c"))
            storm = max(1.5, STORM)
            until = time.time() + storm
            tag = "j" if variant == "journal" else "n"
            cfgs = [dict(main=main, docs=["c/%s%d_%d.json" % (tag, p, k) for k in range(5)], tag="%s%02d" % (tag, p),
                         until=until, out=os.path.join(e.work, "power-%s-%d.jsonl" % (tag, p)))
                    for p in range(4)]
            procs = [spawn_worker(c) for c in cfgs]
            snaps = []
            for k, at in enumerate(sorted(rng.uniform(0.3, storm - 0.2) for _ in range(2))):
                time.sleep(max(0.0, at - (storm - (until - time.time()))))
                snap = os.path.join(outer, "snap-%s-%d.img" % (tag, k))
                t0 = time.monotonic_ns()
                run(["cp", "--reflink=always", disk, snap])
                snaps.append((snap, t0))
            problems += wait_writers(procs, "a writer hung")
            problems += e.unmount()
            stack.pop()  # umount inner
            stack.pop()  # its loop device
            os.unlink(disk)
            recs = [r for c in cfgs for r in load_records(c["out"])]
            for r in [r for r in recs if not r["ok"]][:3]:
                problems.append("%s: a save of %s failed: %s" % (variant, r["p"], ename(r["err"])))
            for snap, t0 in snaps:
                totals["snaps"] += 1
                before = [r for r in recs if r["ok"] and r["t1"] < t0]
                sdev = stack.loop(snap)
                if mkfs:  # no journal: what a boot's fsck does first
                    r = run(["e2fsck", "-fy", sdev], check=False, text=True)
                    with open(snap + ".fsck.txt", "w") as f:
                        f.write(r.stdout + r.stderr)
                    if r.returncode not in (0, 1):
                        problems.append("%s: e2fsck of the image exited %d" % (variant, r.returncode))
                stack.mount(sdev, inner)
                # the recovered repository mounts (its torn loose objects go first) and takes a save
                e.mount(fsync="on")
                try:
                    head = e.head()
                    save(os.path.join(e.mnt, "main", "c", "after.json"), body("aft", totals["snaps"]))
                    if e.head() == head:
                        problems.append("%s: the save after the power cut made no commit" % variant)
                    else:
                        totals["after"] += 1
                except OSError as ex:
                    problems.append("%s: the save after the power cut failed: %s" % (variant, ename(ex.errno)))
                problems += e.unmount()
                removed = [ln for ln in e.log_text().splitlines() if "loose object removed" in ln]
                totals["torn"] += len(removed)
                # what the mount took back from the journals of the daemon the cut stopped
                for m in re.finditer(r"journal of a process that crashed: (\d+) saves, (\d+) packs written again, "
                                     r"(\d+) refs moved", e.log_text()):
                    totals["records"] += int(m.group(1))
                    totals["packs"] += int(m.group(2))
                    totals["refs"] += int(m.group(3))
                rc, out = e.fsck()
                if rc:
                    problems.append("%s: git fsck --strict after the power cut and a mount: %s (torn objects "
                                    "removed at the mount: %s)" % (variant, out[:300], removed[:3]))
                try:
                    acked, found, pr = check_acked(e, before, history(e))
                except Failure as ex:
                    acked, found, pr = len(before), 0, ["history unreadable: %s" % ex]
                totals["acked"] += acked
                totals["found"] += found
                problems += ["%s: %s" % (variant, x) for x in pr]
                stack.pop()  # umount the image
                stack.pop()  # its loop device
                os.unlink(snap)
            if problems:
                break
    finally:
        with contextlib.suppress(Exception):
            e.unmount()
        stack.close()
    problems += ["daemon log: " + ln for ln in e.sanitizer_lines()[:5]]
    summary = ("instant images %d (ext4 with and without a journal), saves acknowledged before them %d, found %d, "
               "lost %d, torn loose objects removed at the mount %d, journal records replayed %d (packs written "
               "again %d, refs moved %d), saves after recovery %d" % (
                   totals["snaps"], totals["acked"], totals["found"], totals["acked"] - totals["found"],
                   totals["torn"], totals["records"], totals["packs"], totals["refs"], totals["after"]))
    return summary, problems


def scenario_stale_lock(e):
    """The state a kill -9 leaves when it lands between libgit2 creating refs/heads/main.lock and renaming it
    onto refs/heads/main (a window that includes the ref's fsync with fsync=on): the next mount must still
    save."""
    head = e.head()
    made = []
    for rel, data in (("refs/heads/main.lock", head + "\n"),):
        with open(os.path.join(e.repo, rel), "w") as f:
            f.write(data)
        made.append(rel)
    old = time.time() - 3600  # a lock an hour old: no live git holds it
    for rel in made:
        os.utime(os.path.join(e.repo, rel), (old, old))
    e.mount()
    problems = []
    t0 = time.monotonic()
    result = "ok"
    try:
        save(os.path.join(e.mnt, "main", "a.json"), b"[1]")
        if e.head() == head:
            problems.append("the save made no commit")
    except OSError as ex:
        result = ename(ex.errno)
        problems.append("a save with a stale refs/heads/main.lock failed with %s after %.1f s" % (
            result, time.monotonic() - t0))
    took = time.monotonic() - t0
    problems += e.unmount()
    left = e.locks()
    return "stale locks %d, save %s after %.1f s, locks left %d" % (len(made), result, took, len(left)), problems


def scenario_fsync(e):
    """Under strace, for each chronofs.fsyncMethod: each save's objects and ref lock are made durable
    (their own fsyncs, or one syncfs of the file system after they were written) before the ref's
    rename, inside the close; with the journal (the default), the fdatasync of the journal file that
    holds the save's record (its pack and the ref's move) before the ref's rename, inside the
    close (the process's first save, which makes no journal, by syncfs)."""
    strace = shutil.which("strace")
    if not strace:
        return "strace not available: skipped", []
    untraced_lsan = {"ASAN_OPTIONS": "detect_leaks=0"}  # LeakSanitizer cannot run under ptrace
    calls = "trace=fsync,fdatasync,syncfs,rename,renameat,renameat2,link,linkat"
    main = os.path.join(e.mnt, "main")
    problems, summary = [], []

    def traced_saves(tag, fsync, n):
        trace = os.path.join(e.work, "strace-%s.out" % tag)
        e.mount(fsync=fsync, env=untraced_lsan, prefix=(strace, "-f", "-ttt", "-y", "-qq", "-o", trace,
                                                        "-e", calls))
        windows = []
        for i in range(n):
            fd = os.open(os.path.join(main, "%s%d.json" % (tag, i)), os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                         0o644)
            os.write(fd, body(tag, i))
            t0 = time.time()
            os.close(fd)
            windows.append((t0, time.time()))
        problems.extend(e.unmount())
        return events(trace), windows

    def events(path):
        """(time done, call, arguments, result); a call strace split in two (another
        thread ran meanwhile: the save's fsyncs run together) counts when it returned."""
        ev, started = [], {}
        with open(path) as f:
            for line in f:
                m = re.match(r"(\d+)\s+(\d+\.\d+)\s+(\w+)\((.*)\)\s+=\s+(-?\d+)", line)
                if m:
                    ev.append((float(m.group(2)), m.group(3), m.group(4), int(m.group(5))))
                    continue
                m = re.match(r"(\d+)\s+\d+\.\d+\s+(\w+)\((.*) <unfinished \.\.\.>", line)
                if m:
                    started[m.group(1)] = (m.group(2), m.group(3))
                    continue
                m = re.match(r"(\d+)\s+(\d+\.\d+)\s+<\.\.\. (\w+) resumed>(.*)\)\s+=\s+(-?\d+)", line)
                if m and m.group(1) in started:
                    call, args = started.pop(m.group(1))
                    ev.append((float(m.group(2)), call, args + m.group(4), int(m.group(5))))
        ev.sort()
        return ev

    def link_names(x):
        """(source, target) of a traced link, or None for any other call."""
        names = re.findall(r'"([^"]*)"', x[2]) if x[1] in ("link", "linkat") else []
        return names if len(names) == 2 else None

    def named(inside, what):
        """The fsyncs of WHAT: by its own name, or of a file (a pool file,
        opened ahead under its pool name) linked to that name in the window."""
        aliases = {n[0] for n in map(link_names, inside) if n and what in n[1]}
        return [x for x in inside if x[1] in ("fsync", "fdatasync") and
                (what in x[2] or any("<%s>" % a in x[2] for a in aliases))]

    def linked(inside, what):
        """The successful links of a file to WHAT."""
        return [x for x in inside if x[3] == 0 and what in (link_names(x) or ("", ""))[1]]

    for method in ("files", "syncfs", "journal"):
        e.git("config", "chronofs.fsyncMethod", method)
        ev, windows = traced_saves("fs" + method[0], "on", 5)
        # On ext4 without a journal (this project's machine) fsync does not write what an allocation
        # changed in the block group descriptors: the daemon says so and uses syncfs (syncset.c).
        effective = method
        if method == "files" and "is not durable there; using syncfs" in e.log_text():
            effective = "syncfs"
        good = 0
        for i, (t0, t1) in enumerate(windows):
            inside = [x for x in ev if t0 - 0.001 <= x[0] <= t1 + 0.001]
            ref_rename = [x for x in inside if x[1].startswith("rename") and "refs/heads/main.lock" in x[2]]
            if not ref_rename:
                problems.append("%s: save %d: no rename of refs/heads/main.lock inside its close" % (method, i))
                continue
            rt = ref_rename[-1][0]
            # a process's first save makes no journal: it goes the other way (syncfs)
            if method == "journal" and i > 0:
                record = [x for x in inside if x[1] == "fdatasync" and x[3] == 0 and x[0] <= rt and
                          re.search(r"/chronofs/pool/[^/>]+/journal>", x[2])]
                if not record:
                    problems.append("journal: save %d: no fdatasync of the journal before the ref moved" % i)
                    continue
                good += 1
                continue
            if effective == "files":
                obj_fsync = named(inside, "/objects/")
                ref_fsync = named(inside, "refs/heads/main.lock")
                if not obj_fsync or obj_fsync[0][0] > rt:
                    problems.append("files: save %d: no fsync of an object before the ref moved" % i)
                    continue
                if not ref_fsync or ref_fsync[-1][0] > rt:
                    problems.append("files: save %d: no fsync of refs/heads/main.lock before its rename" % i)
                    continue
            else:
                # the links before this save's rename (the window's margin may
                # hold the next save's first links)
                before = [x for x in inside if x[0] <= rt]
                objs, lock = linked(before, "/objects/"), linked(before, "refs/heads/main.lock")
                syncs = [x for x in inside if x[1] == "syncfs" and x[3] == 0]
                if not objs or not lock:
                    problems.append("syncfs: save %d: no object or lock linked in its close" % i)
                    continue
                after = max(objs[-1][0], lock[-1][0])
                if not any(after <= x[0] <= rt for x in syncs):
                    problems.append("syncfs: save %d: no syncfs between its objects and lock and the "
                                    "ref's rename" % i)
                    continue
            # the rename itself made durable: its directory synced before the close returned
            if not any(rt <= x[0] <= t1 for x in named(inside, "/refs/heads>")):
                problems.append("%s: save %d: no fsync of refs/heads/ after the ref's rename, inside "
                                "its close" % (method, i))
                continue
            good += 1
        n_fsync = sum(1 for x in ev if x[1] in ("fsync", "fdatasync"))
        n_syncfs = sum(1 for x in ev if x[1] == "syncfs")
        summary.append("fsyncMethod=%s%s: saves %d, durable before close returned %d (%d fsyncs, %d syncfs "
                       "traced)" % (method, "" if effective == method else " (no journal: syncfs)", len(windows),
                                    good, n_fsync, n_syncfs))
    e.git("config", "--unset", "chronofs.fsyncMethod")
    # the fsync=off contrast: the same saves make no fsync
    ev_off, off_windows = traced_saves("fo", "off", 3)
    off_fsyncs = sum(1 for x in ev_off for (t0, t1) in off_windows
                     if t0 - 0.001 <= x[0] <= t1 + 0.001 and x[1] in ("fsync", "fdatasync", "syncfs"))
    summary.append("fsync=off saves %d, syncs in their closes %d" % (len(off_windows), off_fsyncs))
    if off_fsyncs:
        problems.append("fsync=off: %d syncs inside closes" % off_fsyncs)
    return "; ".join(summary), problems


def scenario_bad_input(e):
    """Each bad input fails with the right errno, and nothing committed is lost."""
    e.mount()
    mnt = e.mnt
    main = os.path.join(mnt, "main")
    GOOD = b'{"keep": "me", "n": 1}\n'
    os.mkdir(os.path.join(main, "b"))
    keep = os.path.join(main, "b", "keep.json")
    save(keep, GOOD)
    save(os.path.join(main, "b", "other.json"), b"[1, 2, 3]")
    os.mkdir(os.path.join(mnt, "feat"))
    os.mkdir(os.path.join(main, "coll"))
    save(os.path.join(main, "coll", "in.json"), b"{}")
    os.mkdir(os.path.join(main, "empty"))
    snap = "main@" + e.head()[:7]
    tried = [0]
    good = [0]
    problems = []

    def commits():
        return int(e.git("rev-list", "--count", "refs/heads/main").strip())

    def expect(name, fn, codes, commit_delta=0, check_keep=True):
        """Run FN; it must raise OSError with an errno in CODES (0 in CODES: success allowed)."""
        codes = codes if isinstance(codes, (tuple, list, set)) else (codes,)
        tried[0] += 1
        before = commits()
        got = 0
        try:
            fn()
        except OSError as ex:
            got = ex.errno
        except Failure as ex:
            problems.append("%s: %s" % (name, ex))
            return
        ok = got in codes
        if not ok:
            problems.append("%s: got %s, expected %s" % (name, ename(got) if got else "success",
                                                          "/".join(ename(c) if c else "success" for c in codes)))
        if got and commit_delta == 0 and commits() != before:
            problems.append("%s: failed with %s but made a commit" % (name, ename(got)))
            ok = False
        if check_keep:
            try:
                if read(keep) != GOOD or e.git("show", "refs/heads/main:b/keep.json", raw=True) != GOOD:
                    problems.append("%s: b/keep.json lost its committed content" % name)
                    ok = False
            except OSError as ex:
                problems.append("%s: b/keep.json unreadable: %s" % (name, ename(ex.errno)))
                ok = False
        if not e.alive():
            problems.append("%s: the daemon died: %s" % (name, e.log_tail()))
            raise Failure("daemon died")
        good[0] += ok
        log("%-50s %s" % (name, "ok" if ok else "UNEXPECTED %s" % ename(got)))

    def write_keep(data):
        return lambda: save(keep, data)

    # --- invalid JSON: EINVAL at close, keep.json keeps its content
    invalid = {
        "truncated": b'{"a": [1, 2',
        "trailing garbage": b'{"a": 1} x',
        "trailing second value": b"1 2",
        "invalid UTF-8 byte": b'"\xff"',
        "overlong UTF-8": b'"\xc0\xaf"',
        "UTF-8 surrogate": b'"\xed\xa0\x80"',
        "truncated UTF-8": b'"\xe2\x82"',
        "byte-order mark": b'\xef\xbb\xbf{}',
        "raw control character": b'"a\x01b"',
        "single quotes": b"{'a': 1}",
        "trailing comma": b"[1, 2,]",
        "leading zero": b"01",
        "NaN": b"NaN",
        "whitespace only": b"   \n",
        "bare NUL": b"\0",
        "unclosed 100000 levels": b"[" * 100000,
        "100000 levels, one bracket short": b"[" * 100000 + b"]" * 99999,
    }
    for name, data in invalid.items():
        expect("invalid JSON: " + name, write_keep(data), errno.EINVAL)

    def fsync_invalid():
        fd = os.open(keep, os.O_WRONLY | os.O_TRUNC)
        try:
            os.write(fd, b'{"a": ')
            os.fsync(fd)
        finally:
            with contextlib.suppress(OSError):
                os.close(fd)
    expect("invalid JSON: fsync", fsync_invalid, errno.EINVAL)

    def rename_invalid():
        tmp = os.path.join(main, "b", ".keep.json.tmp")
        save(tmp, b"{not json}")
        try:
            os.rename(tmp, keep)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    expect("invalid JSON: rename of a temporary into place", rename_invalid, errno.EINVAL)

    # --- valid edge cases, accepted
    deep = b"[" * 100000 + b"]" * 100000

    def deep_ok():
        save(os.path.join(main, "b", "deep.json"), deep)
        if e.git("show", "refs/heads/main:b/deep.json", raw=True) != deep or read(os.path.join(main, "b", "deep.json")) != deep:
            raise Failure("100000 levels of nesting not stored exactly")
    expect("valid: 100000 levels of nesting", deep_ok, 0, commit_delta=1)
    bignum = b"1" * 10_000_000

    def bignum_ok():
        save(os.path.join(main, "b", "bignum.json"), bignum)
        if e.git("cat-file", "-s", "refs/heads/main:b/bignum.json").strip() != str(len(bignum)):
            raise Failure("10 MB number not stored")
    expect("valid: a 10 MB number (max_doc_size 16 MiB)", bignum_ok, 0, commit_delta=1)
    expect("valid: lone surrogate escape", lambda: save(os.path.join(main, "b", "sur.json"), b'"\\ud800"'), 0, commit_delta=1)
    expect("valid: \\u0000 in a string", lambda: save(os.path.join(main, "b", "nul.json"), b'"a\\u0000b"'), 0, commit_delta=1)
    expect("valid: 1e400 and a 400-digit integer", lambda: save(os.path.join(main, "b", "big.json"),
                                                               b"[1e400, " + b"9" * 400 + b"]"), 0, commit_delta=1)

    # --- sizes and offsets
    expect("oversized document (16 MiB + 3)", lambda: save(os.path.join(main, "b", "huge.json"),
                                                           b'"' + b"x" * (16 * 1024 * 1024) + b'"'), errno.EFBIG)

    def pwrite_at(off):
        def f():
            fd = os.open(keep, os.O_WRONLY)
            try:
                os.pwrite(fd, b"1", off)
            finally:
                with contextlib.suppress(OSError):
                    os.close(fd)
        return f
    expect("pwrite at 2^40", pwrite_at(1 << 40), errno.EFBIG)
    expect("pwrite at 2^62", pwrite_at(1 << 62), errno.EFBIG)
    expect("pwrite at max_doc_size", pwrite_at(16 * 1024 * 1024), errno.EFBIG)

    def ftruncate_big():
        fd = os.open(keep, os.O_WRONLY)
        try:
            os.ftruncate(fd, 1 << 40)
        finally:
            with contextlib.suppress(OSError):
                os.close(fd)
    expect("ftruncate to 2^40", ftruncate_big, errno.EFBIG)

    # --- branch names: mkdir at the root
    bad_branches = ["a..b", "@{", "x@{y", "a\x01b", "a\x7fb", "tab\tname", "x.lock", "a b", "a~1", "a^", "a:b",
                    "a?", "a*", "a[", "a\\b", ".hidden", "ends.", "@", "@x", "x@y"]
    for n in bad_branches:
        expect("mkdir branch %r" % n, (lambda n=n: os.mkdir(os.path.join(mnt, n))), errno.EINVAL, check_keep=False)
    expect("mkdir branch '..'", lambda: os.mkdir(os.path.join(mnt, "..")), (errno.EEXIST, errno.EINVAL),
           check_keep=False)  # the kernel resolves '..' itself
    expect("rename branch feat -> 'a..b'", lambda: os.rename(os.path.join(mnt, "feat"), os.path.join(mnt, "a..b")),
           errno.EINVAL, check_keep=False)
    # --- reserved names inside a branch
    for n in ("@x.json", "@by", "@history", "@x"):
        # coll/@by resolves (to the ordered views), so creating a file there meets a directory
        expect("create reserved %r" % n, (lambda n=n: save(os.path.join(main, "coll", n), b"1")),
               (errno.EINVAL, errno.EISDIR) if n == "@by" else errno.EINVAL)
        expect("mkdir reserved %r" % n, (lambda n=n: os.mkdir(os.path.join(main, "coll", n))),
               (errno.EINVAL, errno.EEXIST) if n in ("@by",) else errno.EINVAL)
    expect("rename onto reserved '@y.json'",
           lambda: os.rename(os.path.join(main, "b", "other.json"), os.path.join(main, "b", "@y.json")), errno.EINVAL)
    # --- long names
    n255 = "n" * 250 + ".json"
    expect("255-byte document name", lambda: save(os.path.join(main, "b", n255), b"[]"), (0, errno.ENAMETOOLONG),
           commit_delta=1)
    expect("256-byte document name", lambda: save(os.path.join(main, "b", "n" * 251 + ".json"), b"[]"),
           errno.ENAMETOOLONG)
    expect("255-byte collection name", lambda: os.mkdir(os.path.join(main, "c" * 255)), (0, errno.ENAMETOOLONG))
    expect("256-byte collection name", lambda: os.mkdir(os.path.join(main, "c" * 256)), errno.ENAMETOOLONG)
    expect("255-byte branch name", lambda: os.mkdir(os.path.join(mnt, "B" * 255)),
           (0, errno.ENAMETOOLONG, errno.EINVAL), check_keep=False)
    expect("256-byte branch name", lambda: os.mkdir(os.path.join(mnt, "B" * 256)), errno.ENAMETOOLONG,
           check_keep=False)
    # --- snapshots and history are read-only
    sroot = os.path.join(mnt, snap)
    expect("create in a snapshot", lambda: save(os.path.join(sroot, "x.json"), b"1"), errno.EROFS)
    expect("overwrite in a snapshot", lambda: save(os.path.join(sroot, "b", "keep.json"), b"1", flags=os.O_WRONLY),
           errno.EROFS)
    expect("truncate in a snapshot", lambda: os.truncate(os.path.join(sroot, "b", "keep.json"), 0), errno.EROFS)
    expect("mkdir in a snapshot", lambda: os.mkdir(os.path.join(sroot, "newdir")), errno.EROFS)
    expect("unlink in a snapshot", lambda: os.unlink(os.path.join(sroot, "b", "keep.json")), errno.EROFS)
    expect("rename in a snapshot", lambda: os.rename(os.path.join(sroot, "b", "keep.json"),
                                                     os.path.join(sroot, "b", "k2.json")), errno.EROFS)
    expect("rename out of a snapshot", lambda: os.rename(os.path.join(sroot, "b", "keep.json"),
                                                         os.path.join(main, "b", "k3.json")), (errno.EROFS, errno.EXDEV))
    expect("write in @history", lambda: save(os.path.join(mnt, "main@history", "b", "keep.json", "x.json"), b"1"),
           errno.EROFS)
    expect("create in a time snapshot", lambda: save(os.path.join(mnt, "main@2999-01-01", "t.json"), b"1"), errno.EROFS)
    # --- renames
    expect("rename across branches", lambda: os.rename(os.path.join(main, "b", "other.json"),
                                                       os.path.join(mnt, "feat", "other.json")), errno.EXDEV)
    expect("rename a document onto a collection", lambda: os.rename(os.path.join(main, "b", "other.json"),
                                                                    os.path.join(main, "coll")), errno.EISDIR)
    expect("rename a document onto an empty collection", lambda: os.rename(os.path.join(main, "b", "other.json"),
                                                                           os.path.join(main, "empty")), errno.EISDIR)
    expect("rename a collection onto a document", lambda: os.rename(os.path.join(main, "empty"),
                                                                    os.path.join(main, "b", "other.json")),
           (errno.ENOTDIR, errno.EXDEV))
    expect("rename a branch into a branch", lambda: os.rename(os.path.join(mnt, "feat"), os.path.join(main, "feat")),
           (errno.EXDEV, errno.EPERM, errno.EINVAL), check_keep=False)
    # --- branch roots
    expect("unlink a branch root", lambda: os.unlink(main), (errno.EISDIR, errno.EPERM))
    expect("rmdir of the HEAD branch", lambda: os.rmdir(main), (errno.EBUSY, errno.ENOTEMPTY))
    expect("create a file at the root", lambda: save(os.path.join(mnt, "x.json"), b"1"),
           (errno.EPERM, errno.EINVAL, errno.EACCES), check_keep=False)
    expect("rmdir of a non-empty collection", lambda: os.rmdir(os.path.join(main, "coll")), errno.ENOTEMPTY)
    # a max_doc_size mount
    problems += e.unmount()
    e.mount(options=("max_doc_size=1000000",))
    expect("10 MB number with max_doc_size=1000000", lambda: save(os.path.join(main, "b", "bignum2.json"), bignum),
           errno.EFBIG)
    expect("1,000,001-byte document with max_doc_size=1000000",
           lambda: save(os.path.join(main, "b", "mil.json"), b'"' + b"x" * 999999 + b'"'), errno.EFBIG)
    expect("1,000,000-byte document with max_doc_size=1000000",
           lambda: save(os.path.join(main, "b", "mil.json"), b'"' + b"x" * 999998 + b'"'), 0, commit_delta=1)
    expect("pwrite past max_doc_size=1000000", pwrite_at(1000000), errno.EFBIG)
    # everything committed is still there
    for rel in ("b/keep.json", "b/other.json", "coll/in.json", "b/deep.json"):
        with contextlib.suppress(Failure):
            e.git("cat-file", "-e", "refs/heads/main:" + rel)
            continue
        problems.append("%s lost" % rel)
    problems += e.unmount()
    rc, out = e.fsck()
    if rc:
        problems.append("git fsck --strict: %s" % out[:500])
    problems += ["daemon log: " + ln for ln in e.sanitizer_lines()[:5]]
    return "inputs tried %d, errors as expected %d" % (tried[0], good[0]), problems


def raw_tree(entries, keep_order=False):
    """Raw tree bytes from [(mode, name bytes, hex id)], in git's order (a tree's name sorts as NAME/)."""
    if not keep_order:
        entries = sorted(entries, key=lambda x: x[1] + (b"/" if x[0] == "40000" else b""))
    return b"".join(b"%s %s\0%s" % (m.encode(), n, bytes.fromhex(h)) for m, n, h in entries)


def scenario_hostile(e):
    """Mount a repository whose trees hold names and entries no daemon save could make."""
    g = e.git
    good = b'{"ok": 1}'
    gb = g("hash-object", "-w", "--stdin", input=good).strip()
    nj = g("hash-object", "-w", "--stdin", input=b"this is not JSON").strip()
    ln = g("hash-object", "-w", "--stdin", input=b"good.json").strip()
    sub_good = g("hash-object", "-w", "--stdin", input=b'{"sub": true}').strip()
    missing = "1234567890abcdef1234567890abcdef12345678"
    gitlink = "deadbeefdeadbeefdeadbeefdeadbeefdeadbeef"
    long300 = b"L" * 295 + b".json"
    inner = g("hash-object", "-t", "tree", "--literally", "-w", "--stdin",
              input=raw_tree([("100644", b"..", gb), ("100644", b"fine.json", sub_good)])).strip()
    entries = [
        ("100644", b".", gb),
        ("100644", b"..", gb),
        ("40000", b"...", inner),           # a tree holding '..'
        ("100644", b".git", nj),
        ("100644", long300, gb),
        ("100644", b"a/b.json", gb),        # a slash inside a name
        ("100644", b"bad\nname.json", gb),
        ("100644", b"dup.json", gb),
        ("100644", b"dup.json", nj),        # the same name twice
        ("100755", b"exec.json", gb),
        ("100644", b"good.json", gb),
        ("120000", b"link.json", ln),       # a symlink
        ("100644", b"missing.json", missing),  # an object that does not exist
        ("100644", b"notjson.json", nj),
        ("100644", b"isatree.json", inner),  # a blob entry pointing at a tree
        ("160000", b"sub", gitlink),        # a submodule
        ("100644", b"x@y.json", gb),
        ("100644", b"@by", gb),
        ("40000", b"dir", inner),
    ]
    tree = g("hash-object", "-t", "tree", "--literally", "-w", "--stdin", input=raw_tree(entries)).strip()
    parent = e.head()
    commit = g("commit-tree", tree, "-p", parent, "-m", "hostile tree", env=dict(e.env, **OUTSIDE)).strip()
    g("update-ref", "refs/heads/hostile", commit)
    # a second branch: an ordinary collection next to a hostile one, committed while mounted
    coll_tree = g("hash-object", "-t", "tree", "--literally", "-w", "--stdin",
                  input=raw_tree([("100644", b"a.json", gb), ("100644", b"b.json", sub_good),
                                  ("100644", b"c.json", nj)])).strip()
    ok_tree = g("hash-object", "-t", "tree", "--literally", "-w", "--stdin",
                input=raw_tree([("40000", b"users", coll_tree)])).strip()
    ok_commit = g("commit-tree", ok_tree, "-p", parent, "-m", "users", env=dict(e.env, **OUTSIDE)).strip()
    g("update-ref", "refs/heads/main", ok_commit)

    e.mount()
    mnt = e.mnt
    problems = []
    ops = [0]
    clean = [0]
    served = []

    def attempt(what, fn):
        ops[0] += 1
        try:
            fn()
            clean[0] += 1
            return True
        except OSError as ex:
            clean[0] += 1
            log("%s: %s" % (what, ename(ex.errno)))
            return False
        finally:
            if not e.alive():
                problems.append("daemon died at: %s\n%s" % (what, e.log_tail()))
                raise Failure("daemon died")

    # the ordered view is built on main, then the hostile tree arrives from outside while mounted
    attempt("ls main/users/@by/ok", lambda: os.listdir(os.path.join(mnt, "main", "users", "@by", "ok")))
    hostile_main = g("commit-tree", tree, "-p", ok_commit, "-m", "hostile on main", env=dict(e.env, **OUTSIDE)).strip()
    g("update-ref", "refs/heads/main", hostile_main)

    for br in ("hostile", "main"):
        root = os.path.join(mnt, br)
        names = []
        if attempt("ls " + br, lambda: names.extend(os.listdir(root))):
            log("%s lists %r" % (br, names))
        good_path = os.path.join(root, "good.json")
        try:
            if read(good_path) == good:
                served.append(br + "/good.json")
            else:
                problems.append("%s/good.json does not read back" % br)
        except OSError as ex:
            problems.append("%s/good.json: %s" % (br, ename(ex.errno)))
        for n in names + ["..json", "link.json", "sub", "missing.json", "notjson.json", "notatree", "dup.json",
                          "exec.json", "dir", "...", long300.decode()[:255], "x@y.json"]:
            p = os.path.join(root, n)
            attempt("stat %s/%s" % (br, n), lambda p=p: os.lstat(p))
            attempt("read %s/%s" % (br, n), lambda p=p: read(p))
            attempt("ls %s/%s" % (br, n), lambda p=p: os.listdir(p))
            attempt("readlink %s/%s" % (br, n), lambda p=p: os.readlink(p))
        attempt("ls %s/dir" % br, lambda: os.listdir(os.path.join(root, "dir")))
        attempt("read %s/dir/fine.json" % br, lambda: read(os.path.join(root, "dir", "fine.json")))
        attempt("find %s" % br, lambda: [x for x in os.walk(root)])
        attempt("ls %s/@by/ok" % br, lambda: os.listdir(os.path.join(root, "@by", "ok")))
        attempt("ls %s@history" % br, lambda: os.listdir(os.path.join(mnt, br + "@history")))
        attempt("ls %s@history/good.json" % br, lambda: os.listdir(os.path.join(mnt, br + "@history", "good.json")))
        attempt("ls %s@<head>" % br, lambda: os.listdir(os.path.join(mnt, br + "@" + e.head(br)[:7])))
        attempt("ls %s@<head>/@by/ok" % br, lambda: os.listdir(os.path.join(mnt, br + "@" + e.head(br)[:7], "@by", "ok")))
        attempt("ls %s@2999-01-01" % br, lambda: os.listdir(os.path.join(mnt, br + "@2999-01-01")))
    # the ordinary collection on main survived the hostile commit from outside: it is gone from the head
    attempt("ls main@history/users", lambda: os.listdir(os.path.join(mnt, "main@history", "users")))
    try:
        vers = os.listdir(os.path.join(mnt, "main@history", "users", "a.json"))
        if len(vers) != 1:
            problems.append("main@history/users/a.json lists %d versions, expected 1" % len(vers))
        else:
            served.append("main@history/users/a.json")
    except OSError as ex:
        problems.append("main@history/users/a.json: %s" % ename(ex.errno))
    try:
        view = os.listdir(os.path.join(mnt, "main@" + ok_commit[:7], "users", "@by", "ok"))
        if sorted(view) != ["000001_b.json", "000002_c.json", "000003_a.json"]:  # missing < 1, ties by id
            problems.append("main@%s/users/@by/ok lists %s" % (ok_commit[:7], sorted(view)))
        else:
            served.append("main@<c7>/users/@by/ok")
    except OSError as ex:
        problems.append("main@<c7>/users/@by/ok: %s" % ename(ex.errno))
    # a save on top of the hostile tree: must not crash; either a commit or a clean error
    saved = "no"
    try:
        save(os.path.join(mnt, "hostile", "new.json"), b'{"new": 1}')
        saved = "yes"
        if e.git("rev-parse", "refs/heads/hostile^").strip() != commit:
            problems.append("the save on the hostile branch did not build on its head")
    except OSError as ex:
        saved = ename(ex.errno)
    attempt("unlink hostile/notjson.json", lambda: os.unlink(os.path.join(mnt, "hostile", "notjson.json")))
    # trees a history walk cannot get through, arriving from outside while mounted, then present at
    # the next mount: the daemon must keep serving (and then mount and serve) the other branches
    fatal = {
        "unparsable": [("100644", b"", gb), ("100644", b"good.json", gb)],  # an empty name: libgit2 cannot parse it
        "typemix": [("100644", b"good.json", gb), ("40000", b"notatree", gb)],  # a tree entry that is a blob
        "notree": [("40000", b"gone", "abcdef12" * 5), ("100644", b"good.json", gb)],  # a missing subtree
    }
    fatal_commit = {}
    for br, ents in fatal.items():
        t = g("hash-object", "-t", "tree", "--literally", "-w", "--stdin", input=raw_tree(ents)).strip()
        fatal_commit[br] = g("commit-tree", t, "-p", parent, "-m", br, env=dict(e.env, **OUTSIDE)).strip()
        g("update-ref", "refs/heads/" + br, fatal_commit[br])
    time.sleep(1.5)  # the daemon rereads the branch list at most once a second
    for br, c in fatal_commit.items():
        attempt("ls the root", lambda: os.listdir(mnt))
        attempt("ls " + br, lambda: os.listdir(os.path.join(mnt, br)))
        attempt("read %s/good.json" % br, lambda: read(os.path.join(mnt, br, "good.json")))
        attempt("ls %s@history" % br, lambda: os.listdir(os.path.join(mnt, br + "@history")))
        attempt("ls %s@<head>" % br, lambda: os.listdir(os.path.join(mnt, br + "@" + c[:7])))
        attempt("ls %s@2999-01-01" % br, lambda: os.listdir(os.path.join(mnt, br + "@2999-01-01")))
        attempt("save %s/new.json" % br, lambda: save(os.path.join(mnt, br, "new.json"), b"1"))
    try:
        if read(os.path.join(mnt, "hostile", "good.json")) != good:
            problems.append("hostile/good.json changed")
    except OSError as ex:
        problems.append("hostile/good.json after the unparsable branches arrived: %s" % ename(ex.errno))
    if not e.alive():
        problems.append("daemon died")
    problems += e.unmount()
    remount = "ok"
    try:
        e.mount()
        try:
            if read(os.path.join(mnt, "hostile", "good.json")) == good:
                served.append("hostile/good.json after remount")
        except OSError as ex:
            problems.append("hostile/good.json after the remount: %s" % ename(ex.errno))
        for br in fatal:
            attempt("ls %s after the remount" % br, lambda: os.listdir(os.path.join(mnt, br)))
        problems += e.unmount()
    except Failure as ex:
        remount = "refused"
        problems.append("mount with branches whose history cannot be indexed (%s): %s" % (", ".join(fatal), ex))
    problems += ["daemon log: " + ln for ln in e.sanitizer_lines()[:5]]
    return ("operations %d, failed cleanly or worked %d, documents served %d, save on hostile tree: %s, "
            "mount with unindexable branches: %s" % (ops[0], clean[0], len(served), saved, remount)), problems


SCENARIOS = [
    ("concurrency", scenario_concurrency),
    ("reader-close", scenario_reader_close),
    ("rename-race", scenario_rename_race),
    ("crash-kill9", lambda e: scenario_crash(e, "off", 3)),
    ("crash-kill9-fsync", lambda e: scenario_crash(e, "on", 2)),
    ("stale-lock", scenario_stale_lock),
    ("fsync-durability", scenario_fsync),
    ("power-loss", scenario_power_loss),
    ("bad-input", scenario_bad_input),
    ("hostile-repo", scenario_hostile),
]


def main(argv):
    global VERBOSE, KEEP
    if argv[:1] == ["--worker"]:
        return worker_main(argv[1:])
    names = []
    for a in argv:
        if a == "-v":
            VERBOSE = True
        elif a == "--keep":
            KEEP = True
        else:
            names.append(a)
    for prog in (DAEMON, CTL):
        if not os.access(prog, os.X_OK):
            print("stress: %s not built (ninja -C %s)" % (prog, BUILD))
            return 2
    if not (os.path.exists("/dev/fuse") and shutil.which("fusermount3")):
        print("stress: FUSE not available")
        return 2
    os.environ.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    os.environ.setdefault("LSAN_OPTIONS", "suppressions=%s:print_suppressions=0" % os.path.join(ROOT, "tests", "lsan.supp"))
    os.environ.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    passed = failed = 0
    for name, fn in SCENARIOS:
        if names and not any(n in name for n in names):
            continue
        e = Env(name)
        t0 = time.monotonic()
        problems = []
        summary = ""
        try:
            summary, problems = fn(e)
        except Exception as ex:  # noqa: BLE001
            problems = ["%s: %s" % (type(ex).__name__, ex)]
            if VERBOSE or not isinstance(ex, Failure):
                problems.append(traceback.format_exc())
        finally:
            with contextlib.suppress(Exception):
                problems += e.unmount()
            e.close(bool(problems))
        ok = not problems
        passed += ok
        failed += not ok
        print("%s: %s: %s (%.1f s)" % (name, summary or "-", "ok" if ok else "FAILED", time.monotonic() - t0))
        sys.stdout.flush()
        for p in problems[:15]:
            sys.stderr.write("    %s\n" % str(p).replace("\n", "\n      "))
        sys.stderr.flush()
    print("stress: %d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
