"""One depth limit (64 levels, the deepest a document may be): mkdir and
create refuse deeper names with ENAMETOOLONG at once, never at a close; a
document at the limit saves (issue "Hardened", item 11)."""

import errno
import os

from harness import ChronofsTestCase, write_file


class DepthTests(ChronofsTestCase):
    def test_one_limit_for_mkdir_create_and_saves(self):
        self.expect_log("deeper than 64 levels")
        path = self.main
        for i in range(63):
            path = os.path.join(path, "d%d" % i)
            os.mkdir(path)
        # Level 64: a document saves.
        write_file(os.path.join(path, "deep.json"), b'{"deep": 64}')
        rel = "/".join("d%d" % i for i in range(63)) + "/deep.json"
        self.assertEqual(self.show(rel), b'{"deep": 64}')
        os.mkdir(os.path.join(path, "d63"))  # level 64 itself: allowed
        # Level 65: refused at the mkdir and at the create.
        with self.assertErrno(errno.ENAMETOOLONG):
            os.mkdir(os.path.join(path, "d63", "e"))
        with self.assertErrno(errno.ENAMETOOLONG):
            os.open(os.path.join(path, "d63", "x.json"), os.O_CREAT | os.O_WRONLY, 0o644)
        with self.assertErrno(errno.ENAMETOOLONG):
            os.open(os.path.join(path, "d63", "notes.txt"), os.O_CREAT | os.O_WRONLY, 0o644)
