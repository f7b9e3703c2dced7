//! cargo's unit graph: the JSON of `cargo build --unit-graph -Z
//! unstable-options` (format version 1), the parts kiln checks its plan
//! against.

use serde::Deserialize;

/// The whole graph.
#[derive(Debug, Clone, Deserialize)]
pub struct UnitGraph {
    /// The format's version (1).
    pub version: u32,
    /// Every unit; dependencies refer to them by index.
    pub units: Vec<GraphUnit>,
    /// The indexes of the units asked for.
    #[serde(default)]
    pub roots: Vec<usize>,
}

/// One unit: a compilation, or a build script's run.
#[derive(Debug, Clone, Deserialize)]
pub struct GraphUnit {
    /// The package (`registry+https://…#name@1.0.0`, `path+file:///…#0.1.0`).
    pub pkg_id: String,
    /// The package's target this unit compiles.
    pub target: GraphTarget,
    /// The platform (a triple), or none for the host.
    pub platform: Option<String>,
    /// `build` or `run-custom-build` (others are not planned).
    pub mode: String,
    /// The features enabled for this unit.
    #[serde(default)]
    pub features: Vec<String>,
    /// What it needs first.
    #[serde(default)]
    pub dependencies: Vec<GraphDependency>,
}

/// A package's target (its library, a binary, its build script).
#[derive(Debug, Clone, Deserialize)]
pub struct GraphTarget {
    /// `lib`, `bin`, `proc-macro`, `custom-build`, …
    pub kind: Vec<String>,
    /// The crate types rustc makes.
    pub crate_types: Vec<String>,
    /// The target's name (`build-script-build` for a build script).
    pub name: String,
}

/// An edge.
#[derive(Debug, Clone, Deserialize)]
pub struct GraphDependency {
    /// The unit depended on.
    pub index: usize,
    /// The name the dependent uses for it (`--extern NAME=…`).
    pub extern_crate_name: String,
}

impl GraphUnit {
    /// The package's name and version, from its id.
    pub fn package(&self) -> (String, String) {
        package_of(&self.pkg_id)
    }
}

/// The name and version of a package id: `…#name@version`, or `…/name#version`
/// when the name is the URL's last segment.
pub fn package_of(pkg_id: &str) -> (String, String) {
    let (url, fragment) = pkg_id.rsplit_once('#').unwrap_or((pkg_id, ""));
    match fragment.split_once('@') {
        Some((name, version)) => (name.to_owned(), version.to_owned()),
        None => {
            // A git source's reference (`?rev=…`) is no part of the name.
            let url = url.split_once('?').map_or(url, |(url, _)| url);
            let name = url.trim_end_matches('/').rsplit('/').next().unwrap_or(url);
            (name.to_owned(), fragment.to_owned())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_ids_of_both_forms() {
        assert_eq!(
            package_of("registry+https://github.com/rust-lang/crates.io-index#cc@1.2.3"),
            ("cc".to_owned(), "1.2.3".to_owned())
        );
        assert_eq!(
            package_of("path+file:///build/src/app#0.1.0"),
            ("app".to_owned(), "0.1.0".to_owned())
        );
        assert_eq!(
            package_of("path+file:///build/src/crates/x#uv-x@0.0.1"),
            ("uv-x".to_owned(), "0.0.1".to_owned())
        );
        assert_eq!(
            package_of("git+https://example.com/org/dep?rev=34f9a13#0.2.0"),
            ("dep".to_owned(), "0.2.0".to_owned())
        );
        assert_eq!(
            package_of("git+https://example.com/org/tools?branch=main#dep-core@0.2.0"),
            ("dep-core".to_owned(), "0.2.0".to_owned())
        );
    }
}
