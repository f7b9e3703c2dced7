//! What of a path input is imported: every file and directory under it,
//! less what its `.gitignore` files, the input's `exclude` patterns and
//! kiln's own defaults leave out.
//!
//! The defaults: `.git/`, cargo's `target/` at the top, kiln's `result` /
//! `result-*` links at the top (they point into the store and would change
//! the source's hash on every build), and `flake.toml`, `flake.lock` and
//! `kiln-units/` at the top (how to build is not what is built: a new
//! package, target or per-unit plan must not rebuild the others), and, anywhere, a symlink into a store (its
//! target is `…/store/<hash>-<name>` or below: what `kiln build -o NAME`
//! and `nix-build` leave, which no build can follow). Hidden files are kept
//! (`.cargo/config.toml` matters). `.gitignore` files are honoured whether
//! or not the directory is a git repository; ignore files above the input's
//! directory are not read (evaluation sees nothing outside the flake).

use std::path::Path;

use ignore::WalkBuilder;
use ignore::overrides::OverrideBuilder;
use thiserror::Error;

/// Patterns always left out.
pub const DEFAULT_EXCLUDES: [&str; 7] = [
    ".git/",
    "/target/",
    "/result",
    "/result-*",
    "/flake.toml",
    "/flake.lock",
    "/kiln-units/",
];

/// Why a directory could not be walked.
#[derive(Debug, Error)]
pub enum WalkError {
    /// A pattern is not valid gitignore syntax.
    #[error("bad exclude pattern `{pattern}`")]
    Pattern {
        /// The pattern.
        pattern: String,
        /// Why.
        #[source]
        source: ignore::Error,
    },
    /// The walk failed.
    #[error("cannot read `{path}`")]
    Walk {
        /// The directory.
        path: String,
        /// Why.
        #[source]
        source: ignore::Error,
    },
    /// The input's directory is missing.
    #[error("`{0}` is not a directory")]
    NotADirectory(String),
}

/// Returns the paths under `root` to import, relative to it, sorted.
pub fn included(root: &Path, exclude: &[String]) -> Result<Vec<String>, WalkError> {
    if !root.is_dir() {
        return Err(WalkError::NotADirectory(root.display().to_string()));
    }
    let mut overrides = OverrideBuilder::new(root);
    for pattern in DEFAULT_EXCLUDES
        .iter()
        .copied()
        .chain(exclude.iter().map(String::as_str))
    {
        overrides
            .add(&format!("!{pattern}"))
            .map_err(|source| WalkError::Pattern {
                pattern: pattern.to_owned(),
                source,
            })?;
    }
    let overrides = overrides.build().map_err(|source| WalkError::Pattern {
        pattern: exclude.join(" "),
        source,
    })?;
    let walk = WalkBuilder::new(root)
        .hidden(false)
        .parents(false)
        .git_ignore(true)
        .git_global(false)
        .git_exclude(false)
        .ignore(false)
        .require_git(false)
        .follow_links(false)
        .overrides(overrides)
        .build();
    let mut paths = Vec::new();
    for entry in walk {
        let entry = entry.map_err(|source| WalkError::Walk {
            path: root.display().to_string(),
            source,
        })?;
        let Ok(relative) = entry.path().strip_prefix(root) else {
            continue;
        };
        if relative.as_os_str().is_empty()
            || (entry.path_is_symlink() && is_store_link(entry.path()))
        {
            continue;
        }
        paths.push(relative.to_string_lossy().into_owned());
    }
    paths.sort();
    Ok(paths)
}

/// Whether `path` is a symlink to a store path or into one: a result link
/// of kiln's or Nix's, wherever it was put.
fn is_store_link(path: &Path) -> bool {
    let Ok(target) = std::fs::read_link(path) else {
        return false;
    };
    let parts: Vec<_> = target.components().collect();
    parts.windows(2).any(|pair| {
        pair[0].as_os_str() == "store"
            && pair[1]
                .as_os_str()
                .to_str()
                .is_some_and(|base| kiln_store::store_path::StorePath::from_base_name(base).is_ok())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gitignore_excludes_and_defaults_are_honoured() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        for file in [
            "Cargo.toml",
            "src/main.rs",
            "src/gen.rs",
            "target/release/x",
            "docs/a.md",
            ".cargo/config.toml",
            ".git/HEAD",
            "sub/target/keep.rs",
            "notes.log",
            "flake.toml",
            "flake.lock",
            "kiln-units/app.x86_64.json",
            "sub/flake.toml",
            "sub/kiln-units/kept.json",
        ] {
            let path = root.join(file);
            fs_err::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            fs_err::write(&path, "x").expect("write");
        }
        fs_err::write(root.join(".gitignore"), "*.log\nsrc/gen.rs\n").expect("gitignore");
        std::os::unix::fs::symlink("/nowhere", root.join("result")).expect("link");
        std::os::unix::fs::symlink("/nowhere", root.join("result-x86_64")).expect("link");
        let store_path = "/var/kiln/store/0c3k02s7zal4sca0rln6d9macl14lavl-app-x86_64";
        std::os::unix::fs::symlink(store_path, root.join("out-x86_64")).expect("link");
        std::os::unix::fs::symlink(format!("{store_path}/bin/app"), root.join("sub/app"))
            .expect("link");
        std::os::unix::fs::symlink("store/not-a-store-path", root.join("kept-link")).expect("link");
        let got = included(root, &["docs/".to_owned()]).expect("walk");
        assert_eq!(
            got,
            [
                ".cargo",
                ".cargo/config.toml",
                ".gitignore",
                "Cargo.toml",
                "kept-link",
                "src",
                "src/main.rs",
                "sub",
                "sub/flake.toml",
                "sub/kiln-units",
                "sub/kiln-units/kept.json",
                "sub/target",
                "sub/target/keep.rs"
            ]
        );
    }

    #[test]
    fn a_bad_pattern_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let e = included(dir.path(), &["a[".to_owned()]).expect_err("bad pattern");
        assert!(e.to_string().contains("`a[`"), "{e}");
    }
}
