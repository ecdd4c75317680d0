"""A Git-backed time-travel JSON document store: the libchronofs binding.

Every put is one Git commit on a branch, every past state of a document can
be read back, and collections can be read in the order of document fields
through persistent indexes: the same store the chronofs FUSE daemon serves,
without a mount. This module binds libchronofs with the standard library's
ctypes only.

Example::

    from chronofs import ChronoFS, ChronoFSError
    with ChronoFS("/srv/data.git") as db:
        commit = db.put("main", "users/alice.json", {"name": "alice", "age": 34})
        db.get("main", "users/alice.json")              # {'name': 'alice', 'age': 34}
        db.get_at("main", "2026-11-20T10:00:00Z", "users/alice.json")
        for doc_id, doc in db.query("main", "users", "age", start=30, stop=40):
            print(doc_id, doc["age"])

Documents go in as Python values serialized with json.dumps (put), or as raw
JSON text (put_raw, stored byte for byte), and come out parsed (get, get_at)
or as bytes (get_raw). Paths are "COLLECTION/ID.json"; collections nest.

Errors raise ChronoFSError, an OSError whose .errno is the library's error
(ENOENT, EINVAL, EFBIG, EEXIST, ENOTDIR, EISDIR, EIO, ENOMEM) and whose str()
is the library's message naming what and where.

Threads: one ChronoFS may be used by many threads at once; each call is
atomic, and puts are compare-and-swap on the branch ref, so they are safe
beside a running mount and outside git commands.

The library is loaded from $CHRONOFS_LIB when set (a path, or a name for the
dynamic loader), else by its soname, libchronofs.so.0, on the loader's path
(installed under /usr or /usr/local; LD_LIBRARY_PATH for other prefixes).
"""

from __future__ import annotations

import ctypes
import json
import os
from typing import Any, Iterator, List, Optional, Tuple, TypedDict, Union

__all__ = ["ChronoFS", "ChronoFSError", "IndexDef", "LogEntry", "Revision", "Transaction",
           "clone", "init", "version"]

SONAME = "libchronofs.so.0"

Text = Union[str, bytes]


class ChronoFSError(OSError):
    """A failed library call: .errno is the error number, str() the library's message."""


class Revision(TypedDict):
    """One version of a document, as ChronoFS.history returns it."""

    commit: str  # 40 hex digits
    time: int  # committer time, seconds since the epoch
    deleted: bool  # True: this commit deleted the document


class LogEntry(TypedDict):
    """One commit, as ChronoFS.log returns it."""

    commit: str  # 40 hex digits
    time: int  # committer time, seconds since the epoch
    summary: str  # the first line of its message


class IndexDef(TypedDict):
    """One persistent ordered index, as ChronoFS.index_list returns it."""

    branch: str
    collection: str  # "" is the branch root
    spec: str  # canonical form
    rows: int


def _load() -> ctypes.CDLL:
    name = os.environ.get("CHRONOFS_LIB") or SONAME
    try:
        return ctypes.CDLL(name)
    except OSError as e:
        raise ImportError(
            "libchronofs not found: %s (install it, or set CHRONOFS_LIB to its path)" % e
        ) from e


_lib = _load()
_c = ctypes
_p = _c.c_void_p
_s = _c.c_char_p
_sz = _c.c_size_t
_pp = _c.POINTER(_c.c_char_p)


class _Rev(_c.Structure):
    _fields_ = [("commit", _c.c_char * 41), ("time", _c.c_int64), ("deleted", _c.c_int)]


class _Range(_c.Structure):
    _fields_ = [("ge", _s), ("gt", _s), ("lt", _s), ("le", _s), ("first", _c.c_size_t)]


class _MergeResult(_c.Structure):
    _fields_ = [("commit", _c.c_char * 41), ("fast_forward", _c.c_int),
                ("unrelated", _c.c_int), ("conflicts", _c.c_size_t)]


_LogCb = _c.CFUNCTYPE(_c.c_int, _p, _s, _c.c_int64, _s)
_IndexCb = _c.CFUNCTYPE(_c.c_int, _p, _s, _s, _s, _c.c_uint64)


def _sig(name: str, res: Any, *args: Any) -> Any:
    f = getattr(_lib, name)
    f.restype = res
    f.argtypes = list(args)
    return f


_version = _sig("chronofs_version", _s)
_init = _sig("chronofs_init", _c.c_int, _s)
_open = _sig("chronofs_open", _c.c_int, _c.POINTER(_p), _s, _s)
_close = _sig("chronofs_close", None, _p)
_errmsg = _sig("chronofs_errmsg", _s, _p)
_free = _sig("chronofs_free", None, _p)
_strings_free = _sig("chronofs_strings_free", None, _c.POINTER(_c.c_char_p), _sz)
_get = _sig("chronofs_get", _c.c_int, _p, _s, _s, _c.POINTER(_p), _c.POINTER(_sz))
_put = _sig("chronofs_put", _c.c_int, _p, _s, _s, _s, _sz, _c.c_char_p)
_delete = _sig("chronofs_delete", _c.c_int, _p, _s, _s, _c.c_char_p)
_rename = _sig("chronofs_rename", _c.c_int, _p, _s, _s, _s, _c.c_char_p)
_list = _sig("chronofs_list", _c.c_int, _p, _s, _s, _c.POINTER(_c.POINTER(_c.c_char_p)), _c.POINTER(_sz))
_get_at = _sig("chronofs_get_at", _c.c_int, _p, _s, _s, _s, _c.POINTER(_p), _c.POINTER(_sz))
_history = _sig("chronofs_history", _c.c_int, _p, _s, _s, _c.POINTER(_c.POINTER(_Rev)), _c.POINTER(_sz))
_branches = _sig("chronofs_branches", _c.c_int, _p, _c.POINTER(_c.POINTER(_c.c_char_p)), _c.POINTER(_sz))
_branch_create = _sig("chronofs_branch_create", _c.c_int, _p, _s)
_branch_delete = _sig("chronofs_branch_delete", _c.c_int, _p, _s)
_query = _sig("chronofs_query", _c.c_int, _p, _s, _s, _s, _s, _s, _sz, _c.POINTER(_p))
_iter_next = _sig("chronofs_iter_next", _c.c_int, _p, _pp, _pp, _c.POINTER(_sz))
_iter_free = _sig("chronofs_iter_free", None, _p)
_branch_rename = _sig("chronofs_branch_rename", _c.c_int, _p, _s, _s)
_resolve = _sig("chronofs_resolve", _c.c_int, _p, _s, _s, _c.c_char_p, _c.POINTER(_c.c_int64))
_commit = _sig("chronofs_commit", _c.c_int, _p, _s, _c.POINTER(_c.c_int64), _c.POINTER(_p))
_log = _sig("chronofs_log", _c.c_int, _p, _s, _s, _LogCb, _p)
_query_range = _sig("chronofs_query_range", _c.c_int, _p, _s, _s, _s, _c.POINTER(_Range), _c.POINTER(_p))
_index_list = _sig("chronofs_index_list", _c.c_int, _p, _IndexCb, _p)
_index_drop = _sig("chronofs_index_drop", _c.c_int, _p, _s, _s, _s)
_index_rebuild = _sig("chronofs_index_rebuild", _c.c_int, _p, _s, _s, _s)
_index_create = _sig("chronofs_index_create", _c.c_int, _p, _s, _s, _s)
_range_step = _sig("chronofs_range_step", _c.c_int, _c.POINTER(_Range), _c.c_char_p)
_merge = _sig("chronofs_merge", _c.c_int, _p, _s, _s, _s, _c.c_uint, _c.POINTER(_MergeResult))
_diff_open = _sig("chronofs_diff_open", _c.c_int, _c.POINTER(_p), _p, _s, _s, _s)
_diff_next = _sig("chronofs_diff_next", _c.c_int, _p, _pp, _c.POINTER(_sz))
_diff_free = _sig("chronofs_diff_free", None, _p)
_tx_begin = _sig("chronofs_tx_begin_flags", _c.c_int, _c.POINTER(_p), _p, _s, _c.c_uint)
_tx_put = _sig("chronofs_tx_put", _c.c_int, _p, _s, _s, _sz)
_tx_delete = _sig("chronofs_tx_delete", _c.c_int, _p, _s)
_tx_rename = _sig("chronofs_tx_rename", _c.c_int, _p, _s, _s)
_tx_get = _sig("chronofs_tx_get", _c.c_int, _p, _s, _c.POINTER(_p), _c.POINTER(_sz))
_tx_commit = _sig("chronofs_tx_commit", _c.c_int, _p, _s, _c.c_char_p)
_tx_abort = _sig("chronofs_tx_abort", None, _p)
_tx_free = _sig("chronofs_tx_free", None, _p)


class _SyncBranch(_c.Structure):
    _fields_ = [("name", _c.c_char_p), ("done", _c.c_uint), ("conflicts", _sz), ("ahead", _sz),
                ("behind", _sz), ("before", _c.c_char * 41), ("after", _c.c_char * 41),
                ("message", _c.c_char_p)]


class _SyncResult(_c.Structure):
    _fields_ = [("v", _c.POINTER(_SyncBranch)), ("n", _sz), ("failed", _sz), ("changed", _sz),
                ("time", _c.c_int64)]


_clone = _sig("chronofs_clone", _c.c_int, _s, _s)
_sync = _sig("chronofs_sync", _c.c_int, _p, _s, _c.POINTER(_c.POINTER(_SyncResult)))
_sync_free = _sig("chronofs_sync_result_free", None, _c.POINTER(_SyncResult))
_SYNC_WORDS = [(0x08, "created"), (0x01, "fast_forward"), (0x02, "merged"), (0x04, "pushed"),
               (0x10, "deleted"), (0x20, "deleted_remote"), (0x40, "kept"), (0x80, "failed")]


def _b(s: Text) -> bytes:
    return s.encode("utf-8") if isinstance(s, str) else s


def version() -> str:
    """The library's version, "MAJOR.MINOR.PATCH"."""
    return _version().decode()


def init(path: Text) -> None:
    """Create a bare repository at PATH with branch main and an empty first commit.

    Raises ChronoFSError (errno EEXIST) if PATH is a repository already.
    """
    rc = _init(_b(path))
    if rc < 0:
        raise ChronoFSError(-rc, "%s: %s" % (os.fsdecode(path), os.strerror(-rc)))


def clone(url, path):
    """A bare clone of URL at PATH, ready to mount and sync (remote origin)."""
    rc = _clone(_b(url), _b(path))
    if rc < 0:
        raise ChronoFSError(-rc, _errmsg(None).decode("utf-8", "replace") or os.strerror(-rc))


class ChronoFS:
    """An open repository (bare or not).

    Use it as a context manager, or call close(). AUTHOR ("NAME <EMAIL>")
    signs the commits this handle makes; by default the repository's git
    config user, else "chronofs <chronofs@HOST>". Methods that change a
    branch return the new commit's id (40 hex digits), or None when nothing
    changed (the same bytes were already there).
    """

    def __init__(self, path: Text, author: Optional[str] = None) -> None:
        self._h: Optional[ctypes.c_void_p] = None
        h = _p()
        rc = _open(_c.byref(h), _b(path), _b(author) if author else None)
        if rc < 0:
            msg = _errmsg(None).decode("utf-8", "replace") or os.strerror(-rc)
            raise ChronoFSError(-rc, "%s: %s" % (os.fsdecode(path), msg))
        self._h = h

    def close(self) -> None:
        """Close the repository; the handle is unusable afterwards. Idempotent."""
        if self._h:
            _close(self._h)
            self._h = None

    def __enter__(self) -> ChronoFS:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()

    def _check(self, rc: int) -> int:
        if rc < 0:
            msg = _errmsg(self._h).decode("utf-8", "replace") or os.strerror(-rc)
            raise ChronoFSError(-rc, msg)
        return rc

    def _bytes(self, ptr: Any, n: Any) -> bytes:
        try:
            return _c.string_at(ptr, n.value)
        finally:
            _free(ptr)

    def get_raw(self, branch: str, path: str) -> bytes:
        """The document at PATH on BRANCH's head, as its stored bytes.

        Raises ChronoFSError: ENOENT if there is no such branch or document.
        """
        ptr, n = _p(), _sz()
        self._check(_get(self._h, _b(branch), _b(path), _c.byref(ptr), _c.byref(n)))
        return self._bytes(ptr, n)

    def get(self, branch: str, path: str) -> Any:
        """The document at PATH on BRANCH's head, parsed with json.loads."""
        return json.loads(self.get_raw(branch, path))

    def put_raw(self, branch: str, path: str, text: Text) -> Optional[str]:
        """Commit JSON TEXT (str or bytes, stored exactly) as PATH on BRANCH.

        One commit whose parent is the branch head; returns its id, or None
        if the document already held these bytes. Raises ChronoFSError:
        EINVAL for invalid JSON (the message names line and column), EFBIG
        over 16 MiB, ENOENT for no such branch.
        """
        data = _b(text)
        out = _c.create_string_buffer(41)
        self._check(_put(self._h, _b(branch), _b(path), data, len(data), out))
        return out.value.decode() or None

    def put(self, branch: str, path: str, value: Any) -> Optional[str]:
        """Commit a Python VALUE (serialized with json.dumps) as PATH on BRANCH.

        Returns the commit id, or None if unchanged; errors as put_raw.
        """
        return self.put_raw(branch, path, json.dumps(value))

    def delete(self, branch: str, path: str) -> Optional[str]:
        """Delete the document at PATH on BRANCH in one commit; returns its id.

        Raises ChronoFSError: ENOENT if there is no such document.
        """
        out = _c.create_string_buffer(41)
        self._check(_delete(self._h, _b(branch), _b(path), out))
        return out.value.decode() or None

    def rename(self, branch: str, src: str, dst: str) -> Optional[str]:
        """Rename document SRC to DST on BRANCH in one commit; returns its id.

        Raises ChronoFSError: ENOENT if SRC does not exist.
        """
        out = _c.create_string_buffer(41)
        self._check(_rename(self._h, _b(branch), _b(src), _b(dst), out))
        return out.value.decode() or None

    def _strings(self, fn: Any, *args: Any) -> List[str]:
        v, n = _c.POINTER(_c.c_char_p)(), _sz()
        self._check(fn(self._h, *args, _c.byref(v), _c.byref(n)))
        try:
            return [v[i].decode() for i in range(n.value)]
        finally:
            _strings_free(v, n)

    def list(self, branch: str, collection: str = "") -> List[str]:
        """The entries of COLLECTION ("" is the branch root), sorted.

        Documents are named "ID.json", sub-collections "NAME/".
        """
        return self._strings(_list, _b(branch), _b(collection))

    def get_at(self, branch: str, when: str, path: str) -> Any:
        """The document at PATH as it was at WHEN, parsed.

        WHEN is an ISO-8601 time ("2026-11-20T10:15:00Z", "2026-11-20",
        "...+01:00"), meaning the newest commit of BRANCH's first-parent
        chain at or before it, or 7 to 40 hex digits of a commit on that
        chain. Raises ChronoFSError: ENOENT if there was no such document
        then, or no such commit.
        """
        ptr, n = _p(), _sz()
        self._check(_get_at(self._h, _b(branch), _b(when), _b(path), _c.byref(ptr), _c.byref(n)))
        return json.loads(self._bytes(ptr, n))

    def history(self, branch: str, path: str) -> List[Revision]:
        """Every version of PATH on BRANCH, oldest first, deletions included."""
        v, n = _c.POINTER(_Rev)(), _sz()
        self._check(_history(self._h, _b(branch), _b(path), _c.byref(v), _c.byref(n)))
        try:
            return [
                Revision(commit=v[i].commit.decode(), time=v[i].time, deleted=bool(v[i].deleted))
                for i in range(n.value)
            ]
        finally:
            _free(_c.cast(v, _p))

    def branches(self) -> List[str]:
        """The branch names, sorted."""
        return self._strings(_branches)

    def branch_create(self, name: str) -> None:
        """Create branch NAME at the head of HEAD's branch.

        Raises ChronoFSError: EEXIST if it exists, EINVAL for an invalid name.
        """
        self._check(_branch_create(self._h, _b(name)))

    def branch_delete(self, name: str) -> None:
        """Delete branch NAME. Raises ChronoFSError: ENOENT if there is none."""
        self._check(_branch_delete(self._h, _b(name)))

    def branch_rename(self, src: str, dst: str) -> None:
        """Rename branch SRC to DST.

        Raises ChronoFSError: EEXIST if DST exists, ENOENT if SRC does not.
        """
        self._check(_branch_rename(self._h, _b(src), _b(dst)))

    def resolve(self, branch: str, when: str) -> Tuple[str, int]:
        """The commit BRANCH@WHEN names (WHEN as for get_at) and its committer time.

        Raises ChronoFSError: ENOENT if it names no commit, EINVAL for a bad WHEN.
        """
        out, t = _c.create_string_buffer(41), _c.c_int64()
        self._check(_resolve(self._h, _b(branch), _b(when), out, _c.byref(t)))
        return out.value.decode(), t.value

    def commit(self, commit: str) -> Tuple[int, str]:
        """COMMIT's (40 hex digits) committer time and the first line of its message.

        Raises ChronoFSError: ENOENT for no such commit, EINVAL for a malformed id.
        """
        t, summary = _c.c_int64(), _p()
        self._check(_commit(self._h, _b(commit), _c.byref(t), _c.byref(summary)))
        try:
            return t.value, (_c.string_at(summary).decode("utf-8", "replace") if summary else "")
        finally:
            _free(summary)

    def log(self, branch: str, path: Optional[str] = None) -> List[LogEntry]:
        """The commits of BRANCH's first-parent chain, newest first, that changed PATH.

        Every commit when PATH is None. Raises ChronoFSError: ENOENT for no
        such branch.
        """
        out: List[LogEntry] = []

        def each(ctx: Any, commit: bytes, time: int, summary: Optional[bytes]) -> int:
            out.append(LogEntry(commit=commit.decode(), time=time,
                                summary=(summary or b"").decode("utf-8", "replace")))
            return 0

        self._check(_log(self._h, _b(branch), _b(path) if path is not None else None, _LogCb(each), None))
        return out

    def index_list(self) -> List[IndexDef]:
        """The persistent ordered indexes."""
        out: List[IndexDef] = []

        def each(ctx: Any, branch: bytes, collection: bytes, spec: bytes, rows: int) -> int:
            out.append(IndexDef(branch=branch.decode(), collection=collection.decode(),
                                spec=spec.decode(), rows=rows))
            return 0

        self._check(_index_list(self._h, _IndexCb(each), None))
        return out

    def index_drop(self, branch: str, collection: str, spec: str) -> None:
        """Drop one ordered index. Raises ChronoFSError: EBUSY while a mount holds the index database."""
        self._check(_index_drop(self._h, _b(branch), _b(collection), _b(spec)))

    def index_rebuild(self, branch: str, collection: str, spec: str) -> None:
        """Drop one ordered index and build it again from the branch head.

        Raises ChronoFSError: EBUSY while a mount holds the index database,
        EINVAL for a bad SPEC, ENOENT for no such branch.
        """
        self._check(_index_rebuild(self._h, _b(branch), _b(collection), _b(spec)))

    def query_range(
        self,
        branch: str,
        collection: str,
        spec: str,
        ge: Any = None,
        gt: Any = None,
        lt: Any = None,
        le: Any = None,
        first: int = 0,
    ) -> Iterator[Tuple[str, Any]]:
        """(id, document) pairs of COLLECTION in the order of SPEC within bounds.

        GE, GT, LT and LE (Python values, None for no bound) bound the first
        field of SPEC (>=, >, <, <=); FIRST keeps the first rows (0: all):
        the grammar of the mount's @by/SPEC/ path steps. A generator, as
        query.
        """
        texts = [json.dumps(v).encode() if v is not None else None for v in (ge, gt, lt, le)]
        r = _Range(*texts, first)
        it = _p()
        self._check(_query_range(self._h, _b(branch), _b(collection), _b(spec), _c.byref(r), _c.byref(it)))
        yield from self._rows(it)

    def query_steps(self, branch: str, collection: str, spec: str,
                    *steps: str) -> Iterator[Tuple[str, Any]]:
        """As query_range, with the range given as the mount's path steps
        themselves ("ge=V", "gt=V", "lt=V", "le=V": V JSON text, else a bare
        string; "first=N"), handed to the library's one grammar."""
        r = _Range()
        keep = [_c.create_string_buffer(_b(step)) for step in steps]
        for buf in keep:
            self._check(_range_step(_c.byref(r), buf))
        it = _p()
        self._check(_query_range(self._h, _b(branch), _b(collection), _b(spec),
                                 _c.byref(r), _c.byref(it)))
        yield from self._rows(it)

    def index_create(self, branch: str, collection: str, spec: str) -> None:
        """Make the persistent index of SPEC now (else a spec gets one by
        itself on its third query). Raises ChronoFSError: EBUSY while a
        mount holds the index database."""
        self._check(_index_create(self._h, _b(branch), _b(collection), _b(spec)))

    def merge(self, src: str, into: str, message: Optional[str] = None,
              squash: bool = False) -> dict:
        """Merge branch SRC into INTO: a dict with commit (None if there was
        nothing to merge), fast_forward, unrelated (no common history) and
        conflicts (conflicted documents). Raises ChronoFSError: EINVAL for a
        branch into itself, ENOENT for no such branch."""
        r = _MergeResult()
        self._check(_merge(self._h, _b(src), _b(into), _b(message) if message else None,
                           1 if squash else 0, _c.byref(r)))
        return {"commit": r.commit.decode() or None, "fast_forward": bool(r.fast_forward),
                "unrelated": bool(r.unrelated), "conflicts": r.conflicts}

    def sync(self, remote="origin"):
        """One sync round with REMOTE: {branch: {"done": [words], "conflicts",
        "ahead", "behind", "message"}}; words from created, fast_forward,
        merged, pushed, deleted, deleted_remote, kept, failed."""
        r = _c.POINTER(_SyncResult)()
        self._check(_sync(self._h, _b(remote), _c.byref(r)))
        try:
            out = {}
            for i in range(r.contents.n):
                b = r.contents.v[i]
                out[b.name.decode()] = {
                    "done": [w for bit, w in _SYNC_WORDS if b.done & bit],
                    "conflicts": b.conflicts, "ahead": b.ahead, "behind": b.behind,
                    "message": b.message.decode() if b.message else None}
            return out
        finally:
            _sync_free(r)

    def diff(self, a: str, b: str, path: Optional[str] = None) -> Iterator[dict]:
        """The documents changed from A to B (branch, BRANCH@WHEN or commit),
        as dicts {path, op, patch}: RFC 6902 operations from A's document to
        B's. A generator."""
        d = _p()
        self._check(_diff_open(_c.byref(d), self._h, _b(a), _b(b), _b(path) if path else None))
        try:
            line, n = _c.c_char_p(), _sz()
            while self._check(_diff_next(d, _c.byref(line), _c.byref(n))) == 1:
                yield json.loads(_c.string_at(line, n.value))
        finally:
            _diff_free(d)

    def transaction(self, branch: str, message: Optional[str] = None,
                    strict: bool = False) -> "Transaction":
        """A transaction on BRANCH as a context manager: its puts, deletes and
        renames are ONE commit at the end of the block (a normal exit), and
        nothing at all if the block raises. strict: the commit fails with
        EBUSY if another commit touched one of its documents meanwhile."""
        return Transaction(self, branch, message, strict)

    def _rows(self, it: Any) -> Iterator[Tuple[str, Any]]:
        try:
            doc_id, text, n = _c.c_char_p(), _c.c_char_p(), _sz()
            while self._check(_iter_next(it, _c.byref(doc_id), _c.byref(text), _c.byref(n))) == 1:
                yield doc_id.value.decode(), json.loads(_c.string_at(text, n.value))
        finally:
            _iter_free(it)

    def query(
        self,
        branch: str,
        collection: str,
        spec: str,
        start: Any = None,
        stop: Any = None,
        limit: int = 0,
    ) -> Iterator[Tuple[str, Any]]:
        """(id, document) pairs of COLLECTION in the order of SPEC.

        SPEC is a comma-separated list of fields, dots for nested fields,
        each optionally prefixed "-" for descending: "age", "-score,name",
        "address.city". START and STOP (Python values, None for unbounded)
        bound the first field: start <= value < stop. LIMIT 0 is no limit.
        The first query of a SPEC builds a persistent index; later puts keep
        it current. A generator: the call is made, and errors raised, when
        iteration starts.
        """
        it = _p()
        lo = json.dumps(start).encode() if start is not None else None
        hi = json.dumps(stop).encode() if stop is not None else None
        self._check(_query(self._h, _b(branch), _b(collection), _b(spec), lo, hi, limit, _c.byref(it)))
        yield from self._rows(it)


class Transaction:
    """One commit's worth of changes (ChronoFS.transaction). After the block,
    commit_id is the commit made (None if nothing changed)."""

    def __init__(self, db: ChronoFS, branch: str, message: Optional[str] = None,
                 strict: bool = False) -> None:
        self._db, self.message = db, message
        self.commit_id: Optional[str] = None
        self._h = _p()
        db._check(_tx_begin(_c.byref(self._h), db._h, _b(branch), 1 if strict else 0))

    def __enter__(self) -> "Transaction":
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        try:
            if exc_type is None:
                self.commit(self.message)
            else:
                _tx_abort(self._h)
        finally:
            _tx_free(self._h)
            self._h = None
        return False

    def put(self, path: str, value: Any) -> None:
        """Put VALUE (any JSON value) as document PATH."""
        data = json.dumps(value).encode()
        self._db._check(_tx_put(self._h, _b(path), data, len(data)))

    def put_raw(self, path: str, text: Text) -> None:
        """Put JSON TEXT as document PATH, bytes as given."""
        data = text.encode() if isinstance(text, str) else bytes(text)
        self._db._check(_tx_put(self._h, _b(path), data, len(data)))

    def delete(self, path: str) -> None:
        self._db._check(_tx_delete(self._h, _b(path)))

    def rename(self, src: str, dst: str) -> None:
        self._db._check(_tx_rename(self._h, _b(src), _b(dst)))

    def get(self, path: str) -> Any:
        """PATH as the transaction sees it (its own writes first)."""
        ptr, n = _p(), _sz()
        self._db._check(_tx_get(self._h, _b(path), _c.byref(ptr), _c.byref(n)))
        return json.loads(self._db._bytes(ptr, n))

    def commit(self, message: Optional[str] = None) -> Optional[str]:
        """Commit now (the with block does it at its end)."""
        out = _c.create_string_buffer(41)
        self._db._check(_tx_commit(self._h, _b(message) if message else None, out))
        self.commit_id = out.value.decode() or None
        return self.commit_id
