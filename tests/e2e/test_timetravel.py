"""Time travel end to end: BRANCH@WHEN in every ISO-8601 form, BRANCH@COMMIT,
BRANCH@history, outside commits and rewrites, rebuilt indexes and
`chronofsctl log --at` (test_snapshots.py holds the first basics)."""

import datetime
import errno
import os
import re
import shutil
import stat
import subprocess
import time

from harness import ChronofsTestCase, read_file, write_file

VERSION_NAME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)_([0-9a-f]{7})\.json$")
DOC = "cfg/app.json"
V = [b'{"v": 1}', b'{"v": 2, "x": [1, 2]}', b'{"v": 3}\n']
FAR_FUTURE = "2099-01-01T00:00:00Z"


def iso(t, tz=None):
    """Epoch seconds T as ISO-8601: in UTC with Z, or in the fixed zone TZ (timedelta)."""
    if tz is None:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
    d = datetime.datetime.fromtimestamp(t, datetime.timezone(tz))
    off = int(tz.total_seconds())
    sign = "-" if off < 0 else "+"
    off = abs(off)
    return d.strftime("%Y-%m-%dT%H:%M:%S") + "%s%02d:%02d" % (sign, off // 3600, off % 3600 // 60)


class TimeTravelCase(ChronofsTestCase):
    """Helpers: the branch chain from git, expected resolutions, and outcomes read through the mount."""

    def setUp(self):
        self.git_outcomes = {}
        super().setUp()

    def chain(self, branch="main"):
        """[(committer time, id)] of BRANCH's first-parent chain, oldest first."""
        out = self.git("log", "--first-parent", "--format=%ct %H", "refs/heads/" + branch)
        return [(int(t), h) for t, h in (line.split() for line in reversed(out.splitlines()))]

    def expected_at(self, when, chain=None):
        """The commit main@WHEN must give: the newest on the chain with time <= WHEN, or None."""
        best = None
        for t, h in chain or self.chain():
            if t <= when:
                best = h
        return best

    def wait_next_second(self, branch="main"):
        """Sleep until the clock is past the committer second of BRANCH's head."""
        head_time = int(self.git("log", "-1", "--format=%ct", "refs/heads/" + branch).strip())
        while time.time() < head_time + 1.02:
            time.sleep(0.02)

    def snap(self, spec, *rel, branch="main"):
        return os.path.join(self.mnt, "%s@%s" % (branch, spec), *rel)

    def hist(self, *rel, branch="main"):
        return os.path.join(self.mnt, branch + "@history", *rel)

    def outcome(self, path):
        """What reading PATH gives: ('file', bytes), ('dir', names as listed) or ('err', errno name)."""
        try:
            if os.path.isdir(path):
                return ("dir", os.listdir(path))
            return ("file", read_file(path))
        except OSError as e:
            return ("err", errno.errorcode.get(e.errno, e.errno))

    def git_outcome(self, commit, rel):
        """What reading REL in a snapshot at COMMIT must give."""
        if (commit, rel) not in self.git_outcomes:
            r = subprocess.run(
                ["git", "--git-dir=" + self.repo, "cat-file", "blob", "%s:%s" % (commit, rel)],
                capture_output=True,
                env=self.env,
            )
            self.git_outcomes[commit, rel] = ("file", r.stdout) if r.returncode == 0 else ("err", "ENOENT")
        return self.git_outcomes[commit, rel]

    def assertResolves(self, spec, rel, commit, msg=None):
        """main@SPEC exists iff COMMIT is not None, and REL in it reads as in COMMIT."""
        where = "main@%s/%s%s" % (spec, rel, " (%s)" % msg if msg else "")
        if commit is None:
            with self.assertErrno(errno.ENOENT, where):
                os.stat(self.snap(spec))
            return
        self.assertTrue(os.path.isdir(self.snap(spec)), where + ": snapshot should be a directory")
        self.assertEqual(self.outcome(self.snap(spec, rel)), self.git_outcome(commit, rel), where)

    def delete(self, rel, branch="main"):
        before = self.commit_count(branch)
        os.unlink(self.doc(rel, branch))
        self.assertEqual(self.commit_count(branch), before + 1, "unlink of %s should make one commit" % rel)

    def ctl_log_at(self, when, branch="main"):
        """chronofsctl log REPO BRANCH --at WHEN: (exit status, commit id or None, stdout)."""
        r = self.ctl("log", self.repo, branch, "--at", when, check=False)
        if r.returncode != 0:
            self.assertEqual(r.stdout, "", "a failed log --at prints nothing on stdout")
            self.assertTrue(r.stderr.strip(), "a failed log --at says why on stderr")
            return r.returncode, None, r.stdout
        lines = r.stdout.splitlines()
        self.assertEqual(len(lines), 1, "log --at %s printed %r" % (when, r.stdout))
        fields = lines[0].split(" ", 2)
        return 0, fields[1], r.stdout


class ThreeVersionsCase(TimeTravelCase):
    """cfg/app.json saved three times, then deleted; each in its own committer second
    where the tests compare instants (distinct_seconds), as fast as possible elsewhere."""

    distinct_seconds = True

    def setUp(self):
        super().setUp()
        os.mkdir(self.doc("cfg"))
        self.save("cfg/keep.json", b'{"keep": true}')  # keeps cfg/ alive after the delete
        self.commits, self.times = [], []
        for body in V:
            self.save(DOC, body)
            self.commits.append(self.head())
            self.times.append(self.chain()[-1][0])
            if self.distinct_seconds:
                self.wait_next_second()
        self.delete(DOC)
        self.deleted = self.head()
        self.deleted_time = self.chain()[-1][0]
        if self.distinct_seconds:
            self.assertEqual(len(set(self.times + [self.deleted_time])), 4, "commit seconds should differ")
        self.history = self.chain()


class SnapshotTimeTests(ThreeVersionsCase):
    def test_instant_between_saves_reads_the_earlier_version(self):
        t1, t2, t3 = self.times
        for when in (t1, t2 - 1):
            self.assertEqual(read_file(self.snap(iso(when), DOC)), V[0], iso(when))
        self.assertEqual(read_file(self.snap(iso(t1)[:-1] + ".999Z", DOC)), V[0], "fractional seconds")
        self.assertEqual(read_file(self.snap(iso(t2), DOC)), V[1])
        self.assertEqual(read_file(self.snap(iso(t3 - 1), DOC)), V[1])
        self.assertEqual(read_file(self.snap(iso(t3), DOC)), V[2])

    def test_instant_after_delete_has_no_document(self):
        for spec in (iso(self.deleted_time), FAR_FUTURE):
            self.assertTrue(os.path.isdir(self.snap(spec)))
            with self.assertErrno(errno.ENOENT, spec):
                os.stat(self.snap(spec, DOC))
            self.assertEqual(read_file(self.snap(spec, "cfg/keep.json")), b'{"keep": true}')
            self.assertEqual(os.listdir(self.snap(spec, "cfg")), ["keep.json"])

    def test_offset_zone_names_the_same_instant(self):
        t1, t2, _ = self.times
        for tz in (
            datetime.timedelta(hours=5, minutes=30),
            datetime.timedelta(hours=-8),
            datetime.timedelta(hours=13, minutes=45),
            datetime.timedelta(0),
        ):
            self.assertEqual(read_file(self.snap(iso(t1, tz), DOC)), V[0], iso(t1, tz))
            self.assertEqual(read_file(self.snap(iso(t2, tz), DOC)), V[1], iso(t2, tz))
        # No zone is UTC; the compact offset +HHMM is the same instant too.
        self.assertEqual(read_file(self.snap(iso(t2)[:-1], DOC)), V[1])
        compact = iso(t1, datetime.timedelta(hours=5, minutes=30)).replace("+05:30", "+0530")
        self.assertEqual(read_file(self.snap(compact, DOC)), V[0], compact)

    def test_date_and_minute_forms_resolve_to_their_start(self):
        for t in self.times + [self.deleted_time]:
            minute = t - t % 60
            forms = {
                time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime(t)): minute,
                time.strftime("%Y-%m-%dT%H:%M", time.gmtime(t)): minute,
                time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime(t + 60)): minute + 60,
            }
            for spec, when in forms.items():
                self.assertResolves(spec, DOC, self.expected_at(when, self.history), spec)
                self.assertResolves(spec, "cfg/keep.json", self.expected_at(when, self.history), spec)
        today = self.times[0] - self.times[0] % 86400
        for day in (today, today + 86400, today - 86400):
            spec = time.strftime("%Y-%m-%d", time.gmtime(day))
            self.assertResolves(spec, DOC, self.expected_at(day, self.history), spec)
            self.assertResolves(spec + "Z", DOC, self.expected_at(day, self.history), spec)


class SnapshotNameTests(ThreeVersionsCase):
    distinct_seconds = False

    def test_short_and_full_commit_ids_read_that_commit(self):
        for commit, body in zip(self.commits, V):
            for n in (7, 12, 40):
                self.assertEqual(read_file(self.snap(commit[:n], DOC)), body, commit[:n])
        with self.assertErrno(errno.ENOENT):
            os.stat(self.snap(self.deleted[:7], DOC))
        self.assertEqual(os.listdir(self.snap(self.deleted[:7], "cfg")), ["keep.json"])

    def test_commit_not_on_the_branch_is_enoent(self):
        os.mkdir(os.path.join(self.mnt, "other"))
        self.save("side.json", b'{"side": 1}', branch="other")
        side = self.head("other")
        for n in (7, 40):
            with self.assertErrno(errno.ENOENT, "main@" + side[:n]):
                os.stat(self.snap(side[:n]))
        self.assertEqual(read_file(self.snap(side[:7], "side.json", branch="other")), b'{"side": 1}')
        # main's commits are on other's chain too (it starts at main's head).
        self.assertEqual(read_file(self.snap(self.commits[0][:7], DOC, branch="other")), V[0])
        missing = "%040x" % (int(self.commits[0], 16) ^ (1 << 100))  # no such object at all
        with self.assertErrno(errno.ENOENT):
            os.stat(self.snap(missing))

    def test_time_before_first_commit_is_enoent(self):
        first_time, first = self.history[0]
        with self.assertErrno(errno.ENOENT):
            os.stat(self.snap(iso(first_time - 1)))
        with self.assertErrno(errno.ENOENT):
            os.listdir(self.snap(iso(first_time - 1)))
        with self.assertErrno(errno.ENOENT):
            read_file(self.snap(iso(first_time - 1), "cfg/keep.json"))
        # The first commit's own second resolves (chronofsctl init's empty commit, or a save in that second).
        self.assertResolves(iso(first_time), "cfg/keep.json", self.expected_at(first_time, self.history))
        self.assertEqual(os.listdir(self.snap(first[:7])), [])

    def test_malformed_when_is_enoent(self):
        for spec in (
            "garbage",
            "",
            "2026-13-01",
            "2026-00-10",
            "2026-01-01T25:00Z",
            "2026-01-01T10:61Z",
            "2026-01-01T10",
            "2026-01-01X",
            "2026-01-01T10:00:00Q",
            "2026-01-01T10:00:00+99:00",
            "26-01-01",
            "123456",
            "g123456",
            self.commits[0] + "0",
            "history2",
        ):
            with self.assertErrno(errno.ENOENT, "main@" + spec):
                os.stat(self.snap(spec))
        with self.assertErrno(errno.ENOENT):
            os.stat(os.path.join(self.mnt, "nosuchbranch@" + FAR_FUTURE))
        with self.assertErrno(errno.ENOENT):
            os.stat(os.path.join(self.mnt, "nosuchbranch@history"))


class ReadOnlyTests(ThreeVersionsCase):
    distinct_seconds = False

    def test_changes_inside_snapshots_and_history_fail_with_erofs(self):
        versions = os.listdir(self.hist(DOC))
        for base, rel, body in (
            (self.snap(self.commits[1][:7]), DOC, V[1]),
            (self.snap(FAR_FUTURE), "cfg/keep.json", b'{"keep": true}'),
        ):
            doc, cfg = os.path.join(base, rel), os.path.join(base, "cfg")
            with self.assertErrno(errno.EROFS, "write " + doc):
                write_file(doc, b"{}", flags=os.O_WRONLY | os.O_TRUNC)
            with self.assertErrno(errno.EROFS, "create"):
                write_file(os.path.join(cfg, "new.json"), b"{}")
            with self.assertErrno(errno.EROFS, "unlink"):
                os.unlink(doc)
            with self.assertErrno(errno.EROFS, "mkdir"):
                os.mkdir(os.path.join(cfg, "sub"))
            with self.assertErrno(errno.EROFS, "rmdir"):
                os.rmdir(cfg)
            with self.assertErrno(errno.EROFS, "rename inside"):
                os.rename(doc, os.path.join(cfg, "moved.json"))
            with self.assertErrno(errno.EROFS, "rename out to the live branch"):
                os.rename(doc, self.doc("stolen.json"))
            with self.assertErrno(errno.EROFS, "rename in from the live branch"):
                os.rename(self.doc("cfg/keep.json"), os.path.join(cfg, "keep2.json"))
            with self.assertErrno(errno.EROFS, "truncate"):
                os.truncate(doc, 0)
            with self.assertErrno(errno.EROFS, "chmod"):
                os.chmod(doc, 0o644)
            self.assertEqual(read_file(doc), body)
        hdoc = self.hist(DOC, versions[0])
        with self.assertErrno(errno.EROFS, "write a version"):
            write_file(hdoc, b"{}", flags=os.O_WRONLY | os.O_TRUNC)
        with self.assertErrno(errno.EROFS, "create in history"):
            write_file(self.hist(DOC, "new.json"), b"{}")
        with self.assertErrno(errno.EROFS, "unlink a version"):
            os.unlink(hdoc)
        with self.assertErrno(errno.EROFS, "mkdir in history"):
            os.mkdir(self.hist("cfg", "sub"))
        with self.assertErrno(errno.EROFS, "rename a version"):
            os.rename(hdoc, self.hist(DOC, "x.json"))
        self.assertEqual(read_file(hdoc), V[0])
        # Nothing above reached Git, and the live branch is untouched.
        self.assertEqual(self.head(), self.deleted)
        self.assertEqual(read_file(self.doc("cfg/keep.json")), b'{"keep": true}')
        self.assertFalse(os.path.exists(self.doc("stolen.json")))

    def test_snapshot_and_history_modes_are_read_only(self):
        snap = self.snap(self.commits[2][:7])
        for d in (snap, os.path.join(snap, "cfg"), self.hist(), self.hist("cfg"), self.hist(DOC)):
            st = os.stat(d)
            self.assertTrue(stat.S_ISDIR(st.st_mode), d)
            self.assertEqual(stat.S_IMODE(st.st_mode), 0o555, d)
        for f in [os.path.join(snap, DOC), os.path.join(snap, "cfg/keep.json")] + [
            self.hist(DOC, n) for n in os.listdir(self.hist(DOC))
        ]:
            st = os.stat(f)
            self.assertTrue(stat.S_ISREG(st.st_mode), f)
            self.assertEqual(stat.S_IMODE(st.st_mode), 0o444, f)
            self.assertEqual(st.st_size, len(read_file(f)), f)

    def test_virtual_names_are_never_listed(self):
        # Visit every kind of virtual name first, so the daemon knows them.
        os.listdir(self.snap(iso(self.times[0])))
        os.listdir(self.snap(self.commits[0][:7]))
        os.listdir(self.hist("cfg"))
        for d in (self.mnt, self.main, self.doc("cfg")):
            r = self.run_cmd("ls", "-a", d, text=True)
            names = r.stdout.split()
            self.assertFalse([n for n in names if "@" in n], "ls -a %s: %r" % (d, names))
        for top, dirs, files in os.walk(self.mnt):
            self.assertFalse([n for n in dirs + files if "@" in n], "listing of %s" % top)
        for d in (self.snap(iso(self.times[1])), self.hist(), self.hist("cfg")):
            for top, dirs, files in os.walk(d):
                self.assertFalse([n for n in dirs + files if "@" in n], "listing of %s" % top)


class HistoryViewTests(ThreeVersionsCase):
    def test_versions_are_listed_oldest_first_and_read_back(self):
        names = os.listdir(self.hist(DOC))
        self.assertEqual(len(names), 3, names)
        self.assertEqual(names, sorted(names))
        for name, commit, t, body in zip(names, self.commits, self.times, V):
            m = VERSION_NAME.match(name)
            self.assertIsNotNone(m, name)
            self.assertEqual(m.group(1), iso(t), name)
            self.assertEqual(m.group(2), commit[:7], name)
            self.assertEqual(read_file(self.hist(DOC, name)), body, name)
            self.assertEqual(os.stat(self.hist(DOC, name)).st_size, len(body))
        with self.assertErrno(errno.ENOENT):
            os.stat(self.hist(DOC, "2000-01-01T00:00:00Z_%s.json" % self.commits[0][:7]))


class HistoryRecoveryTests(ThreeVersionsCase):
    distinct_seconds = False

    def test_deleted_document_is_listed_and_recovered_with_cp(self):
        self.assertFalse(os.path.exists(self.doc(DOC)))
        self.assertIn("cfg", os.listdir(self.hist()))
        self.assertEqual(sorted(os.listdir(self.hist("cfg"))), ["app.json", "keep.json"])
        last = os.listdir(self.hist(DOC))[-1]
        before = self.commit_count()
        self.run_cmd("cp", self.hist(DOC, last), self.doc(DOC))
        self.assertEqual(self.commit_count(), before + 1)
        self.assertEqual(self.show(DOC), V[2])
        self.assertEqual(read_file(self.doc(DOC)), V[2])
        self.assertEqual(stat.S_IMODE(os.stat(self.doc(DOC)).st_mode), 0o644)
        names = os.listdir(self.hist(DOC))
        self.assertEqual(len(names), 4, names)
        self.assertEqual(VERSION_NAME.match(names[-1]).group(2), self.head()[:7])


class OutsideTests(TimeTravelCase):
    def setUp(self):
        super().setUp()
        os.mkdir(self.doc("cfg"))

    def test_outside_commits_show_in_snapshots_and_history(self):
        self.save(DOC, V[0])
        mine = self.head()
        self.assertEqual(len(os.listdir(self.hist(DOC))), 1)  # the index holds one version now
        self.wait_next_second()
        self.outside_commit({DOC: V[1]}, message="outside one")
        first_outside = self.head()
        self.wait_next_second()
        self.outside_commit({DOC: V[2], "cfg/new.json": b'{"new": 1}'}, message="outside two")
        second_outside = self.head()
        times = {h: t for t, h in self.chain()}
        self.assertResolves(first_outside[:7], DOC, first_outside)
        self.assertResolves(second_outside, "cfg/new.json", second_outside)
        self.assertResolves(iso(times[first_outside]), DOC, first_outside)
        self.assertResolves(iso(times[second_outside] - 1), DOC, first_outside)
        self.assertResolves(iso(times[mine]), "cfg/new.json", mine)
        names = os.listdir(self.hist(DOC))
        self.assertEqual(
            [VERSION_NAME.match(n).group(2) for n in names], [mine[:7], first_outside[:7], second_outside[:7]]
        )
        self.assertEqual([read_file(self.hist(DOC, n)) for n in names], V)
        self.assertEqual(sorted(os.listdir(self.hist("cfg"))), ["app.json", "new.json"])

    def test_future_snapshot_follows_new_commits(self):
        # An instant not in the past yet names no fixed commit: later commits land in it.
        # Same-length bodies, so cached bytes cannot pass for new ones.
        bodies = [b'{"n": 1}', b'{"n": 2}', b'{"n": 3}']
        snap = self.snap(FAR_FUTURE, DOC)
        self.save(DOC, bodies[0])
        self.assertEqual(read_file(snap), bodies[0])
        self.save(DOC, bodies[1])
        self.assertEqual(read_file(snap), bodies[1], "after a save through the mount")
        self.outside_commit({DOC: bodies[2]})
        self.assertEqual(read_file(snap), bodies[2], "after an outside commit")
        self.outside_commit({DOC: b'{"n": 5, "longer": true}'})
        self.assertEqual(read_file(snap), b'{"n": 5, "longer": true}', "after a longer outside commit")
        self.assertEqual(os.stat(snap).st_size, len(b'{"n": 5, "longer": true}'))

    def test_snapshot_names_used_before_a_rewrite_follow_it(self):
        bodies = [b'{"n": 1}', b'{"n": 2}']
        self.save(DOC, bodies[0])
        c1 = self.head()
        self.save(DOC, bodies[1])
        c2 = self.head()
        # Read through the names first, as a reader would, before the rewrite.
        self.assertEqual(read_file(self.snap(c2[:7], DOC)), bodies[1])
        self.assertEqual(read_file(self.snap(FAR_FUTURE, DOC)), bodies[1])
        self.git("update-ref", "refs/heads/main", c1)
        self.wait_until(lambda: read_file(self.doc(DOC)) == bodies[0], msg="the reset to show")
        self.assertEqual(read_file(self.snap(FAR_FUTURE, DOC)), bodies[0], "main@%s after the rewrite" % FAR_FUTURE)
        with self.assertErrno(errno.ENOENT, "reading in main@%s after the rewrite" % c2[:7]):
            read_file(self.snap(c2[:7], DOC))
        with self.assertErrno(errno.ENOENT, "stat of main@%s after the rewrite" % c2[:7]):
            os.stat(self.snap(c2[:7]))

    def test_older_committer_date_still_resolves_along_the_chain(self):
        # SPEC: the newest commit on the first-parent chain whose committer time is <= WHEN.
        # A commit made on a machine whose clock is behind has an older time than its parent.
        self.save(DOC, V[0])
        mine = self.head()
        mine_time = self.chain()[-1][0]
        self.env["GIT_COMMITTER_DATE"] = "%d +0000" % (mine_time - 3600)
        try:
            self.outside_commit({DOC: V[1]}, message="from a slow clock")
        finally:
            del self.env["GIT_COMMITTER_DATE"]
        skewed = self.head()
        self.assertResolves(FAR_FUTURE, DOC, skewed, "everything is <= WHEN: the head")
        self.assertResolves(iso(mine_time), DOC, skewed, "the head's time is <= WHEN")
        self.assertResolves(iso(mine_time - 3600), DOC, skewed)
        self.assertResolves(iso(mine_time - 3601), DOC, self.expected_at(mine_time - 3601))
        self.assertEqual(self.ctl_log_at(FAR_FUTURE)[:2], (0, skewed))
        names = os.listdir(self.hist(DOC))
        self.assertEqual([VERSION_NAME.match(n).group(2) for n in names], [mine[:7], skewed[:7]])

    def test_cached_snapshot_follows_a_commit_that_lands_in_its_past(self):
        # main@T names a commit before the head, so the kernel caches it long; a commit
        # with an older clock then lands at or before T and main@T names it instead.
        self.save(DOC, V[0])
        mine_time = self.chain()[-1][0]
        self.wait_next_second()
        self.save("cfg/later.json", b'{"later": 1}')
        when = iso(mine_time)
        snap_doc, snap_dir = self.snap(when, DOC), self.snap(when, "cfg")
        # Read through it first, as a reader would: listing, attributes and pages.
        self.assertEqual(os.listdir(snap_dir), ["app.json"])
        self.assertEqual(read_file(snap_doc), V[0])
        self.assertEqual(os.stat(snap_doc).st_size, len(V[0]))  # after the read, which drops atime
        longer = b'{"v": "from a slow clock, longer than before"}'
        self.env["GIT_COMMITTER_DATE"] = "%d +0000" % (mine_time - 60)
        try:
            self.outside_commit({DOC: longer, "cfg/new.json": b"{}"}, message="from a slow clock")
        finally:
            del self.env["GIT_COMMITTER_DATE"]
        # Attributes and names the kernel holds follow within a second or so (stat
        # first: a read past the cached size would make the kernel ask again).
        self.wait_until(lambda: os.stat(snap_doc).st_size == len(longer), msg="the new size")
        self.wait_until(
            lambda: sorted(os.listdir(snap_dir)) == ["app.json", "later.json", "new.json"],
            msg="the snapshot's listing to show the new commit",
        )
        self.assertEqual(read_file(snap_doc), longer)
        # Again to a commit before the head, with bytes of the same length: the pages
        # the kernel keeps for a frozen snapshot must not pass for them.
        same_length = longer.replace(b"slow", b"SLOW")
        self.env["GIT_COMMITTER_DATE"] = "%d +0000" % (mine_time - 30)
        try:
            self.outside_commit({DOC: same_length}, message="slow again")
        finally:
            del self.env["GIT_COMMITTER_DATE"]
        self.outside_commit({"cfg/last.json": b"{}"}, message="on time")
        self.assertEqual(read_file(snap_doc), same_length)
        self.assertEqual(read_file(snap_doc), same_length)

    def test_log_at_sees_an_outside_commit_while_mounted(self):
        self.save(DOC, V[0])
        os.listdir(self.snap(FAR_FUTURE))  # the daemon's index is current
        self.outside_commit({DOC: V[1]})
        head = self.head()
        # Nothing is read through the mount in between: the tool must not answer from a stale index.
        self.assertEqual(self.ctl_log_at(FAR_FUTURE)[:2], (0, head))
        self.assertEqual(self.ctl_log_at(head[:7])[:2], (0, head))
        self.assertResolves(FAR_FUTURE, DOC, head)

    def test_history_rewrite_leaves_a_consistent_chain(self):
        bodies = [b'{"r": 1}', b'{"r": 2}', b'{"r": 3}']
        commits = []
        for body in bodies:
            if commits:
                self.wait_next_second()
            self.save(DOC, body)
            commits.append(self.head())
        c1, c2, c3 = commits
        times = {h: t for t, h in self.chain()}
        # The index holds all three before the rewrite (names are read fresh below:
        # test_snapshot_names_used_before_a_rewrite_follow_it covers reused names).
        self.assertEqual(len(os.listdir(self.hist(DOC))), 3)
        self.git("update-ref", "refs/heads/main", c1)
        self.wait_until(lambda: read_file(self.doc(DOC)) == bodies[0], msg="the reset to show")
        self.save(DOC, b'{"r": 4}')
        c4 = self.head()
        chain = self.chain()
        times[c4] = chain[-1][0]
        self.assertEqual([h for _, h in chain][-2:], [c1, c4])
        for gone in (c2[:7], c2, c3[:7], c3):
            with self.assertErrno(errno.ENOENT, "main@%s after the rewrite" % gone):
                os.stat(self.snap(gone))
        for commit in (c1, c4):
            self.assertResolves(commit[:7], DOC, commit)
        for t in (times[c1], times[c2], times[c3], times[c4], 4102444800):
            self.assertResolves(iso(t), DOC, self.expected_at(t, chain), "instant %d" % t)
        names = os.listdir(self.hist(DOC))
        self.assertEqual([VERSION_NAME.match(n).group(2) for n in names], [c1[:7], c4[:7]])
        self.assertEqual([read_file(self.hist(DOC, n)) for n in names], [bodies[0], b'{"r": 4}'])


class IndexRebuildTests(ThreeVersionsCase):
    def answers(self):
        t1, t2, t3 = self.times
        paths = [
            self.snap(iso(t1), DOC),
            self.snap(iso(t2 - 1, datetime.timedelta(hours=5, minutes=30)), DOC),
            self.snap(iso(t3), "cfg"),
            self.snap(iso(self.deleted_time), DOC),
            self.snap(time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime(t2)), DOC),
            self.snap(FAR_FUTURE, "cfg"),
            self.snap(self.commits[1][:7], DOC),
            self.snap(self.commits[2], DOC),
            self.snap(iso(self.chain()[0][0] - 1)),
            self.hist(),
            self.hist("cfg"),
            self.hist(DOC),
        ]
        paths += [self.hist(DOC, n) for n in os.listdir(self.hist(DOC))]
        return {p: self.outcome(p) for p in paths}

    def test_answers_survive_a_rebuild_from_scratch(self):
        before = self.answers()
        self.assertGreaterEqual(len([a for a in before.values() if a[0] == "file"]), 6, before)
        index = os.path.join(self.repo, "chronofs", "index")
        self.assertTrue(os.path.isdir(index))
        self.unmount()
        shutil.rmtree(index)
        self.mount()
        self.assertEqual(self.answers(), before)
        self.assertTrue(os.path.isdir(index))


class CtlLogAtTests(ThreeVersionsCase):
    def whens(self):
        t1, t2, t3 = self.times
        first_time = self.history[0][0]
        return [
            (iso(t1), t1),
            (iso(t2 - 1, datetime.timedelta(hours=-3)), t2 - 1),
            (iso(t3)[:-1], t3),
            (time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime(t2)), t2 - t2 % 60),
            (time.strftime("%Y-%m-%d", time.gmtime(t1 + 86400)), t1 + 86400 - t1 % 86400),
            (iso(self.deleted_time), self.deleted_time),
            (iso(first_time - 1), first_time - 1),
        ]

    def check_ctl(self, mounted, ids=True):
        times = {h: t for t, h in self.history}
        subjects = dict(line.split(" ", 1) for line in self.git("log", "--format=%H %s", "main").splitlines())
        for when, t in self.whens():
            expected = self.expected_at(t, self.history)
            rc, commit, out = self.ctl_log_at(when)
            self.assertEqual((rc, commit), (0, expected) if expected else (1, None), "log --at %s" % when)
            if expected:
                self.assertEqual(out, "%s %s %s\n" % (iso(times[expected]), expected, subjects[expected]))
            if mounted:
                self.assertResolves(when, DOC, commit, "mount vs log --at")
        if ids:
            self.assertEqual(self.ctl_log_at(self.commits[0][:7])[:2], (0, self.commits[0]))
            self.assertEqual(self.ctl_log_at(self.deleted)[:2], (0, self.deleted))
            self.assertEqual(self.ctl_log_at("garbage")[0], 1)
            self.assertEqual(self.ctl_log_at("0000000")[0], 1)

    def test_log_at_agrees_with_the_mount(self):
        self.check_ctl(mounted=True)
        self.unmount()
        self.check_ctl(mounted=False)
        # Without any index, the tool builds one and gives the same answers.
        shutil.rmtree(os.path.join(self.repo, "chronofs", "index"))
        self.check_ctl(mounted=False, ids=False)


class CtlLogAtNeverMountedTests(TimeTravelCase):
    mount_on_setup = False

    def test_log_at_works_on_a_repository_never_mounted(self):
        # A repository filled by git alone (clone, fast-import, push) has no index yet.
        self.outside_commit({DOC: V[0]})
        head = self.head()
        self.assertEqual(self.ctl_log_at(FAR_FUTURE)[:2], (0, head))
        self.assertEqual(self.ctl_log_at(head[:7])[:2], (0, head))
        self.mount()
        self.assertResolves(FAR_FUTURE, DOC, head)
