"""How a save writes to Git: loose objects from the file pool, the ref moved
by compare-and-swap under git's own lock, the reflog when git would write
one (README, "How a save is written")."""

import glob
import hashlib
import os
import shutil
import subprocess
import threading
import time
import zlib

from harness import ChronofsTestCase, write_file


class ObjectTests(ChronofsTestCase):
    def setUp(self):
        super().setUp()
        os.mkdir(self.doc("c"))

    def loose_objects(self):
        objects = os.path.join(self.repo, "objects")
        return [os.path.join(objects, d, f) for d in os.listdir(objects) if len(d) == 2
                for f in os.listdir(os.path.join(objects, d))]

    def packs(self):
        d = os.path.join(self.repo, "objects", "pack")
        return {f for f in os.listdir(d) if f.startswith("pack-")}

    def pack_ids(self, idx):
        with open(os.path.join(self.repo, "objects", "pack", idx), "rb") as f:
            out = subprocess.run(["git", "show-index"], stdin=f, capture_output=True, check=True,
                                 text=True).stdout
        return {line.split()[1] for line in out.splitlines()}

    def test_saves_write_group_packs_git_reads_and_leave_no_temporaries(self):
        # A save's objects (blob, trees, commit) go into its group's pack,
        # not into loose files; git reads the packs as its own.
        loose, packs = set(self.loose_objects()), self.packs()
        for i in range(20):
            self.save("c/d%d.json" % (i % 3), '{"i": %d}' % i)
        self.assertEqual(set(self.loose_objects()) - loose, set(), "objects written loose")
        new = self.packs() - packs
        idx = sorted(f for f in new if f.endswith(".idx"))
        self.assertEqual(len(idx), 20, "one pack a save: %s" % sorted(new))
        self.assertEqual(sorted(f for f in new if f.endswith(".pack")), [i[:-4] + ".pack" for i in idx])
        self.assertEqual([f for f in new if f.endswith(".keep")], [], "packs left marked in flight")
        ids = set()
        for f in idx:
            ids |= self.pack_ids(f)
            pack = os.path.join(self.repo, "objects", "pack", f[:-4] + ".pack")
            self.assertEqual(os.stat(pack).st_mode & 0o777, 0o444, pack)
            subprocess.run(["git", "verify-pack", pack], check=True, capture_output=True)
        self.assertGreaterEqual(len(ids), 20 * 4, "blob, two trees and commit of each save")
        self.assertIn(self.git("rev-parse", "main").strip(), ids)
        self.assertEqual(self.git("cat-file", "-p", "main:c/d1.json"), '{"i": 19}')
        for d in ("objects", os.path.join("objects", "pack")):
            leftovers = [f for f in os.listdir(os.path.join(self.repo, d)) if f.startswith("tmp")]
            self.assertEqual(leftovers, [])
        # Every object reads back through git (teardown runs git fsck --strict too).
        self.git("rev-list", "--objects", "--all")

    def test_while_a_gc_holds_gc_pid_saves_go_loose_and_no_pack_comes(self):
        # git gc holds gc.pid ("PID HOST"); its last sweep takes a pack it
        # sees the .idx of and not the .pack for garbage, so no pack of
        # ours may come meanwhile. A stale gc.pid (its process gone, or
        # older than 12 hours) is no gc.
        gc_pid = os.path.join(self.repo, "gc.pid")
        sleeper = subprocess.Popen(["sleep", "60"])
        try:
            with open(gc_pid, "w") as f:
                f.write("%d %s" % (sleeper.pid, os.uname().nodename))
            loose, packs = set(self.loose_objects()), self.packs()
            for i in range(5):
                self.save("c/g%d.json" % i, '{"i": %d}' % i)
            self.assertEqual(self.packs() - packs, set(), "a pack came while a gc ran")
            self.assertGreaterEqual(len(set(self.loose_objects()) - loose), 5 * 3)
            self.assertEqual(self.git("cat-file", "-p", "main:c/g4.json"), '{"i": 4}')
        finally:
            sleeper.kill()
            sleeper.wait()
        # The same gc.pid, its process gone: stale, packs again.
        packs = self.packs()
        self.save("c/g5.json", '{"i": 5}')
        self.assertEqual(len([f for f in self.packs() - packs if f.endswith(".idx")]), 1)
        # A live process's gc.pid last touched 13 hours ago: stale too.
        with open(gc_pid, "w") as f:
            f.write("%d %s" % (os.getpid(), os.uname().nodename))
        old = time.time() - 13 * 3600
        os.utime(gc_pid, (old, old))
        packs = self.packs()
        self.save("c/g6.json", '{"i": 6}')
        self.assertEqual(len([f for f in self.packs() - packs if f.endswith(".idx")]), 1)
        os.unlink(gc_pid)

    def test_group_packs_are_merged_and_read_after_a_remount(self):
        # Every 32 packs of past groups are copied into one: the directory
        # does not fill with a pack a save. The small ones leave once the
        # merged one is durable; all objects stay readable.
        for i in range(100):
            self.save("c/d%d.json" % (i % 7), '{"i": %d}' % i)
        self.assertLessEqual(len([f for f in self.packs() if f.endswith(".idx")]), 40)
        self.remount()
        self.assertEqual(self.show("c/d1.json"), b'{"i": 99}')
        self.assertEqual(len(self.git("rev-list", "main").split()), 101)
        self.git("rev-list", "--objects", "--all")

    def test_spliced_trees_are_the_trees_git_writes(self):
        # A save splices its entry into each tree on the path; git's order
        # puts "a-1.json" < "a.json" < the tree "a" < "a0.json".
        os.mkdir(self.doc("a"))
        for rel in ["a.json", "a0.json", "a/x.json", "a-1.json", "ab.json", "a/y.json", "c/z.json"]:
            self.save(rel, '{"p": "%s"}' % rel)
        os.unlink(self.doc("a-1.json"))
        os.unlink(self.doc("c/z.json"))  # its emptied tree goes too
        os.unlink(self.doc("a/x.json"))
        index = os.path.join(self.work, "index")
        env = dict(self.env, GIT_INDEX_FILE=index, GIT_DIR=self.repo)
        subprocess.run(["git", "read-tree", "main"], env=env, check=True)
        canonical = subprocess.run(["git", "write-tree"], env=env, check=True, capture_output=True,
                                   text=True).stdout.strip()
        self.assertEqual(self.git("rev-parse", "main^{tree}").strip(), canonical)
        self.assertEqual(self.git("ls-tree", "--name-only", "main").split(),
                         ["a.json", "a", "a0.json", "ab.json"])

    def test_big_collection_tree_is_stored_readably(self):
        # Past 8 KiB a tree is stored without compression: still a valid object.
        os.mkdir(self.doc("big"))
        for i in range(300):
            write_file(self.doc("big/document-with-a-long-name-%03d.json" % i), b"{}")
        tree = self.git("rev-parse", "main:big").strip()
        self.assertEqual(len(self.git("ls-tree", tree).splitlines()), 300)
        size = int(self.git("cat-file", "-s", tree))
        self.assertGreater(size, 8192)

    def test_save_onto_a_branch_only_in_packed_refs(self):
        self.save("c/a.json", '{"a": 1}')
        self.git("pack-refs", "--all", "--prune")
        self.assertFalse(os.path.exists(os.path.join(self.repo, "refs/heads/main")))
        head = self.head()
        self.save("c/a.json", '{"a": 2}')
        self.assertEqual(self.git("rev-parse", "main^").strip(), head)

    def test_save_waits_for_a_ref_lock_held_by_another_writer(self):
        lock = os.path.join(self.repo, "refs/heads/main.lock")
        before = self.commit_count()
        with open(lock, "w"):
            pass
        done = []
        t = threading.Thread(target=lambda: done.append(write_file(self.doc("c/x.json"), b'{"x": 1}')))
        t.start()
        time.sleep(1.0)
        self.assertEqual(done, [], "the save must wait while the lock is held")
        os.unlink(lock)
        t.join(30)
        self.assertEqual(len(done), 1)
        self.assertEqual(self.commit_count(), before + 1)
        self.assertEqual(self.show("c/x.json"), b'{"x": 1}')

    def test_bare_repository_gets_no_reflog_by_default(self):
        self.save("c/a.json", '{"a": 1}')
        self.assertFalse(os.path.exists(os.path.join(self.repo, "logs", "refs", "heads", "main")))

    def test_bare_repository_with_logallrefupdates_gets_a_reflog(self):
        self.git("config", "core.logAllRefUpdates", "true")
        self.remount()
        os.makedirs(self.doc("c"), exist_ok=True)
        self.save("c/a.json", '{"a": 1}')
        self.save("c/a.json", '{"a": 2}')
        log = self.git("reflog", "show", "--format=%gs", "refs/heads/main").splitlines()
        self.assertEqual(log[:2], ["put c/a.json", "put c/a.json"])
        entries = open(os.path.join(self.repo, "logs/refs/heads/main")).read().splitlines()
        old, new = entries[-1].split()[:2]
        self.assertEqual(new, self.head())
        self.assertEqual(old, self.git("rev-parse", "main^").strip())

    def test_pool_directory_of_an_earlier_mount_is_taken_over(self):
        pool = os.path.join(self.repo, "chronofs", "pool")
        self.save("c/a.json", '{"a": 1}')
        self.assertEqual(len(os.listdir(pool)), 1)
        for _ in range(2):
            self.remount()
            os.makedirs(self.doc("c"), exist_ok=True)
            self.save("c/a.json", '{"a": %d}' % time.time_ns())
            self.wait_until(lambda: len(os.listdir(pool)) == 1, timeout=10,
                            msg="one pool directory: %s" % os.listdir(pool))

    def test_pool_and_scratch_directories_spread_over_ext4_block_groups(self):
        # ext4 looks for a new inode in its directory's block group first and,
        # without a journal, skips every inode freed there in the last minutes:
        # the directories of the pool and of each branch's scratch files get the
        # TOPDIR flag's spreading (lsattr 'T' on their parents).
        top = os.path.join(self.repo, "chronofs")
        fstype = subprocess.run(["stat", "-f", "-c", "%T", top], capture_output=True, text=True).stdout
        if "ext2/ext3" not in fstype:
            self.skipTest("not ext4 here (%s)" % fstype.strip())
        for d in ("pool", "scratch"):
            flags = subprocess.run(["lsattr", "-d", os.path.join(top, d)], capture_output=True, text=True,
                                   check=True).stdout
            self.assertIn("T", flags.split()[0], "%s: %s" % (d, flags))

    def dead_pool(self):
        """After one save, unmount and leave only the pool directory of a
        process that is gone (as a kill -9 does); returns (pool, dead)."""
        self.save("c/a.json", '{"a": 1}')
        self.unmount()
        pool = os.path.join(self.repo, "chronofs", "pool")
        shutil.rmtree(pool)
        p = subprocess.Popen(["true"])
        p.wait()
        dead = os.path.join(pool, "%d-1-0" % p.pid)
        os.makedirs(os.path.join(dead, "trash"))
        return pool, dead

    def test_taking_over_a_dead_pool_never_empties_published_files(self):
        # A process killed between linking a pool file into place and the
        # pool's own unlink of it leaves a second name of a live object or
        # ref in its pool directory; the next mount takes that directory
        # over and must only drop such names, never empty them.
        pool, dead = self.dead_pool()
        obj = sorted(self.loose_objects())[0]
        ref = os.path.join(self.repo, "refs", "heads", "main")
        size, head = os.path.getsize(obj), self.head()
        os.link(obj, os.path.join(dead, "f0"))
        os.link(ref, os.path.join(dead, "trash", "t3"))
        with open(os.path.join(dead, "f1"), "wb") as f:
            f.write(b"half-written object")
        self.mount()
        self.save("c/b.json", '{"b": 1}')
        self.wait_until(lambda: not os.path.exists(dead + "-adopt") and len(os.listdir(pool)) == 1,
                        timeout=10, msg="the dead directory taken over: %s" % os.listdir(pool))
        self.assertEqual(os.path.getsize(obj), size)
        self.assertEqual(os.stat(obj).st_nlink, 1)
        self.assertEqual(self.git("rev-parse", "main^").strip(), head)

    def torn_object(self, content, keep):
        """The loose object file of blob CONTENT cut to its first KEEP bytes,
        as a power cut leaves a file linked before its bytes were durable."""
        raw = b"blob %d\0%s" % (len(content), content.encode())
        oid = hashlib.sha1(raw).hexdigest()
        path = os.path.join(self.repo, "objects", oid[:2], oid[2:])
        data = zlib.compress(raw)[:keep]
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        os.chmod(path, 0o444)
        return oid, path

    def test_torn_loose_objects_a_crash_left_go_before_the_next_save(self):
        # libgit2 counts an object whose file exists as written: a save of
        # the same content after the crash would commit a reference to the
        # torn file. The mount after a crash removes such files first.
        self.save("c/a.json", '{"a": 1}')
        self.crash()  # the pool directory keeps its "running" marker
        self.expect_log(r"loose object removed: its bytes do not hash to its name")
        empty_id, empty = self.torn_object('{"b": 2}', 0)
        cut_id, cut = self.torn_object('{"c": 3}', 9)
        self.mount()
        self.assertFalse(os.path.exists(empty))
        self.assertFalse(os.path.exists(cut))
        log = self.daemon_log()
        for path in (empty, cut):
            self.assertIn(path + ": loose object removed", log)
        self.save("c/b.json", '{"b": 2}')
        self.save("c/c.json", '{"c": 3}')
        self.assertEqual(self.show("c/b.json"), b'{"b": 2}')
        self.assertEqual(self.git("rev-parse", "main:c/c.json").strip(), cut_id)
        self.assertEqual(self.git("cat-file", "-p", empty_id), '{"b": 2}')
        # teardown: git fsck --strict

    def test_torn_pack_left_in_flight_by_a_crash_goes_before_the_next_save(self):
        # A group's pack is linked into objects/pack with a .keep (a link to
        # chronofs/keep) until its ref moved; a power cut before its set was
        # synced may leave it torn. The mount after a crash checks such
        # packs: a torn one goes, a whole one only loses its .keep.
        self.save("c/a.json", '{"a": 1}')
        self.crash()
        self.expect_log(r"torn pack removed")
        d = os.path.join(self.repo, "objects", "pack")
        keep = os.path.join(self.repo, "chronofs", "keep")
        whole = sorted(f for f in self.packs() if f.endswith(".idx"))[-1][:-4]
        os.link(keep, os.path.join(d, whole + ".keep"))
        torn = "pack-" + "ab" * 20
        with open(os.path.join(d, whole + ".pack"), "rb") as f:
            data = f.read()
        with open(os.path.join(d, torn + ".pack"), "wb") as f:
            f.write(data[:len(data) // 2] + bytes(len(data) - len(data) // 2))
        shutil.copy(os.path.join(d, whole + ".idx"), os.path.join(d, torn + ".idx"))
        os.link(keep, os.path.join(d, torn + ".keep"))
        self.mount()
        self.save("c/b.json", '{"b": 2}')
        self.assertIn(os.path.join(d, torn) + ": torn pack removed", self.daemon_log())
        left = self.packs()
        self.assertNotIn(torn + ".pack", left)
        self.assertNotIn(torn + ".idx", left)
        self.assertIn(whole + ".pack", left)
        self.assertEqual([f for f in left if f.endswith(".keep")], [])
        self.assertEqual(self.show("c/a.json"), b'{"a": 1}')
        # teardown: git fsck --strict

    def test_a_clean_unmount_leaves_no_crash_marker(self):
        self.save("c/a.json", '{"a": 1}')
        self.unmount()
        pool = os.path.join(self.repo, "chronofs", "pool")
        self.assertEqual(glob.glob(os.path.join(pool, "*", "running")), [])
        self.mount()
        self.save("c/b.json", '{"b": 1}')
        self.assertEqual(len(glob.glob(os.path.join(pool, "*", "running"))), 1)
        self.assertNotIn("loose object removed", self.daemon_log())

    def test_ref_lock_of_a_chronofs_killed_mid_update_is_removed_at_once(self):
        # A lock made from a pool file keeps its pool name while held; a
        # process killed holding it leaves both names, and the next mount
        # knows the lock as a dead process's (git's own locks, one name,
        # are waited for: test_save_waits_for_a_ref_lock_held_by_another_writer).
        _, dead = self.dead_pool()
        lock = os.path.join(self.repo, "refs", "heads", "main.lock")
        with open(os.path.join(dead, "f7"), "w") as f:
            f.write(self.head() + "\n")
        os.link(os.path.join(dead, "f7"), lock)
        self.mount()
        # Removed by the mount itself, with no save waiting on it (a save
        # takes a lock for dead only once it is 5 s old).
        self.wait_until(lambda: not os.path.exists(lock), timeout=4.0, msg="the dead process's lock removed")
        self.save("c/a.json", '{"a": 2}')


class WorkTreeReflogTests(ChronofsTestCase):
    """A repository with a work tree: git writes reflogs there by default,
    for the branch and for HEAD, and so must a save."""

    mount_on_setup = False

    def test_save_appends_to_branch_and_head_reflogs(self):
        wt = os.path.join(self.work, "wt")
        env = dict(self.env, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@x", GIT_COMMITTER_NAME="t",
                   GIT_COMMITTER_EMAIL="t@x")
        subprocess.run(["git", "init", "-q", "-b", "main", wt], check=True, env=env)
        subprocess.run(["git", "-C", wt, "commit", "-q", "--allow-empty", "-m", "first"], check=True, env=env)
        self.repo = os.path.join(wt, ".git")
        # The checked-out branch is read-only without this (README).
        self.mount(options=("allow_checked_out",))
        os.mkdir(self.doc("c"))
        self.save("c/a.json", '{"a": 1}')
        branch = self.git("reflog", "show", "--format=%gs", "refs/heads/main").splitlines()
        head = self.git("reflog", "show", "--format=%gs", "HEAD").splitlines()
        self.assertEqual(branch[0], "put c/a.json")
        self.assertEqual(head[0], "put c/a.json")
        self.assertEqual(len(branch), 2)


class PackingTests(ChronofsTestCase):
    """Background packing (README, "How a save is written"): the objects of
    new commits go into a pack with their paths, so trees and documents
    delta against their earlier versions, and their loose files are
    unlinked, never reused (a reader may hold one: test_held_files.py)."""

    def test_unmount_leaves_a_compact_repository(self):
        # A burst of saves into a 300-document collection (each save writes
        # a ~12 KiB collection tree), then a clean unmount: nothing left
        # loose, the trees stored as deltas of each other, and only a few
        # hundred empty files in the pool.
        os.mkdir(self.doc("c"))
        for i in range(900):
            self.save("c/d%03d.json" % (i % 300), '{"n": %d, "pad": "%s"}' % (i, "x" * 40))
        self.unmount()
        self.assertEqual(self.loose(), {}, "loose objects left after the unmount")
        trees = deltas = 0
        out = self.git("cat-file", "--batch-all-objects", "--batch-check=%(objecttype) %(objectsize) %(deltabase)")
        for line in out.splitlines():
            kind, size, base = line.split()
            if kind == "tree" and int(size) > 1000:  # c/, not the root
                trees += 1
                deltas += base != "0" * 40
        self.assertGreater(trees, 800)
        self.assertGreater(deltas, 0.8 * trees, "trees not stored as deltas")
        pool = os.path.join(self.repo, "chronofs", "pool")
        files = [os.path.join(top, f) for top, _, fs in os.walk(pool) for f in fs]
        self.assertLessEqual(len(files), 300, "files left in the pool")
        self.assertEqual([f for f in files if os.path.getsize(f)], [], "non-empty files left in the pool")
        size = sum(os.path.getsize(p) for p in glob.glob(os.path.join(self.repo, "objects", "pack", "*")))
        self.assertLess(size, 1 << 20, "900 saves take %d bytes of packs" % size)
        self.mount()

    def test_first_packing_round_packs_nothing_twice(self):
        # A history git packed (a clone, a gc): no chronofs/packed-tips yet,
        # so the first packing round walks from the tips. It must leave out
        # what is packed already, not copy the new commits' whole trees
        # (every document) into a second pack.
        self.unmount()
        lines = ["commit refs/heads/main", "committer t <t@x> 1700000000 +0000", "data 4", "base",
                 "from refs/heads/main^0"]
        for i in range(600):
            body = '{"n": %d, "pad": "%s"}' % (i, "y" * 40)
            lines += ["M 100644 inline c/d%03d.json" % i, "data %d" % len(body), body]
        subprocess.run(["git", "--git-dir=" + self.repo, "fast-import", "--quiet"],
                       input="\n".join(lines) + "\n", text=True, check=True, env=self.env)
        self.git("repack", "-adq")
        tips = os.path.join(self.repo, "chronofs", "packed-tips")
        if os.path.exists(tips):
            os.unlink(tips)
        self.mount()
        for i in range(300):  # ~26 KiB of collection tree a save: packed as it goes
            self.save("c/d%03d.json" % (i * 7 % 600), '{"n": -%d}' % i)
        self.unmount()
        self.assertEqual(self.loose(), {}, "loose objects left after the unmount")
        seen, twice = set(), []
        for idx in glob.glob(os.path.join(self.repo, "objects", "pack", "*.idx")):
            with open(idx, "rb") as f:
                out = subprocess.run(["git", "show-index"], stdin=f, capture_output=True, text=True,
                                     check=True).stdout
            for line in out.splitlines():
                oid = line.split()[1]
                if oid in seen:
                    twice.append(oid)
                seen.add(oid)
        self.assertEqual(len(twice), 0, "%d objects packed twice" % len(twice))
        self.assertGreater(len(seen), 600 + 300, "the base and the saves are packed")
        self.mount()

    def loose(self):
        objects = os.path.join(self.repo, "objects")
        out = {}
        for d in os.listdir(objects):
            if len(d) == 2:
                for f in os.listdir(os.path.join(objects, d)):
                    out[d + f] = os.path.join(objects, d, f)
        return out

    def test_loose_objects_are_packed_and_their_files_unlinked(self):
        import hashlib
        import zlib
        # Past git's gc.auto threshold (6700), as many saves would leave.
        # In a tree of branch "side": packing packs what a branch reaches.
        ids, lines = [], []
        for i in range(7000):
            data = b'{"filler": %d}\n' % i
            raw = b"blob %d\0" % len(data) + data
            oid = hashlib.sha1(raw).hexdigest()
            d = os.path.join(self.repo, "objects", oid[:2])
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, oid[2:]), "wb") as f:
                f.write(zlib.compress(raw, 1))
            ids.append(oid)
            lines.append("100644 blob %s\tf%d.json" % (oid, i))
        tree = subprocess.run(["git", "--git-dir=" + self.repo, "mktree"], input="\n".join(lines) + "\n",
                              capture_output=True, text=True, check=True).stdout.strip()
        commit = subprocess.run(["git", "--git-dir=" + self.repo, "commit-tree", "-m", "fillers", tree],
                                capture_output=True, text=True, check=True,
                                env=dict(self.env, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@x",
                                         GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@x")).stdout.strip()
        self.git("update-ref", "refs/heads/side", commit)
        os.mkdir(self.doc("c"))
        for i in range(260):  # packing is looked at every 256 commits
            self.save("c/d%d.json" % (i % 10), '{"i": %d}' % i)
        self.wait_until(lambda: len(self.loose()) < 1000, timeout=90,
                        msg="loose objects packed (%d left)" % len(self.loose()))
        check = subprocess.run(["git", "--git-dir=" + self.repo, "cat-file", "--batch-check"],
                               input="\n".join(ids) + "\n", capture_output=True, text=True,
                               check=True).stdout
        self.assertNotIn("missing", check)
        self.assertEqual(len(check.splitlines()), len(ids))
        # Their files leave objects/: none left loose; in the pool's trash
        # each is emptied for reuse once its quarantine is over (no one
        # holds it), and the pool drops the names of files saves took
        # (within a second): no file there keeps an object's bytes.
        self.assertFalse(set(ids) & set(self.loose()), "packed objects left loose")
        pool = os.path.join(self.repo, "chronofs", "pool")

        def kept():
            out = []
            for top, _, files in os.walk(pool):
                for f in files:
                    try:
                        st = os.lstat(os.path.join(top, f))
                    except FileNotFoundError:
                        continue  # the pool thread renamed it meanwhile
                    if st.st_size > 41 and st.st_nlink == 1:  # not a ref
                        out.append(f)
            return out
        # The names of taken files go within the quarantine (10 s); the
        # 7,000 trashed files are emptied by a thread at the lowest CPU
        # priority, after git gc --auto's repack: on a loaded machine
        # (a CI run) 15 s left 299 of them.
        deadline = time.monotonic() + 45
        while kept() and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertEqual(kept(), [], "packed objects' files kept in the pool")
        self.assertEqual(self.git("cat-file", "-p", "main:c/d9.json"), '{"i": 259}')
