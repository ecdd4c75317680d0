"""Sync between machines (SPEC "Sync between machines") against real Git
servers on 127.0.0.1, started here from Debian's packages in their own
temporary directory and stopped by PID on every path: `git daemon` with
receive-pack (git://), and, where the packages are installed, sshd
(ssh://, keys made for the test) and lighttpd with `git http-backend`
(smart HTTP). Two machines are two clones (`chronofsctl clone`) and two
mounts with `-o sync=origin,sync_interval=1` on one bare remote that
refuses non-fast-forward pushes."""

import json
import os
import shutil
import subprocess
import sys
import time

from harness import CTL, DAEMON
from sync_harness import INTERVAL, Server, SyncBase, free_port
from test_library import BINDING, LIB, sanitizer_env


class TwoMachines:
    """The two-machine scenarios, each on its own documents (so one pair of
    machines can run them all in turn)."""

    def save_travels(self, a, b):
        a.write("u/x.json", {"v": 1})
        t0 = time.monotonic()
        self.wait_until(lambda: b.read("u/x.json") == {"v": 1}, timeout=self.travel,
                        msg="a's save on b")
        self.assertLess(time.monotonic() - t0, self.travel)
        # And back, into a new collection: the negative entries go.
        with self.assertRaises(FileNotFoundError):
            a.read("v/y.json")
        b.write("v/y.json", {"w": 2})
        self.wait_until(lambda: a.read("v/y.json") == {"w": 2}, timeout=self.travel,
                        msg="b's save on a")
        self.converged(a, b, "v/y.json", {"w": 2})
        self.assertEqual(self.git_at(self.remote, "show", "main:u/x.json"), json.dumps({"v": 1}))
        st = a.status()
        self.assertEqual(st["remote"], "origin")
        self.assertEqual(st["last_round"]["result"], "ok")
        self.assertEqual((st["branches"]["main"]["ahead"], st["branches"]["main"]["behind"]), (0, 0))
        self.assertIsNone(st["last_error"])
        self.assertNotIn("@sync", os.listdir(a.mnt))
        self.assertRegex(a.log(), r"sync with origin: main: pushed")
        self.assertRegex(b.log(), r"sync with origin: main: fast-forward")

    def members_merge(self, a, b):
        a.write("m/doc.json", {"a": 0, "b": 0})
        self.converged(a, b, "m/doc.json", {"a": 0, "b": 0})
        merges = len(self.git_at(self.remote, "rev-list", "--merges", "main").split())
        self.offline()
        a.write("m/doc.json", {"a": 1, "b": 0})
        b.write("m/doc.json", {"a": 0, "b": 2})
        self.online()
        self.converged(a, b, "m/doc.json", {"a": 1, "b": 2})
        # A merge commit (two if both sides merged at once), no conflict.
        new = self.git_at(self.remote, "rev-list", "--merges", "main").split()
        self.assertGreater(len(new), merges)
        for c in new[:len(new) - merges]:
            self.assertNotIn("Conflicts:", self.git_at(self.remote, "log", "-1", "--format=%B", c))

    def newer_wins(self, a, b):
        a.write("c/doc.json", {"x": 0, "keep": True})
        self.converged(a, b, "c/doc.json", {"x": 0, "keep": True})
        conflicts = sum(m.status()["conflicts"] for m in (a, b))
        self.offline()
        a.write("c/doc.json", {"x": "from a", "keep": True})
        time.sleep(1.1)  # b's change is the newer one
        b.write("c/doc.json", {"x": "from b", "keep": True})
        self.online()
        self.converged(a, b, "c/doc.json", {"x": "from b", "keep": True})
        for m in (a, b):
            top = os.path.join(m.mnt, "main@conflicts", "c", "doc.json")
            self.wait_until(lambda: len(os.listdir(top)) >= 1, msg="@conflicts on " + m.name)
            for merge in os.listdir(top):
                with open(os.path.join(top, merge, "conflicts.json"), "rb") as f:
                    c = json.loads(f.read())["conflicts"]
                self.assertEqual(len(c), 1)
                self.assertEqual(c[0]["pointer"], "/x")
                self.assertEqual({c[0]["ours"], c[0]["theirs"]}, {"from a", "from b"})
                self.assertEqual(c[0][c[0]["winner"]], "from b")
        self.assertGreater(sum(m.status()["conflicts"] for m in (a, b)), conflicts)
        head = self.remote_head()
        self.assertIn("Conflicts:\n\tc/doc.json",
                      self.git_at(self.remote, "log", "--merges", "--format=%B", head))

    def delete_against_modify(self, a, b):
        a.write("d/doc.json", {"v": 0})
        self.converged(a, b, "d/doc.json", {"v": 0})
        self.offline()
        os.unlink(a.path("d/doc.json"))
        b.write("d/doc.json", {"v": "kept"})
        self.online()
        self.converged(a, b, "d/doc.json", {"v": "kept"})


class SyncTests(TwoMachines, SyncBase):
    def test_a_save_is_read_on_the_other_machine_within_two_intervals(self):
        self.save_travels(*self.two())

    def test_different_members_of_one_document_merge(self):
        self.members_merge(*self.two())

    def test_the_same_member_on_both_sides_the_newer_wins_everywhere(self):
        self.newer_wins(*self.two())

    def test_a_delete_against_a_modification_keeps_the_modification(self):
        self.delete_against_modify(*self.two())

    def test_branches_new_and_deleted_travel(self):
        a, b = self.two()
        os.mkdir(os.path.join(a.mnt, "feature"))
        a.write("d.json", {"f": 1}, branch="feature")
        self.wait_until(lambda: b.read("d.json", branch="feature") == {"f": 1}, timeout=3 * INTERVAL + 2,
                        msg="the new branch on b")
        # Deleted on b, holding nothing a had not seen: deleted on a and
        # on the remote.
        subprocess.run(["git", "--git-dir=" + b.repo, "branch", "-D", "feature"], check=True,
                       capture_output=True, env=self.env)
        self.wait_until(lambda: "feature" not in os.listdir(a.mnt), timeout=4 * INTERVAL + 2,
                        msg="feature gone from a")
        self.assertNotIn("feature", self.git_at(self.remote, "branch"))

    def test_a_round_drops_what_the_kernel_cached_of_what_it_changed(self):
        """B's kernel keeps names and attributes for an hour here
        (entry_timeout, attr_timeout): what B read (cat, stat, ls) stays
        cached unless the round that brings A's changes drops it."""
        a = self.machine("a")
        for rel, doc in (("u/doc.json", {"v": 1}), ("u/gone.json", {"gone": False}),
                         ("u/control.json", {"c": 1})):
            a.write(rel, doc)
        b = self.machine("b", options=("entry_timeout=3600", "attr_timeout=3600"))
        self.wait_until(lambda: self.remote_head() == self.git_head(a) == self.git_head(b),
                        timeout=2 * self.travel + 2, msg="a, b and the remote at one head")
        run = lambda *argv: subprocess.run(argv, capture_output=True, text=True, env=self.env)  # noqa: E731
        size = lambda rel: run("stat", "-c", "%s", b.path(rel))  # noqa: E731
        ls = lambda: run("ls", "-l", os.path.dirname(b.path("u/doc.json"))).stdout  # noqa: E731
        old = json.dumps({"v": 1})
        self.assertEqual(run("cat", b.path("u/doc.json")).stdout, old)
        self.assertEqual(size("u/doc.json").stdout, "%d\n" % len(old))
        self.assertEqual(size("u/gone.json").returncode, 0)
        self.assertNotEqual(size("u/third.json").returncode, 0)
        self.assertNotIn("third.json", ls())
        self.assertEqual(size("u/control.json").stdout, "%d\n" % len(json.dumps({"c": 1})))
        # The cache holds: a commit made on b's clone with git, which no
        # round brings (b pushes it, its own branch does not move), is not
        # seen by stat within the attributes' hour.
        env = dict(self.env, GIT_INDEX_FILE=os.path.join(self.work, "b-index"), GIT_AUTHOR_NAME="git",
                   GIT_AUTHOR_EMAIL="g@x", GIT_COMMITTER_NAME="git", GIT_COMMITTER_EMAIL="g@x")
        git = lambda *args, data=None: subprocess.run(  # noqa: E731
            ["git", "--git-dir=" + b.repo, *args], input=data, capture_output=True, text=True, env=env,
            check=True).stdout.strip()
        head = self.git_head(b)
        blob = git("hash-object", "-w", "--stdin", data=json.dumps({"c": "changed by git"}))
        git("read-tree", head)
        git("update-index", "--cacheinfo", "100644,%s,u/control.json" % blob)
        commit = git("commit-tree", "-p", head, "-m", "outside", git("write-tree"))
        git("update-ref", "refs/heads/main", commit, head)
        self.assertEqual(size("u/control.json").stdout, "%d\n" % len(json.dumps({"c": 1})))
        # A changes the document (a new size), deletes one, adds one.
        new = {"v": 2, "longer": "x" * 50}
        a.write("u/doc.json", new)
        os.unlink(a.path("u/gone.json"))
        a.write("u/third.json", {"third": 3})
        want = self.git_head(a)
        holds = lambda repo: subprocess.run(  # noqa: E731
            ["git", "--git-dir=" + repo, "merge-base", "--is-ancestor", want, "main"], capture_output=True,
            env=self.env).returncode == 0
        # B's round: its branch moves to hold a's changes, then the round
        # is recorded (after its invalidations).
        self.wait_until(lambda: holds(b.repo), timeout=2 * self.travel + 2, msg="a's changes in b's clone")
        rounds = b.status()["rounds"]
        self.wait_until(lambda: b.status()["rounds"] > rounds, timeout=self.travel + 2, msg="b's round")
        self.assertEqual(size("u/doc.json").stdout, "%d\n" % len(json.dumps(new)))
        self.assertEqual(size("u/gone.json").returncode, 1)
        self.assertIn("No such file", size("u/gone.json").stderr)
        self.assertEqual(size("u/third.json").stdout, "%d\n" % len(json.dumps({"third": 3})))
        listing = ls()
        self.assertIn("third.json", listing)
        self.assertNotIn("gone.json", listing)
        self.assertRegex(listing, r" %d [^\n]* doc\.json\n" % len(json.dumps(new)))
        self.assertEqual(run("cat", b.path("u/doc.json")).stdout, json.dumps(new))
        self.assertEqual(run("cat", b.path("u/third.json")).stdout, json.dumps({"third": 3}))

    def test_offline_is_reported_and_caught_up(self):
        a, b = self.two()
        self.offline()
        st = a.status()
        self.assertEqual(st["last_round"]["result"], "failed")
        self.assertIn("fetch from origin failed", st["last_error"]["message"])
        self.assertRegex(a.log(), r"WARNING: sync with origin failed: fetch from origin failed: .*"
                                  r"(unable to connect|Connection refused)")
        self.assertEqual(st["branches"]["main"]["ahead"], 0)
        t0 = time.monotonic()
        a.write("u/offline.json", {"saved": "offline"})  # saves do not wait
        a.write("u/offline2.json", {"saved": "offline"})
        self.assertLess(time.monotonic() - t0, 1.0)
        self.wait_until(lambda: a.status()["branches"]["main"]["ahead"] == 2, timeout=3 * INTERVAL + 2,
                        msg="two commits waiting on a")
        self.online()
        self.wait_until(lambda: b.read("u/offline2.json") == {"saved": "offline"}, timeout=4 * INTERVAL + 3,
                        msg="the offline saves on b")
        self.wait_until(lambda: a.status()["branches"]["main"]["ahead"] == 0, msg="nothing waiting on a")
        self.assertEqual(a.status()["last_round"]["result"], "ok")

    def test_sync_against_an_unreachable_remote_fails_and_changes_nothing(self):
        a = self.machine("a", mount=False)
        self.run_cmd(CTL, "sync", a.repo)
        before = a.refs()
        self.daemon.stop()
        r = self.ctl("sync", a.repo, check=False)
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stderr, r"^chronofsctl: fetch from origin failed: .*"
                                   r"(unable to connect|Connection refused)")
        self.assertEqual(r.stdout, "")
        self.assertEqual(a.refs(), before)
        r = self.ctl("sync", a.repo, "nosuch", check=False)
        self.assertEqual(r.returncode, 1)
        self.assertIn("no remote 'nosuch'", r.stderr)
        self.daemon.start()
        r = self.ctl("sync", a.repo)
        self.assertEqual(r.stdout, "main: nothing\n")

    def test_ctl_sync_says_what_it_did_per_branch(self):
        a = self.machine("a", mount=False)
        b = self.machine("b", mount=False)
        env = dict(self.env, CHRONOFS_LIB=LIB, PYTHONPATH=BINDING, **sanitizer_env())
        put = ("import sys\n"
               "from chronofs import ChronoFS\n"
               "with ChronoFS(sys.argv[1]) as db:\n"
               "    db.put('main', sys.argv[2], {'v': sys.argv[3]})\n")
        py = lambda repo, rel, v: self.run_cmd(sys.executable, "-c", put, repo, rel, v, env=env)  # noqa: E731
        py(a.repo, "u/a.json", "1")
        self.assertEqual(self.ctl("sync", a.repo).stdout, "main: pushed\n")
        self.assertEqual(self.ctl("sync", b.repo).stdout, "main: fast-forward\n")
        py(a.repo, "u/c.json", "a")
        time.sleep(1.1)
        py(b.repo, "u/c.json", "b")
        self.assertEqual(self.ctl("sync", a.repo).stdout, "main: pushed\n")
        self.assertEqual(self.ctl("sync", b.repo).stdout, "main: merged with 1 conflict, pushed\n")
        self.assertEqual(self.ctl("sync", a.repo).stdout, "main: fast-forward\n")
        self.assertEqual(self.ctl("sync", a.repo).stdout, "main: nothing\n")
        self.assertEqual(self.git_head(a), self.remote_head())
        # Never a forced push: the remote refuses them, and its reflog-free
        # history holds every commit of both sides.
        for m in (a, b):
            self.assertEqual(self.git_at(m.repo, "rev-list", "main", "^" + self.remote_head()).strip(), "")

    def test_a_push_refused_by_a_racing_writer_is_fetched_merged_and_pushed_again(self):
        a = self.machine("a", mount=False)
        # The remote's first push after this lands a racing writer's commit
        # on main while the push runs: the ref's compare-and-swap on the
        # server refuses ours ("[remote rejected] (failed to update ref)").
        hook = os.path.join(self.remote, "hooks", "pre-receive")
        with open(hook, "w") as f:
            f.write("#!/bin/sh\n"
                    "cat >/dev/null\n"
                    "[ -e \"$GIT_DIR/raced\" ] && exit 0\n"
                    "touch \"$GIT_DIR/raced\"\n"
                    "unset GIT_QUARANTINE_PATH GIT_OBJECT_DIRECTORY GIT_ALTERNATE_OBJECT_DIRECTORIES\n"
                    "export GIT_AUTHOR_NAME=racer GIT_AUTHOR_EMAIL=r@x GIT_COMMITTER_NAME=racer "
                    "GIT_COMMITTER_EMAIL=r@x\n"
                    "blob=$(echo '{\"racer\": 1}' | git hash-object -w --stdin)\n"
                    "tree=$(printf '100644 blob %s\\tracer.json\\n' $blob | git mktree)\n"
                    "c=$(git commit-tree -p refs/heads/main -m racer $tree)\n"
                    "git update-ref refs/heads/main $c\n")
        os.chmod(hook, 0o755)
        env = dict(self.env, CHRONOFS_LIB=LIB, PYTHONPATH=BINDING, **sanitizer_env())
        self.run_cmd(sys.executable, "-c", "import sys\nfrom chronofs import ChronoFS\n"
                     "with ChronoFS(sys.argv[1]) as db: db.put('main', 'u/mine.json', {'mine': 1})\n",
                     a.repo, env=env)
        mine = self.git_head(a)
        out = self.ctl("sync", a.repo).stdout
        self.assertEqual(out, "main: merged with 0 conflicts, pushed\n")
        head = self.remote_head()
        self.assertEqual(head, self.git_head(a))
        parents = self.git_at(self.remote, "rev-list", "--parents", "-n", "1", head).split()
        self.assertEqual(parents[1], mine)  # first parent: the local head
        self.assertEqual(self.git_at(self.remote, "log", "-1", "--format=%s", parents[2]).strip(), "racer")
        self.assertEqual(self.git_at(self.remote, "show", "main:racer.json").strip(), '{"racer": 1}')
        self.assertEqual(self.git_at(self.remote, "show", "main:u/mine.json"), json.dumps({"mine": 1}))


    def test_a_push_the_remote_refuses_fails_that_branch_and_says_why(self):
        a = self.machine("a", mount=False)
        hook = os.path.join(self.remote, "hooks", "pre-receive")
        with open(hook, "w") as f:
            f.write("#!/bin/sh\ncat >/dev/null\necho 'frozen: no pushes today' >&2\nexit 1\n")
        os.chmod(hook, 0o755)
        env = dict(self.env, CHRONOFS_LIB=LIB, PYTHONPATH=BINDING, **sanitizer_env())
        self.run_cmd(sys.executable, "-c", "import sys\nfrom chronofs import ChronoFS\n"
                     "with ChronoFS(sys.argv[1]) as db: db.put('main', 'u/mine.json', {'mine': 1})\n",
                     a.repo, env=env)
        mine = self.git_head(a)
        before = self.remote_head()
        r = self.ctl("sync", a.repo, check=False)
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stdout, r"^main: failed: \[remote rejected\] \(pre-receive hook declined\)"
                                   r" \(1 ahead, 0 behind\)\n$")
        self.assertIn("sync with origin: 1 branch failed", r.stderr)
        # Nothing lost, nothing forced: the local commit stays, the remote
        # is as it was.
        self.assertEqual(self.git_head(a), mine)
        self.assertEqual(self.remote_head(), before)

    def test_python_binding_clones_and_syncs(self):
        env = dict(self.env, CHRONOFS_LIB=LIB, PYTHONPATH=BINDING, **sanitizer_env())
        a, b = os.path.join(self.work, "pa.git"), os.path.join(self.work, "pb.git")
        script = ("import json, sys\nimport chronofs\n"
                  "url, a, b = sys.argv[1:]\n"
                  "chronofs.clone(url, a)\nchronofs.clone(url, b)\n"
                  "with chronofs.ChronoFS(a) as db:\n"
                  "    db.put('main', 'p/x.json', {'from': 'python'})\n"
                  "    print(json.dumps(db.sync()))\n"
                  "with chronofs.ChronoFS(b) as db:\n"
                  "    print(json.dumps(db.sync('origin')))\n"
                  "    print(json.dumps(db.get('main', 'p/x.json')))\n"
                  "try:\n"
                  "    chronofs.clone(url + '-nosuch', a + '-2')\n"
                  "except chronofs.ChronoFSError as e:\n"
                  "    print(e.errno, e)\n")
        out = self.run_cmd(sys.executable, "-c", script, self.url, a, b, env=env).stdout.decode().splitlines()
        self.assertEqual(json.loads(out[0])["main"], {"done": ["pushed"], "conflicts": 0, "ahead": 0,
                                                       "behind": 0, "message": None})
        self.assertEqual(json.loads(out[1])["main"]["done"], ["fast_forward"])
        self.assertEqual(json.loads(out[2]), {"from": "python"})
        self.assertRegex(out[3], r"^5 .*clone git://.*-nosuch: .*")
        self.assertFalse(os.path.exists(a + "-2"))

    def test_mount_refuses_an_unknown_remote_and_bad_options(self):
        a = self.machine("a", mount=False)
        for opts, want in (("sync=nosuch", r"sync=nosuch: no remote 'nosuch' \(git remote add nosuch URL\)"),
                           ("sync=origin,sync_interval=0", r"sync_interval=0: want 1 to 86400 seconds"),
                           ("sync_interval=5", r"sync_interval without sync=REMOTE"),
                           ("sync=origin,ro", r"sync=origin needs a read-write mount"),
                           ("attr_timeout=-1", r"attr_timeout=-1: want 0 to 86400 seconds"),
                           ("entry_timeout=1e9", r"entry_timeout=1e9: want 0 to 86400 seconds"),
                           ("entry_timeout=nan", r"entry_timeout=nan: want 0 to 86400 seconds")):
            r = self.run_cmd(DAEMON, a.repo, a.mnt, "-f", "-o", opts, check=False, timeout=20)
            self.assertEqual(r.returncode, 1, opts)
            self.assertRegex(r.stderr.decode() + r.stdout.decode(), want)
            self.assertFalse(os.path.ismount(a.mnt))

    def test_a_deleted_branch_holding_what_the_deleting_side_never_saw_is_kept(self):
        a = self.machine("a", mount=False)
        b = self.machine("b", mount=False)
        env = dict(self.env, CHRONOFS_LIB=LIB, PYTHONPATH=BINDING, **sanitizer_env())
        py = lambda repo, code: self.run_cmd(  # noqa: E731
            sys.executable, "-c", "import sys\nfrom chronofs import ChronoFS\n"
            "with ChronoFS(sys.argv[1]) as db:\n    " + code + "\n", repo, env=env)
        delete = lambda m, br: self.run_cmd("git", "--git-dir=" + m.repo, "branch", "-D", br)  # noqa: E731
        py(a.repo, "db.branch_create('f'); db.branch_create('g')")
        self.assertEqual(self.ctl("sync", a.repo).stdout, "f: pushed\ng: pushed\nmain: nothing\n")
        self.assertEqual(self.ctl("sync", b.repo).stdout,
                         "f: new from the remote\ng: new from the remote\nmain: nothing\n")
        # f deleted on b while a adds to it: b gets it back, with a warning.
        delete(b, "f")
        py(a.repo, "db.put('f', 'x.json', {'new': 1})")
        self.ctl("sync", a.repo)
        out = self.ctl("sync", b.repo).stdout
        self.assertIn("f: new from the remote, kept: deleted here, but origin has commits this side "
                      "never had: kept\n", out)
        self.assertEqual(self.git_head(b, "f"), self.git_head(a, "f"))
        # g deleted on b with nothing new on it: deleted on the remote,
        # then on a.
        delete(b, "g")
        self.assertIn("g: deleted on the remote\n", self.ctl("sync", b.repo).stdout)
        self.assertIn("g: deleted (deleted on the remote)\n", self.ctl("sync", a.repo).stdout)
        self.assertNotIn("g", self.git_at(a.repo, "branch").split())
        # f deleted on the remote by b, while a committed more to it: a
        # keeps it and pushes it again.
        self.ctl("sync", a.repo)
        self.ctl("sync", b.repo)
        delete(b, "f")
        self.ctl("sync", b.repo)
        self.assertNotIn("f", self.git_at(self.remote, "branch").split())
        py(a.repo, "db.put('f', 'y.json', {'more': 1})")
        out = self.ctl("sync", a.repo).stdout
        self.assertIn("f: pushed, kept: deleted on origin, but it holds commits origin never had: "
                      "kept and pushed again\n", out)
        self.assertEqual(self.remote_head("f"), self.git_head(a, "f"))

class SshSyncTests(TwoMachines, SyncBase):
    """The same two machines over ssh://: sshd from openssh-server on a free
    port with a host key and a client key made here; the client reaches it
    through an ssh config file (GIT_SSH_COMMAND="ssh -F FILE")."""

    travel = 2 * INTERVAL + 6.0

    def serve(self):
        sshd = shutil.which("sshd") or "/usr/sbin/sshd"
        if not os.access(sshd, os.X_OK):
            self.skipTest("sshd not installed (openssh-server, tools/deps.sh)")
        d = os.path.join(self.work, "ssh")
        os.mkdir(d, 0o700)
        for key in ("host", "client"):
            self.run_cmd("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", os.path.join(d, key))
        shutil.copy(os.path.join(d, "client.pub"), os.path.join(d, "authorized_keys"))
        port = free_port()
        conf = os.path.join(d, "sshd_config")
        with open(conf, "w") as f:
            f.write("Port %d\nListenAddress 127.0.0.1\nHostKey %s/host\nPidFile %s/sshd.pid\n"
                    "AuthorizedKeysFile %s/authorized_keys\nStrictModes no\nUsePAM no\n"
                    "PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
                    "PubkeyAuthentication yes\nPermitRootLogin prohibit-password\n" % (port, d, d, d))
        client = os.path.join(d, "ssh_config")
        with open(client, "w") as f:
            f.write("Host chronofs-remote\n  HostName 127.0.0.1\n  Port %d\n  User %s\n  IdentityFile %s/client\n"
                    "  IdentitiesOnly yes\n  BatchMode yes\n  StrictHostKeyChecking no\n"
                    "  UserKnownHostsFile %s/known_hosts\n  LogLevel ERROR\n"
                    % (port, os.environ.get("USER") or subprocess.run(["id", "-un"], capture_output=True,
                                                                       text=True).stdout.strip(), d, d))
        # sshd's privilege separation directory (made by its service unit).
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        self.daemon = Server(self, [sshd, "-D", "-e", "-f", conf], port, os.path.join(self.work, "sshd.log"))
        self.servers.append(self.daemon)
        self.daemon.start()
        self.env["GIT_SSH_COMMAND"] = "ssh -F " + client
        return "ssh://chronofs-remote" + self.remote

    def test_two_machines_over_ssh(self):
        a, b = self.two()
        self.save_travels(a, b)
        self.members_merge(a, b)
        self.newer_wins(a, b)
        self.delete_against_modify(a, b)


class HttpSyncTests(TwoMachines, SyncBase):
    """The same two machines over smart HTTP: git http-backend behind
    lighttpd (CGI) on a free port."""

    travel = 2 * INTERVAL + 6.0

    def serve(self):
        lighttpd = shutil.which("lighttpd") or "/usr/sbin/lighttpd"
        backend = "/usr/lib/git-core/git-http-backend"
        if not os.access(lighttpd, os.X_OK):
            self.skipTest("lighttpd not installed (tools/deps.sh)")
        self.run_cmd("git", "--git-dir=" + self.remote, "config", "http.receivepack", "true")
        d = os.path.join(self.work, "http")
        os.mkdir(d)
        port = free_port()
        conf = os.path.join(d, "lighttpd.conf")
        with open(conf, "w") as f:
            f.write('server.document-root = "%s"\nserver.bind = "127.0.0.1"\nserver.port = %d\n'
                    'server.errorlog = "%s/error.log"\n'
                    'server.modules = ("mod_alias", "mod_setenv", "mod_cgi")\n'
                    'alias.url = ("/git" => "%s")\n'
                    '$HTTP["url"] =~ "^/git" {\n  cgi.assign = ("" => "")\n'
                    '  setenv.add-environment = ("GIT_PROJECT_ROOT" => "%s", "GIT_HTTP_EXPORT_ALL" => "1")\n}\n'
                    % (d, port, d, backend, self.base))
        self.daemon = Server(self, [lighttpd, "-D", "-f", conf], port, os.path.join(self.work, "lighttpd.log"))
        self.servers.append(self.daemon)
        self.daemon.start()
        return "http://127.0.0.1:%d/git/remote.git" % port

    def test_two_machines_over_smart_http(self):
        a, b = self.two()
        self.save_travels(a, b)
        self.members_merge(a, b)
        self.newer_wins(a, b)
        self.delete_against_modify(a, b)
