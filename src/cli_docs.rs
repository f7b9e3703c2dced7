//! The generated CLI reference, `docs/cli.md`.
//!
//! The reference is rendered from the clap definitions, so it cannot drift
//! from the binary: a unit test compares the file with a fresh rendering and
//! fails on any difference. `KILN_UPDATE_DOCS=1 cargo test -p kiln cli_docs`
//! rewrites it.

use clap::CommandFactory as _;

use crate::cli::Cli;

/// Returns the Markdown text of the CLI reference.
pub fn render() -> String {
    let mut out = String::from(
        "# CLI reference\n\n\
         Generated from `kiln --help` of every command by `src/cli_docs.rs`; do not\n\
         edit by hand (`KILN_UPDATE_DOCS=1 cargo test -p kiln cli_docs` rewrites it).\n",
    );
    let mut root = Cli::command().term_width(80);
    root.build();
    render_command(&mut out, &root, "kiln");
    out
}

fn render_command(out: &mut String, command: &clap::Command, path: &str) {
    let level = path.split(' ').count().min(4);
    out.push_str(&format!(
        "\n{} `{path}`\n\n```text\n",
        "#".repeat(level + 1)
    ));
    let help = command.clone().render_long_help().to_string();
    out.push_str(help.trim_end());
    out.push_str("\n```\n");
    for sub in command
        .get_subcommands()
        .filter(|s| s.get_name() != "help" && !s.is_hide_set())
    {
        render_command(out, sub, &format!("{path} {}", sub.get_name()));
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn cli_docs_are_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/cli.md");
        let fresh = super::render();
        if std::env::var_os("KILN_UPDATE_DOCS").is_some() {
            std::fs::write(path, &fresh).expect("write docs/cli.md");
            return;
        }
        let current = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            current == fresh,
            "docs/cli.md is out of date; run `KILN_UPDATE_DOCS=1 cargo test -p kiln cli_docs`"
        );
    }
}
