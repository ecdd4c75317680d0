"""Ordered views: COLLECTION/@by/SPEC/ lists documents in index order."""

import errno
import os
import re
import unittest

from harness import ChronofsTestCase, read_file, write_file

VERSION_NAME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ_([0-9a-f]{7})\.json$")


class OrderedViewTests(ChronofsTestCase):
    def setUp(self):
        super().setUp()
        os.mkdir(self.doc("users"))
        for uid, body in (
            ("alice", b'{"age": 30}'),
            ("bob", b'{"age": 20}'),
            ("carol", b'{"age": 25.5}'),
            ("dan", b'{"name": "no age"}'),
        ):
            write_file(self.doc("users/%s.json" % uid), body)

    def ids(self, spec):
        names = os.listdir(self.doc("users/@by/" + spec))
        self.assertEqual(names, sorted(names), "ls order must be index order")
        out = []
        for n in names:
            m = re.match(r"^\d+_(.+)\.json$", n)
            self.assertIsNotNone(m, n)
            out.append(m.group(1))
        return out

    def test_ordered_view_ascending(self):
        self.assertEqual(self.ids("age"), ["dan", "bob", "carol", "alice"])

    def test_ordered_view_entry_reads_as_document(self):
        names = os.listdir(self.doc("users/@by/age"))
        self.assertEqual(read_file(os.path.join(self.doc("users/@by/age"), names[1])), b'{"age": 20}')

    def test_ordered_view_follows_new_commit(self):
        self.ids("age")
        write_file(self.doc("users/eve.json"), b'{"age": 1}')
        self.assertEqual(self.ids("age"), ["dan", "eve", "bob", "carol", "alice"])
