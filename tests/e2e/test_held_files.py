"""Files a reader holds keep their bytes (issue 20, item 2): a loose
object's file, once packed, is unlinked and never reused; an old ref file is
reused by the pool only if no one holds it."""

import hashlib
import mmap
import os
import subprocess
import time
import zlib

from harness import ChronofsTestCase

HOLD_S = 30.0


class HeldFileTests(ChronofsTestCase):

    def loose_count(self):
        objects = os.path.join(self.repo, "objects")
        return sum(len(os.listdir(os.path.join(objects, d)))
                   for d in os.listdir(objects) if len(d) == 2)

    def fake_loose(self, n):
        """N loose blobs, in a tree of branch "side" (packing packs what a
        branch reaches), so packing starts soon; their paths."""
        paths, lines = [], []
        for i in range(n):
            data = b'{"filler": %d}\n' % i
            raw = b"blob %d\0" % len(data) + data
            oid = hashlib.sha1(raw).hexdigest()
            d = os.path.join(self.repo, "objects", oid[:2])
            os.makedirs(d, exist_ok=True)
            paths.append(os.path.join(d, oid[2:]))
            with open(paths[-1], "wb") as f:
                f.write(zlib.compress(raw, 1))
            lines.append("100644 blob %s\tf%d.json" % (oid, i))
        tree = subprocess.run(["git", "--git-dir=" + self.repo, "mktree"], input="\n".join(lines) + "\n",
                              capture_output=True, text=True, check=True).stdout.strip()
        commit = subprocess.run(["git", "--git-dir=" + self.repo, "commit-tree", "-m", "fillers", tree],
                                capture_output=True, text=True, check=True,
                                env=dict(self.env, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@x",
                                         GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@x")).stdout.strip()
        self.git("update-ref", "refs/heads/side", commit)
        return paths

    def test_held_loose_object_and_ref_keep_their_bytes_through_packing(self):
        os.mkdir(self.doc("c"))
        self.save("c/first.json", '{"first": true}')
        ref = os.path.join(self.repo, "refs", "heads", "main")
        # Past the packing threshold (6,700); which packed files the pool
        # would reuse first depends on their order: hold many. (A save's
        # own objects go into its group's pack, not loose files.)
        fake = sorted(self.fake_loose(7000))
        obj = fake[0]
        blob = os.path.basename(os.path.dirname(obj)) + os.path.basename(obj)
        held = {}
        for name, path in [("object", obj), ("ref", ref)] + [
                ("object %s" % p[-41:], p) for p in fake[::100]]:
            fd = os.open(path, os.O_RDONLY)
            self.addCleanup(os.close, fd)
            held[name] = (fd, os.pread(fd, 1 << 16, 0))
        self.assertGreater(len(held["object"][1]), 0)
        with open(obj, "rb") as f:
            mapped = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
        self.addCleanup(mapped.close)
        want_map = bytes(mapped)

        start, i, packed_at = time.monotonic(), 0, None
        while time.monotonic() - start < HOLD_S:
            for _ in range(20):
                self.save("c/d%d.json" % (i % 50), '{"i": %d}' % i)
                i += 1
            if packed_at is None and not os.path.exists(obj):
                packed_at = time.monotonic() - start
            for name, (fd, want) in held.items():
                got = os.pread(fd, 1 << 16, 0)
                self.assertEqual(got, want, "%s held for %.1f s after %d saves changed (packed at %s s)"
                                 % (name, time.monotonic() - start, i, packed_at))
            self.assertEqual(bytes(mapped), want_map, "mapped object changed")
        # Packing ran and took the object's name away long enough before
        # the end for a reuse to have shown (the old quarantine was 10 s).
        self.assertIsNotNone(packed_at, "the held object was never packed")
        self.assertLess(packed_at, HOLD_S - 12, "packed too late to show a reuse")
        self.assertLess(self.loose_count(), 7000)
        content = zlib.decompress(held["object"][1]).split(b"\0", 1)[1]
        self.assertRegex(content, rb'^\{"filler": \d+\}\n$')
        self.assertEqual(self.git("cat-file", "-p", blob), content.decode())
