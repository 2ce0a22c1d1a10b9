//! One settings type: the README's configuration table is the one `config::VARIABLES` makes,
//! and no module but `config.rs` names a `HOLDPOINT_` variable.

use std::path::{Path, PathBuf};

use holdpoint::config::{VARIABLES, markdown_table};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn the_readme_lists_every_variable_with_its_default() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let begin = readme
        .find("<!-- settings:begin")
        .expect("README has the settings markers");
    let table_start = begin + readme[begin..].find("-->\n").unwrap() + 4;
    let end = readme.find("<!-- settings:end -->").unwrap();
    let expected = markdown_table();
    assert!(
        readme[table_start..end] == expected,
        "README's configuration table has drifted; replace it with:\n{expected}"
    );
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn only_config_names_a_holdpoint_variable() {
    let mut files = Vec::new();
    for dir in ["shared/src", "infra/src", "functions"] {
        sources(&root().join(dir), &mut files);
    }
    // Tests set variables for the processes they start; production code only reads Settings.
    files.retain(|f| !f.components().any(|c| c.as_os_str() == "tests"));
    assert!(files.len() > 20, "found the sources: {files:?}");
    let mut offenders = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let is_config =
            f.ends_with("shared/src/config.rs") || f.ends_with("shared/src/config/variables.rs");
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if code.contains("\"HOLDPOINT_") && !is_config {
                offenders.push(format!("{}:{}: {}", f.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "read these through Settings:\n{}",
        offenders.join("\n")
    );
}

#[test]
fn the_template_sets_only_known_variables() {
    let template = std::fs::read_to_string(root().join("template.yaml")).unwrap();
    let known: Vec<&str> = VARIABLES.iter().map(|v| v.name).collect();
    let mut named = 0;
    for word in template.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
        if word.starts_with("HOLDPOINT_") {
            named += 1;
            assert!(known.contains(&word), "template.yaml sets unknown {word}");
        }
    }
    assert!(named >= 5, "template.yaml names the functions' variables");
}
