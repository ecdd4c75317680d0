//! build.rs - where to link libchronofs from, first that applies:
//! CHRONOFS_LIB_DIR (a directory holding libchronofs.so), CHRONOFS_BUILD (a
//! meson build directory, absolute or relative to the source tree's root;
//! its lib/), else `pkg-config chronofs` (an installed library). The first
//! two also set the test programs' run path, so `cargo test` needs no
//! LD_LIBRARY_PATH.

use std::env;
use std::path::PathBuf;
use std::process::Command;

fn main() {
    for var in ["CHRONOFS_LIB_DIR", "CHRONOFS_BUILD", "PKG_CONFIG_PATH"] {
        println!("cargo:rerun-if-env-changed={}", var);
    }
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest.join("../..");
    let dir = match (
        env::var_os("CHRONOFS_LIB_DIR"),
        env::var_os("CHRONOFS_BUILD"),
    ) {
        (Some(d), _) => Some(PathBuf::from(d)),
        (None, Some(b)) => Some(root.join(b).join("lib")),
        (None, None) => None,
    };
    if let Some(dir) = dir {
        let dir = dir
            .canonicalize()
            .unwrap_or_else(|e| panic!("libchronofs directory {}: {}", dir.display(), e));
        println!("cargo:rustc-link-search=native={}", dir.display());
        println!("cargo:rustc-link-lib=dylib=chronofs");
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir.display());
        return;
    }
    let out = Command::new("pkg-config")
        .args(["--libs", "chronofs"])
        .output()
        .expect("pkg-config: cannot run it (set CHRONOFS_LIB_DIR or CHRONOFS_BUILD)");
    if !out.status.success() {
        panic!(
            "pkg-config chronofs: {}(install libchronofs-dev, or set CHRONOFS_LIB_DIR or CHRONOFS_BUILD)",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for flag in String::from_utf8(out.stdout).unwrap().split_whitespace() {
        if let Some(d) = flag.strip_prefix("-L") {
            println!("cargo:rustc-link-search=native={}", d);
        } else if let Some(l) = flag.strip_prefix("-l") {
            println!("cargo:rustc-link-lib=dylib={}", l);
        }
    }
}
