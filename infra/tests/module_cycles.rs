//! `infra/module_cycles.py`, the check that no module imports from a module importing it: the
//! workspace passes it, and it fails on knots planted in a throwaway crate.

use std::path::{Path, PathBuf};
use std::process::Output;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("infra sits in the workspace")
        .to_path_buf()
}

/// `python3 infra/module_cycles.py PACKAGE…` (no package: the whole workspace).
fn check(packages: &[&Path]) -> Output {
    std::process::Command::new("python3")
        .arg(workspace().join("infra/module_cycles.py"))
        .args(packages)
        .current_dir(workspace())
        .output()
        .expect("python3 runs")
}

fn report(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A package `knot` in a temporary directory holding `files` (path under it, text).
fn package(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut all = vec![(
        "Cargo.toml",
        "[package]\nname = \"knot\"\nversion = \"0.1.0\"\nedition = \"2024\"\n",
    )];
    all.extend_from_slice(files);
    for (path, text) in all {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

fn knotted(files: &[(&str, &str)], knot: &str) {
    let dir = package(files);
    let out = check(&[dir.path()]);
    let said = report(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains(knot), "names the knot {knot}: {said}");
}

fn acyclic(files: &[(&str, &str)]) {
    let dir = package(files);
    let out = check(&[dir.path()]);
    let said = report(&out);
    assert_eq!(out.status.code(), Some(0), "{said}");
    assert!(said.contains("no module cycles in 1 crates"), "{said}");
}

const LIB: (&str, &str) = ("src/lib.rs", "mod a;\nmod b;\n");
const A_USES_B: (&str, &str) = ("src/a.rs", "use crate::b::X;\npub struct Y(X);\n");

#[test]
fn the_workspace_has_no_module_cycles() {
    let out = check(&[]);
    assert!(out.status.success(), "{}", report(&out));
}

#[test]
fn two_modules_importing_each_other_are_a_knot() {
    knotted(
        &[
            LIB,
            A_USES_B,
            (
                "src/b.rs",
                "use crate::a::Y;\npub struct X;\nfn f(_: Y) {}\n",
            ),
        ],
        "a <-> b",
    );
}

#[test]
fn without_the_back_edge_it_passes() {
    acyclic(&[LIB, A_USES_B, ("src/b.rs", "pub struct X;\n")]);
}

#[test]
fn a_parent_whose_child_uses_it_while_it_re_exports_the_child_is_a_knot() {
    knotted(
        &[
            ("src/lib.rs", "mod a;\npub use a::Y;\npub struct Thing;\n"),
            ("src/a.rs", "pub struct Y(pub crate::Thing);\n"),
        ],
        "(itself) <-> a",
    );
}

#[test]
fn a_path_in_a_serde_attribute_counts() {
    knotted(
        &[
            LIB,
            A_USES_B,
            (
                "src/b.rs",
                "#[derive(serde::Deserialize)]\npub struct X {\n    \
                 #[serde(deserialize_with = \"crate::a::f\")]\n    n: u32,\n}\n",
            ),
        ],
        "a <-> b",
    );
}

#[test]
fn a_path_in_a_comment_does_not_count() {
    acyclic(&[
        LIB,
        A_USES_B,
        (
            "src/b.rs",
            "// Unlike crate::a::Y, it holds nothing.\n/* crate::a::f\n   /* crate::a::Y */ */\n\
             pub struct X;\n",
        ),
    ]);
}

#[test]
fn a_raw_string_holding_quotes_does_not_turn_a_later_comment_into_code() {
    acyclic(&[
        LIB,
        A_USES_B,
        (
            "src/b.rs",
            "const SAID: &str = r#\"say \"hi\"#;\n// Unlike crate::a::Y, it holds nothing.\n\
             pub struct X;\n",
        ),
    ]);
}
