//! The workspace's layering, read from `cargo metadata`: what each crate may depend on.
//!
//! ARCHITECTURE.md states these rules; this test is what keeps them true. Only normal
//! (non-dev) dependencies count: tests may reach anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

/// Crates that do no I/O: they take text, bytes and times and return values.
const PURE: &[&str] = &[
    "sitrep-runbook",
    "sitrep-risk",
    "sitrep-ledger",
    "sitrep-alerts",
    "sitrep-escalation",
];

/// Crates that do I/O below `app`; only `app` may use them (and the offline `verify` of
/// the CLI may use `evidence`).
const IO: &[&str] = &[
    "sitrep-store",
    "sitrep-evidence",
    "sitrep-executor",
    "sitrep-notify",
];

/// Third-party crates that talk to disks, networks, processes or clocks.
const IO_THIRD_PARTY: &[&str] = &[
    "tokio",
    "sqlx",
    "rusqlite",
    "reqwest",
    "reqwest013",
    "hyper",
    "hyper-util",
    "axum",
    "lettre",
    "object_store",
    "nix",
    "landlock",
    "tempfile",
    "rand",
    "flate2",
    "tar",
];

/// Each workspace crate's normal dependencies, by package name.
fn normal_dependencies() -> BTreeMap<String, BTreeSet<String>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata is JSON");
    let mut deps = BTreeMap::new();
    for package in meta["packages"].as_array().expect("packages") {
        let name = package["name"].as_str().expect("name").to_owned();
        let normal = package["dependencies"]
            .as_array()
            .expect("dependencies")
            .iter()
            .filter(|d| d["kind"].is_null())
            .map(|d| {
                d["rename"]
                    .as_str()
                    .or(d["name"].as_str())
                    .expect("dep name")
                    .to_owned()
            })
            .collect();
        deps.insert(name, normal);
    }
    deps
}

fn sitrep_deps(deps: &BTreeSet<String>) -> BTreeSet<&str> {
    deps.iter()
        .map(String::as_str)
        .filter(|d| d.starts_with("sitrep-"))
        .collect()
}

#[test]
fn pure_crates_depend_on_nothing_that_does_io() {
    let all = normal_dependencies();
    for pure in PURE {
        let deps = &all[*pure];
        for dep in deps {
            assert!(
                !IO_THIRD_PARTY.contains(&dep.as_str()),
                "{pure} is pure but depends on {dep}, which does I/O"
            );
            if dep.starts_with("sitrep-") {
                assert!(
                    PURE.contains(&dep.as_str()),
                    "{pure} is pure but depends on {dep}"
                );
            }
        }
    }
}

#[test]
fn io_crates_sit_below_app() {
    let all = normal_dependencies();
    for io in IO {
        for dep in sitrep_deps(&all[*io]) {
            assert!(
                PURE.contains(&dep),
                "{io} may depend only on pure sitrep crates, not on {dep}"
            );
        }
    }
    for dep in sitrep_deps(&all["sitrep-app"]) {
        assert!(
            PURE.contains(&dep) || IO.contains(&dep),
            "app may not depend on {dep}, which sits above it"
        );
    }
}

#[test]
fn the_faces_go_through_app() {
    let all = normal_dependencies();
    for dep in sitrep_deps(&all["sitrep-server"]) {
        assert!(
            dep == "sitrep-app" || PURE.contains(&dep),
            "the server reaches {dep} past app; use app's use cases or re-exports"
        );
    }
    // The CLI wires the server and the demo, and its offline `sitrep verify` reads packs
    // with `evidence`; the rest of the I/O crates are app's.
    let allowed = [
        "sitrep-app",
        "sitrep-server",
        "sitrep-demo",
        "sitrep-evidence",
    ];
    for dep in sitrep_deps(&all["sitrep"]) {
        assert!(
            allowed.contains(&dep) || PURE.contains(&dep),
            "the CLI reaches {dep} past app; use app's use cases or re-exports"
        );
    }
    for dep in sitrep_deps(&all["sitrep-demo"]) {
        assert!(
            dep == "sitrep-app" || dep == "sitrep-server" || PURE.contains(&dep),
            "the demo reaches {dep} past app"
        );
    }
}

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read source dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `App::store()` stays public for tests only: no face's source calls it.
#[test]
fn the_faces_never_reach_apps_store() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for face in ["server", "cli", "demo"] {
        rust_files(&root.join(face).join("src"), &mut files);
    }
    assert!(
        files.len() > 20,
        "sources not found under {}",
        root.display()
    );
    let mut found = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).expect("read source");
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if code.contains(".store()") {
                found.push(format!("{}:{}: {}", f.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "faces reach the store past app:\n{}",
        found.join("\n")
    );
}

#[test]
fn there_is_no_grab_bag_crate() {
    let all = normal_dependencies();
    for name in all.keys() {
        for bag in ["common", "utils", "util", "shared", "misc", "helpers"] {
            assert!(
                !name.ends_with(&format!("-{bag}")),
                "{name} is a grab-bag crate"
            );
        }
    }
}
