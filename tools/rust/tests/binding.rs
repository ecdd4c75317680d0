//! Every call of the binding against a real repository made with
//! chronofs_init in a temporary directory: what it returns, what Git then
//! holds, an error path for each, and concurrent use from threads.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;

use chronofs::{ChronoFS, Error, Revision};

const ENOENT: i32 = 2;
const EEXIST: i32 = 17;
const EBUSY: i32 = 16;
const ENOTDIR: i32 = 20;
const EISDIR: i32 = 21;
const EINVAL: i32 = 22;
const EFBIG: i32 = 27;

/// A repository in a fresh temporary directory, removed when dropped.
struct Repo {
    dir: PathBuf,
    path: PathBuf,
}

impl Repo {
    fn new() -> Repo {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "chronofs-rust-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("repo.git");
        chronofs::init(&path).unwrap();
        Repo { dir, path }
    }

    fn open(&self) -> ChronoFS {
        ChronoFS::open_as(&self.path, Some("Rust Test <rust@example.org>")).unwrap()
    }

    fn git(&self, args: &[&str]) -> String {
        let out = Command::new("git")
            .arg(format!("--git-dir={}", self.path.display()))
            .args(args)
            .output()
            .expect("git");
        assert!(
            out.status.success(),
            "git {:?}: {}",
            args,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

impl Drop for Repo {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn errno<T: std::fmt::Debug>(r: chronofs::Result<T>) -> Error {
    r.expect_err("the call should have failed")
}

fn is_commit(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[test]
fn version_is_the_library_version() {
    let v = chronofs::version();
    assert_eq!(v.split('.').count(), 3, "{}", v);
    assert_eq!(v, env!("CARGO_PKG_VERSION"));
}

#[test]
fn init_makes_a_repository_and_refuses_an_existing_one() {
    let r = Repo::new();
    assert_eq!(r.git(&["rev-parse", "--is-bare-repository"]).trim(), "true");
    assert_eq!(r.git(&["rev-list", "--count", "main"]).trim(), "1");
    let e = errno(chronofs::init(&r.path));
    assert_eq!(e.errno(), EEXIST);
    assert!(e.message().contains("repo.git"), "{}", e);
}

#[test]
fn open_and_its_errors() {
    let r = Repo::new();
    drop(ChronoFS::open(&r.path).unwrap());
    let missing = r.dir.join("nowhere.git");
    let e = errno(ChronoFS::open(&missing));
    assert_eq!(e.errno(), ENOENT);
    assert!(e.message().contains("nowhere.git"), "{}", e);
    assert!(e.to_string().contains("nowhere.git"));
    assert_eq!(e.to_io().kind(), std::io::ErrorKind::NotFound);
    let e = errno(ChronoFS::open(Path::new("/tmp/a\0b")));
    assert_eq!(e.errno(), EINVAL);
}

#[test]
fn put_get_and_their_errors() {
    let r = Repo::new();
    let db = r.open();
    let doc = r#"{"name": "alice", "age": 34}"#;
    let c = db.put("main", "users/alice.json", doc).unwrap().unwrap();
    assert!(is_commit(&c));
    assert_eq!(r.git(&["rev-parse", "main"]).trim(), c);
    assert_eq!(r.git(&["show", "main:users/alice.json"]), doc);
    assert!(r
        .git(&["log", "-1", "--format=%an <%ae> %s", "main"])
        .starts_with("Rust Test <rust@example.org> put users/alice.json"));
    assert_eq!(db.get("main", "users/alice.json").unwrap(), doc);
    // The same bytes again: no commit.
    assert_eq!(db.put("main", "users/alice.json", doc).unwrap(), None);
    assert_eq!(r.git(&["rev-parse", "main"]).trim(), c);

    let e = errno(db.put("main", "users/bad.json", r#"{"name": broken"#));
    assert_eq!(e.errno(), EINVAL);
    assert!(e.message().contains("line 1, column 10"), "{}", e);
    let big = format!("\"{}\"", "x".repeat(17 << 20));
    assert_eq!(errno(db.put("main", "big.json", &big)).errno(), EFBIG);
    assert_eq!(errno(db.put("main", "users", "{}")).errno(), EINVAL);
    let e = errno(db.put("main", "../x.json", "{}"));
    assert_eq!(e.errno(), EINVAL);
    assert!(e.message().contains("../x.json"), "{}", e);
    assert_eq!(
        errno(db.put("main", "users/alice.json/x.json", "{}")).errno(),
        ENOTDIR
    );
    assert_eq!(errno(db.put("main", "a\0b.json", "{}")).errno(), EINVAL);

    assert_eq!(errno(db.get("main", "users")).errno(), EISDIR);
    let e = errno(db.get("main", "users/missing.json"));
    assert_eq!(e.errno(), ENOENT);
    assert!(e.message().contains("users/missing.json"), "{}", e);
    assert_eq!(
        errno(db.get("nobranch", "users/alice.json")).errno(),
        ENOENT
    );
    assert_eq!(r.git(&["rev-list", "--count", "main"]).trim(), "2");
}

#[test]
fn delete_and_its_error() {
    let r = Repo::new();
    let db = r.open();
    db.put("main", "u/a.json", "1").unwrap();
    let c = db.delete("main", "u/a.json").unwrap().unwrap();
    assert!(is_commit(&c));
    assert_eq!(
        r.git(&["log", "-1", "--format=%s", "main"]).trim(),
        "delete u/a.json"
    );
    assert_eq!(errno(db.get("main", "u/a.json")).errno(), ENOENT);
    let e = errno(db.delete("main", "u/a.json"));
    assert_eq!(e.errno(), ENOENT);
    assert!(e.message().contains("u/a.json"), "{}", e);
}

#[test]
fn rename_and_its_error() {
    let r = Repo::new();
    let db = r.open();
    db.put("main", "u/a.json", r#"{"v": 1}"#).unwrap();
    let c = db.rename("main", "u/a.json", "u/b.json").unwrap().unwrap();
    assert!(is_commit(&c));
    assert_eq!(db.get("main", "u/b.json").unwrap(), r#"{"v": 1}"#);
    assert_eq!(errno(db.get("main", "u/a.json")).errno(), ENOENT);
    assert_eq!(
        r.git(&["ls-tree", "-r", "--name-only", "main"]).trim(),
        "u/b.json"
    );
    assert_eq!(
        errno(db.rename("main", "u/a.json", "u/c.json")).errno(),
        ENOENT
    );
    assert_eq!(
        errno(db.rename("main", "u/b.json", "u/.c.json")).errno(),
        EINVAL
    );
}

/// A rename of a missing document fails with ENOENT and names the path
/// (its message was once empty).
#[test]
fn rename_error_names_the_path() {
    let r = Repo::new();
    let db = r.open();
    let e = errno(db.rename("main", "u/a.json", "u/c.json"));
    assert!(e.message().contains("u/a.json"), "{}", e);
}

#[test]
fn list_and_its_error() {
    let r = Repo::new();
    let db = r.open();
    db.put("main", "u/b.json", "2").unwrap();
    db.put("main", "u/a.json", "1").unwrap();
    db.put("main", "u/2026/x.json", "3").unwrap();
    assert_eq!(db.list("main", "u").unwrap(), ["2026/", "a.json", "b.json"]);
    assert_eq!(db.list("main", "").unwrap(), ["u/"]);
    let e = errno(db.list("main", "nothing"));
    assert_eq!(e.errno(), ENOENT);
    assert!(e.message().contains("nothing"), "{}", e);
    assert_eq!(errno(db.list("nobranch", "u")).errno(), ENOENT);
}

#[test]
fn history_and_its_error() {
    let r = Repo::new();
    let db = r.open();
    let c1 = db.put("main", "u/a.json", "1").unwrap().unwrap();
    let c2 = db.put("main", "u/a.json", "2").unwrap().unwrap();
    db.put("main", "u/other.json", "9").unwrap();
    let c3 = db.delete("main", "u/a.json").unwrap().unwrap();
    let h = db.history("main", "u/a.json").unwrap();
    let commits: Vec<&str> = h.iter().map(|v| v.commit.as_str()).collect();
    assert_eq!(commits, [c1.as_str(), c2.as_str(), c3.as_str()]);
    assert_eq!(
        h.iter().map(|v| v.deleted).collect::<Vec<_>>(),
        [false, false, true]
    );
    let t: i64 = r
        .git(&["log", "-1", "--format=%ct", &c2])
        .trim()
        .parse()
        .unwrap();
    assert_eq!(
        h[1],
        Revision {
            commit: c2.clone(),
            time: t,
            deleted: false
        }
    );
    assert_eq!(db.history("main", "u/never.json").unwrap(), []);
    let e = errno(db.history("nobranch", "u/a.json"));
    assert_eq!(e.errno(), ENOENT);
    assert!(e.message().contains("nobranch"), "{}", e);
}

#[test]
fn get_at_by_commit_and_time_and_its_errors() {
    let r = Repo::new();
    let db = r.open();
    let c1 = db
        .put("main", "cfg/app.json", r#"{"v": 1}"#)
        .unwrap()
        .unwrap();
    db.put("main", "cfg/app.json", r#"{"v": 2}"#).unwrap();
    assert_eq!(
        db.get_at("main", &c1, "cfg/app.json").unwrap(),
        r#"{"v": 1}"#
    );
    assert_eq!(
        db.get_at("main", &c1[..7], "cfg/app.json").unwrap(),
        r#"{"v": 1}"#
    );
    assert_eq!(
        db.get_at("main", "2999-01-01", "cfg/app.json").unwrap(),
        r#"{"v": 2}"#
    );
    let e = errno(db.get_at("main", "yesterday", "cfg/app.json"));
    assert_eq!(e.errno(), EINVAL);
    assert!(e.message().contains("yesterday"), "{}", e);
    assert_eq!(
        errno(db.get_at("main", "1999-01-01", "cfg/app.json")).errno(),
        ENOENT
    );
    assert_eq!(
        errno(db.get_at("main", &c1, "cfg/none.json")).errno(),
        ENOENT
    );
}

#[test]
fn branches_create_delete_and_their_errors() {
    let r = Repo::new();
    let db = r.open();
    db.put("main", "x.json", "1").unwrap();
    assert_eq!(db.branches().unwrap(), ["main"]);
    db.branch_create("feature/x").unwrap();
    assert_eq!(db.branches().unwrap(), ["feature/x", "main"]);
    assert_eq!(
        r.git(&["rev-parse", "feature/x"]),
        r.git(&["rev-parse", "main"])
    );
    db.put("feature/x", "x.json", "2").unwrap();
    assert_eq!(db.get("main", "x.json").unwrap(), "1");
    assert_eq!(db.get("feature/x", "x.json").unwrap(), "2");

    assert_eq!(errno(db.branch_create("main")).errno(), EEXIST);
    assert_eq!(errno(db.branch_create("a..b")).errno(), EINVAL);
    let e = errno(db.branch_create("a@b"));
    assert_eq!(e.errno(), EINVAL);
    assert!(e.message().contains("a@b"), "{}", e);

    db.branch_delete("feature/x").unwrap();
    assert_eq!(db.branches().unwrap(), ["main"]);
    assert_eq!(errno(db.branch_delete("feature/x")).errno(), ENOENT);
    assert_eq!(errno(db.branch_delete("main")).errno(), EBUSY);
}

#[test]
fn query_orders_bounds_limits_and_its_errors() {
    let r = Repo::new();
    let db = r.open();
    for (id, age) in [("a", 30), ("b", 20), ("c", 40), ("d", 35)] {
        db.put(
            "main",
            &format!("u/{}.json", id),
            &format!(r#"{{"age": {}}}"#, age),
        )
        .unwrap();
    }
    let ids = |q: chronofs::Query| q.map(|row| row.unwrap().0).collect::<Vec<_>>();
    assert_eq!(
        ids(db.query("main", "u", "age", None, None, 0).unwrap()),
        ["b", "a", "d", "c"]
    );
    assert_eq!(
        ids(db.query("main", "u", "-age", None, None, 2).unwrap()),
        ["c", "d"]
    );
    assert_eq!(
        ids(db
            .query("main", "u", "age", Some("30"), Some("40"), 0)
            .unwrap()),
        ["a", "d"]
    );
    let rows: Vec<(String, String)> = db
        .query("main", "u", "age", Some("40"), None, 0)
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(rows, [("c".to_string(), r#"{"age": 40}"#.to_string())]);
    // A later put keeps the index current; dropping a query half-read frees it.
    db.put("main", "u/e.json", r#"{"age": 1}"#).unwrap();
    let mut q = db.query("main", "u", "age", None, None, 0).unwrap();
    assert_eq!(q.next().unwrap().unwrap().0, "e");
    drop(q);

    assert_eq!(
        errno(db.query("main", "u", "", None, None, 0)).errno(),
        EINVAL
    );
    let e = errno(db.query("nobranch", "u", "age", None, None, 0));
    assert_eq!(e.errno(), ENOENT);
    assert!(e.message().contains("nobranch"), "{}", e);
}

#[test]
fn one_handle_from_many_threads() {
    let r = Repo::new();
    let db = Arc::new(r.open());
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let db = Arc::clone(&db);
            thread::spawn(move || {
                for i in 0..15 {
                    let path = format!("t{}/d{}.json", t, i);
                    let doc = format!(r#"{{"t": {}, "i": {}}}"#, t, i);
                    db.put("main", &path, &doc).unwrap().unwrap();
                    assert_eq!(db.get("main", &path).unwrap(), doc);
                    // Each thread's error message is its own.
                    let e = db
                        .get("main", &format!("t{}/missing{}.json", t, i))
                        .unwrap_err();
                    assert!(
                        e.message().contains(&format!("t{}/missing{}.json", t, i)),
                        "{}",
                        e
                    );
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    // Every put is a commit: none lost to a concurrent ref update.
    assert_eq!(r.git(&["rev-list", "--count", "main"]).trim(), "121");
    for t in 0..8 {
        assert_eq!(db.list("main", &format!("t{}", t)).unwrap().len(), 15);
    }
    r.git(&["fsck", "--strict", "--no-progress"]);
}

#[test]
fn scoped_threads_and_a_handle_moved_to_another_thread() {
    let r = Repo::new();
    let db = r.open();
    db.put("main", "u/a.json", r#"{"age": 100}"#).unwrap();
    thread::scope(|s| {
        for t in 0..4 {
            let db = &db;
            s.spawn(move || {
                for i in 0..5 {
                    let path = format!("u/s{}_{}.json", t, i);
                    db.put("main", &path, &format!(r#"{{"age": {}}}"#, i))
                        .unwrap();
                    assert!(db
                        .list("main", "u")
                        .unwrap()
                        .contains(&format!("s{}_{}.json", t, i)));
                    assert_eq!(
                        db.get("main", &path).unwrap(),
                        format!(r#"{{"age": {}}}"#, i)
                    );
                }
            });
        }
    });
    assert_eq!(db.list("main", "u").unwrap().len(), 21);
    // Renames and deletes from many threads at once.
    thread::scope(|s| {
        for t in 0..4 {
            let db = &db;
            s.spawn(move || {
                for i in 0..5 {
                    let (from, to) = (
                        format!("u/s{}_{}.json", t, i),
                        format!("u/r{}_{}.json", t, i),
                    );
                    db.rename("main", &from, &to).unwrap().unwrap();
                    if i % 2 == 0 {
                        db.delete("main", &to).unwrap().unwrap();
                    }
                }
            });
        }
    });
    assert_eq!(db.list("main", "u").unwrap().len(), 9);
    assert_eq!(r.git(&["rev-list", "--count", "main"]).trim(), "54");
    assert_eq!(
        db.query("main", "u", "-age", None, None, 0)
            .unwrap()
            .count(),
        9
    );
    // Send: opened here, used and closed on another thread.
    let moved = thread::spawn(move || {
        let c = db.put("main", "moved.json", "true").unwrap();
        drop(db);
        c
    })
    .join()
    .unwrap();
    assert_eq!(r.git(&["rev-parse", "main"]).trim(), moved.unwrap());
}

/// Calls that open the index database (query, history, get_at) from
/// several threads of one process at once take turns (they once failed
/// with EIO: RocksDB opens a database once per process).
#[test]
fn index_calls_from_many_threads() {
    for round in 0..30 {
        let r = Repo::new();
        let db = r.open();
        db.put("main", "u/a.json", r#"{"age": 100}"#).unwrap();
        thread::scope(|s| {
            for t in 0..4 {
                let db = &db;
                s.spawn(move || {
                    for i in 0..5 {
                        let path = format!("u/s{}_{}.json", t, i);
                        if round % 2 == 0 {
                            db.put("main", &path, &format!(r#"{{"age": {}}}"#, i))
                                .unwrap();
                        }
                        db.query("main", "u", "age", None, None, 0).unwrap().count();
                        db.history("main", "u/a.json").unwrap();
                    }
                });
            }
        });
    }
}

#[test]
fn branch_rename_and_its_errors() {
    let r = Repo::new();
    let db = r.open();
    db.put("main", "u/a.json", r#"{"age": 1}"#).unwrap();
    db.branch_create("feature").unwrap();
    db.put("feature", "u/b.json", r#"{"age": 2}"#).unwrap();
    assert_eq!(
        db.query("feature", "u", "age", None, None, 0)
            .unwrap()
            .count(),
        2
    );
    db.branch_rename("feature", "topic").unwrap();
    assert_eq!(db.branches().unwrap(), ["main", "topic"]);
    assert_eq!(db.get("topic", "u/b.json").unwrap(), r#"{"age": 2}"#);
    assert_eq!(db.history("topic", "u/b.json").unwrap().len(), 1);
    let defs = db.index_list().unwrap();
    assert!(!defs.iter().any(|d| d.branch == "feature"), "{:?}", defs);
    assert_eq!(
        db.query("topic", "u", "age", None, None, 0)
            .unwrap()
            .count(),
        2
    );
    assert_eq!(errno(db.branch_rename("feature", "x")).errno(), ENOENT);
    assert_eq!(errno(db.branch_rename("topic", "main")).errno(), EEXIST);
    assert_eq!(errno(db.branch_rename("topic", "a@b")).errno(), EINVAL);
}

#[test]
fn resolve_commit_log_and_their_errors() {
    let r = Repo::new();
    let db = r.open();
    let c1 = db.put("main", "u/a.json", "1").unwrap().unwrap();
    let c2 = db.put("main", "u/b.json", "2").unwrap().unwrap();
    let c3 = db.put("main", "u/a.json", "3").unwrap().unwrap();
    let t1: i64 = r
        .git(&["log", "-1", "--format=%ct", &c1])
        .trim()
        .parse()
        .unwrap();

    let t2: i64 = r
        .git(&["log", "-1", "--format=%ct", &c2])
        .trim()
        .parse()
        .unwrap();
    assert_eq!(db.resolve("main", &c2[..8]).unwrap(), (c2.clone(), t2));
    assert_eq!(db.resolve("main", "2999-01-01").unwrap().0, c3);
    assert_eq!(errno(db.resolve("main", "1999-01-01")).errno(), ENOENT);
    assert_eq!(errno(db.resolve("main", "yesterday")).errno(), EINVAL);
    assert_eq!(errno(db.resolve("nobranch", "2999-01-01")).errno(), ENOENT);

    assert_eq!(db.commit(&c1).unwrap(), (t1, "put u/a.json".to_string()));
    assert_eq!(errno(db.commit(&"0".repeat(40))).errno(), ENOENT);
    assert_eq!(errno(db.commit("xyz")).errno(), EINVAL);

    let all: Vec<String> = db
        .log("main", None)
        .unwrap()
        .into_iter()
        .map(|e| e.commit)
        .collect();
    let git: Vec<String> = r
        .git(&["log", "--first-parent", "--format=%H", "main"])
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(all, git);
    let a = db.log("main", Some("u/a.json")).unwrap();
    assert_eq!(
        a.iter().map(|e| e.commit.as_str()).collect::<Vec<_>>(),
        [c3.as_str(), c1.as_str()]
    );
    assert_eq!(
        a[1],
        chronofs::LogEntry {
            commit: c1.clone(),
            time: t1,
            summary: "put u/a.json".into()
        }
    );
    assert_eq!(errno(db.log("nobranch", None)).errno(), ENOENT);
}

#[test]
fn index_list_drop_rebuild_and_their_errors() {
    let r = Repo::new();
    let db = r.open();
    for (id, age) in [("a", 3), ("b", 1), ("c", 2)] {
        db.put(
            "main",
            &format!("u/{}.json", id),
            &format!(r#"{{"age": {}}}"#, age),
        )
        .unwrap();
    }
    assert!(db.index_list().unwrap().is_empty());
    // A SPEC queried 3 times through one handle gets its index by itself.
    for n in 1..=3 {
        assert!(
            db.index_list().unwrap().is_empty(),
            "indexed after {} queries",
            n - 1
        );
        let q = db.query("main", "u", "-age", None, None, 0).unwrap();
        assert_eq!(q.count(), 3);
    }
    let defs = db.index_list().unwrap();
    assert_eq!(defs.len(), 1, "{:?}", defs);
    assert_eq!(
        (
            defs[0].branch.as_str(),
            defs[0].collection.as_str(),
            defs[0].rows
        ),
        ("main", "u", 3)
    );
    let spec = defs[0].spec.clone();
    db.index_rebuild("main", "u", &spec).unwrap();
    assert_eq!(db.index_list().unwrap(), defs);
    db.index_drop("main", "u", &spec).unwrap();
    assert!(db.index_list().unwrap().is_empty());
    assert_eq!(errno(db.index_rebuild("main", "u", "")).errno(), EINVAL);
    let e = errno(db.index_rebuild("nobranch", "u", "age"));
    assert_eq!(e.errno(), ENOENT);
    assert!(e.message().contains("nobranch"), "{}", e);
}

/// A renamed branch's indexes follow it, as chronofs.h says (they were
/// once dropped).
#[test]
fn branch_rename_keeps_the_indexes() {
    let r = Repo::new();
    let db = r.open();
    db.put("main", "u/a.json", r#"{"age": 1}"#).unwrap();
    db.branch_create("feature").unwrap();
    db.index_create("feature", "u", "age").unwrap();
    db.branch_rename("feature", "topic").unwrap();
    let defs = db.index_list().unwrap();
    assert!(defs.iter().any(|d| d.branch == "topic"), "{:?}", defs);
}

/// The daemon this build made, or the installed one.
fn daemon() -> PathBuf {
    match std::env::var_os("CHRONOFS_BUILD") {
        Some(b) => Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(b)
            .join("fs/chronofs"),
        None => PathBuf::from("chronofs"),
    }
}

fn mounted(mnt: &Path) -> bool {
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap();
    mounts
        .lines()
        .any(|l| l.split(' ').nth(1) == Some(mnt.to_str().unwrap()))
}

/// Run F with the repository mounted by the daemon (in the foreground),
/// and unmount; F's result once the daemon has exited.
fn with_mount<T>(r: &Repo, f: impl FnOnce(&Path) -> T) -> T {
    assert!(
        Path::new("/dev/fuse").exists(),
        "/dev/fuse is missing: this test mounts"
    );
    let mnt = r.dir.join("mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    let mut child = Command::new(daemon())
        .arg(&r.path)
        .arg(&mnt)
        .args(["-f", "-o", "fsync=off"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start the chronofs daemon");
    let mut tries = 0;
    while !mounted(&mnt) {
        if child.try_wait().unwrap().is_some() || tries == 200 {
            let _ = child.kill();
            panic!("not mounted after {} tries", tries);
        }
        thread::sleep(std::time::Duration::from_millis(50));
        tries += 1;
    }
    // The mount serves at once and opens its index database while it
    // catches up in the background; a snapshot lookup waits for that.
    std::fs::metadata(mnt.join("main@2999-01-01")).expect("a snapshot of main");
    let out = f(&mnt);
    let status = Command::new("fusermount3")
        .arg("-u")
        .arg(&mnt)
        .status()
        .unwrap();
    child.wait().unwrap();
    assert!(status.success(), "fusermount3 -u failed");
    out
}

#[test]
fn beside_a_running_mount() {
    let r = Repo::new();
    let db = r.open();
    db.put("main", "u/a.json", r#"{"age": 1}"#).unwrap();
    db.index_create("main", "u", "age").unwrap();
    let (drop_err, rebuild_err, put, seen, rows) = with_mount(&r, |mnt| {
        // The mount holds the index database: what needs it alone is
        // refused. Puts and queries go on, and the mount sees a put at once.
        let drop_err = db.index_drop("main", "u", "age");
        let rebuild_err = db.index_rebuild("main", "u", "age");
        let put = db.put("main", "u/b.json", r#"{"age": 0}"#);
        let seen = std::fs::read_to_string(mnt.join("main/u/b.json"));
        let rows = db
            .query("main", "u", "age", None, None, 0)
            .map(|q| q.map(|row| row.unwrap().0).collect::<Vec<_>>());
        (drop_err, rebuild_err, put, seen, rows)
    });
    assert_eq!(errno(drop_err).errno(), EBUSY);
    assert_eq!(errno(rebuild_err).errno(), EBUSY);
    assert!(put.unwrap().is_some());
    assert_eq!(seen.unwrap(), r#"{"age": 0}"#);
    assert_eq!(rows.unwrap(), ["b", "a"]);
}

/// chronofs_index_create while a mount holds the index database says
/// EBUSY, as drop and rebuild do (it once said ENOENT).
#[test]
fn index_create_beside_a_mount_says_ebusy() {
    let r = Repo::new();
    let db = r.open();
    db.put("main", "u/a.json", r#"{"age": 1}"#).unwrap();
    let e = with_mount(&r, |_| db.index_create("main", "u", "age"));
    assert_eq!(errno(e).errno(), EBUSY);
}

#[test]
fn query_range_and_range_steps_and_their_errors() {
    let r = Repo::new();
    let db = r.open();
    for (id, v) in [
        ("a", "30"),
        ("b", "20"),
        ("c", "40"),
        ("d", r#""bob""#),
        ("e", "35"),
    ] {
        db.put(
            "main",
            &format!("u/{}.json", id),
            &format!(r#"{{"v": {}}}"#, v),
        )
        .unwrap();
    }
    let ids = |range: &chronofs::Range| {
        db.query_range("main", "u", "v", range)
            .unwrap()
            .map(|row| row.unwrap().0)
            .collect::<Vec<_>>()
    };
    let mut range = chronofs::Range::default();
    assert_eq!(ids(&range), ["b", "a", "e", "c", "d"]);
    range.step("gt=20").unwrap();
    range.step("le=40").unwrap();
    assert_eq!(range.gt.as_deref(), Some("20"));
    assert_eq!(ids(&range), ["a", "e", "c"]);
    range.step("first=2").unwrap();
    assert_eq!(ids(&range), ["a", "e"]);
    // A bare word is a string: strings order after numbers.
    let words = chronofs::Range {
        ge: Some("bob".into()),
        ..Default::default()
    };
    assert_eq!(ids(&words), ["d"]);

    let e = errno(range.step("gt=1"));
    assert_eq!(e.errno(), EINVAL);
    assert!(e.message().contains("gt=1"), "{}", e);
    assert_eq!(
        errno(chronofs::Range::default().step("first=x")).errno(),
        EINVAL
    );
    assert_eq!(
        errno(chronofs::Range::default().step("zz=1")).errno(),
        EINVAL
    );
    assert_eq!(range.first, 2, "a failed step changes nothing");
    assert_eq!(
        errno(db.query_range("main", "u", "", &range)).errno(),
        EINVAL
    );
    assert_eq!(
        errno(db.query_range("nobranch", "u", "v", &range)).errno(),
        ENOENT
    );
}

fn parents(r: &Repo, commit: &str) -> usize {
    r.git(&["rev-list", "--parents", "-n", "1", commit])
        .split_whitespace()
        .count()
        - 1
}

#[test]
fn merge_fast_forward_merge_commit_squash_and_errors() {
    let r = Repo::new();
    let db = r.open();
    db.put("main", "u/a.json", r#"{"x": 1, "y": 1}"#).unwrap();
    db.branch_create("f").unwrap();
    let head_f = db.put("f", "u/b.json", "[1]").unwrap().unwrap();
    let ff = db.merge("f", "main", None, false).unwrap();
    assert_eq!(
        ff,
        chronofs::MergeResult {
            commit: Some(head_f.clone()),
            fast_forward: true,
            unrelated: false,
            conflicts: 0
        }
    );
    // Both sides change member x: a conflict, won by the newer change.
    db.put("f", "u/a.json", r#"{"x": 2, "y": 1}"#).unwrap();
    db.put("main", "u/a.json", r#"{"x": 3, "y": 2}"#).unwrap();
    let m = db.merge("f", "main", Some("merge f"), false).unwrap();
    let c = m.commit.clone().unwrap();
    assert_eq!((m.fast_forward, m.conflicts), (false, 1));
    assert_eq!(parents(&r, &c), 2);
    let msg = r.git(&["log", "-1", "--format=%B", &c]);
    assert!(
        msg.starts_with("merge f") && msg.contains("Conflicts:") && msg.contains("u/a.json"),
        "{}",
        msg
    );
    assert_eq!(r.git(&["rev-parse", "main"]).trim(), c);
    assert!(db.get("main", "u/a.json").unwrap().contains("\"y\": 2"));
    // Nothing left to merge.
    assert_eq!(db.merge("f", "main", None, false).unwrap().commit, None);
    // A squash is one ordinary commit.
    db.put("f", "u/c.json", "3").unwrap();
    let sq = db.merge("f", "main", None, true).unwrap().commit.unwrap();
    assert_eq!(parents(&r, &sq), 1);
    assert_eq!(db.get("main", "u/c.json").unwrap(), "3");

    let e = errno(db.merge("main", "main", None, false));
    assert_eq!(e.errno(), EINVAL);
    assert!(e.message().contains("main"), "{}", e);
    let e = errno(db.merge("nobranch", "main", None, false));
    assert_eq!(e.errno(), ENOENT);
    assert!(e.message().contains("nobranch"), "{}", e);
}

#[test]
fn diff_lines_and_errors() {
    let r = Repo::new();
    let db = r.open();
    let c0 = db.put("main", "u/a.json", r#"{"x": 1}"#).unwrap().unwrap();
    db.put("main", "u/b.json", "[1]").unwrap();
    db.put("main", "u/a.json", r#"{"x": 2}"#).unwrap();
    db.put("main", "v/c.json", "true").unwrap();
    db.delete("main", "u/b.json").unwrap();
    let lines: Vec<String> = db
        .diff(&c0, "main", None)
        .unwrap()
        .map(|l| l.unwrap())
        .collect();
    assert_eq!(
        lines,
        [
            r#"{"path":"u/a.json","op":"modify","patch":[{"op":"replace","path":"/x","value":2}]}"#,
            r#"{"path":"v/c.json","op":"add","patch":[{"op":"add","path":"","value":true}]}"#,
        ]
    );
    let only_u: Vec<String> = db
        .diff(&c0, "main", Some("u"))
        .unwrap()
        .map(|l| l.unwrap())
        .collect();
    assert_eq!(only_u.len(), 1);
    let e = errno(db.diff("nobranch", "main", None));
    assert_eq!(e.errno(), ENOENT);
    assert!(e.message().contains("nobranch"), "{}", e);
    assert_eq!(
        errno(db.diff("main@1999-01-01", "main", None)).errno(),
        ENOENT
    );
}

#[test]
fn transactions_commit_once_abort_on_drop_and_their_errors() {
    let r = Repo::new();
    let db = r.open();
    db.put("main", "u/old.json", "0").unwrap();
    let before: usize = r
        .git(&["rev-list", "--count", "main"])
        .trim()
        .parse()
        .unwrap();
    let tx = db.transaction("main").unwrap();
    for i in 0..50 {
        tx.put(&format!("u/d{}.json", i), &format!(r#"{{"i": {}}}"#, i))
            .unwrap();
    }
    tx.rename("u/old.json", "u/new.json").unwrap();
    tx.delete("u/d49.json").unwrap();
    assert_eq!(tx.get("u/d7.json").unwrap(), r#"{"i": 7}"#);
    assert_eq!(tx.get("u/new.json").unwrap(), "0");
    assert_eq!(errno(tx.get("u/old.json")).errno(), ENOENT);
    // Nothing is visible before the commit.
    assert_eq!(errno(db.get("main", "u/d7.json")).errno(), ENOENT);
    let c = tx.commit(Some("bulk")).unwrap().unwrap();
    assert_eq!(
        r.git(&["rev-list", "--count", "main"]).trim(),
        (before + 1).to_string()
    );
    assert_eq!(r.git(&["log", "-1", "--format=%s", &c]).trim(), "bulk");
    assert_eq!(db.list("main", "u").unwrap().len(), 50);
    assert_eq!(errno(db.get("main", "u/old.json")).errno(), ENOENT);

    // Dropped uncommitted: aborted, nothing written.
    {
        let tx = db.transaction("main").unwrap();
        tx.put("u/never.json", "1").unwrap();
    }
    assert_eq!(errno(db.get("main", "u/never.json")).errno(), ENOENT);

    // One bad document refuses the whole commit, and names it.
    let tx = db.transaction("main").unwrap();
    tx.put("u/good.json", "1").unwrap();
    tx.put("u/bad.json", "{").unwrap();
    let e = errno(tx.commit(None));
    assert_eq!(e.errno(), EINVAL);
    assert!(e.message().contains("u/bad.json"), "{}", e);
    assert_eq!(errno(db.get("main", "u/good.json")).errno(), ENOENT);

    // The closure form: Ok commits, Err aborts and is passed on.
    let (n, c) = db
        .with_transaction("main", Some("closure"), |tx| {
            tx.put("u/x.json", "1")?;
            tx.put("u/y.json", "2")?;
            Ok(2)
        })
        .unwrap();
    assert_eq!(n, 2);
    assert_eq!(
        r.git(&["log", "-1", "--format=%s", &c.unwrap()]).trim(),
        "closure"
    );
    let e = errno(db.with_transaction("main", None, |tx| {
        tx.put("u/z.json", "1")?;
        tx.delete("u/missing.json")
    }));
    assert_eq!(e.errno(), ENOENT);
    assert_eq!(errno(db.get("main", "u/z.json")).errno(), ENOENT);

    assert_eq!(errno(db.transaction("nobranch")).errno(), ENOENT);
    let tx = db.transaction("main").unwrap();
    assert_eq!(errno(tx.put("../x.json", "1")).errno(), EINVAL);
    assert_eq!(
        errno(tx.rename("u/missing.json", "u/m.json")).errno(),
        ENOENT
    );
    tx.abort();
}

#[test]
fn transactions_on_a_moved_head_merge_or_refuse_when_strict() {
    let r = Repo::new();
    let db = r.open();
    db.put("main", "u/a.json", r#"{"x": 1, "y": 1}"#).unwrap();
    let tx = db.transaction("main").unwrap();
    tx.put("u/a.json", r#"{"x": 2, "y": 1}"#).unwrap();
    db.put("main", "u/a.json", r#"{"x": 1, "y": 5}"#).unwrap(); // moves the head
    let c = tx.commit(None).unwrap().unwrap();
    assert_eq!(parents(&r, &c), 1);
    let merged = db.get("main", "u/a.json").unwrap();
    assert!(
        merged.contains("\"x\": 2") && merged.contains("\"y\": 5"),
        "{}",
        merged
    );

    let tx = db.transaction_strict("main").unwrap();
    tx.put("u/a.json", "{}").unwrap();
    db.put("main", "u/a.json", r#"{"z": 1}"#).unwrap();
    assert_eq!(errno(tx.commit(None)).errno(), EBUSY);
    assert_eq!(db.get("main", "u/a.json").unwrap(), r#"{"z": 1}"#);
    // Strict, but another document moved: it commits.
    let tx = db.transaction_strict("main").unwrap();
    tx.put("u/b.json", "1").unwrap();
    db.put("main", "u/c.json", "2").unwrap();
    assert!(tx.commit(None).unwrap().is_some());
}

#[test]
fn index_create_and_its_errors() {
    let r = Repo::new();
    let db = r.open();
    db.put("main", "u/a.json", r#"{"v": 1}"#).unwrap();
    db.index_create("main", "u", "-v").unwrap();
    let defs = db.index_list().unwrap();
    assert_eq!(defs.len(), 1, "{:?}", defs);
    assert_eq!((defs[0].collection.as_str(), defs[0].rows), ("u", 1));
    assert_eq!(errno(db.index_create("main", "u", "")).errno(), EINVAL);
    let e = errno(db.index_create("nobranch", "u", "v"));
    assert_eq!(e.errno(), ENOENT);
    assert!(e.message().contains("nobranch"), "{}", e);
}

#[test]
fn head_index_head_and_their_errors() {
    let r = Repo::new();
    let db = r.open();
    let c = db.put("main", "u/a.json", "1").unwrap().unwrap();
    assert_eq!(db.head("main").unwrap(), c);
    assert_eq!(
        db.head("main").unwrap(),
        r.git(&["rev-parse", "main"]).trim()
    );
    // A save never waits for a catch-up: the indexes follow at the next
    // call that reads them (history does).
    db.history("main", "u/a.json").unwrap();
    assert_eq!(db.index_head("main").unwrap(), Some(c));
    let e = errno(db.head("nobranch"));
    assert_eq!(e.errno(), ENOENT);
    assert!(e.message().contains("nobranch"), "{}", e);
    assert_eq!(db.index_head("nobranch").unwrap(), None);
}

#[test]
fn fsck_finds_a_broken_row_repairs_it_and_is_refused_beside_a_mount() {
    let r = Repo::new();
    let db = r.open();
    for i in 0..5 {
        db.put(
            "main",
            &format!("u/d{}.json", i),
            &format!(r#"{{"v": {}}}"#, i),
        )
        .unwrap();
    }
    db.index_create("main", "u", "v").unwrap();
    assert_eq!(db.fsck(false).unwrap(), Vec::<String>::new());
    // One ordered row deleted on purpose, with the build's own tool.
    let build = std::env::var_os("CHRONOFS_BUILD")
        .expect("CHRONOFS_BUILD (the build holding tests/break_index)");
    let tool = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(build)
        .join("tests/break_index");
    let st = Command::new(tool)
        .arg(r.path.join("chronofs/index"))
        .arg("O")
        .status()
        .unwrap();
    assert!(st.success());
    let problems = db.fsck(false).unwrap();
    assert!(!problems.is_empty());
    assert!(problems.iter().any(|p| p.contains("u")), "{:?}", problems);
    assert!(!db.fsck(true).unwrap().is_empty()); // reports what it repairs
    assert_eq!(db.fsck(false).unwrap(), Vec::<String>::new());
    let e = with_mount(&r, |_| db.fsck(true));
    assert_eq!(errno(e).errno(), EBUSY);
}

/// A put to a branch that does not exist is ENOENT and gives no commit
/// id (a regression once returned success and an uninitialized id).
#[test]
fn put_to_a_missing_branch_is_enoent() {
    let r = Repo::new();
    let db = r.open();
    let e = errno(db.put("nobranch", "users/x.json", "{}"));
    assert_eq!(e.errno(), ENOENT);
    assert!(e.message().contains("nobranch"), "{}", e);
}
