"""When a persistent ordered index is made (README "Ordered views"): a spec
read 3 times through the mount, or `chronofsctl index create`; at most 16
per collection; any other lookup is computed from the tree and leaves no
index that every later save would have to keep current."""

import json
import os

from harness import ChronofsTestCase, write_file


class IndexRuleTests(ChronofsTestCase):
    def setUp(self):
        super().setUp()
        os.mkdir(self.doc("c"))
        for i in range(5):
            write_file(self.doc("c/d%d.json" % i), json.dumps({"a": i, "b": -i}).encode())

    def indexes(self):
        self.unmount()
        out = self.ctl("index", "list", self.repo).stdout.splitlines()
        self.mount()
        return sorted(line.split("\t")[2] for line in out)

    def test_one_look_at_many_specs_makes_no_index(self):
        for k in range(60):
            names = os.listdir(self.doc("c/@by/f%d" % k))
            self.assertEqual(len(names), 5)  # every document, field missing
        self.assertEqual(sorted(os.listdir(self.doc("c/@by/-a"))),
                         ["00000%d_d%d.json" % (r + 1, 4 - r) for r in range(5)])
        self.assertEqual(self.indexes(), [])

    def test_third_use_makes_it_and_sixteen_at_most(self):
        for k in range(20):
            for _ in range(3):
                os.listdir(self.doc("c/@by/f%d" % k))
        made = self.indexes()
        self.assertEqual(len(made), 16, made)
        # Still right after saves (kept current by them).
        write_file(self.doc("c/d9.json"), json.dumps({"f0": 1}).encode())
        self.assertEqual(os.listdir(self.doc("c/@by/-f0"))[0], "000001_d9.json")

    def test_index_create_makes_one_at_once(self):
        self.unmount()
        self.ctl("index", "create", self.repo, "main", "c", "-b")
        out = self.ctl("index", "list", self.repo).stdout
        self.assertIn("main\tc\t-b\t5", out)
        self.mount()
        write_file(self.doc("c/d7.json"), json.dumps({"b": 100}).encode())
        self.assertEqual(sorted(os.listdir(self.doc("c/@by/-b")))[0], "000001_d7.json")


class LongEntryNameTests(ChronofsTestCase):
    def test_entry_name_over_name_max_is_skipped_with_a_log_line(self):
        os.mkdir(self.doc("c"))
        long_id = "x" * 249  # the document's name is 254 bytes; its entry 261
        write_file(self.doc("c/%s.json" % long_id), b'{"a": 1}')
        write_file(self.doc("c/short.json"), b'{"a": 2}')
        self.expect_log("is not listed: its name would be 261 bytes")
        self.assertEqual(os.listdir(self.doc("c/@by/a")), ["000002_short.json"])
        self.assertIn("is not listed", self.daemon_log())


class IndexUpkeepTests(ChronofsTestCase):
    def test_list_says_when_no_document_has_the_field_and_gone_collections_go(self):
        os.mkdir(self.doc("c"))
        os.mkdir(self.doc("g"))
        write_file(self.doc("c/a.json"), b'{"x": 1}')
        write_file(self.doc("g/a.json"), b'{"x": 1}')
        for _ in range(3):
            os.listdir(self.doc("c/@by/nosuchfield"))
            os.listdir(self.doc("g/@by/x"))
        self.unmount()
        out = self.ctl("index", "list", self.repo).stdout
        self.assertIn("main\tc\tnosuchfield\t1\t(no document has the field)", out)
        self.assertIn("main\tg\tx\t1\n", out)
        self.mount()
        os.unlink(self.doc("g/a.json"))  # the collection's last document
        self.unmount()
        out = self.ctl("index", "list", self.repo).stdout
        self.assertNotIn("\tg\t", out)
        self.assertIn("\tc\tnosuchfield", out)
