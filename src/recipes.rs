//! The recipe library, embedded in the binary at build time (`build.rs`)
//! and reachable from the Nix language as `<kiln>`: `import <kiln> { }` is
//! `recipes/default.nix`, `import <kiln/zig>` the zig recipe.
//!
//! On first use the files are written to a directory named after their
//! hash under the user's cache (`$XDG_CACHE_HOME/kiln/recipes-<hash>`), so
//! an upgraded kiln never reads another version's recipes. `KILN_RECIPES`
//! (or `-I kiln=PATH`, which comes first in the search path) points `<kiln>`
//! at a checkout instead.

use std::path::PathBuf;

use anyhow::Context as _;
use kiln_store::hash::{Encoding, HashAlgo, Hasher};

/// Every file of `recipes/`: its path relative to `recipes/`, and its bytes.
const FILES: &[(&str, &[u8])] = include!(concat!(env!("OUT_DIR"), "/recipes.rs"));

/// Returns the directory `<kiln>` names: `KILN_RECIPES` if set, else the
/// embedded recipes written out to the cache (once per version).
pub fn directory() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("KILN_RECIPES") {
        return Ok(PathBuf::from(dir));
    }
    let dir = cache_root().join(format!("recipes-{}", digest()));
    if dir.join("default.nix").is_file() {
        return Ok(dir);
    }
    let partial = dir.with_extension(format!("partial-{}", std::process::id()));
    for (relative, bytes) in FILES {
        let path = partial.join(relative);
        if let Some(parent) = path.parent() {
            fs_err::create_dir_all(parent)?;
        }
        fs_err::write(&path, bytes)?;
    }
    // Another kiln may have written the same files meanwhile: either
    // rename wins and both are the same bytes.
    if let Err(err) = fs_err::rename(&partial, &dir) {
        let _ = fs_err::remove_dir_all(&partial);
        if !dir.join("default.nix").is_file() {
            return Err(err).context("cannot unpack the embedded recipes");
        }
    }
    Ok(dir)
}

/// The files' hash: names and contents, so that any change makes a new
/// directory.
fn digest() -> String {
    let hash = full_digest().encode(Encoding::Nixbase32);
    hash.get(..16).unwrap_or(&hash).to_owned()
}

/// The sha256 of the embedded recipe library (every file's path, length
/// and bytes, in path order), in hex: the recipe revision a provenance
/// statement names.
pub fn digest_hex() -> String {
    full_digest().encode(Encoding::Base16)
}

fn full_digest() -> kiln_store::hash::Hash {
    let mut hasher = Hasher::new(HashAlgo::Sha256);
    for (relative, bytes) in FILES {
        hasher.update(relative.as_bytes());
        hasher.update(&[0]);
        hasher.update(&(bytes.len() as u64).to_le_bytes());
        hasher.update(bytes);
    }
    hasher.finish()
}

fn cache_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("kiln");
    }
    match std::env::var_os("HOME") {
        Some(home) => PathBuf::from(home).join(".cache/kiln"),
        None => std::env::temp_dir().join("kiln-cache"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_library_is_embedded() {
        let names: Vec<&str> = FILES.iter().map(|(name, _)| *name).collect();
        for expected in [
            "default.nix",
            "zig/default.nix",
            "rust/default.nix",
            "debian/sid.lock.json",
        ] {
            assert!(
                names.contains(&expected),
                "{expected} is not embedded: {names:?}"
            );
        }
    }
}
