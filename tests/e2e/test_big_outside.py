"""A document over max_doc_size committed from outside (200 MB, by git
plumbing): read through the mount in parts, left out of ordered views and
indexes with one log line, refused for writing but by replacing it whole;
the daemon's peak RSS (VmHWM) grows by less than twice its size through
any of it.

The RSS figures are checked in a plain build only: under AddressSanitizer
every allocation has shadow memory and a quarantine, so the daemon's RSS
says little of what it holds (the rest of the test runs there too).
"""

import errno
import hashlib
import os
import re
import subprocess

from harness import OUTSIDE_IDENTITY, ChronofsTestCase, read_file

SIZE = 200 * 1000 * 1000
TAIL = 1 << 20


def make_document(path, size):
    """A JSON object of about SIZE bytes with fields s and v, written in
    parts; its sha256, exact size and last TAIL bytes."""
    h = hashlib.sha256()
    # Items repeat every ~16 KB: zlib (and so git) packs it fast.
    tmpl = b",".join(b'{"i": %d, "h": "%016x"}' % (i, (i * 0x9E3779B97F4A7C15) % (1 << 64)) for i in range(400))
    n = 0
    with open(path, "wb") as f:

        def put(b):
            f.write(b)
            h.update(b)
            return len(b)

        n += put(b'{"s": "huge", "v": 0, "blocks": [')
        k = 0
        while n < size - len(tmpl) - 64:
            n += put(b'{"b": %d, "r": [' % k + tmpl + b"]},")
            k += 1
        n += put(b'{"b": -1}]}\n')
    with open(path, "rb") as f:
        f.seek(n - TAIL)
        tail = f.read()
    return h.hexdigest(), n, tail


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                return h.hexdigest()
            h.update(b)


def tail_of(path, n=TAIL):
    with open(path, "rb") as f:
        f.seek(-n, os.SEEK_END)
        return f.read()


class BigOutsideDocumentTests(ChronofsTestCase):
    mount_on_setup = False

    # ---- outside commits with git plumbing -------------------------------

    def plumb(self, *args, stdin=None):
        env = dict(self.env, GIT_INDEX_FILE=os.path.join(self.work, "outside.index"), **OUTSIDE_IDENTITY)
        r = subprocess.run(
            ["git", "--git-dir=" + self.repo, *args], input=stdin, capture_output=True, env=env, timeout=120
        )
        self.assertEqual(r.returncode, 0, "git %s: %s" % (" ".join(args), r.stderr.decode(errors="replace")))
        return r.stdout.decode().strip()

    def plumb_commit(self, blobs, message):
        """Commit BLOBS ({path: blob id}) on main from outside the mount."""
        old = self.plumb("rev-parse", "main")
        self.plumb("read-tree", "main")
        for path, blob in blobs.items():
            self.plumb("update-index", "--add", "--cacheinfo", "100644,%s,%s" % (blob, path))
        tree = self.plumb("write-tree")
        new = self.plumb("commit-tree", tree, "-p", old, "-m", message)
        self.plumb("update-ref", "refs/heads/main", new, old)
        return new

    # ---- the daemon's memory ----------------------------------------------

    def status(self, field):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
        self.fail("no %s in /proc/PID/status" % field)

    def sanitized(self):
        with open("/proc/%d/maps" % self.proc.pid) as f:
            return "libasan" in f.read()

    def peak_growth(self, what, fn):
        """Run FN; how far the daemon's peak RSS rose above its RSS before
        (the peak is reset first where the kernel allows it)."""
        try:
            with open("/proc/%d/clear_refs" % self.proc.pid, "w") as f:
                f.write("5")  # reset VmHWM to the current RSS
        except OSError:
            pass
        before = max(self.status("VmRSS"), self.status("VmHWM"))
        fn()
        grown = self.status("VmHWM") - before
        self.growth.append((what, grown))
        if not self.sanitized():
            self.assertLess(
                grown, 2 * self.size, "%s: the daemon's peak RSS grew %d MiB for a %d MiB document" % (what, grown >> 20, self.size >> 20)
            )
        return grown

    # ---- the test -------------------------------------------------------------

    def by(self, spec, branch="main"):
        return os.path.join(self.mnt, branch, "big", "@by", spec)

    def test_outside_document_over_max_doc_size(self):
        self.growth = []
        small = {"a": (3, 1), "b": (1, 2), "c": (2, 3)}
        blobs = {
            "big/%s.json" % k: self.plumb("hash-object", "-w", "--stdin", stdin=b'{"s": "%s", "v": %d}' % (k.encode(), v))
            for k, (v, _) in small.items()
        }
        self.plumb_commit(blobs, "small documents")
        self.mount()
        pid_log = self.daemon_log
        # A persistent index of s,v (three uses), before the big one comes.
        for _ in range(3):
            self.assertEqual(os.listdir(self.by("s,v")), ["000001_a.json", "000002_b.json", "000003_c.json"])

        src = os.path.join(self.work, "huge.json")
        sha, self.size, tail = make_document(src, SIZE)
        blob = self.plumb("hash-object", "-w", src)
        os.unlink(src)
        commit = self.plumb_commit({"big/huge.json": blob}, "a huge document")
        huge = self.doc("big/huge.json")
        self.wait_until(lambda: os.path.exists(huge), timeout=5.0, msg="the outside document to show")

        # stat: its size, from the blob's header (the blob is not read).
        self.peak_growth("stat", lambda: self.assertEqual(os.stat(huge).st_size, self.size))
        self.assertLess(self.growth[-1][1], 32 << 20, "stat read the document")

        # cat: every byte, in parts.
        self.peak_growth("cat", lambda: self.assertEqual(sha256_of(huge), sha))

        # Ordered views leave it out, the other documents listed; said once.
        expect = ["000001_a.json", "000002_b.json", "000003_c.json"]
        self.peak_growth("ls @by/s/", lambda: self.assertEqual(sorted(os.listdir(self.by("s"))), expect))
        self.peak_growth("ls @by/s,v/", lambda: self.assertEqual(os.listdir(self.by("s,v")), expect))
        self.peak_growth("ls @by/-v/", lambda: self.assertEqual(os.listdir(self.by("-v")), ["000001_a.json", "000002_c.json", "000003_b.json"]))
        for _ in range(2):
            self.assertEqual(os.listdir(self.by("s")), expect)
        self.assertEqual(read_file(os.path.join(self.by("s,v"), "000002_b.json")), b'{"s": "b", "v": 1}')
        said = [l for l in pid_log().splitlines() if "big/huge.json" in l and "max_doc_size" in l]
        self.assertEqual(len(said), 1, "one log line about the left-out document:\n" + "\n".join(said))
        self.assertIn("main/big/huge.json", said[0])
        self.assertIn("WARNING", said[0])

        # An entry name below a view reads as the document, in parts too.
        entry = os.path.join(self.by("s"), "000009_huge.json")
        self.assertEqual(os.stat(entry).st_size, self.size)
        self.peak_growth("tail @by/s/ entry", lambda: self.assertEqual(tail_of(entry), tail))

        # A snapshot and a version of @history.
        snap = os.path.join(self.mnt, "main@%s" % commit[:12], "big", "huge.json")
        self.peak_growth("cat main@COMMIT/", lambda: self.assertEqual(sha256_of(snap), sha))
        hist = os.path.join(self.mnt, "main@history", "big", "huge.json")
        versions = os.listdir(hist)
        self.assertEqual(len(versions), 1)
        version = os.path.join(hist, versions[0])
        self.assertEqual(os.stat(version).st_size, self.size)
        self.peak_growth("tail @history version", lambda: self.assertEqual(tail_of(version), tail))

        # Writes that would keep its bytes are refused; replacing it whole works.
        before = self.commit_count()
        for flags in (os.O_WRONLY, os.O_RDWR | os.O_APPEND):
            with self.assertRaises(OSError) as cm:
                os.close(os.open(huge, flags))
            self.assertEqual(cm.exception.errno, errno.EFBIG)
        with self.assertRaises(OSError) as cm:
            os.truncate(huge, 10)
        self.assertEqual(cm.exception.errno, errno.EFBIG)
        self.assertEqual(self.commit_count(), before)
        self.assertEqual(os.stat(huge).st_size, self.size)

        # Packed (as the daemon's close packs what is loose, or git gc):
        # a blob kept whole in a pack is read in parts as well.
        self.unmount()
        loose = os.path.join(self.repo, "objects", blob[:2], blob[2:])
        if os.path.exists(loose):
            self.plumb("repack", "-a", "-d", "-q")
        self.assertFalse(os.path.exists(loose), "the blob is still loose")
        # The indexes hold the rows fsck computes from the tree: none for it.
        r = self.ctl("fsck", self.repo)
        self.assertIn("big/huge.json", r.stderr)  # said there too
        self.mount()
        self.peak_growth("cat, packed", lambda: self.assertEqual(sha256_of(huge), sha))
        self.peak_growth("ls @by/s/, packed", lambda: self.assertEqual(os.listdir(self.by("s")), expect))

        # Renamed to a scratch name (an editor's backup): copied in parts.
        backup = huge + "~"
        self.peak_growth("rename to a scratch name", lambda: os.rename(huge, backup))
        self.assertFalse(os.path.exists(huge))
        self.assertEqual(sha256_of(backup), sha)
        os.unlink(backup)  # commits the deletion
        self.assertNotIn("huge.json", self.git("ls-tree", "--name-only", "main", "big/"))

        self.save("big/huge.json", '{"s": "huge", "v": 4}')
        self.assertEqual(os.listdir(self.by("s")), ["000001_a.json", "000002_b.json", "000003_c.json", "000004_huge.json"])
        self.assertEqual(
            os.listdir(self.by("s,v")), ["000001_a.json", "000002_b.json", "000003_c.json", "000004_huge.json"]
        )
        print("\n  daemon peak RSS growth for a %d MiB document%s: %s" % (
            self.size >> 20,
            " (AddressSanitizer: not checked)" if self.sanitized() else "",
            ", ".join("%s %d MiB" % (w, g >> 20) for w, g in self.growth),
        ))
