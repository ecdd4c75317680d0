#!/usr/bin/env python3
"""Write a git fast-import stream of a branch with many commits.

usage: gen-history.py [--commits N] [--docs M] [--collection C] [--start EPOCH]
                      [--step SECONDS] [--branch B] | git --git-dir=REPO fast-import

Commit i (0-based) sets document C/d<i % M>.json to {"v": i, "doc": ...} at
committer time START + i*STEP, so the version of any document at any time
is known without Git: tests and benchmarks check answers against it.
"""
import argparse
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--commits", type=int, default=1000)
    ap.add_argument("--docs", type=int, default=100)
    ap.add_argument("--collection", default="c")
    ap.add_argument("--start", type=int, default=1700000000)
    ap.add_argument("--step", type=int, default=10)
    ap.add_argument("--branch", default="main")
    ap.add_argument("--flat", type=int, default=0,
                    help="first commit adds this many documents at once")
    a = ap.parse_args()
    out = sys.stdout.buffer
    w = out.write
    mark_prev = None
    n = 0
    if a.flat:
        w(b"commit refs/heads/%s\n" % a.branch.encode())
        w(b"committer gen <gen@example.invalid> %d +0000\n" % (a.start - 1))
        msg = b"bulk %d documents" % a.flat
        w(b"data %d\n%s\n" % (len(msg), msg))
        w(b"from refs/heads/%s^0\n" % a.branch.encode())
        for k in range(a.flat):
            body = b'{"id": %d, "v": -1}' % k
            w(b"M 100644 inline %s/b%d.json\ndata %d\n%s\n"
              % (a.collection.encode(), k, len(body), body))
    for i in range(a.commits):
        doc = "%s/d%d.json" % (a.collection, i % a.docs)
        body = b'{"v": %d, "doc": %d}' % (i, i % a.docs)
        w(b"commit refs/heads/%s\n" % a.branch.encode())
        w(b"committer gen <gen@example.invalid> %d +0000\n" % (a.start + i * a.step))
        msg = b"put " + doc.encode()
        w(b"data %d\n%s\n" % (len(msg), msg))
        if i == 0 and not a.flat:
            w(b"from refs/heads/%s^0\n" % a.branch.encode())
        w(b"M 100644 inline %s\ndata %d\n%s\n" % (doc.encode(), len(body), body))
        n += 1
    w(b"done\n")


if __name__ == "__main__":
    main()
