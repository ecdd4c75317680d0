"""JSON validation: invalid documents are refused with EINVAL, valid edge cases accepted; max_doc_size."""

import errno
import os
import subprocess
import re
import time

from harness import ChronofsTestCase, read_file, write_file

GOOD = b'{"name": "good"}\n'
BROKEN = b'{"name": broken'


class InvalidJsonTests(ChronofsTestCase):
    def setUp(self):
        super().setUp()
        self.save("x.json", GOOD)
        self.before = self.commit_count()

    def write_broken(self, data=BROKEN, rel="x.json"):
        """Overwrite REL with DATA via open/write/close; return the OSError of close (or None)."""
        fd = os.open(self.doc(rel), os.O_WRONLY | os.O_TRUNC | os.O_CREAT, 0o644)
        os.write(fd, data)
        try:
            os.close(fd)
        except OSError as e:
            return e
        return None

    def test_invalid_json_close_fails_einval(self):
        err = self.write_broken()
        self.assertIsNotNone(err, "close() of invalid JSON succeeded")
        self.assertEqual(err.errno, errno.EINVAL, err)
        self.assertEqual(self.commit_count(), self.before)

    def test_invalid_json_keeps_last_committed_content(self):
        self.write_broken()
        self.assertEqual(self.show("x.json"), GOOD)
        self.assertEqual(self.run_cmd("cat", self.doc("x.json")).stdout, GOOD)
        self.assertEqual(os.stat(self.doc("x.json")).st_size, len(GOOD))

    def test_invalid_json_logged_with_path_line_and_column(self):
        self.write_broken(b'{\n  "name": broken\n}')

        def logged():
            for line in self.daemon_log().splitlines():
                if "x.json" not in line:
                    continue
                if re.search(r"line\W{0,3}\d+", line, re.I) and re.search(r"col(umn)?\W{0,3}\d+", line, re.I):
                    return True
                if re.search(r"x\.json:\d+:\d+", line):
                    return True
            return False

        self.wait_until(logged, timeout=2.0, msg="a log line naming x.json with line and column")

    def test_various_invalid_bodies_refused(self):
        for body in (b'{"a": 1} trailing', b"[1, 2,]", b"{'a': 1}", b'"\xff\xfe"', b"   ", b"{", b"nul"):
            with self.subTest(body=body):
                err = self.write_broken(body)
                self.assertIsNotNone(err, "close() accepted %r" % body)
                self.assertEqual(err.errno, errno.EINVAL)
                self.assertEqual(self.show("x.json"), GOOD)
        self.assertEqual(self.commit_count(), self.before)
        self.assertEqual(read_file(self.doc("x.json")), GOOD)

    def test_invalid_json_fsync_fails_einval(self):
        fd = os.open(self.doc("x.json"), os.O_WRONLY | os.O_TRUNC)
        try:
            os.write(fd, BROKEN)
            with self.assertErrno(errno.EINVAL):
                os.fsync(fd)
        finally:
            try:
                os.close(fd)
            except OSError:
                pass
        self.assertEqual(self.commit_count(), self.before)
        self.assertEqual(self.show("x.json"), GOOD)

    def test_invalid_json_rename_into_place_fails_einval(self):
        write_file(self.doc("x.json.tmp"), BROKEN)
        with self.assertErrno(errno.EINVAL):
            os.rename(self.doc("x.json.tmp"), self.doc("x.json"))
        self.assertEqual(self.commit_count(), self.before)
        self.assertEqual(self.show("x.json"), GOOD)
        self.assertEqual(read_file(self.doc("x.json")), GOOD)

    def test_new_document_with_invalid_json_is_not_committed(self):
        err = self.write_broken(rel="new.json")
        self.assertIsNotNone(err)
        self.assertEqual(err.errno, errno.EINVAL)
        self.assertEqual(self.commit_count(), self.before)
        self.assertEqual(self.tree(), ["x.json"])

    def test_valid_save_after_refused_one_works(self):
        self.write_broken()
        write_file(self.doc("x.json"), b'{"name": "fixed"}')
        self.assertEqual(self.commit_count(), self.before + 1)
        self.assertEqual(self.show("x.json"), b'{"name": "fixed"}')


class ValidEdgeCaseTests(ChronofsTestCase):
    def accepted(self, rel, data):
        before = self.commit_count()
        write_file(self.doc(rel), data)  # raises if close() refuses it
        self.assertEqual(self.commit_count(), before + 1)
        self.assertEqual(self.show(rel), data)
        self.assertEqual(read_file(self.doc(rel)), data)

    def test_top_level_scalars_accepted(self):
        self.accepted("int.json", b"42")
        self.accepted("str.json", b'"s"')
        self.accepted("null.json", b"null")
        self.accepted("bool.json", b"true\n")

    def test_nul_escape_inside_string_accepted(self):
        self.accepted("nul.json", b'{"s": "a\\u0000b"}')

    def test_huge_integer_accepted(self):
        self.accepted("huge.json", b'{"n": 123456789012345678901234567890}')

    def test_huge_exponent_accepted(self):
        self.accepted("exp.json", b"[1e400, -1e400, 1e-400]")

    def test_unicode_and_escapes_accepted(self):
        self.accepted("u.json", '{"é": "\\ud83d\\ude00 ☃ \\"q\\" \\\\ \\/"}'.encode())

    def test_deep_nesting_accepted(self):
        self.accepted("deep.json", b"[" * 500 + b"]" * 500)


class MaxDocSizeTests(ChronofsTestCase):
    mount_options = ("max_doc_size=1000",)

    def test_document_over_max_doc_size_fails_efbig(self):
        before = self.commit_count()
        data = b'"' + b"a" * 1998 + b'"'
        errors = []
        fd = os.open(self.doc("big.json"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, data)
        except OSError as e:
            errors.append(e)
        try:
            os.close(fd)
        except OSError as e:
            errors.append(e)
        self.assertTrue(errors, "a 2000-byte document was accepted with max_doc_size=1000")
        self.assertEqual(errors[0].errno, errno.EFBIG, errors[0])
        self.assertEqual(self.commit_count(), before)
        self.assertNotIn("big.json", self.tree())

    def test_document_under_max_doc_size_accepted(self):
        self.save("small.json", b'"' + b"a" * 900 + b'"')

    def test_oversize_overwrite_keeps_last_committed_content(self):
        self.save("x.json", b"[1]")
        before = self.commit_count()
        try:
            write_file(self.doc("x.json"), b"[" + b"1," * 1000 + b"1]")
        except OSError as e:
            self.assertEqual(e.errno, errno.EFBIG)
        else:
            self.fail("oversize overwrite accepted")
        time.sleep(0.1)
        self.assertEqual(self.commit_count(), before)
        self.assertEqual(self.show("x.json"), b"[1]")
        self.assertEqual(read_file(self.doc("x.json")), b"[1]")


class ShortWriteTests(ChronofsTestCase):
    """A write that failed makes the whole save fail: cp of a document one
    byte over max_doc_size whose allowed prefix is valid JSON commits
    nothing and keeps the good version (issue "Hardened", item 5)."""

    mount_options = ("max_doc_size=65536",)

    def test_copy_one_byte_over_commits_nothing(self):
        self.save("doc.json", b'{"good": true}')
        before = self.head()
        src = os.path.join(self.work, "over.json")
        with open(src, "wb") as f:
            f.write(b"1" + b" " * 65535 + b"2")  # its first 64 KiB: valid JSON
        # In 4 KiB writes, as the original report's cp did in its own
        # chunks: sixteen succeed, the last one fails.
        r = subprocess.run(["dd", "if=" + src, "of=" + self.doc("doc.json"), "bs=4096"],
                           capture_output=True, text=True)
        self.assertNotEqual(r.returncode, 0, "dd of an oversized document succeeded")
        self.assertIn("too large", r.stderr.lower())
        self.assertEqual(self.head(), before, "a prefix was committed")
        self.assertEqual(read_file(self.doc("doc.json")), b'{"good": true}')
        self.expect_log("nothing committed")
        self.assertIn("nothing committed", self.daemon_log())
