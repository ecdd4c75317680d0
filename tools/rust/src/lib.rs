//! chronofs: a safe Rust binding of libchronofs, a Git-backed time-travel
//! JSON document store.
//!
//! Every put is one Git commit on a branch, every past state of a document
//! can be read back, and collections can be read in the order of document
//! fields through persistent indexes: the store the chronofs FUSE daemon
//! serves, without a mount. Documents go in and out as JSON text; paths are
//! `"COLLECTION/ID.json"`, collections nest.
//!
//! ```no_run
//! use chronofs::ChronoFS;
//!
//! fn main() -> chronofs::Result<()> {
//!     let db = ChronoFS::open("/srv/data.git")?;
//!     let commit = db.put("main", "users/alice.json", r#"{"name": "alice", "age": 34}"#)?;
//!     println!("{:?} {}", commit, db.get("main", "users/alice.json")?);
//!     for row in db.query("main", "users", "-age", Some("30"), None, 10)? {
//!         let (id, json) = row?;
//!         println!("{} {}", id, json);
//!     }
//!     Ok(())
//! }
//! ```
//!
//! Errors are [`Error`]: the C library's errno (`ENOENT`, `EINVAL`, `EFBIG`,
//! `EEXIST`, `EBUSY`, `ENOTDIR`, `EISDIR`, `EIO`, `ENOMEM`) and its message,
//! which names the path and what is wrong.
//!
//! Threads: a [`ChronoFS`] is `Send` and `Sync`, since the C library allows
//! concurrent calls on one handle (each call is atomic, error messages are
//! kept per thread); share it with `Arc` or scoped threads. A [`Query`]
//! borrows its handle and stays on the thread that made it.
//!
//! Several changes as one commit: [`ChronoFS::transaction`] (a guard that
//! aborts when dropped uncommitted) or [`ChronoFS::with_transaction`] (a
//! closure, committed when it returns `Ok`).

use std::ffi::{CStr, CString};
use std::fmt;
use std::marker::PhantomData;
use std::os::raw::{c_char, c_int, c_void};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::ptr::{self, NonNull};

mod ffi {
    use std::os::raw::{c_char, c_int, c_void};

    pub const COMMIT_HEXSZ: usize = 40;

    #[repr(C)]
    pub struct Chronofs {
        _private: [u8; 0],
    }

    #[repr(C)]
    pub struct Iter {
        _private: [u8; 0],
    }

    #[repr(C)]
    pub struct Rev {
        pub commit: [c_char; COMMIT_HEXSZ + 1],
        pub time: i64,
        pub deleted: c_int,
    }

    extern "C" {
        pub fn chronofs_version() -> *const c_char;
        pub fn chronofs_init(path: *const c_char) -> c_int;
        pub fn chronofs_open(
            out: *mut *mut Chronofs,
            path: *const c_char,
            author: *const c_char,
        ) -> c_int;
        pub fn chronofs_close(db: *mut Chronofs);
        pub fn chronofs_errmsg(db: *mut Chronofs) -> *const c_char;
        pub fn chronofs_free(p: *mut c_void);
        pub fn chronofs_strings_free(v: *mut *mut c_char, n: usize);
        pub fn chronofs_get(
            db: *mut Chronofs,
            branch: *const c_char,
            path: *const c_char,
            json: *mut *mut c_char,
            len: *mut usize,
        ) -> c_int;
        pub fn chronofs_put(
            db: *mut Chronofs,
            branch: *const c_char,
            path: *const c_char,
            json: *const c_char,
            len: usize,
            commit: *mut c_char,
        ) -> c_int;
        pub fn chronofs_delete(
            db: *mut Chronofs,
            branch: *const c_char,
            path: *const c_char,
            commit: *mut c_char,
        ) -> c_int;
        pub fn chronofs_rename(
            db: *mut Chronofs,
            branch: *const c_char,
            from: *const c_char,
            to: *const c_char,
            commit: *mut c_char,
        ) -> c_int;
        pub fn chronofs_list(
            db: *mut Chronofs,
            branch: *const c_char,
            collection: *const c_char,
            names: *mut *mut *mut c_char,
            n: *mut usize,
        ) -> c_int;
        pub fn chronofs_get_at(
            db: *mut Chronofs,
            branch: *const c_char,
            when: *const c_char,
            path: *const c_char,
            json: *mut *mut c_char,
            len: *mut usize,
        ) -> c_int;
        pub fn chronofs_history(
            db: *mut Chronofs,
            branch: *const c_char,
            path: *const c_char,
            versions: *mut *mut Rev,
            n: *mut usize,
        ) -> c_int;
        pub fn chronofs_branches(
            db: *mut Chronofs,
            names: *mut *mut *mut c_char,
            n: *mut usize,
        ) -> c_int;
        pub fn chronofs_branch_create(db: *mut Chronofs, name: *const c_char) -> c_int;
        pub fn chronofs_branch_delete(db: *mut Chronofs, name: *const c_char) -> c_int;
        pub fn chronofs_query(
            db: *mut Chronofs,
            branch: *const c_char,
            collection: *const c_char,
            spec: *const c_char,
            from: *const c_char,
            to: *const c_char,
            limit: usize,
            out: *mut *mut Iter,
        ) -> c_int;
        pub fn chronofs_iter_next(
            it: *mut Iter,
            id: *mut *const c_char,
            json: *mut *const c_char,
            len: *mut usize,
        ) -> c_int;
        pub fn chronofs_iter_free(it: *mut Iter);
        pub fn chronofs_branch_rename(
            db: *mut Chronofs,
            from: *const c_char,
            to: *const c_char,
        ) -> c_int;
        pub fn chronofs_resolve(
            db: *mut Chronofs,
            branch: *const c_char,
            when: *const c_char,
            commit: *mut c_char,
            time: *mut i64,
        ) -> c_int;
        pub fn chronofs_commit(
            db: *mut Chronofs,
            commit: *const c_char,
            time: *mut i64,
            summary: *mut *mut c_char,
        ) -> c_int;
        pub fn chronofs_log(
            db: *mut Chronofs,
            branch: *const c_char,
            path: *const c_char,
            cb: LogCb,
            ctx: *mut c_void,
        ) -> c_int;
        pub fn chronofs_range_step(r: *mut CRange, step: *const c_char) -> c_int;
        pub fn chronofs_query_range(
            db: *mut Chronofs,
            branch: *const c_char,
            collection: *const c_char,
            spec: *const c_char,
            range: *const CRange,
            out: *mut *mut Iter,
        ) -> c_int;
        pub fn chronofs_index_list(db: *mut Chronofs, cb: IndexCb, ctx: *mut c_void) -> c_int;
        pub fn chronofs_index_drop(
            db: *mut Chronofs,
            branch: *const c_char,
            collection: *const c_char,
            spec: *const c_char,
        ) -> c_int;
        pub fn chronofs_index_rebuild(
            db: *mut Chronofs,
            branch: *const c_char,
            collection: *const c_char,
            spec: *const c_char,
        ) -> c_int;
    }

    extern "C" {
        pub fn chronofs_index_create(
            db: *mut Chronofs,
            branch: *const c_char,
            collection: *const c_char,
            spec: *const c_char,
        ) -> c_int;
        pub fn chronofs_merge(
            db: *mut Chronofs,
            from: *const c_char,
            into: *const c_char,
            message: *const c_char,
            flags: u32,
            res: *mut MergeResult,
        ) -> c_int;
        pub fn chronofs_diff_open(
            out: *mut *mut Diff,
            db: *mut Chronofs,
            a: *const c_char,
            b: *const c_char,
            path: *const c_char,
        ) -> c_int;
        pub fn chronofs_diff_next(d: *mut Diff, line: *mut *const c_char, len: *mut usize)
            -> c_int;
        pub fn chronofs_diff_free(d: *mut Diff);
        pub fn chronofs_tx_begin_flags(
            out: *mut *mut Tx,
            db: *mut Chronofs,
            branch: *const c_char,
            flags: u32,
        ) -> c_int;
        pub fn chronofs_tx_put(
            tx: *mut Tx,
            path: *const c_char,
            json: *const c_char,
            len: usize,
        ) -> c_int;
        pub fn chronofs_tx_delete(tx: *mut Tx, path: *const c_char) -> c_int;
        pub fn chronofs_tx_rename(tx: *mut Tx, from: *const c_char, to: *const c_char) -> c_int;
        pub fn chronofs_tx_get(
            tx: *mut Tx,
            path: *const c_char,
            json: *mut *mut c_char,
            len: *mut usize,
        ) -> c_int;
        pub fn chronofs_tx_commit(
            tx: *mut Tx,
            message: *const c_char,
            commit: *mut c_char,
        ) -> c_int;
        pub fn chronofs_tx_free(tx: *mut Tx);
    }

    extern "C" {
        pub fn chronofs_head(
            db: *mut Chronofs,
            branch: *const c_char,
            commit: *mut c_char,
        ) -> c_int;
        pub fn chronofs_index_head(
            db: *mut Chronofs,
            branch: *const c_char,
            commit: *mut c_char,
        ) -> c_int;
        pub fn chronofs_fsck(
            db: *mut Chronofs,
            repair: c_int,
            cb: FsckCb,
            ctx: *mut c_void,
            problems: *mut usize,
        ) -> c_int;
    }

    pub type FsckCb = extern "C" fn(ctx: *mut c_void, problem: *const c_char);

    pub const MERGE_SQUASH: u32 = 1;
    pub const TX_STRICT: u32 = 1;

    #[repr(C)]
    pub struct Diff {
        _private: [u8; 0],
    }

    #[repr(C)]
    pub struct Tx {
        _private: [u8; 0],
    }

    #[repr(C)]
    pub struct MergeResult {
        pub commit: [c_char; COMMIT_HEXSZ + 1],
        pub fast_forward: c_int,
        pub unrelated: c_int,
        pub conflicts: usize,
    }

    pub type LogCb = extern "C" fn(
        ctx: *mut c_void,
        commit: *const c_char,
        time: i64,
        summary: *const c_char,
    ) -> c_int;
    pub type IndexCb = extern "C" fn(
        ctx: *mut c_void,
        branch: *const c_char,
        collection: *const c_char,
        spec: *const c_char,
        rows: u64,
    ) -> c_int;

    #[repr(C)]
    pub struct CRange {
        pub ge: *const c_char,
        pub gt: *const c_char,
        pub lt: *const c_char,
        pub le: *const c_char,
        pub first: usize,
    }
}

/// A failed call: the C library's errno and its message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    errno: i32,
    message: String,
}

impl Error {
    fn new(errno: i32, message: impl Into<String>) -> Error {
        Error {
            errno,
            message: message.into(),
        }
    }

    /// The error number, positive (`libc`'s `ENOENT` is 2).
    pub fn errno(&self) -> i32 {
        self.errno
    }

    /// What failed and where, as the library says it.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The error as a `std::io::Error` of the same errno.
    pub fn to_io(&self) -> std::io::Error {
        std::io::Error::new(
            std::io::Error::from_raw_os_error(self.errno).kind(),
            self.to_string(),
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({})",
            self.message,
            std::io::Error::from_raw_os_error(self.errno)
        )
    }
}

impl std::error::Error for Error {}

/// `std::result::Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// One version of a document, as [`ChronoFS::history`] returns it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Revision {
    /// The commit id, 40 hex digits.
    pub commit: String,
    /// Committer time, seconds since the epoch.
    pub time: i64,
    /// This commit deleted the document.
    pub deleted: bool,
}

/// One commit of [`ChronoFS::log`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEntry {
    /// The commit id, 40 hex digits.
    pub commit: String,
    /// Committer time, seconds since the epoch.
    pub time: i64,
    /// The first line of the commit's message.
    pub summary: String,
}

/// What [`ChronoFS::merge`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MergeResult {
    /// INTO's new head, or `None` if there was nothing to merge.
    pub commit: Option<String>,
    /// INTO moved to FROM's head.
    pub fast_forward: bool,
    /// The histories had no common commit (merged against an empty base).
    pub unrelated: bool,
    /// How many documents conflicted (each won by the newer change).
    pub conflicts: usize,
}

/// One persistent ordered index, as [`ChronoFS::index_list`] returns it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexDef {
    pub branch: String,
    /// `""` is the branch root.
    pub collection: String,
    /// The SPEC in canonical form.
    pub spec: String,
    pub rows: u64,
}

/// The bounds of [`ChronoFS::query_range`]: the grammar of the mount's
/// `@by/SPEC/` path steps and of `chronofsctl query`. Each bound applies to
/// the first field of the SPEC and is JSON text (`"30"`, `"\"x\""`, `"null"`)
/// or, where that text is not JSON, a bare string (`"bob"`); `first` keeps
/// the first rows (0: all).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Range {
    pub ge: Option<String>,
    pub gt: Option<String>,
    pub lt: Option<String>,
    pub le: Option<String>,
    pub first: usize,
}

impl Range {
    /// Add one path step (`"ge=30"`, `"lt=bob"`, `"first=10"`). `EINVAL`
    /// for anything else, a bound given twice, or a `first` that is not a
    /// positive integer.
    pub fn step(&mut self, step: &str) -> Result<()> {
        let st = cstr("step", step)?;
        let bounds = [&self.ge, &self.gt, &self.lt, &self.le]
            .iter()
            .map(|b| b.as_deref().map(|v| cstr("bound", v)).transpose())
            .collect::<Result<Vec<_>>>()?;
        let p = |i: usize| bounds[i].as_ref().map_or(ptr::null(), |c| c.as_ptr());
        let mut r = ffi::CRange {
            ge: p(0),
            gt: p(1),
            lt: p(2),
            le: p(3),
            first: self.first,
        };
        // SAFETY: R's strings and STEP live until we copy them out below.
        let rc = unsafe { ffi::chronofs_range_step(&mut r, st.as_ptr()) };
        if rc < 0 {
            // SAFETY: a call made without a handle.
            let msg = lossy(unsafe { ffi::chronofs_errmsg(ptr::null_mut()) });
            return Err(Error::new(-rc, msg));
        }
        let own = |q: *const c_char| if q.is_null() { None } else { Some(lossy(q)) };
        *self = Range {
            ge: own(r.ge),
            gt: own(r.gt),
            lt: own(r.lt),
            le: own(r.le),
            first: r.first,
        };
        Ok(())
    }
}

extern "C" fn log_cb(
    ctx: *mut c_void,
    commit: *const c_char,
    time: i64,
    summary: *const c_char,
) -> c_int {
    // SAFETY: CTX is the Vec that ChronoFS::log passed; the strings are
    // borrowed for this call and copied.
    let v = unsafe { &mut *(ctx as *mut Vec<LogEntry>) };
    v.push(LogEntry {
        commit: lossy(commit),
        time,
        summary: lossy(summary),
    });
    0
}

extern "C" fn index_cb(
    ctx: *mut c_void,
    branch: *const c_char,
    collection: *const c_char,
    spec: *const c_char,
    rows: u64,
) -> c_int {
    // SAFETY: CTX is the Vec that ChronoFS::index_list passed.
    let v = unsafe { &mut *(ctx as *mut Vec<IndexDef>) };
    v.push(IndexDef {
        branch: lossy(branch),
        collection: lossy(collection),
        spec: lossy(spec),
        rows,
    });
    0
}

extern "C" fn fsck_cb(ctx: *mut c_void, problem: *const c_char) {
    // SAFETY: CTX is the Vec that ChronoFS::fsck passed.
    let v = unsafe { &mut *(ctx as *mut Vec<String>) };
    v.push(lossy(problem));
}

const EINVAL: i32 = 22;
const EILSEQ: i32 = 84;

fn cstr(what: &str, s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::new(EINVAL, format!("{}: {:?} holds a NUL byte", what, s)))
}

fn cpath(p: &Path) -> Result<CString> {
    CString::new(p.as_os_str().as_bytes())
        .map_err(|_| Error::new(EINVAL, format!("{}: holds a NUL byte", p.display())))
}

fn lossy(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: the library returns NUL-terminated strings.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

fn utf8(what: &str, bytes: Vec<u8>) -> Result<String> {
    String::from_utf8(bytes).map_err(|e| {
        Error::new(
            EILSEQ,
            format!(
                "{}: not UTF-8 at byte {}",
                what,
                e.utf8_error().valid_up_to()
            ),
        )
    })
}

/// The C library's version, `"MAJOR.MINOR.PATCH"`.
pub fn version() -> String {
    // SAFETY: a static string.
    lossy(unsafe { ffi::chronofs_version() })
}

/// Create a bare repository at PATH with branch `main` and an empty first
/// commit. `EEXIST` if PATH is a repository already.
pub fn init(path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    let c = cpath(path)?;
    // SAFETY: a valid C string.
    let rc = unsafe { ffi::chronofs_init(c.as_ptr()) };
    if rc < 0 {
        // SAFETY: errmsg(NULL) is the message of a call made without a handle.
        let msg = lossy(unsafe { ffi::chronofs_errmsg(ptr::null_mut()) });
        let msg = if msg.is_empty() {
            std::io::Error::from_raw_os_error(-rc).to_string()
        } else {
            msg
        };
        return Err(Error::new(-rc, format!("{}: {}", path.display(), msg)));
    }
    Ok(())
}

/// An open repository. Closed when dropped.
pub struct ChronoFS {
    db: NonNull<ffi::Chronofs>,
}

// SAFETY: the C library allows a handle to be used by many threads at once
// (lib/chronofs.h: "A handle may be used by many threads at once"), and to
// be closed from any thread once no call is running, which &mut/drop
// guarantee.
unsafe impl Send for ChronoFS {}
unsafe impl Sync for ChronoFS {}

type Commit = [c_char; ffi::COMMIT_HEXSZ + 1];

fn commit_id(buf: &Commit) -> Option<String> {
    let s = lossy(buf.as_ptr());
    if s.is_empty() {
        None
    } else {
        Some(s)
    }
}

impl ChronoFS {
    /// Open the repository at PATH (bare or not). Commits are signed with
    /// the repository's git config user, else `chronofs <chronofs@HOST>`.
    pub fn open(path: impl AsRef<Path>) -> Result<ChronoFS> {
        Self::open_as(path, None)
    }

    /// Open the repository at PATH; AUTHOR (`"NAME <EMAIL>"`) signs the
    /// commits this handle makes.
    pub fn open_as(path: impl AsRef<Path>, author: Option<&str>) -> Result<ChronoFS> {
        let path = path.as_ref();
        let c = cpath(path)?;
        let a = match author {
            Some(a) => Some(cstr("author", a)?),
            None => None,
        };
        let mut db = ptr::null_mut();
        // SAFETY: valid C strings and out-pointer.
        let rc = unsafe {
            ffi::chronofs_open(
                &mut db,
                c.as_ptr(),
                a.as_ref().map_or(ptr::null(), |a| a.as_ptr()),
            )
        };
        if rc < 0 {
            // SAFETY: errmsg(NULL) tells why an open failed.
            let msg = lossy(unsafe { ffi::chronofs_errmsg(ptr::null_mut()) });
            return Err(Error::new(-rc, format!("{}: {}", path.display(), msg)));
        }
        let db =
            NonNull::new(db).ok_or_else(|| Error::new(EINVAL, "chronofs_open returned NULL"))?;
        Ok(ChronoFS { db })
    }

    fn raw(&self) -> *mut ffi::Chronofs {
        self.db.as_ptr()
    }

    fn check(&self, rc: c_int) -> Result<c_int> {
        if rc >= 0 {
            return Ok(rc);
        }
        // SAFETY: this thread's last message on this handle.
        let msg = lossy(unsafe { ffi::chronofs_errmsg(self.raw()) });
        let msg = if msg.is_empty() {
            std::io::Error::from_raw_os_error(-rc).to_string()
        } else {
            msg
        };
        Err(Error::new(-rc, msg))
    }

    fn take_bytes(&self, rc: c_int, p: *mut c_char, len: usize) -> Result<Vec<u8>> {
        self.check(rc)?;
        // SAFETY: on success the library hands over LEN bytes at P, ours to
        // free with chronofs_free.
        let v = unsafe { std::slice::from_raw_parts(p as *const u8, len) }.to_vec();
        unsafe { ffi::chronofs_free(p as *mut c_void) };
        Ok(v)
    }

    fn take_strings(&self, rc: c_int, v: *mut *mut c_char, n: usize) -> Result<Vec<String>> {
        self.check(rc)?;
        // SAFETY: N strings the caller owns, freed with chronofs_strings_free.
        let out = (0..n).map(|i| lossy(unsafe { *v.add(i) })).collect();
        unsafe { ffi::chronofs_strings_free(v, n) };
        Ok(out)
    }

    /// The document at PATH on BRANCH's head, as JSON text. `ENOENT` if
    /// there is no such branch or document.
    pub fn get(&self, branch: &str, path: &str) -> Result<String> {
        let (b, p) = (cstr("branch", branch)?, cstr("path", path)?);
        let (mut out, mut len) = (ptr::null_mut(), 0usize);
        // SAFETY: valid C strings and out-pointers.
        let rc =
            unsafe { ffi::chronofs_get(self.raw(), b.as_ptr(), p.as_ptr(), &mut out, &mut len) };
        utf8(path, self.take_bytes(rc, out, len)?)
    }

    /// Commit JSON as PATH on BRANCH: one commit whose parent is the branch
    /// head. The new commit's id, or `None` if the document already held
    /// these bytes. `EINVAL` for invalid JSON (the message names line and
    /// column), `EFBIG` over 16 MiB, `ENOENT` for no such branch.
    pub fn put(&self, branch: &str, path: &str, json: &str) -> Result<Option<String>> {
        let (b, p) = (cstr("branch", branch)?, cstr("path", path)?);
        let mut commit: Commit = [0; ffi::COMMIT_HEXSZ + 1];
        // SAFETY: JSON is passed with its length; COMMIT has room for 41.
        let rc = unsafe {
            ffi::chronofs_put(
                self.raw(),
                b.as_ptr(),
                p.as_ptr(),
                json.as_ptr() as *const c_char,
                json.len(),
                commit.as_mut_ptr(),
            )
        };
        self.check(rc)?;
        Ok(commit_id(&commit))
    }

    /// Delete the document at PATH on BRANCH in one commit; its id.
    /// `ENOENT` if there is no such document.
    pub fn delete(&self, branch: &str, path: &str) -> Result<Option<String>> {
        let (b, p) = (cstr("branch", branch)?, cstr("path", path)?);
        let mut commit: Commit = [0; ffi::COMMIT_HEXSZ + 1];
        // SAFETY: valid C strings; COMMIT has room for 41.
        let rc = unsafe {
            ffi::chronofs_delete(self.raw(), b.as_ptr(), p.as_ptr(), commit.as_mut_ptr())
        };
        self.check(rc)?;
        Ok(commit_id(&commit))
    }

    /// Rename document FROM to TO on BRANCH in one commit; its id. `ENOENT`
    /// if FROM does not exist.
    pub fn rename(&self, branch: &str, from: &str, to: &str) -> Result<Option<String>> {
        let (b, f, t) = (
            cstr("branch", branch)?,
            cstr("from", from)?,
            cstr("to", to)?,
        );
        let mut commit: Commit = [0; ffi::COMMIT_HEXSZ + 1];
        // SAFETY: valid C strings; COMMIT has room for 41.
        let rc = unsafe {
            ffi::chronofs_rename(
                self.raw(),
                b.as_ptr(),
                f.as_ptr(),
                t.as_ptr(),
                commit.as_mut_ptr(),
            )
        };
        self.check(rc)?;
        Ok(commit_id(&commit))
    }

    /// The entries of COLLECTION (`""` is the branch root), sorted:
    /// documents as `"ID.json"`, sub-collections as `"NAME/"`. `ENOENT` if
    /// there is no such collection or branch.
    pub fn list(&self, branch: &str, collection: &str) -> Result<Vec<String>> {
        let (b, c) = (cstr("branch", branch)?, cstr("collection", collection)?);
        let (mut v, mut n) = (ptr::null_mut(), 0usize);
        // SAFETY: valid C strings and out-pointers.
        let rc = unsafe { ffi::chronofs_list(self.raw(), b.as_ptr(), c.as_ptr(), &mut v, &mut n) };
        self.take_strings(rc, v, n)
    }

    /// The document at PATH as it was at WHEN: an ISO-8601 time
    /// (`"2026-11-20T10:15:00Z"`, `"2026-11-20"`, `"...+01:00"`), the newest
    /// commit of BRANCH's first-parent chain at or before it, or 7 to 40 hex
    /// digits of a commit on that chain. `EINVAL` for a WHEN that is
    /// neither, `ENOENT` if there was no such document or commit then.
    pub fn get_at(&self, branch: &str, when: &str, path: &str) -> Result<String> {
        let (b, w, p) = (
            cstr("branch", branch)?,
            cstr("when", when)?,
            cstr("path", path)?,
        );
        let (mut out, mut len) = (ptr::null_mut(), 0usize);
        // SAFETY: valid C strings and out-pointers.
        let rc = unsafe {
            ffi::chronofs_get_at(
                self.raw(),
                b.as_ptr(),
                w.as_ptr(),
                p.as_ptr(),
                &mut out,
                &mut len,
            )
        };
        utf8(path, self.take_bytes(rc, out, len)?)
    }

    /// Every version of PATH on BRANCH, oldest first, deletions included
    /// (none for a path that never existed). `ENOENT` for no such branch.
    pub fn history(&self, branch: &str, path: &str) -> Result<Vec<Revision>> {
        let (b, p) = (cstr("branch", branch)?, cstr("path", path)?);
        let (mut v, mut n): (*mut ffi::Rev, usize) = (ptr::null_mut(), 0);
        // SAFETY: valid C strings and out-pointers.
        let rc =
            unsafe { ffi::chronofs_history(self.raw(), b.as_ptr(), p.as_ptr(), &mut v, &mut n) };
        self.check(rc)?;
        let revs = (0..n)
            .map(|i| {
                // SAFETY: N records the caller owns.
                let r = unsafe { &*v.add(i) };
                Revision {
                    commit: lossy(r.commit.as_ptr()),
                    time: r.time,
                    deleted: r.deleted != 0,
                }
            })
            .collect();
        // SAFETY: freed once, with the library's free.
        unsafe { ffi::chronofs_free(v as *mut c_void) };
        Ok(revs)
    }

    /// The branch names, sorted.
    pub fn branches(&self) -> Result<Vec<String>> {
        let (mut v, mut n) = (ptr::null_mut(), 0usize);
        // SAFETY: valid out-pointers.
        let rc = unsafe { ffi::chronofs_branches(self.raw(), &mut v, &mut n) };
        self.take_strings(rc, v, n)
    }

    /// Create branch NAME at the head of HEAD's branch. `EEXIST` if it
    /// exists, `EINVAL` for an invalid name (one holding `@` included).
    pub fn branch_create(&self, name: &str) -> Result<()> {
        let n = cstr("branch", name)?;
        // SAFETY: a valid C string.
        self.check(unsafe { ffi::chronofs_branch_create(self.raw(), n.as_ptr()) })
            .map(|_| ())
    }

    /// Delete branch NAME. `ENOENT` if there is none, `EBUSY` for the
    /// branch HEAD names.
    pub fn branch_delete(&self, name: &str) -> Result<()> {
        let n = cstr("branch", name)?;
        // SAFETY: a valid C string.
        self.check(unsafe { ffi::chronofs_branch_delete(self.raw(), n.as_ptr()) })
            .map(|_| ())
    }

    /// Rename branch FROM to TO; its indexes follow. `EEXIST` if TO
    /// exists, `ENOENT` if FROM does not.
    pub fn branch_rename(&self, from: &str, to: &str) -> Result<()> {
        let (f, t) = (cstr("branch", from)?, cstr("branch", to)?);
        // SAFETY: valid C strings.
        self.check(unsafe { ffi::chronofs_branch_rename(self.raw(), f.as_ptr(), t.as_ptr()) })
            .map(|_| ())
    }

    /// The commit BRANCH@WHEN names (WHEN as for [`ChronoFS::get_at`]) and
    /// its committer time. `ENOENT` if it names no commit.
    pub fn resolve(&self, branch: &str, when: &str) -> Result<(String, i64)> {
        let (b, w) = (cstr("branch", branch)?, cstr("when", when)?);
        let mut commit: Commit = [0; ffi::COMMIT_HEXSZ + 1];
        let mut time = 0i64;
        // SAFETY: valid C strings; COMMIT has room for 41.
        let rc = unsafe {
            ffi::chronofs_resolve(
                self.raw(),
                b.as_ptr(),
                w.as_ptr(),
                commit.as_mut_ptr(),
                &mut time,
            )
        };
        self.check(rc)?;
        Ok((lossy(commit.as_ptr()), time))
    }

    /// COMMIT's (40 hex digits) committer time and the first line of its
    /// message. `ENOENT` for no such commit, `EINVAL` for a malformed id.
    pub fn commit(&self, commit: &str) -> Result<(i64, String)> {
        let c = cstr("commit", commit)?;
        let (mut time, mut summary) = (0i64, ptr::null_mut());
        // SAFETY: valid C string and out-pointers; SUMMARY is ours to free.
        let rc = unsafe { ffi::chronofs_commit(self.raw(), c.as_ptr(), &mut time, &mut summary) };
        self.check(rc)?;
        let s = lossy(summary);
        unsafe { ffi::chronofs_free(summary as *mut c_void) };
        Ok((time, s))
    }

    /// The commits of BRANCH's first-parent chain, newest first, that
    /// changed PATH (every commit if PATH is `None`).
    pub fn log(&self, branch: &str, path: Option<&str>) -> Result<Vec<LogEntry>> {
        let b = cstr("branch", branch)?;
        let p = path.map(|p| cstr("path", p)).transpose()?;
        let mut out: Vec<LogEntry> = Vec::new();
        // SAFETY: the callback only appends to OUT, which outlives the call.
        let rc = unsafe {
            ffi::chronofs_log(
                self.raw(),
                b.as_ptr(),
                p.as_ref().map_or(ptr::null(), |p| p.as_ptr()),
                log_cb,
                &mut out as *mut Vec<LogEntry> as *mut c_void,
            )
        };
        self.check(rc)?;
        Ok(out)
    }

    /// The persistent ordered indexes.
    pub fn index_list(&self) -> Result<Vec<IndexDef>> {
        let mut out: Vec<IndexDef> = Vec::new();
        // SAFETY: the callback only appends to OUT, which outlives the call.
        let rc = unsafe {
            ffi::chronofs_index_list(
                self.raw(),
                index_cb,
                &mut out as *mut Vec<IndexDef> as *mut c_void,
            )
        };
        self.check(rc)?;
        Ok(out)
    }

    /// Drop one ordered index. `EBUSY` while a mount holds the index
    /// database.
    pub fn index_drop(&self, branch: &str, collection: &str, spec: &str) -> Result<()> {
        let (b, c, s) = (
            cstr("branch", branch)?,
            cstr("collection", collection)?,
            cstr("spec", spec)?,
        );
        // SAFETY: valid C strings.
        self.check(unsafe {
            ffi::chronofs_index_drop(self.raw(), b.as_ptr(), c.as_ptr(), s.as_ptr())
        })
        .map(|_| ())
    }

    /// Drop one ordered index and build it again from the branch head.
    /// `EBUSY` while a mount holds the index database.
    pub fn index_rebuild(&self, branch: &str, collection: &str, spec: &str) -> Result<()> {
        let (b, c, s) = (
            cstr("branch", branch)?,
            cstr("collection", collection)?,
            cstr("spec", spec)?,
        );
        // SAFETY: valid C strings.
        self.check(unsafe {
            ffi::chronofs_index_rebuild(self.raw(), b.as_ptr(), c.as_ptr(), s.as_ptr())
        })
        .map(|_| ())
    }

    /// BRANCH's head commit (one read of its ref, no index). `ENOENT` for
    /// no such branch.
    pub fn head(&self, branch: &str) -> Result<String> {
        let b = cstr("branch", branch)?;
        let mut commit: Commit = [0; ffi::COMMIT_HEXSZ + 1];
        // SAFETY: a valid C string; COMMIT has room for 41.
        self.check(unsafe { ffi::chronofs_head(self.raw(), b.as_ptr(), commit.as_mut_ptr()) })?;
        Ok(lossy(commit.as_ptr()))
    }

    /// The commit BRANCH's indexes reflect, `None` if it has none yet:
    /// the head once they caught up. Reads the index as it is.
    pub fn index_head(&self, branch: &str) -> Result<Option<String>> {
        let b = cstr("branch", branch)?;
        let mut commit: Commit = [0; ffi::COMMIT_HEXSZ + 1];
        // SAFETY: a valid C string; COMMIT has room for 41.
        self.check(unsafe {
            ffi::chronofs_index_head(self.raw(), b.as_ptr(), commit.as_mut_ptr())
        })?;
        Ok(commit_id(&commit))
    }

    /// Check every index against Git: one line per problem found (none:
    /// all is well). REPAIR builds what is wrong again from Git, which
    /// needs the index database alone (`EBUSY` beside a mount).
    pub fn fsck(&self, repair: bool) -> Result<Vec<String>> {
        let mut out: Vec<String> = Vec::new();
        let mut n = 0usize;
        // SAFETY: the callback only appends to OUT, which outlives the call.
        let rc = unsafe {
            ffi::chronofs_fsck(
                self.raw(),
                repair as c_int,
                fsck_cb,
                &mut out as *mut Vec<String> as *mut c_void,
                &mut n,
            )
        };
        self.check(rc)?;
        debug_assert_eq!(n, out.len());
        Ok(out)
    }

    /// Make the persistent index of SPEC on COLLECTION now (without one a
    /// query computes its rows from the head's tree; a SPEC queried 3 times
    /// gets one by itself). `EBUSY` while a mount holds the index database.
    pub fn index_create(&self, branch: &str, collection: &str, spec: &str) -> Result<()> {
        let (b, c, s) = (
            cstr("branch", branch)?,
            cstr("collection", collection)?,
            cstr("spec", spec)?,
        );
        // SAFETY: valid C strings.
        self.check(unsafe {
            ffi::chronofs_index_create(self.raw(), b.as_ptr(), c.as_ptr(), s.as_ptr())
        })
        .map(|_| ())
    }

    /// Merge branch FROM into branch INTO: a fast-forward when INTO has
    /// nothing of its own, else a merge commit by the merge rules
    /// (chronofs(1), MERGING) whose message is MESSAGE (or the default)
    /// followed by the conflicted documents; SQUASH makes one ordinary
    /// commit instead. `EINVAL` merging a branch into itself, `ENOENT` an
    /// unknown branch.
    pub fn merge(
        &self,
        from: &str,
        into: &str,
        message: Option<&str>,
        squash: bool,
    ) -> Result<MergeResult> {
        let (f, i) = (cstr("from", from)?, cstr("into", into)?);
        let m = message.map(|m| cstr("message", m)).transpose()?;
        let mut res = ffi::MergeResult {
            commit: [0; ffi::COMMIT_HEXSZ + 1],
            fast_forward: 0,
            unrelated: 0,
            conflicts: 0,
        };
        let flags = if squash { ffi::MERGE_SQUASH } else { 0 };
        // SAFETY: valid C strings (or NULL) and out-struct.
        let rc = unsafe {
            ffi::chronofs_merge(
                self.raw(),
                f.as_ptr(),
                i.as_ptr(),
                m.as_ref().map_or(ptr::null(), |m| m.as_ptr()),
                flags,
                &mut res,
            )
        };
        self.check(rc)?;
        Ok(MergeResult {
            commit: commit_id(&res.commit),
            fast_forward: res.fast_forward != 0,
            unrelated: res.unrelated != 0,
            conflicts: res.conflicts,
        })
    }

    /// The documents that differ from A to B (each a branch, `BRANCH@WHEN`
    /// or a commit id), under PATH (`None`: all), as an iterator of JSON
    /// lines `{"path","op":"add"|"delete"|"modify","patch":[RFC 6902]}`.
    /// `ENOENT` if A or B names nothing.
    pub fn diff(&self, a: &str, b: &str, path: Option<&str>) -> Result<Diff<'_>> {
        let (ca, cb) = (cstr("a", a)?, cstr("b", b)?);
        let p = path.map(|p| cstr("path", p)).transpose()?;
        let mut d = ptr::null_mut();
        // SAFETY: valid C strings (or NULL) and out-pointer.
        let rc = unsafe {
            ffi::chronofs_diff_open(
                &mut d,
                self.raw(),
                ca.as_ptr(),
                cb.as_ptr(),
                p.as_ref().map_or(ptr::null(), |p| p.as_ptr()),
            )
        };
        self.check(rc)?;
        let d = NonNull::new(d)
            .ok_or_else(|| Error::new(EINVAL, "chronofs_diff_open returned NULL"))?;
        Ok(Diff {
            db: self,
            d,
            done: false,
            _not_send: PhantomData,
        })
    }

    /// Begin a transaction on BRANCH: its puts, deletes and renames become
    /// ONE commit at [`Transaction::commit`]; dropped uncommitted, it is
    /// aborted. If the branch moves meanwhile, the changes are merged onto
    /// the new head (they win their conflicts). `ENOENT` for no such branch.
    pub fn transaction(&self, branch: &str) -> Result<Transaction<'_>> {
        self.begin(branch, 0)
    }

    /// As [`ChronoFS::transaction`], but the commit fails with `EBUSY` if
    /// another commit touched one of its documents since it began.
    pub fn transaction_strict(&self, branch: &str) -> Result<Transaction<'_>> {
        self.begin(branch, ffi::TX_STRICT)
    }

    fn begin(&self, branch: &str, flags: u32) -> Result<Transaction<'_>> {
        let b = cstr("branch", branch)?;
        let mut tx = ptr::null_mut();
        // SAFETY: valid C string and out-pointer.
        let rc = unsafe { ffi::chronofs_tx_begin_flags(&mut tx, self.raw(), b.as_ptr(), flags) };
        self.check(rc)?;
        let tx = NonNull::new(tx)
            .ok_or_else(|| Error::new(EINVAL, "chronofs_tx_begin returned NULL"))?;
        Ok(Transaction { db: self, tx })
    }

    /// Run F in a transaction on BRANCH: committed (with MESSAGE) when F
    /// returns `Ok`, aborted when it returns `Err`, which is passed on.
    /// The commit id, or `None` if nothing changed, with F's value.
    pub fn with_transaction<T>(
        &self,
        branch: &str,
        message: Option<&str>,
        f: impl FnOnce(&Transaction<'_>) -> Result<T>,
    ) -> Result<(T, Option<String>)> {
        let tx = self.transaction(branch)?;
        let value = f(&tx)?;
        Ok((value, tx.commit(message)?))
    }

    /// The documents of COLLECTION on BRANCH in the order of SPEC within
    /// RANGE, as [`ChronoFS::query`] does with `ge`, `lt` and `first`.
    pub fn query_range(
        &self,
        branch: &str,
        collection: &str,
        spec: &str,
        range: &Range,
    ) -> Result<Query<'_>> {
        let (b, c, s) = (
            cstr("branch", branch)?,
            cstr("collection", collection)?,
            cstr("spec", spec)?,
        );
        let bounds = [&range.ge, &range.gt, &range.lt, &range.le]
            .iter()
            .map(|v| v.as_deref().map(|v| cstr("bound", v)).transpose())
            .collect::<Result<Vec<_>>>()?;
        let p = |i: usize| bounds[i].as_ref().map_or(ptr::null(), |c| c.as_ptr());
        let r = ffi::CRange {
            ge: p(0),
            gt: p(1),
            lt: p(2),
            le: p(3),
            first: range.first,
        };
        let mut it = ptr::null_mut();
        // SAFETY: valid C strings, alive for the call; the library copies
        // what the iterator needs.
        let rc = unsafe {
            ffi::chronofs_query_range(self.raw(), b.as_ptr(), c.as_ptr(), s.as_ptr(), &r, &mut it)
        };
        self.check(rc)?;
        let it = NonNull::new(it)
            .ok_or_else(|| Error::new(EINVAL, "chronofs_query_range returned NULL"))?;
        Ok(Query {
            db: self,
            it,
            done: false,
            _not_send: PhantomData,
        })
    }

    /// The documents of COLLECTION on BRANCH in the order of SPEC, as an
    /// iterator of `(id, json)`. SPEC is a comma-separated list of fields,
    /// dots for nested fields, each optionally prefixed `-` for descending
    /// (`"age"`, `"-score,name"`, `"address.city"`). FROM and TO (JSON text)
    /// (or a bare string where the text is not JSON) bound the first
    /// field: from <= value < to; LIMIT 0 is no limit. The first query of a
    /// SPEC builds a persistent index; later puts keep it current. `EINVAL`
    /// for a bad SPEC, `ENOENT` for no such branch.
    pub fn query(
        &self,
        branch: &str,
        collection: &str,
        spec: &str,
        from: Option<&str>,
        to: Option<&str>,
        limit: usize,
    ) -> Result<Query<'_>> {
        let (b, c, s) = (
            cstr("branch", branch)?,
            cstr("collection", collection)?,
            cstr("spec", spec)?,
        );
        let f = from.map(|v| cstr("from", v)).transpose()?;
        let t = to.map(|v| cstr("to", v)).transpose()?;
        let mut it = ptr::null_mut();
        // SAFETY: valid C strings (or NULL) and out-pointer.
        let rc = unsafe {
            ffi::chronofs_query(
                self.raw(),
                b.as_ptr(),
                c.as_ptr(),
                s.as_ptr(),
                f.as_ref().map_or(ptr::null(), |v| v.as_ptr()),
                t.as_ref().map_or(ptr::null(), |v| v.as_ptr()),
                limit,
                &mut it,
            )
        };
        self.check(rc)?;
        let it =
            NonNull::new(it).ok_or_else(|| Error::new(EINVAL, "chronofs_query returned NULL"))?;
        Ok(Query {
            db: self,
            it,
            done: false,
            _not_send: PhantomData,
        })
    }
}

impl Drop for ChronoFS {
    fn drop(&mut self) {
        // SAFETY: the handle is ours, and no call is running (we have &mut).
        unsafe { ffi::chronofs_close(self.raw()) }
    }
}

impl fmt::Debug for ChronoFS {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChronoFS")
            .field("handle", &self.db)
            .finish()
    }
}

/// The lines of [`ChronoFS::diff`]: `Ok(json_line)` per changed document,
/// or one `Err` and then the end. Freed when dropped.
pub struct Diff<'a> {
    db: &'a ChronoFS,
    d: NonNull<ffi::Diff>,
    done: bool,
    _not_send: PhantomData<*const c_void>,
}

impl Iterator for Diff<'_> {
    type Item = Result<String>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let (mut line, mut len): (*const c_char, usize) = (ptr::null(), 0);
        // SAFETY: the diff is live; LINE is borrowed until the next call and
        // copied before it.
        let rc = unsafe { ffi::chronofs_diff_next(self.d.as_ptr(), &mut line, &mut len) };
        match self.db.check(rc) {
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
            Ok(0) => {
                self.done = true;
                None
            }
            Ok(_) => {
                // SAFETY: LEN bytes at LINE.
                let bytes = unsafe { std::slice::from_raw_parts(line as *const u8, len) }.to_vec();
                Some(utf8("diff line", bytes))
            }
        }
    }
}

impl fmt::Debug for Diff<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Diff")
            .field("diff", &self.d)
            .field("done", &self.done)
            .finish()
    }
}

impl Drop for Diff<'_> {
    fn drop(&mut self) {
        // SAFETY: ours, freed once.
        unsafe { ffi::chronofs_diff_free(self.d.as_ptr()) }
    }
}

/// A transaction of [`ChronoFS::transaction`]: changes held until
/// [`Transaction::commit`], which makes them one commit. Dropped
/// uncommitted, it is aborted and nothing is written. Used by one thread at
/// a time (it is `Send`, not `Sync`).
pub struct Transaction<'a> {
    db: &'a ChronoFS,
    tx: NonNull<ffi::Tx>,
}

// SAFETY: the C library allows a transaction to be used by one thread at a
// time, whichever; &mut-free methods on a !Sync type keep it to one.
unsafe impl Send for Transaction<'_> {}

impl Transaction<'_> {
    fn raw(&self) -> *mut ffi::Tx {
        self.tx.as_ptr()
    }

    /// Hold JSON as PATH. `EINVAL` for an invalid path; the JSON itself is
    /// validated at commit.
    pub fn put(&self, path: &str, json: &str) -> Result<()> {
        let p = cstr("path", path)?;
        // SAFETY: JSON passed with its length.
        let rc = unsafe {
            ffi::chronofs_tx_put(
                self.raw(),
                p.as_ptr(),
                json.as_ptr() as *const c_char,
                json.len(),
            )
        };
        self.db.check(rc).map(|_| ())
    }

    /// Hold the deletion of PATH. `ENOENT` if the transaction does not see it.
    pub fn delete(&self, path: &str) -> Result<()> {
        let p = cstr("path", path)?;
        // SAFETY: a valid C string.
        self.db
            .check(unsafe { ffi::chronofs_tx_delete(self.raw(), p.as_ptr()) })
            .map(|_| ())
    }

    /// Hold the rename of FROM to TO. `ENOENT` if the transaction does not
    /// see FROM.
    pub fn rename(&self, from: &str, to: &str) -> Result<()> {
        let (f, t) = (cstr("from", from)?, cstr("to", to)?);
        // SAFETY: valid C strings.
        self.db
            .check(unsafe { ffi::chronofs_tx_rename(self.raw(), f.as_ptr(), t.as_ptr()) })
            .map(|_| ())
    }

    /// PATH as the transaction sees it: its own writes, else the branch as
    /// it was at begin. `ENOENT` if there is none.
    pub fn get(&self, path: &str) -> Result<String> {
        let p = cstr("path", path)?;
        let (mut out, mut len) = (ptr::null_mut(), 0usize);
        // SAFETY: valid C string and out-pointers.
        let rc = unsafe { ffi::chronofs_tx_get(self.raw(), p.as_ptr(), &mut out, &mut len) };
        utf8(path, self.db.take_bytes(rc, out, len)?)
    }

    /// Commit everything held as one commit (MESSAGE, or the default): the
    /// new commit's id, or `None` if nothing changed. Every document is
    /// validated first: one bad document fails with `EINVAL` or `EFBIG`
    /// naming it, and nothing is written. A strict transaction fails with
    /// `EBUSY` if another commit touched one of its documents.
    pub fn commit(self, message: Option<&str>) -> Result<Option<String>> {
        let m = message.map(|m| cstr("message", m)).transpose()?;
        let mut commit: Commit = [0; ffi::COMMIT_HEXSZ + 1];
        // SAFETY: valid C string (or NULL); COMMIT has room for 41. The
        // transaction is freed by Drop either way.
        let rc = unsafe {
            ffi::chronofs_tx_commit(
                self.raw(),
                m.as_ref().map_or(ptr::null(), |m| m.as_ptr()),
                commit.as_mut_ptr(),
            )
        };
        self.db.check(rc)?;
        Ok(commit_id(&commit))
    }

    /// Drop everything held; nothing is written.
    pub fn abort(self) {}
}

impl fmt::Debug for Transaction<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transaction").field("tx", &self.tx).finish()
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        // SAFETY: ours, freed once; freeing an uncommitted transaction
        // drops what it holds, which is an abort.
        unsafe { ffi::chronofs_tx_free(self.raw()) }
    }
}

/// The rows of [`ChronoFS::query`]: `Ok((id, json))` in order, or one
/// `Err` and then the end. Freed when dropped.
pub struct Query<'a> {
    db: &'a ChronoFS,
    it: NonNull<ffi::Iter>,
    done: bool,
    // The library's error message for a failed step is kept per thread.
    _not_send: PhantomData<*const c_void>,
}

impl Iterator for Query<'_> {
    type Item = Result<(String, String)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let (mut id, mut json, mut len): (*const c_char, *const c_char, usize) =
            (ptr::null(), ptr::null(), 0);
        // SAFETY: the iterator is live; ID and JSON are borrowed until the
        // next call, and copied before it.
        let rc = unsafe { ffi::chronofs_iter_next(self.it.as_ptr(), &mut id, &mut json, &mut len) };
        match self.db.check(rc) {
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
            Ok(0) => {
                self.done = true;
                None
            }
            Ok(_) => {
                let id = lossy(id);
                // SAFETY: LEN bytes at JSON, valid until the next call.
                let bytes = unsafe { std::slice::from_raw_parts(json as *const u8, len) }.to_vec();
                Some(utf8(&id, bytes).map(|j| (id, j)))
            }
        }
    }
}

impl fmt::Debug for Query<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Query")
            .field("iter", &self.it)
            .field("done", &self.done)
            .finish()
    }
}

impl Drop for Query<'_> {
    fn drop(&mut self) {
        // SAFETY: ours, freed once.
        unsafe { ffi::chronofs_iter_free(self.it.as_ptr()) }
    }
}
