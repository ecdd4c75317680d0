"""A pool directory belongs to its process for as long as it lives (issue 20,
item 9): a libchronofs writer in another PID namespace, where the daemon's
pid does not exist, neither takes the daemon's pool directory over nor
clears the ref locks the daemon holds."""

import os
import shutil
import subprocess
import sys
import textwrap

from harness import ChronofsTestCase, unshare_propagation
from test_library import BINDING, LIB, sanitizer_env


class PoolOwnerTests(ChronofsTestCase):

    def pool_dirs(self):
        pool = os.path.join(self.repo, "chronofs", "pool")
        return sorted(d for d in os.listdir(pool) if not d.startswith("."))

    def test_writer_in_another_pid_namespace_leaves_a_live_pool_alone(self):
        if os.geteuid() != 0 or not shutil.which("unshare"):
            self.skipTest("needs root and unshare(1) for a PID namespace")
        os.mkdir(self.doc("c"))
        self.save("c/a.json", '{"a": 1}')
        (mine,) = self.pool_dirs()
        pool = os.path.join(self.repo, "chronofs", "pool", mine)
        self.assertEqual(mine.split("-")[0], str(self.proc.pid))
        # A ref lock the daemon holds, as refs.c makes one when its pool
        # ran dry: a file h<n> of its pool directory linked as the lock.
        held = os.path.join(pool, "h999999")
        lock = os.path.join(self.repo, "refs", "heads", "side.lock")
        with open(held, "w") as f:
            f.write(self.head() + "\n")
        os.link(held, lock)
        self.addCleanup(lambda: [os.unlink(p) for p in (held, lock) if os.path.exists(p)])

        script = textwrap.dedent("""
            import os, sys
            from chronofs import ChronoFS
            # The daemon's pid is no process here.
            assert not os.path.exists("/proc/DAEMON"), "daemon pid visible"
            with ChronoFS(sys.argv[1]) as db:
                for i in range(200):
                    db.put_raw("main", "lib/x%d.json" % (i % 20), '{"i": %d}' % i)
            print("ok", os.getpid())
        """).replace("DAEMON", str(self.proc.pid))
        env = dict(self.env, CHRONOFS_LIB=LIB, PYTHONPATH=BINDING, **sanitizer_env())
        r = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", "--propagation", unshare_propagation(), sys.executable, "-c", script,
                            self.repo], capture_output=True, text=True, env=env, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertTrue(r.stdout.startswith("ok "), r.stdout)

        self.assertTrue(os.path.isdir(pool), "the daemon's pool directory taken: %s" % self.pool_dirs())
        self.assertIn(mine, self.pool_dirs())
        self.assertTrue(os.path.exists(lock), "the daemon's ref lock cleared")
        self.assertEqual(os.stat(held).st_nlink, 2)
        # The daemon saves on with its pool, and every save is a commit.
        before = self.commit_count()
        for i in range(300):
            self.save("c/b%d.json" % (i % 7), '{"b": %d}' % i)
        self.assertEqual(self.commit_count(), before + 300)
        self.assertEqual(self.show("lib/x19.json"), b'{"i": 199}')
        self.assertTrue(os.path.isdir(pool))
