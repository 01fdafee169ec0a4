//! The README's configuration table lists exactly the settings the binary has: every `UC_*`
//! variable `upload-coordinator --help` shows, and no other.

use std::collections::BTreeSet;
use std::process::Command;

/// `UC_*` names in `text`.
fn variables(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (start, _) in text.match_indices("UC_") {
        let name: String = text[start..]
            .chars()
            .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
            .collect();
        names.insert(name.trim_end_matches('_').to_owned());
    }
    names
}

#[test]
fn the_readme_configuration_table_matches_the_settings_of_the_binary() {
    let help = Command::new(env!("CARGO_BIN_EXE_upload-coordinator"))
        .arg("--help")
        .env_clear()
        .output()
        .expect("the binary runs");
    let help = String::from_utf8(help.stdout).expect("UTF-8 help");
    let from_help: BTreeSet<String> = help
        .match_indices("[env: ")
        .flat_map(|(at, _)| {
            variables(&help[at..at + 80.min(help.len() - at)])
                .into_iter()
                .take(1)
        })
        .collect();
    assert!(
        from_help.len() > 50,
        "the help lists the settings: {from_help:?}"
    );

    let readme = include_str!("../README.md");
    let table = readme
        .split("## Configuration")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("a Configuration section");
    let from_readme: BTreeSet<String> = table
        .lines()
        .filter(|line| line.starts_with("| `UC_"))
        .flat_map(|line| variables(line.split('|').nth(1).unwrap_or_default()))
        .collect();

    let undocumented: Vec<_> = from_help.difference(&from_readme).collect();
    let unknown: Vec<_> = from_readme.difference(&from_help).collect();
    assert!(
        undocumented.is_empty() && unknown.is_empty(),
        "settings missing from the README's table: {undocumented:?}; \
         in the table but not a setting: {unknown:?}"
    );
}
