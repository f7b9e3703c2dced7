//! Embeds the recipe library (`recipes/`) in the binary: writes
//! `$OUT_DIR/recipes.rs`, a list of `(relative path, bytes)` for every file
//! under `recipes/`, which `src/recipes.rs` includes.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let root = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let recipes = root.join("recipes");
    println!("cargo::rerun-if-changed={}", recipes.display());
    let mut files = Vec::new();
    collect(&recipes, &recipes, &mut files);
    files.sort();
    let mut out = String::from("&[\n");
    for (relative, absolute) in &files {
        println!("cargo::rerun-if-changed={}", absolute.display());
        let _ = writeln!(
            out,
            "    ({relative:?}, include_bytes!({:?}).as_slice()),",
            absolute.display().to_string()
        );
    }
    out.push_str("]\n");
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default());
    if let Err(err) = std::fs::write(out_dir.join("recipes.rs"), out) {
        panic!("cannot write the embedded recipe list: {err}");
    }
}

fn collect(base: &Path, dir: &Path, files: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        println!("cargo::rerun-if-changed={}", path.display());
        if path.is_dir() {
            collect(base, &path, files);
        } else if let Ok(relative) = path.strip_prefix(base) {
            files.push((relative.to_string_lossy().into_owned(), path.clone()));
        }
    }
}
