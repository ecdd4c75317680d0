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

    def test_range_steps_bound_the_first_field(self):
        self.assertEqual(self.ids("age/ge=20/lt=30"), ["bob", "carol"])
        self.assertEqual(self.ids("age/gt=20"), ["carol", "alice"])
        self.assertEqual(self.ids("age/first=2"), ["dan", "bob"])
        self.assertEqual(self.ids("age/ge=20/first=2"), ["bob", "carol"])

    def test_descending_reverses_and_puts_missing_last(self):
        self.assertEqual(self.ids("-age"), ["alice", "carol", "bob", "dan"])

    def test_collation_across_types(self):
        os.mkdir(self.doc("mix"))
        for uid, v in (("a", b'"str"'), ("b", b"null"), ("c", b"true"), ("d", b"false"), ("e", b"[1]"),
                       ("f", b'{"k": 1}'), ("g", b"-5"), ("h", None)):
            write_file(self.doc("mix/%s.json" % uid), b"{}" if v is None else b'{"v": ' + v + b"}")
        names = os.listdir(self.doc("mix/@by/v"))
        self.assertEqual([n.split("_", 1)[1][:-5] for n in names], ["h", "b", "d", "c", "g", "a", "e", "f"])

    def test_nested_field(self):
        os.mkdir(self.doc("places"))
        write_file(self.doc("places/p1.json"), b'{"address": {"city": "Oslo"}}')
        write_file(self.doc("places/p2.json"), b'{"address": {"city": "Bergen"}}')
        names = os.listdir(self.doc("places/@by/address.city"))
        self.assertEqual([n.split("_", 1)[1] for n in names], ["p2.json", "p1.json"])

    def test_numbers_order_by_value_across_int_and_float(self):
        os.mkdir(self.doc("n"))
        for i, v in enumerate([b"10", b"9.5", b"-1", b"1e2", b"3", b"3.0000001", b"9007199254740993", b"9007199254740992"]):
            write_file(self.doc("n/x%d.json" % i), b'{"v": ' + v + b"}")
        names = os.listdir(self.doc("n/@by/v"))
        ids = [n.split("_", 1)[1][:-5] for n in names]
        self.assertEqual(ids, ["x2", "x4", "x5", "x1", "x0", "x3", "x7", "x6"])
