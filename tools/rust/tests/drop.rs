//! Drop closes the handle: open, use and drop it many times, and the
//! process holds no more descriptors than after the first time. Its own
//! test program, so no other test's handles are open meanwhile.

use chronofs::ChronoFS;

fn fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[test]
fn drop_closes_the_handle() {
    let dir = std::env::temp_dir().join(format!("chronofs-rust-drop-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let repo = dir.join("repo.git");
    chronofs::init(&repo).unwrap();
    let cycle = |i: usize| {
        let db = ChronoFS::open(&repo).unwrap();
        db.put("main", "x.json", &i.to_string()).unwrap();
        assert_eq!(db.get("main", "x.json").unwrap(), i.to_string());
        assert_eq!(
            db.query("main", "", "-x", None, None, 0).unwrap().count(),
            1
        );
    };
    cycle(0); // what is opened once per process is opened now
    let before = fds();
    for i in 1..50 {
        cycle(i);
    }
    let after = fds();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(
        after <= before + 2,
        "descriptors leak: {} -> {}",
        before,
        after
    );
}
