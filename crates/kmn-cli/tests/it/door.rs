//! Issue 9 item 2, one door to the store: only kmn-app reaches kmn-store. kmn-web and
//! kmn-cli have no normal dependency on it (tests may), kmn-app re-exports none of it,
//! and the store accessor for tests is never used outside tests and kmn-bench.

use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

#[test]
fn issue9_web_and_cli_have_no_normal_dependency_on_the_store() {
    let out = std::process::Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(workspace())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let m: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let packages = m["packages"].as_array().unwrap();
    for name in ["kmn-web", "kmn-cli"] {
        let p = packages
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{name} is not in the workspace"));
        let normal: Vec<&str> = p["dependencies"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["kind"].is_null())
            .filter_map(|d| d["name"].as_str())
            .collect();
        assert!(normal.contains(&"kmn-app"), "{name}: {normal:?}");
        assert!(
            !normal.contains(&"kmn-store"),
            "{name} depends on kmn-store: {normal:?}"
        );
        // Nor does it turn on the store accessor meant for tests.
        for d in p["dependencies"].as_array().unwrap() {
            if d["name"] == "kmn-app" && d["kind"].is_null() {
                let features = d["features"].as_array().unwrap();
                assert!(
                    !features.iter().any(|f| f == "test-support"),
                    "{name}: {features:?}"
                );
            }
        }
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn issue9_kmn_app_reexports_nothing_of_the_store() {
    let ws = workspace();
    let mut files = Vec::new();
    rust_files(&ws.join("crates/kmn-app/src"), &mut files);
    assert!(files.len() > 10);
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        for line in text.lines() {
            let l = line.split("//").next().unwrap_or_default().replace(' ', "");
            assert!(
                !(l.starts_with("pubuse") && l.contains("kmn_store")),
                "{}: {line}",
                f.display()
            );
        }
    }
    // The accessor for tests stays out of the server and the CLI.
    for dir in ["crates/kmn-web/src", "crates/kmn-cli/src"] {
        let mut files = Vec::new();
        rust_files(&ws.join(dir), &mut files);
        for f in &files {
            let text = std::fs::read_to_string(f).unwrap();
            assert!(
                !text.contains("store_for_tests") && !text.contains("kmn_store"),
                "{}",
                f.display()
            );
        }
    }
}

/// The server's rights come only from the authenticated caller: kmn-web never makes the
/// local CA administrator's capability (`CaAdmin::local`, which the CLI on the server
/// uses) nor an internal one, so no route can act with rights its caller lacks.
#[test]
fn issue9_the_server_never_makes_a_ca_administrator() {
    let ws = workspace();
    let mut files = Vec::new();
    rust_files(&ws.join("crates/kmn-web/src"), &mut files);
    assert!(!files.is_empty());
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        assert!(
            !text.contains("CaAdmin") && !text.contains("::internal("),
            "{} makes a capability of its own",
            f.display()
        );
    }
}
