"""Sections of tools/bench for the goals of issue "Scale and durability":
group commit (writers), the size of the repository on disk (disk), and
instruction counts per save under callgrind (callgrind).

Each function takes the Bench of tools/bench and adds rows (Bench.row) and
information lines (Bench.info); nothing here asserts a time.
"""
import os
import random
import re
import subprocess
import sys
import time

WRITER = r"""
import os, sys, time
path, until, sync = sys.argv[1], float(sys.argv[2]), sys.argv[3] == "1"
n = 0
while time.time() < until:
    with open(path, "w") as f:
        f.write('{"writer": "%s", "n": %d}\n' % (path[-12:], n))
        if sync:
            f.flush()
            os.fsync(f.fileno())
    n += 1
print(n)
"""


def _git(gitdir, *args):
    return subprocess.run(["git", "--git-dir=" + gitdir, *args], check=True,
                          capture_output=True, text=True).stdout


def _commits(gitdir):
    return int(_git(gitdir, "rev-list", "--count", "main"))


def _busy_ticks():
    """The machine's CPU time so far, all cores, in clock ticks: what
    /proc/stat counts as neither idle nor waiting for I/O."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return sum(v) - v[3] - v[4]


def _writers(d, n, secs, sync, mount=None):
    """Saves per second of N writer processes, each saving its own
    document of directory D in a loop for SECS seconds, and the machine's
    CPU seconds per save meanwhile (the daemon, its git, the kernel and
    the writers alike); with MOUNT (a chronofs one) also the daemon's own
    and its git's (children it has waited for) per save."""
    until = time.time() + secs
    d0 = mount.cpu_split() if mount else (0, 0)
    t0 = _busy_ticks()
    ps = [subprocess.Popen([sys.executable, "-c", WRITER,
                            os.path.join(d, "w%d.json" % k), str(until),
                            "1" if sync else "0"],
                           stdout=subprocess.PIPE, text=True)
          for k in range(n)]
    saves = sum(int(p.communicate()[0]) for p in ps)
    cpu = (_busy_ticks() - t0) / os.sysconf("SC_CLK_TCK")
    d1 = mount.cpu_split() if mount else (0, 0)
    k = max(saves, 1)
    return (saves, saves / secs, cpu / k,
            ((d1[0] - d0[0]) / k, (d1[1] - d0[1]) / k))


def writers(b, med):
    """Group commit: with fsync=on, one writer's save against
    passthrough_ll's write+fsync of the same bytes, and four writers
    saving different documents of one branch against one writer. Four
    writers on a second mount with fsync=off show the ceiling: what the
    machine's cores allow with no flush at all."""
    a = b.a
    secs = 3.0 if a.quick else 8.0
    repo = b.chronofs_repo("writers.git", 0)
    repo_off = b.chronofs_repo("writers-off.git", 0)
    plain = b.path("writers-ext4")
    os.makedirs(plain)
    cm, cm2, pm = b.path("mnt-c"), b.path("mnt-c2"), b.path("mnt-p")
    per = {"c1": [], "c4": [], "p1": [], "o4": []}
    cpu = {k: [] for k in per}
    split = {k: [] for k in per}
    total, settled = 0, 0.0
    with b.chronofs(repo, cm, fsync="on") as con, \
            b.chronofs(repo_off, cm2, fsync="off") as coff, \
            b.passthrough(plain, pm):
        cdir = os.path.join(cm, "main", "w")
        odir = os.path.join(cm2, "main", "w")
        os.mkdir(cdir)
        os.mkdir(odir)
        c0 = _commits(repo)
        for rep in range(a.reps):
            jobs = [("c1", lambda: _writers(cdir, 1, secs, False, con)),
                    ("c4", lambda: _writers(cdir, 4, secs, False, con)),
                    ("o4", lambda: _writers(odir, 4, secs, False, coff)),
                    ("p1", lambda: _writers(pm, 1, secs, True))]
            if rep % 2:
                jobs.reverse()
            for k, f in jobs:
                # Each run starts with nothing dirty: the fsync=off
                # writers leave hundreds of MB for the kernel to write
                # back, which the next run's syncfs(2) would write.
                os.sync()
                # Nor with the other runs' background work: the packing
                # round (a git pack-objects of seconds) that the saves
                # of one run started took the cores from the next one
                # (four fsync=on writers ran right after four fsync=off
                # ones in 2 reps of 5, one writer never did).
                settled += con.settle(60, period=0.5)
                settled += coff.settle(60, period=0.5)
                saves, rate, each, parts = f()
                if k in ("c1", "c4"):
                    total += saves
                per[k].append(rate)
                cpu[k].append(each)
                split[k].append(parts)
        made = _commits(repo) - c0
    if made != total:
        b.info.append("WARNING: writers: %d saves made %d commits" %
                      (total, made))
    r1, r4, p1, o4 = (med(per["c1"]), med(per["c4"]), med(per["p1"]),
                      med(per["o4"]))
    b.row("save fsync=on, 1 writer, per save", 1 / r1,
          "passthrough_ll+fsync", 1 / p1, "s", "<= 2x", 2.0)
    b.row("save fsync=on, 4 writers vs 1, per save", 1 / r4,
          "1 writer", 1 / r1, "s", "<= 0.4x (2.5x rate)", 0.4)
    b.row("4 writers, fsync=on vs fsync=off, per save", 1 / r4,
          "4 writers fsync=off", 1 / o4, "s", "report", None)
    # The most four writers could do here with no flush at all, against
    # one durable writer: at 0.4x or above, 2.5x is out of the cores'
    # reach whatever the flushes cost.
    b.row("4 writers fsync=off (no flush) vs 1 writer fsync=on, per save",
          1 / o4, "1 writer", 1 / r1, "s", "report", None)
    # Why four writers cannot go faster: the cores' seconds each save
    # takes (cores / this = the most saves per second they allow).
    b.row("machine CPU per save, 4 writers vs 1 (fsync=on)", med(cpu["c4"]),
          "1 writer", med(cpu["c1"]), "s", "report", None)
    b.row("machine CPU per save, 1 writer vs passthrough_ll+fsync",
          med(cpu["c1"]), "passthrough_ll+fsync", med(cpu["p1"]), "s",
          "report", None)
    b.info.append("writers: machine CPU per save (ms, all %d cores): "
                  "fsync=on 1 writer %s; 4 writers %s; fsync=off 4 writers "
                  "%s; passthrough_ll write+fsync %s" %
                  (os.cpu_count(),
                   *(" ".join("%.2f" % (x * 1e3) for x in cpu[k])
                     for k in ("c1", "c4", "o4", "p1"))))
    b.info.append("writers: CPU per save (ms) of the daemon itself / of "
                  "its background git (packing), medians: fsync=on 1 "
                  "writer %s; 4 writers %s; fsync=off 4 writers %s" %
                  tuple("%.2f / %.2f" % (med([x[0] for x in split[k]]) * 1e3,
                                         med([x[1] for x in split[k]]) * 1e3)
                        for k in ("c1", "c4", "o4")))
    b.info.append("writers (%g s each): fsync=on 1 writer %s saves/s; "
                  "4 writers %s saves/s; fsync=off 4 writers %s saves/s "
                  "(the cores' ceiling); passthrough_ll write+fsync %s/s; "
                  "%d fsync=on saves made %d commits; %.0f s waited "
                  "for the daemons' background work between runs" %
                  (secs, " ".join("%.0f" % x for x in per["c1"]),
                   " ".join("%.0f" % x for x in per["c4"]),
                   " ".join("%.0f" % x for x in per["o4"]),
                   " ".join("%.0f" % x for x in per["p1"]), total, made,
                   settled))


def _files(d):
    n = nonempty = 0
    for dd, _, fs in os.walk(d):
        for f in fs:
            n += 1
            try:
                nonempty += os.path.getsize(os.path.join(dd, f)) > 0
            except OSError:
                pass
    return n, nonempty


def _du(path):
    """Bytes the files under PATH take on disk (blocks, as du counts)."""
    total = 0
    for d, _, fs in os.walk(path):
        for f in fs:
            try:
                total += os.lstat(os.path.join(d, f)).st_blocks * 512
            except OSError:
                pass
    return total


def disk(b, med):
    """All of <gitdir> after N saves and a clean unmount, against the same
    history after `git gc --aggressive`, and what the pool left behind."""
    a = b.a
    counts = (1000, 5000) if a.quick else (5000, 100000)
    ndocs = 1000
    for saves in counts:
        repo = b.chronofs_repo("disk-%d.git" % saves, ndocs)
        cm = b.path("mnt-c")
        seq = 0
        t = time.perf_counter()
        with b.chronofs(repo, cm):
            cdir = os.path.join(cm, "main", "c")
            from_bench = sys.modules["__main__"]
            for i in range(saves):
                seq += 1
                k = (i * 7919) % ndocs
                with open(os.path.join(cdir, "b%d.json" % k), "wb") as f:
                    f.write(from_bench.doc_body(k, seq))
            secs = time.perf_counter() - t
            t = time.perf_counter()
        unmount_s = time.perf_counter() - t
        made = _commits(repo) - 1
        whole = _du(repo)
        objects = _du(os.path.join(repo, "objects"))
        own = _du(os.path.join(repo, "chronofs"))
        pool, pool_nonempty = _files(os.path.join(repo, "chronofs", "pool"))
        ref = b.path("disk-%d-gc.git" % saves)
        subprocess.run(["git", "clone", "-q", "--bare", "--no-local", repo,
                        ref], check=True, capture_output=True)
        t = time.perf_counter()
        subprocess.run(["git", "-C", ref, "gc", "-q", "--aggressive",
                        "--prune=now"], check=True, capture_output=True)
        gc_s = time.perf_counter() - t
        gc_size = _du(ref)
        b.row("<gitdir> after %s saves" % "{:,}".format(saves), whole,
              "git gc --aggressive", gc_size, "B", "<= 2x", 2.0)
        b.info.append(
            "disk after %d saves into %d documents (%d commits, %.0f s; "
            "unmount %.1f s): <gitdir> %.1f MB = objects %.1f MB + chronofs/ "
            "%.1f MB (+ refs, config); same history after git gc --aggressive "
            "(%.0f s) %.1f MB; chronofs/pool/ after the unmount: %d files, "
            "%d not empty" % (saves, ndocs, made, secs, unmount_s,
                              whole / 1e6, objects / 1e6, own / 1e6, gc_s,
                              gc_size / 1e6, pool, pool_nonempty))
        # The goal is "a few hundred empty files": a file with content left
        # behind fails it whatever the count (limit 0).
        b.row("pool files left, %s saves" % "{:,}".format(saves), pool,
              "a few hundred", 300, "files", "<= 300, all empty",
              1.0 if pool_nonempty == 0 else 0.0)
        for d in (repo, ref):
            subprocess.run(["rm", "-rf", d])


def _callgrind_ir(path):
    """The "totals:" line of a callgrind output file (its "summary:" line
    counts only what was collected before the last zeroing)."""
    with open(path) as f:
        for line in f:
            m = re.match(r"totals:\s+(\d+)", line)
            if m:
                return int(m.group(1))
    raise SystemExit("no totals in %s" % path)


def callgrind(b, med):
    """Instructions per save (the daemon under callgrind, instrumented only
    while the saves run) at the smallest and the largest size: stable on
    a busy machine where times are not."""
    a = b.a
    saves = 50 if a.quick else 200
    warm = 250 if a.quick else 1000
    out = {}
    from_bench = sys.modules["__main__"]

    def save(cdir, k, seq):
        with open(os.path.join(cdir, "b%d.json" % k), "wb") as f:
            f.write(from_bench.doc_body(k, seq))

    for n in sorted({min(a.sizes), max(a.sizes)}):
        repo = b.size_repo("cg-%d.git" % n, n)
        cm = b.path("mnt-c")
        cg = b.path("callgrind-%d.out" % n)
        # The one-time work first, outside valgrind (under it a million's
        # would outlast the rest of the run): the first save of a flat
        # collection past the threshold reshards it, and the mount indexes
        # the N documents in the background.
        with b.chronofs(repo, cm) as m:
            save(os.path.join(cm, "main", "c"), 0, 0)
            m.settle(limit=600)
        b.nlog += 1
        m = from_bench.Mount(
            ["valgrind", "--tool=callgrind", "--instr-atstart=no",
             "--callgrind-out-file=" + cg,
             os.path.join(b.bin, "chronofs"), repo, cm, "-f", "-o",
             "fsync=off"], cm, b.path("callgrind-%d.log" % b.nlog))
        with m:
            cdir = os.path.join(cm, "main", "c")
            # The steady cost, as the sizes section's save rate: the same
            # sequence of documents, the first WARM of it not counted (at
            # a million they bring all but a few of the 256 buckets into
            # the tree memo; the first saves after a mount are a row of
            # their own).
            for i in range(warm + saves):
                if i == warm:
                    m.settle(limit=600)
                    subprocess.run(["callgrind_control", "-i", "on",
                                    str(m.proc.pid)], check=True,
                                   capture_output=True)
                save(cdir, (i * 7919) % n, 1000 + i)
            subprocess.run(["callgrind_control", "-i", "off",
                            str(m.proc.pid)], check=True,
                           capture_output=True)
        ir = sum(_callgrind_ir(os.path.join(os.path.dirname(cg), f))
                 for f in os.listdir(os.path.dirname(cg))
                 if f.startswith(os.path.basename(cg)))
        out[n] = ir / saves
        subprocess.run(["rm", "-rf", repo])
    lo, hi = min(out), max(out)
    b.info.append("callgrind, daemon instructions per save (fsync=off, %d "
                  "saves each after %d not counted): %s" % (
                      saves, warm, "; ".join(
                          "%s docs %.0f" % ("{:,}".format(n), out[n])
                          for n in sorted(out))))
    if lo != hi:
        b.row("instructions/save, %s vs %s docs" % (
              from_bench.kdocs(hi), from_bench.kdocs(lo)), out[hi],
              "at %s" % from_bench.kdocs(lo), out[lo], "Ir", "report", None)


START, STEP = 1700000000, 10      # tools/gen-history.py's defaults


def _expected(when, commits, docs, k):
    """The bytes of c/d<k>.json in main@WHEN of a gen-history.py branch
    (commit i writes document i % DOCS at START + i*STEP), None: ENOENT."""
    i = min((when - START) // STEP, commits - 1)
    if when < START or i < k:
        return None
    v = i - (i - k) % docs
    return b'{"v": %d, "doc": %d}' % (v, k)


def _read(path):
    """(bytes or None for ENOENT, seconds) of open + read + close."""
    t = time.perf_counter()
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        data = None
    return data, time.perf_counter() - t


def _iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def commits(b, med):
    """A long history against one commit of the same head: head saves and
    reads, and main@WHEN reads at random times (checked against what
    gen-history.py wrote), once the background indexing is done."""
    a = b.a
    n, docs = a.commits, 100
    ctl = os.path.join(b.bin, "chronofsctl")
    big, one = b.path("commits-%d.git" % n), b.path("commits-1.git")
    subprocess.run([ctl, "init", big], check=True, capture_output=True)
    t = time.perf_counter()
    # The mount section's cached history of this length (the same
    # gen-history.py arguments), where it is made already: shared as
    # alternates, its head copied; the saves here go to BIG alone.
    cached = os.path.join(b.out, "cache", "history-%d.git" % n)
    if (docs == 100 and START == 1700000000 and STEP == 10 and
            os.path.exists(os.path.join(cached, "chronofs-bench-ok"))):
        with open(os.path.join(big, "objects", "info", "alternates"),
                  "w") as f:
            f.write(os.path.join(cached, "objects") + "\n")
        _git(big, "update-ref", "refs/heads/main",
             _git(cached, "rev-parse", "main").strip())
        gen = None
    else:
        gen = subprocess.Popen([sys.executable,
                                os.path.join(os.path.dirname(__file__), "..",
                                             "gen-history.py"),
                                "--commits", str(n), "--docs", str(docs)],
                               stdout=subprocess.PIPE)
        # glibc returns memory after every commit fast-import builds; a pad
        # makes the import several times faster and changes nothing else.
        env = dict(os.environ, MALLOC_TOP_PAD_="67108864",
                   MALLOC_TRIM_THRESHOLD_="134217728")
        fi = subprocess.Popen(["git", "--git-dir=" + big, "fast-import",
                               "--quiet", "--done"], stdin=gen.stdout, env=env)
        gen.stdout.close()
        if fi.wait() or gen.wait():
            raise SystemExit("gen-history.py | git fast-import failed")
    gen_s = time.perf_counter() - t
    # The same head as one root commit, the objects shared (alternates).
    tree = _git(big, "rev-parse", "main^{tree}").strip()
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", one],
                   check=True)
    with open(os.path.join(one, "objects", "info", "alternates"), "w") as f:
        f.write(os.path.join(big, "objects") + "\n")
    root = subprocess.run(["git", "--git-dir=" + big, "commit-tree", tree,
                           "-m", "the head of %d commits" % n], check=True,
                          capture_output=True, text=True,
                          env=sys.modules["__main__"].GIT_ENV).stdout.strip()
    _git(one, "update-ref", "refs/heads/main", root)
    cm, cm2 = b.path("mnt-c"), b.path("mnt-c2")
    per = {"big save": [], "one save": [], "big read": [], "one read": []}
    seq = [0]

    def saves(mnt, count=200):
        t = time.perf_counter()
        for i in range(count):
            seq[0] += 1
            with open(os.path.join(mnt, "main", "c", "d%d.json" % (i % docs)),
                      "w") as f:
                f.write('{"v": -%d, "doc": %d}' % (seq[0], i % docs))
        return (time.perf_counter() - t) / count

    def reads(mnt):
        t = time.perf_counter()
        for k in range(docs):
            _read(os.path.join(mnt, "main", "c", "d%d.json" % k))
        return (time.perf_counter() - t) / docs

    with b.chronofs(big, cm) as m, b.chronofs(one, cm2):
        # Wait for the whole background indexing (measured beside it, the
        # head would share the machine with it): @history waits for all
        # of it, answering EAGAIN past its limit meanwhile. A snapshot
        # waits only for the commits it needs.
        t = time.perf_counter()
        while True:
            try:
                os.listdir(os.path.join(cm, "main@history", "c"))
                break
            except OSError as e:
                if e.errno != 11 or time.perf_counter() - t > 1800:
                    raise
        index_s = time.perf_counter() - t
        first = os.path.join(cm, "main@" + _iso(START + STEP), "c",
                             "d0.json")
        got, _ = _read(first)
        if got != _expected(START + STEP, n, docs, 0):
            b.info.append("WRONG: main@%s/c/d0.json read %r" %
                          (_iso(START + STEP), got))
        _, hwm = m.memory()
        # The index database's compactions after a long catch-up go on
        # for a while: measured beside them, head saves varied from 0.7x
        # to 1.6x between runs. The goal is the steady cost.
        settle_s = m.settle()
        saves(cm, 20), saves(cm2, 20), reads(cm), reads(cm2)   # warm
        # Short alternating blocks (4 per rep): a drift of the machine's
        # load falls on both sides alike.
        for rep in range(4 * a.reps):
            jobs = [("big save", lambda: saves(cm, 50)),
                    ("one save", lambda: saves(cm2, 50)),
                    ("big read", lambda: reads(cm)),
                    ("one read", lambda: reads(cm2))]
            if rep % 2:
                jobs.reverse()
            for k, f in jobs:
                per[k].append(f())
        rng = random.Random(1)
        lat, wrong = [], 0
        for _ in range(200 if a.quick else 1000):
            when = rng.randrange(START, START + n * STEP)
            k = rng.randrange(docs)
            got, secs = _read(os.path.join(cm, "main@" + _iso(when), "c",
                                           "d%d.json" % k))
            lat.append(secs)
            wrong += got != _expected(when, n, docs, k)
    b.row("head save, %s commits vs 1" % "{:,}".format(n),
          med(per["big save"]), "1 commit", med(per["one save"]), "s",
          "<= 1.3x", 1.3)
    b.row("head read, %s commits vs 1" % "{:,}".format(n),
          med(per["big read"]), "1 commit", med(per["one read"]), "s",
          "<= 1.3x", 1.3)
    b.row("main@WHEN read, %s commits, median" % "{:,}".format(n),
          med(lat), "goal", 0.002, "s", "< 2 ms", 1.0)
    b.info.append("%s commits (%d documents): %s in %.0f s; indexed %.0f s "
                  "after the mount (daemon VmHWM %d KiB), idle %.0f s later; "
                  "%d main@WHEN reads, %d wrong, p99 %.1f ms" %
                  ("{:,}".format(n), docs,
                   "made" if gen else "taken from the cache", gen_s,
                   index_s, hwm, settle_s, len(lat),
                   wrong, sorted(lat)[int(len(lat) * 0.99)] * 1e3))
    if wrong:
        b.info.append("WRONG: %d main@WHEN reads did not read what "
                      "gen-history.py wrote" % wrong)
    for d in (one, big):
        subprocess.run(["rm", "-rf", d])
