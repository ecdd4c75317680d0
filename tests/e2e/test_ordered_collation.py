"""Ordered views against the SPEC's collation: every JSON type in one field.

The expected order is always computed by the reference comparator below
(type rank, then exact value; ties by document id), never hard-coded:

  missing < null < false < true < numbers < strings < arrays < objects

- numbers compare by exact value across ints and floats (fractions.Fraction),
  so 2**53 + 1 > 2**53 == 9007199254740992.0 and -0.0 == 0;
- strings compare by their UTF-8 bytes (so U+FB01 < U+1F600, unlike UTF-16);
- arrays element by element, a proper prefix first;
- objects as their (key, value) pairs sorted by key bytes, pair by pair
  (key first, then value), a proper prefix first;
- a descending field reverses the value order (missing last) while the id
  tie-break stays ascending.

Range steps (ge=/gt=/lt=/le= on the first field, first=N) and
`chronofsctl query --from/--to/--limit` must select exactly the reference
subset: with a descending first field the bounds still speak of values
(ge=V keeps the documents whose value is >= V).
"""

import errno
import fractions
import functools
import json
import os
import re
import shutil

from harness import ChronofsTestCase, read_file, write_file

ENTRY = re.compile(r"^(\d{6,})_(.+)\.json$")

MISSING = object()

# (document id, raw document bytes). Ids are deliberately not in value order,
# and several groups of documents hold equal values so the id tie-break shows.
DOCS = [
    ("m1", b'{"w": 2, "other": 1}'),  # no v at all
    ("Mq", b'{"w": 1}'),  # no v at all (uppercase id sorts first)
    ("top", b'[1, 2]'),  # not an object: v is missing
    ("n1", b'{"v": null, "w": 1}'),
    ("f1", b'{"v": false, "w": 2}'),
    ("t1", b'{"v": true, "w": 1}'),
    # integers at and beyond 2^53, and the int64 extremes
    ("p53", b'{"v": 9007199254740992, "w": 1}'),
    ("p53a", b'{"v": 9007199254740993, "w": 2}'),
    ("A53", b'{"v": 9007199254740993, "w": 1}'),  # equal to p53a: tie by id
    ("p53f", b'{"v": 9007199254740992.0, "w": 2}'),  # equal to 2**53
    ("p53r", b'{"v": 9007199254740993.0, "w": 1}'),  # rounds to 2**53 as a double
    ("imin", b'{"v": -9223372036854775808, "w": 2}'),
    ("iminf", b'{"v": -9.223372036854776e18, "w": 1}'),  # == -2**63 exactly
    ("imax", b'{"v": 9223372036854775807, "w": 1}'),
    ("imaxf", b'{"v": 9.223372036854776e18, "w": 2}'),  # 2**63 > int64 max
    ("big", b'{"v": 1e308, "w": 1}'),
    ("nbig", b'{"v": -1e308, "w": 2}'),
    # zeros, denormals, small numbers
    ("z0", b'{"v": 0, "w": 2}'),
    ("zneg", b'{"v": -0.0, "w": 1}'),
    ("Zf", b'{"v": 0.0, "w": 1}'),
    ("den", b'{"v": 5e-324, "w": 2}'),
    ("nden", b'{"v": -5e-324, "w": 1}'),
    ("one", b'{"v": 1, "w": 2}'),
    ("onef", b'{"v": 1.0, "w": 1}'),
    ("oneh", b'{"v": 1.5, "w": 1}'),
    ("two", b'{"v": 2, "w": 2}'),
    ("mone", b'{"v": -1, "w": 1}'),
    ("mhalf", b'{"v": -0.5, "w": 2}'),
    ("thirty", b'{"v": 30, "w": 1}'),
    ("fortyf", b'{"v": 40.25, "w": 2}'),
    # strings: NUL inside, prefixes, non-ASCII, UTF-8 vs UTF-16 order
    ("s_empty", b'{"v": "", "w": 1}'),
    ("s_a", b'{"v": "a", "w": 2}'),
    ("s_anul", b'{"v": "a\\u0000b", "w": 1}'),
    ("s_anul0", b'{"v": "a\\u0000", "w": 2}'),
    ("s_ab", b'{"v": "ab", "w": 2}'),
    ("s_abc", b'{"v": "abc", "w": 1}'),
    ("s_B", b'{"v": "B", "w": 1}'),
    ("s_m", b'{"v": "m", "w": 2}'),
    ("s_z", b'{"v": "z", "w": 1}'),
    ("s_e", b'{"v": "\xc3\xa9", "w": 2}'),  # raw UTF-8 e-acute
    ("s_e2", b'{"v": "\\u00e9", "w": 1}'),  # the same string, escaped: tie
    ("s_fi", b'{"v": "\\ufb01", "w": 2}'),  # ef ac 81
    ("s_emoji", b'{"v": "\\ud83d\\ude00", "w": 1}'),  # f0 9f 98 80
    ("s_30", b'{"v": "30", "w": 2}'),
    # arrays
    ("a_empty", b'{"v": [], "w": 1}'),
    ("a_1", b'{"v": [1], "w": 2}'),
    ("a_1f", b'{"v": [1.0], "w": 1}'),  # equal to [1]
    ("a_12", b'{"v": [1, 2], "w": 1}'),
    ("a_1a", b'{"v": [1, "a"], "w": 2}'),
    ("a_nested", b'{"v": [[1]], "w": 2}'),
    ("a_2", b'{"v": [2], "w": 1}'),
    ("a_null", b'{"v": [null], "w": 2}'),
    ("a_str", b'{"v": ["a"], "w": 1}'),
    ("a_obj", b'{"v": [{}], "w": 2}'),
    ("a_deep", b'{"v": [[[]], 0], "w": 1}'),
    # objects
    ("o_empty", b'{"v": {}, "w": 2}'),
    ("o_a1", b'{"v": {"a": 1}, "w": 1}'),
    ("o_a1b0", b'{"v": {"a": 1, "b": 0}, "w": 2}'),
    ("o_b0a1", b'{"v": {"b": 0, "a": 1}, "w": 1}'),  # same pairs: tie
    ("o_a2", b'{"v": {"a": 2}, "w": 2}'),
    ("o_b0", b'{"v": {"b": 0}, "w": 1}'),
    ("o_astr", b'{"v": {"a": "x"}, "w": 2}'),
    ("o_anull", b'{"v": {"a": null}, "w": 1}'),
    ("o_A", b'{"v": {"A": 9}, "w": 1}'),
    ("o_nested", b'{"v": {"a": {"b": []}}, "w": 2}'),
]


# ---- the reference comparator ------------------------------------------------


def type_rank(v):
    if v is MISSING:
        return 0
    if v is None:
        return 1
    if v is False:
        return 2
    if v is True:
        return 3
    if isinstance(v, (int, float)):
        return 4
    if isinstance(v, str):
        return 5
    if isinstance(v, list):
        return 6
    if isinstance(v, dict):
        return 7
    raise TypeError(repr(v))


def sign(x):
    return (x > 0) - (x < 0)


def ref_cmp(a, b):
    """-1, 0 or 1: how value A collates against value B."""
    ra, rb = type_rank(a), type_rank(b)
    if ra != rb:
        return sign(ra - rb)
    if ra == 4:
        return sign(fractions.Fraction(a) - fractions.Fraction(b))
    if ra == 5:
        ea, eb = a.encode("utf-8"), b.encode("utf-8")
        return (ea > eb) - (ea < eb)
    if ra == 6:
        for x, y in zip(a, b):
            c = ref_cmp(x, y)
            if c:
                return c
        return sign(len(a) - len(b))
    if ra == 7:
        pa = sorted(a.items(), key=lambda kv: kv[0].encode("utf-8"))
        pb = sorted(b.items(), key=lambda kv: kv[0].encode("utf-8"))
        for (ka, va), (kb, vb) in zip(pa, pb):
            c = ref_cmp(ka, kb) or ref_cmp(va, vb)
            if c:
                return c
        return sign(len(pa) - len(pb))
    return 0  # missing, null, false, true: one value each


def field(doc, path):
    """The value at dotted PATH in DOC, or MISSING."""
    for name in path.split("."):
        if not isinstance(doc, dict) or name not in doc:
            return MISSING
        doc = doc[name]
    return doc


def parse_spec(spec):
    return [(f[1:], True) if f.startswith("-") else (f, False) for f in spec.split(",")]


def ref_order(docs, spec):
    """Ids of DOCS ({id: bytes}) in the order of SPEC, ties by id bytes."""
    fields = parse_spec(spec)
    parsed = {i: json.loads(body) for i, body in docs.items()}

    def cmp(x, y):
        for path, desc in fields:
            c = ref_cmp(field(parsed[x], path), field(parsed[y], path))
            if c:
                return -c if desc else c
        bx, by = x.encode(), y.encode()
        return (bx > by) - (bx < by)

    return sorted(docs, key=functools.cmp_to_key(cmp))


def ref_range(docs, spec, ge=MISSING, gt=MISSING, lt=MISSING, le=MISSING, first=None):
    """The reference subset: bounds on the first field's value, then a limit."""
    path = parse_spec(spec)[0][0]
    out = []
    for i in ref_order(docs, spec):
        v = field(json.loads(docs[i]), path)
        if ge is not MISSING and ref_cmp(v, ge) < 0:
            continue
        if gt is not MISSING and ref_cmp(v, gt) <= 0:
            continue
        if lt is not MISSING and ref_cmp(v, lt) >= 0:
            continue
        if le is not MISSING and ref_cmp(v, le) > 0:
            continue
        out.append(i)
    return out if first is None else out[:first]


# ---- the tests ----------------------------------------------------------------


class CollationTestCase(ChronofsTestCase):
    docs = DOCS

    def setUp(self):
        super().setUp()
        self.current = {}
        os.mkdir(self.doc("c"))
        for i, body in self.docs:
            self.put(i, body)

    def put(self, i, body):
        write_file(self.doc("c/%s.json" % i), body)
        self.current[i] = body

    def view_ids(self, steps, root=None):
        """Ids listed by ROOT/c/@by/STEPS, checking the entry names and ranks."""
        d = os.path.join(root or self.main, "c", "@by", steps)
        names = os.listdir(d)
        self.assertEqual(names, sorted(names), "ls of %s must list in rank order" % steps)
        ids = []
        for rank, n in enumerate(names, 1):
            m = ENTRY.match(n)
            self.assertIsNotNone(m, "entry name %r in %s" % (n, steps))
            self.assertEqual(m.group(1), "%06d" % rank, "rank of %r in %s" % (n, steps))
            ids.append(m.group(2))
        return ids

    def assertView(self, steps, expected, root=None):
        got = self.view_ids(steps, root)
        if got != expected:
            self.fail("@by/%s\n got:      %r\n expected: %r\n first difference at %s" % (
                steps, got, expected, first_diff(got, expected)))

    def query(self, spec, *opts):
        r = self.ctl("query", self.repo, "main", "c", spec, *opts)
        rows = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
        self.assertEqual([row["rank"] for row in rows], list(range(1, len(rows) + 1)))
        return [row["id"] for row in rows]


def first_diff(a, b):
    for k, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return "rank %d: got %r, expected %r" % (k + 1, x, y)
    return "lengths %d vs %d" % (len(a), len(b))


class MixedCollationTests(CollationTestCase):
    def test_reference_comparator_sanity(self):
        # The reference itself must agree with the SPEC's worked examples,
        # else every comparison below is meaningless.
        lt = lambda a, b: self.assertEqual(ref_cmp(a, b), -1, (a, b))  # noqa: E731
        lt(MISSING, None)
        lt(None, False)
        lt(False, True)
        lt(True, -2**63)
        lt(2**63 - 1, "")
        lt("", "a")
        lt("a", "a\0")
        lt("a\0", "a\0b")
        lt("a\0b", "ab")
        lt("z", "\u00e9")
        lt("\ufb01", "\U0001f600")
        lt("\uffff", [])
        lt([], [1])
        lt([1, 2], [2])
        lt([2], [[1]])
        lt([[1]], {})
        lt({}, {"a": 1})
        lt({"a": 1}, {"b": 0, "a": 1})
        lt({"a": 1, "b": 0}, {"a": 2})
        lt({"a": 2}, {"b": 0})
        lt(2**53, 2**53 + 1)
        lt(float(2**53), 2**53 + 1)
        lt(2**63 - 1, 9.223372036854776e18)
        lt(0, 5e-324)
        lt(-5e-324, -0.0)
        self.assertEqual(ref_cmp(-0.0, 0), 0)
        self.assertEqual(ref_cmp(-2**63, -9.223372036854776e18), 0)
        self.assertEqual(ref_cmp(9007199254740992.0, 9007199254740993.0), 0)

    def test_ascending_lists_every_type_in_collation_order(self):
        self.assertView("v", ref_order(self.current, "v"))

    def test_entries_read_as_the_documents(self):
        d = os.path.join(self.main, "c", "@by", "v")
        for n in sorted(os.listdir(d)):
            i = ENTRY.match(n).group(2)
            p = os.path.join(d, n)
            self.assertEqual(read_file(p), self.current[i], n)
            self.assertEqual(os.stat(p).st_mode & 0o777, 0o444, n)

    def test_descending_is_reverse_value_order_ids_ascending(self):
        expected = ref_order(self.current, "-v")
        self.assertView("-v", expected)
        # missing sorts last in a descending field
        missing = [i for i in expected if field(json.loads(self.current[i]), "v") is MISSING]
        self.assertEqual(expected[-len(missing):], sorted(missing, key=str.encode))

    def test_two_fields_w_ascending_then_v_descending(self):
        self.assertView("w,-v", ref_order(self.current, "w,-v"))

    def test_save_moves_the_document_at_once(self):
        self.assertView("v", ref_order(self.current, "v"))
        for i, body in (
            ("z0", b'{"v": "zz", "w": 2}'),  # number -> string
            ("o_A", b'{"v": -9223372036854775807, "w": 1}'),  # object -> number
            ("s_ab", b'{"w": 2}'),  # string -> missing
            ("m1", b'{"v": [1, 1], "w": 2}'),  # missing -> array
        ):
            self.save("c/%s.json" % i, body)
            self.current[i] = body
            self.assertView("v", ref_order(self.current, "v"))
            self.assertView("-v", ref_order(self.current, "-v"))

    def test_delete_removes_and_create_adds(self):
        self.assertView("v", ref_order(self.current, "v"))
        for i in ("p53a", "s_anul", "o_b0a1", "top"):
            os.unlink(self.doc("c/%s.json" % i))
            del self.current[i]
            self.assertView("v", ref_order(self.current, "v"))
        self.put("new", b'{"v": 9007199254740993.5}')  # a double: == 2**53 + 2
        self.put("Anew", b'{"v": 9007199254740994, "w": 0}')  # ties with new
        self.assertView("v", ref_order(self.current, "v"))
        self.assertView("w,-v", ref_order(self.current, "w,-v"))

    def test_snapshot_view_shows_the_order_at_that_commit(self):
        self.assertView("v", ref_order(self.current, "v"))  # build the live index
        then = dict(self.current)
        commit = self.head()
        self.save("c/one.json", b'{"v": "one"}')
        self.current["one"] = b'{"v": "one"}'
        os.unlink(self.doc("c/s_z.json"))
        del self.current["s_z"]
        self.put("later", b'{"v": -1e-300}')
        snap = os.path.join(self.mnt, "main@" + commit[:7])
        self.assertView("v", ref_order(then, "v"), root=snap)
        self.assertView("-v", ref_order(then, "-v"), root=snap)
        self.assertView("v/ge=0/lt=\"m\"/first=9", ref_range(then, "v", ge=0, lt="m", first=9), root=snap)
        self.assertView("v", ref_order(self.current, "v"))
        for n in os.listdir(os.path.join(snap, "c", "@by", "v")):
            i = ENTRY.match(n).group(2)
            self.assertEqual(read_file(os.path.join(snap, "c", "@by", "v", n)), then[i], n)


class RangeStepTests(CollationTestCase):
    CASES = [
        # (steps after the spec, reference keyword arguments)
        ("ge=30", dict(ge=30)),
        ("gt=30", dict(gt=30)),
        ("lt=30", dict(lt=30)),  # includes the missing, null and bool rows
        ("le=30", dict(le=30)),
        ("ge=0/le=0", dict(ge=0, le=0)),  # 0, 0.0, -0.0: a tie group
        ("gt=0/lt=1", dict(gt=0, lt=1)),  # the denormal only
        ("ge=-0.0/lt=5e-324", dict(ge=-0.0, lt=5e-324)),
        ("ge=9007199254740992/lt=9007199254740993", dict(ge=2**53, lt=2**53 + 1)),
        ("gt=9007199254740992/le=9223372036854775807", dict(gt=2**53, le=2**63 - 1)),
        ("gt=9223372036854775807", dict(gt=2**63 - 1)),
        ("ge=-9223372036854775808/lt=-1", dict(ge=-2**63, lt=-1)),
        ("ge=1.5/first=3", dict(ge=1.5, first=3)),
        ("first=1", dict(first=1)),
        ("first=5", dict(first=5)),
        ("first=1000", dict(first=1000)),
        ('ge="a"/lt="b"', dict(ge="a", lt="b")),
        ("ge=a/lt=b", dict(ge="a", lt="b")),  # bare strings
        ('gt="ab"', dict(gt="ab")),
        ('le="ab"', dict(le="ab")),
        ('gt="a"/le="abc"', dict(gt="a", le="abc")),
        ('ge="z"', dict(ge="z")),
        ('ge="\\u00e9"/le="\\u00e9"', dict(ge="\u00e9", le="\u00e9")),
        ("ge=null/lt=1", dict(ge=None, lt=1)),
        ("gt=true/lt=\"\"", dict(gt=True, lt="")),  # every number
        ("ge=[]/lt={}", dict(ge=[], lt={})),  # every array
        ("gt=[1]/le=[[1]]", dict(gt=[1], le=[[1]])),
        ('ge={}/first=4', dict(ge={}, first=4)),
        ('gt={"a":1}', dict(gt={"a": 1})),
        ("ge=20/lt=40/first=2", dict(ge=20, lt=40, first=2)),
    ]

    def test_ascending_range_steps(self):
        for steps, kw in self.CASES:
            with self.subTest(steps=steps):
                self.assertView("v/" + steps, ref_range(self.current, "v", **kw))

    def test_descending_range_steps_bound_values(self):
        for steps, kw in self.CASES:
            with self.subTest(steps=steps):
                self.assertView("-v/" + steps, ref_range(self.current, "-v", **kw))

    def test_range_on_first_field_of_two(self):
        for steps, kw in (("ge=2", dict(ge=2)), ("lt=2/first=7", dict(lt=2, first=7)), ("gt=1/le=2", dict(gt=1, le=2))):
            with self.subTest(steps=steps):
                self.assertView("w,-v/" + steps, ref_range(self.current, "w,-v", **kw))

    def test_string_bound_holding_nul(self):
        # "a\u0000" is a JSON string (a, NUL) like the values documents hold;
        # it must bound as that string, not as its quoted text.
        kw = dict(ge="a\0", lt="ab")
        self.assertView('v/ge="a\\u0000"/lt="ab"', ref_range(self.current, "v", **kw))
        self.assertEqual(self.query("v", "--from", '"a\\u0000"', "--to", '"ab"'),
                         ref_range(self.current, "v", **kw))

    def test_redundant_bounds_intersect(self):
        # Two lower (or two upper) bounds: both must hold, whichever is tighter.
        for steps, kw in (
            ("ge=30/gt=1", dict(ge=30, gt=1)),
            ("gt=1/ge=30", dict(gt=1, ge=30)),
            ("le=1/lt=30", dict(le=1, lt=30)),
            ("lt=30/le=1", dict(lt=30, le=1)),
            ("le=30/lt=1", dict(le=30, lt=1)),
        ):
            with self.subTest(steps=steps):
                self.assertView("v/" + steps, ref_range(self.current, "v", **kw))


class QueryTests(CollationTestCase):
    QUERIES = [
        # (spec, ctl options, view steps)
        ("v", (), ""),
        ("-v", (), ""),
        ("w,-v", (), ""),
        ("v", ("--from", "30"), "ge=30"),
        ("v", ("--to", "30"), "lt=30"),
        ("v", ("--from", "0", "--to", "5e-324"), "ge=0/lt=5e-324"),
        ("v", ("--from", "9007199254740992", "--to", "9007199254740993"),
         "ge=9007199254740992/lt=9007199254740993"),
        ("v", ("--from", '"a"', "--to", '"b"'), 'ge="a"/lt="b"'),
        ("v", ("--from", "a", "--to", "b"), "ge=a/lt=b"),
        ("v", ("--from", "[]", "--limit", "4"), "ge=[]/first=4"),
        ("v", ("--limit", "7"), "first=7"),
        ("-v", ("--from", "1", "--limit", "5"), "ge=1/first=5"),
        ("v", ("--from", "-9223372036854775808", "--to", "-1"), "ge=-9223372036854775808/lt=-1"),
    ]

    def check_queries(self):
        for spec, opts, steps in self.QUERIES:
            with self.subTest(spec=spec, opts=opts):
                view = self.view_ids(spec + ("/" + steps if steps else "")) if self.proc else None
                got = self.query(spec, *opts)
                if view is not None:
                    self.assertEqual(got, view, "query vs view")
                kw = {}
                it = iter(opts)
                for o in it:
                    a = next(it)
                    if o == "--limit":
                        kw["first"] = int(a)
                    else:
                        try:
                            val = json.loads(a)
                        except ValueError:
                            val = a
                        kw["ge" if o == "--from" else "lt"] = val
                self.assertEqual(got, ref_range(self.current, spec, **kw), "query vs reference")

    def test_query_while_mounted_matches_view(self):
        self.check_queries()

    def test_query_while_mounted_before_any_view(self):
        # No view looked up yet: no index exists for these specs.
        for spec in ("v", "-v", "w,-v"):
            self.assertEqual(self.query(spec), ref_order(self.current, spec))
            self.assertEqual(self.query(spec, "--from", "1", "--to", '"b"', "--limit", "6"),
                             ref_range(self.current, spec, ge=1, lt="b", first=6))

    def test_query_after_unmount_matches_view(self):
        views = {}
        for spec, opts, steps in self.QUERIES:
            views[(spec, opts)] = self.view_ids(spec + ("/" + steps if steps else ""))
        self.unmount()
        for spec, opts, steps in self.QUERIES:
            with self.subTest(spec=spec, opts=opts):
                self.assertEqual(self.query(spec, *opts), views[(spec, opts)])
        self.check_queries()

    def test_query_follows_a_save_while_mounted(self):
        self.view_ids("v")
        self.save("c/s_m.json", b'{"v": -2}')
        self.current["s_m"] = b'{"v": -2}'
        self.assertEqual(self.query("v"), self.view_ids("v"))
        self.assertEqual(self.query("v"), ref_order(self.current, "v"))


class SmallCollectionTests(ChronofsTestCase):
    """Namespace and persistence behaviour on a small collection."""

    BODIES = {
        "alice": b'{"v": 30, "n": {"k": "x"}}',
        "bob": b'{"v": 20.5, "n": {"k": "a"}}',
        "carol": b'{"v": "thirty", "n": {"k": null}}',
        "dan": b'{"name": "no v", "n": 5}',
        "erin": b'{"v": 9007199254740993, "n": {}}',
        "Fay": b'{"v": 9007199254740992.0, "n": {"k": ["a"]}}',
    }

    def setUp(self):
        super().setUp()
        os.mkdir(self.doc("c"))
        for i, body in self.BODIES.items():
            write_file(self.doc("c/%s.json" % i), body)

    def ids(self, steps):
        names = os.listdir(os.path.join(self.main, "c", "@by", steps))
        self.assertEqual(names, sorted(names))
        return [ENTRY.match(n).group(2) for n in names]

    def test_dotted_path_field(self):
        self.assertEqual(self.ids("n.k"), ref_order(self.BODIES, "n.k"))
        self.assertEqual(self.ids("-n.k"), ref_order(self.BODIES, "-n.k"))

    def test_by_is_never_listed(self):
        self.ids("v")
        self.ids("-v,n.k")
        os.stat(os.path.join(self.main, "c", "@by"))
        for d in (self.main, self.doc("c")):
            out = self.run_cmd("ls", "-a", d).stdout.decode().split()
            self.assertFalse([n for n in out if "@" in n], "ls -a %s: %r" % (d, out))
            self.assertNotIn("@by", os.listdir(d))
        for top, dirs, files in os.walk(self.main):
            self.assertFalse([n for n in dirs + files if "@" in n], "walk %s" % top)

    def test_creating_at_name_fails_einval(self):
        before = self.commit_count()
        with self.assertErrno(errno.EINVAL):
            write_file(self.doc("c/@x.json"), b'{"v": 1}')
        self.assertEqual(self.commit_count(), before)
        self.assertNotIn("@x.json", os.listdir(self.doc("c")))
        self.assertEqual(self.ids("v"), ref_order(self.BODIES, "v"))

    def test_index_survives_remount(self):
        before = {s: self.ids(s) for s in ("v", "-v", "n.k")}
        self.assertEqual(before["v"], ref_order(self.BODIES, "v"))
        self.remount()
        self.assertEqual({s: self.ids(s) for s in before}, before)

    def test_deleted_index_is_rebuilt(self):
        before = {s: self.ids(s) for s in ("v", "-v", "v/ge=20/lt=40/first=2")}
        self.unmount()
        index = os.path.join(self.repo, "chronofs", "index")
        self.assertTrue(os.path.exists(index), "no index at %s: %r" % (
            index, os.listdir(os.path.join(self.repo, "chronofs"))))
        shutil.rmtree(index) if os.path.isdir(index) else os.unlink(index)
        self.mount()
        self.assertEqual({s: self.ids(s) for s in before}, before)
        self.assertTrue(os.path.exists(index), "index not recreated")
        self.assertEqual(before["v"], ref_order(self.BODIES, "v"))
        self.assertEqual(before["v/ge=20/lt=40/first=2"],
                         ref_range(self.BODIES, "v", ge=20, lt=40, first=2))
        # and it is kept current after the rebuild
        write_file(self.doc("c/gus.json"), b'{"v": 25}')
        after = dict(self.BODIES, gus=b'{"v": 25}')
        self.assertEqual(self.ids("v"), ref_order(after, "v"))


if __name__ == "__main__":
    import unittest

    unittest.main()
