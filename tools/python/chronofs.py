"""chronofs: the Python binding of libchronofs, with the standard library's ctypes only.

    from chronofs import ChronoFS
    with ChronoFS("/srv/data.git") as db:
        commit = db.put("main", "users/alice.json", {"name": "alice", "age": 34})
        db.get("main", "users/alice.json")                 # -> dict
        db.get_at("main", "2026-11-20T10:00:00Z", "users/alice.json")
        for doc_id, doc in db.query("main", "users", "age", start=30, stop=40):
            ...

Documents go in as dicts (or any JSON value, or raw JSON text as str/bytes
with put_raw) and come out as Python values. Errors raise ChronoFSError
carrying the library's message and errno. The library is found as
$CHRONOFS_LIB, else libchronofs.so.0 on the loader's path.
"""

import ctypes
import errno as _errno
import json
import os

__all__ = ["ChronoFS", "ChronoFSError", "Transaction", "clone", "init", "version"]


class ChronoFSError(OSError):
    """A failed library call: .errno is the error, str() the library's message."""


def _load():
    names = [os.environ.get("CHRONOFS_LIB"), "libchronofs.so.0", "libchronofs.so"]
    last = None
    for name in names:
        if not name:
            continue
        try:
            return ctypes.CDLL(name)
        except OSError as e:
            last = e
    raise ImportError("libchronofs not found (set CHRONOFS_LIB): %s" % last)


_lib = _load()
_c = ctypes
_p = _c.c_void_p
_s = _c.c_char_p
_sz = _c.c_size_t
_pp = _c.POINTER(_c.c_char_p)


class _Rev(_c.Structure):
    _fields_ = [("commit", _c.c_char * 41), ("time", _c.c_int64), ("deleted", _c.c_int)]


def _sig(name, res, *args):
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


class _Range(_c.Structure):
    _fields_ = [("ge", _c.c_void_p), ("gt", _c.c_void_p), ("lt", _c.c_void_p),
                ("le", _c.c_void_p), ("first", _sz)]


_range_step = _sig("chronofs_range_step", _c.c_int, _c.POINTER(_Range), _c.c_char_p)
_query_range = _sig("chronofs_query_range", _c.c_int, _p, _s, _s, _s, _c.POINTER(_Range), _c.POINTER(_p))


class _MergeResult(_c.Structure):
    _fields_ = [("commit", _c.c_char * 41), ("fast_forward", _c.c_int),
                ("unrelated", _c.c_int), ("conflicts", _sz)]


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
_iter_next = _sig("chronofs_iter_next", _c.c_int, _p, _pp, _pp, _c.POINTER(_sz))
_iter_free = _sig("chronofs_iter_free", None, _p)


def _b(s):
    return s.encode("utf-8") if isinstance(s, str) else s


def version():
    """The library's version string."""
    return _version().decode()


def init(path):
    """Create a bare repository with branch main and an empty first commit."""
    rc = _init(_b(path))
    if rc < 0:
        raise ChronoFSError(-rc, "%s: %s" % (path, os.strerror(-rc)))


def clone(url, path):
    """A bare clone of URL at PATH, ready to mount and sync (remote origin)."""
    rc = _clone(_b(url), _b(path))
    if rc < 0:
        raise ChronoFSError(-rc, _errmsg(None).decode("utf-8", "replace") or os.strerror(-rc))


class ChronoFS:
    """An open repository. Use as a context manager, or call close()."""

    def __init__(self, path, author=None):
        h = _p()
        rc = _open(_c.byref(h), _b(path), _b(author) if author else None)
        if rc < 0:
            raise ChronoFSError(-rc, "%s: %s" % (path, _errmsg(None).decode() or os.strerror(-rc)))
        self._h = h

    def close(self):
        if self._h:
            _close(self._h)
            self._h = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()

    def _check(self, rc):
        if rc < 0:
            msg = _errmsg(self._h).decode("utf-8", "replace") or os.strerror(-rc)
            raise ChronoFSError(-rc, msg)
        return rc

    def _bytes(self, ptr, n):
        try:
            return _c.string_at(ptr, n.value)
        finally:
            _free(ptr)

    def get_raw(self, branch, path):
        """The document's bytes at the branch head."""
        ptr, n = _p(), _sz()
        self._check(_get(self._h, _b(branch), _b(path), _c.byref(ptr), _c.byref(n)))
        return self._bytes(ptr, n)

    def get(self, branch, path):
        """The document at the branch head, parsed."""
        return json.loads(self.get_raw(branch, path))

    def put_raw(self, branch, path, text):
        """Commit JSON text (str or bytes) as the document; returns the commit id, or None if unchanged."""
        data = _b(text)
        out = _c.create_string_buffer(41)
        self._check(_put(self._h, _b(branch), _b(path), data, len(data), out))
        return out.value.decode() or None

    def put(self, branch, path, value):
        """Commit a Python value as the document (serialized with json.dumps)."""
        return self.put_raw(branch, path, json.dumps(value))

    def delete(self, branch, path):
        out = _c.create_string_buffer(41)
        self._check(_delete(self._h, _b(branch), _b(path), out))
        return out.value.decode() or None

    def rename(self, branch, src, dst):
        out = _c.create_string_buffer(41)
        self._check(_rename(self._h, _b(branch), _b(src), _b(dst), out))
        return out.value.decode() or None

    def _strings(self, fn, *args):
        v, n = _c.POINTER(_c.c_char_p)(), _sz()
        self._check(fn(self._h, *args, _c.byref(v), _c.byref(n)))
        try:
            return [v[i].decode() for i in range(n.value)]
        finally:
            _strings_free(v, n)

    def list(self, branch, collection=""):
        """Names in a collection: "x.json" documents and "sub/" collections."""
        return self._strings(_list, _b(branch), _b(collection))

    def get_at(self, branch, when, path):
        """The document as it was at WHEN (ISO-8601 time or commit id), parsed."""
        ptr, n = _p(), _sz()
        self._check(_get_at(self._h, _b(branch), _b(when), _b(path), _c.byref(ptr), _c.byref(n)))
        return json.loads(self._bytes(ptr, n))

    def history(self, branch, path):
        """Versions oldest first: dicts {commit, time, deleted}."""
        v, n = _c.POINTER(_Rev)(), _sz()
        self._check(_history(self._h, _b(branch), _b(path), _c.byref(v), _c.byref(n)))
        try:
            return [{"commit": v[i].commit.decode(), "time": v[i].time, "deleted": bool(v[i].deleted)}
                    for i in range(n.value)]
        finally:
            _free(_c.cast(v, _p))

    def branches(self):
        return self._strings(_branches)

    def branch_create(self, name):
        self._check(_branch_create(self._h, _b(name)))

    def branch_delete(self, name):
        self._check(_branch_delete(self._h, _b(name)))

    def merge(self, src, into, message=None, squash=False):
        """Merge branch SRC into INTO; a dict: commit (None if nothing to
        merge), fast_forward, unrelated, conflicts (documents)."""
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

    def diff(self, a, b, path=None):
        """The documents changed from A to B (branch, BRANCH@WHEN or commit):
        dicts {path, op, patch} (patch: RFC 6902 operations)."""
        d = _p()
        self._check(_diff_open(_c.byref(d), self._h, _b(a), _b(b), _b(path) if path else None))
        try:
            line, n = _c.c_char_p(), _sz()
            while self._check(_diff_next(d, _c.byref(line), _c.byref(n))) == 1:
                yield json.loads(_c.string_at(line, n.value))
        finally:
            _diff_free(d)

    def transaction(self, branch, message=None, strict=False):
        """A transaction on BRANCH, as a context manager: its puts, deletes
        and renames are one commit at the end of the block (on a normal
        exit), nothing at all if the block raises. strict: fail with EBUSY
        if another commit touched one of its documents meanwhile."""
        return Transaction(self, branch, message, strict)

    def query_range(self, branch, collection, spec, *steps):
        """(id, document) pairs in the order of SPEC within the range given
        by STEPS, the mount's path steps and chronofsctl's options alike:
        "ge=V", "gt=V", "lt=V", "le=V" (V is JSON text, else a bare string)
        and "first=N"."""
        r = _Range()
        keep = [_c.create_string_buffer(_b(step)) for step in steps]
        for buf in keep:
            self._check(_range_step(_c.byref(r), buf))
        it = _p()
        self._check(_query_range(self._h, _b(branch), _b(collection), _b(spec),
                                 _c.byref(r), _c.byref(it)))
        return self._rows(it)

    def _rows(self, it):
        try:
            doc_id, text, n = _c.c_char_p(), _c.c_char_p(), _sz()
            while self._check(_iter_next(it, _c.byref(doc_id), _c.byref(text), _c.byref(n))) == 1:
                yield doc_id.value.decode(), json.loads(_c.string_at(text, n.value))
        finally:
            _iter_free(it)

    def query(self, branch, collection, spec, start=None, stop=None, limit=0):
        """(id, document) pairs in the order of SPEC; start <= first field < stop."""
        it = _p()
        lo = json.dumps(start).encode() if start is not None else None
        hi = json.dumps(stop).encode() if stop is not None else None
        self._check(_query(self._h, _b(branch), _b(collection), _b(spec), lo, hi, limit, _c.byref(it)))
        try:
            doc_id, text, n = _c.c_char_p(), _c.c_char_p(), _sz()
            while self._check(_iter_next(it, _c.byref(doc_id), _c.byref(text), _c.byref(n))) == 1:
                yield doc_id.value.decode(), json.loads(_c.string_at(text, n.value))
        finally:
            _iter_free(it)


class Transaction:
    """One commit's worth of changes (ChronoFS.transaction). tx.commit_id
    is the commit made (None if nothing changed) after the block."""

    def __init__(self, db, branch, message=None, strict=False):
        self._db, self.message, self.commit_id = db, message, None
        self._h = _p()
        db._check(_tx_begin(_c.byref(self._h), db._h, _b(branch), 1 if strict else 0))

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is None:
                self.commit(self.message)
            else:
                _tx_abort(self._h)
        finally:
            _tx_free(self._h)
            self._h = None
        return False

    def put(self, path, value):
        data = json.dumps(value).encode()
        self._db._check(_tx_put(self._h, _b(path), data, len(data)))

    def put_raw(self, path, text):
        data = text.encode() if isinstance(text, str) else bytes(text)
        self._db._check(_tx_put(self._h, _b(path), data, len(data)))

    def delete(self, path):
        self._db._check(_tx_delete(self._h, _b(path)))

    def rename(self, src, dst):
        self._db._check(_tx_rename(self._h, _b(src), _b(dst)))

    def get(self, path):
        ptr, n = _p(), _sz()
        self._db._check(_tx_get(self._h, _b(path), _c.byref(ptr), _c.byref(n)))
        return json.loads(self._db._bytes(ptr, n))

    def commit(self, message=None):
        out = _c.create_string_buffer(41)
        self._db._check(_tx_commit(self._h, _b(message) if message else None, out))
        self.commit_id = out.value.decode() or None
        return self.commit_id
