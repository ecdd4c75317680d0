#!/usr/bin/env python3
"""bench-import.py - a bulk load: chronofsctl import against rsync into the mount.

    python3 tools/bench-import.py [--build BUILD] [--docs 100000]

Makes a tree of DOCS small JSON documents in one collection, then, side by
side: `chronofsctl import REPO main TREE` (one commit) into one fresh
repository, and `rsync -a TREE/ MNT/main/` into a mount of another (one
commit per document, fsync=on as mounted by default). Prints both times,
the commits each made, and the ratio. The goal (issue "A well-behaved
Debian citizen"): import in less than 1/20 of rsync's time.
"""

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--docs", type=int, default=100000)
    a = ap.parse_args()
    ctl = os.path.join(a.build, "tools", "chronofsctl")
    daemon = os.path.join(a.build, "fs", "chronofs")
    work = tempfile.mkdtemp(prefix="chronofs-bench-import-")
    try:
        src = os.path.join(work, "src")
        os.makedirs(os.path.join(src, "c"))
        for i in range(a.docs):
            with open(os.path.join(src, "c", "d%d.json" % i), "w") as f:
                json.dump({"i": i, "name": "n%d" % i, "age": i % 97}, f)
        r1, r2 = os.path.join(work, "import.git"), os.path.join(work, "rsync.git")
        for r in (r1, r2):
            subprocess.run([ctl, "init", r], check=True, capture_output=True)
        t0 = time.monotonic()
        subprocess.run([ctl, "import", r1, "main", src], check=True, capture_output=True)
        t_import = time.monotonic() - t0
        mnt = os.path.join(work, "mnt")
        os.mkdir(mnt)
        d = subprocess.Popen([daemon, r2, mnt, "-f"], stderr=subprocess.DEVNULL)
        try:
            while not os.path.ismount(mnt):
                time.sleep(0.05)
            t0 = time.monotonic()
            subprocess.run(["rsync", "-a", src + "/", os.path.join(mnt, "main") + "/"], check=True)
            t_rsync = time.monotonic() - t0
        finally:
            subprocess.run(["fusermount3", "-u", mnt])
            d.wait(timeout=120)
        count = lambda r: int(subprocess.run(["git", "--git-dir=" + r, "rev-list", "--count", "main"],  # noqa: E731
                                             capture_output=True, text=True).stdout) - 1
        print("%d documents: import %.2f s (%d commit), rsync -a into the mount %.2f s (%d commits); "
              "import/rsync %.3fx (goal < 0.05x)" % (a.docs, t_import, count(r1), t_rsync, count(r2),
                                                     t_import / t_rsync))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
