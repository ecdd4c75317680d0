#!/usr/bin/env python3
"""Sync benchmark over git:// on 127.0.0.1: one round with nothing to do,
and one that fast-forwards COMMITS commits, on a DOCS-document repository.

usage: tools/bench-sync.py [BUILD] [--docs N] [--commits N] [--reps R]

The remote is made with `git fast-import` (one collection of DOCS documents
in chronofs's fanout layout, then COMMITS commits changing one document
each, written by "another machine" straight into the remote) and served
by `git daemon`, started here in a temporary directory and stopped by its
PID. Each rep clones the remote as it was before the commits
(`chronofsctl clone`), times `chronofsctl sync` with nothing to do, lands
the commits on the remote, and times the round that fast-forwards them.
Both rounds are also split: the round's `git fetch` alone with nothing to
fetch, and of the same commits into a copy of the clone (the network and
pack part), against the whole round (chronofsctl's own start, the fetch,
the compare-and-swap, the index catch-up of COMMITS commits).
Prints medians.
"""
import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MARKER = (b"chronofs: documents of this collection are in 256 buckets, "
          b"named by the low byte of the FNV-1a hash of their name\n")


def bucket(name):
    h = 2166136261
    for c in name.encode():
        h = ((h ^ c) * 16777619) & 0xFFFFFFFF
    return "%02x" % (h & 0xFF)


def stream_base(docs):
    """One commit: collection c/ with DOCS documents, fanout layout."""
    out = [b"commit refs/heads/main\ncommitter gen <gen@example.invalid> 1700000000 +0000\n"
           b"data 4\nbase\n"]
    out.append(b"M 100644 inline c/.chronofs-fanout\ndata %d\n%s\n" % (len(MARKER), MARKER))
    for k in range(docs):
        name = "d%d.json" % k
        body = b'{"id": %d, "v": 0}' % k
        out.append(b"M 100644 inline c/%s/%s\ndata %d\n%s\n"
                   % (bucket(name).encode(), name.encode(), len(body), body))
    return b"".join(out)


def stream_commits(commits, docs, start):
    out = []
    for i in range(commits):
        name = "d%d.json" % ((i * 7919) % docs)
        body = b'{"v": %d}' % (i + 1)
        msg = b"put c/" + name.encode()
        out.append(b"commit refs/heads/main\ncommitter other <o@example.invalid> %d +0000\n"
                   b"data %d\n%s\n" % (start + i, len(msg), msg))
        if i == 0:
            out.append(b"from refs/heads/main^0\n")
        out.append(b"M 100644 inline c/%s/%s\ndata %d\n%s\n"
                   % (bucket(name).encode(), name.encode(), len(body), body))
    return b"".join(out)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(*cmd, **kw):
    return subprocess.run(list(cmd), check=True, capture_output=True, **kw)


def timed(*cmd):
    t = time.monotonic()
    r = subprocess.run(list(cmd), capture_output=True, text=True)
    dt = time.monotonic() - t
    if r.returncode != 0:
        sys.exit("%s failed: %s%s" % (" ".join(cmd), r.stdout, r.stderr))
    return dt, r.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build", nargs="?", default="build")
    ap.add_argument("--docs", type=int, default=100000)
    ap.add_argument("--commits", type=int, default=1000)
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    ctl = os.path.join(ROOT, a.build, "tools", "chronofsctl")
    os.environ.setdefault("CHRONOFS_LIB", os.path.join(ROOT, a.build, "lib", "libchronofs.so"))
    work = tempfile.mkdtemp(prefix="bench-sync-")
    srv = os.path.join(work, "srv")
    os.mkdir(srv)
    base = os.path.join(work, "base.git")  # the remote before the commits
    daemon = None
    try:
        run("git", "init", "-q", "--bare", base)
        t = time.monotonic()
        subprocess.run(["git", "--git-dir=" + base, "fast-import", "--quiet"], input=stream_base(a.docs),
                       check=True)
        print("made %d documents in %.1f s" % (a.docs, time.monotonic() - t))
        port = free_port()
        daemon = subprocess.Popen(["git", "daemon", "--export-all", "--enable=receive-pack", "--reuseaddr",
                                   "--base-path=" + srv, "--port=%d" % port, "--listen=127.0.0.1", srv],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        time.sleep(0.5)
        url = "git://127.0.0.1:%d/remote.git" % port
        noop, noop_fetch, ff, fetch, index = [], [], [], [], []
        for rep in range(a.reps):
            remote = os.path.join(srv, "remote.git")
            shutil.rmtree(remote, ignore_errors=True)
            run("git", "clone", "-q", "--bare", base, remote)
            clone = os.path.join(work, "clone%d.git" % rep)
            run(ctl, "clone", url, clone)
            # The indexes caught up once, as a mount does when it starts
            # (the first catch-up reads every document of the root).
            index.append(timed(sys.executable, "-c", "import sys\nsys.path.insert(0, %r)\n"
                               "from chronofs import ChronoFS\n"
                               "with ChronoFS(sys.argv[1]) as db: db.history('main', 'c/d0.json')\n"
                               % os.path.join(ROOT, "tools", "python"), clone)[0])
            dt, out = timed(ctl, "sync", clone)
            assert out == "main: nothing\n", out
            noop.append(dt)
            # The round's fetch alone (nothing to fetch), as a round runs it.
            noop_fetch.append(timed("git", "-c", "gc.auto=0", "-c", "maintenance.auto=false",
                                    "--git-dir=" + clone, "fetch", "--quiet", "--prune", "--no-tags",
                                    "--no-write-fetch-head", "origin", "+refs/heads/*:refs/remotes/origin/*")[0])
            subprocess.run(["git", "--git-dir=" + remote, "fast-import", "--quiet"],
                           input=stream_commits(a.commits, a.docs, 1700000100), check=True)
            copy = os.path.join(work, "copy%d.git" % rep)
            run("git", "clone", "-q", "--bare", "--no-local", clone, copy)
            run("git", "--git-dir=" + copy, "remote", "set-url", "origin", url)
            fetch.append(timed("git", "--git-dir=" + copy, "fetch", "-q", "origin",
                               "+refs/heads/*:refs/remotes/origin/*")[0])
            dt, out = timed(*os.environ.get("BENCH_SYNC_WRAP", "").split(), ctl, "sync", clone)
            assert out == "main: fast-forward\n", out
            ff.append(dt)
            head = run("git", "--git-dir=" + clone, "rev-parse", "main").stdout
            assert head == run("git", "--git-dir=" + remote, "rev-parse", "main").stdout
            shutil.rmtree(clone)
            shutil.rmtree(copy)
        med = statistics.median
        print("first index catch-up of the clone (once, as at a mount): %.0f ms" % (med(index) * 1000))
        print("round with nothing to do, %d documents: %.0f ms (median of %d), of which git fetch %.0f ms"
              % (a.docs, med(noop) * 1000, a.reps, med(noop_fetch) * 1000))
        print("round fast-forwarding %d commits: %.0f ms, of which git fetch %.0f ms"
              % (a.commits, med(ff) * 1000, med(fetch) * 1000))
    finally:
        if daemon is not None:
            os.killpg(daemon.pid, signal.SIGTERM)
            daemon.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
