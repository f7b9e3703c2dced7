//! A `Packages` index: one paragraph per binary package, with the fields
//! a lock and the resolver need.
//!
//! Only the fields listed on [`Package`] are kept. Relations are parsed
//! here, once, so that a malformed one is reported with its package.

use thiserror::Error;

use crate::deb822::{self, Deb822Error};
use crate::relation::{Relation, RelationError, parse_relations};
use crate::version::{Version, VersionError};

/// Why a `Packages` index could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PackagesError {
    /// The control syntax is broken.
    #[error("cannot read the Packages index")]
    Syntax(#[source] Deb822Error),
    /// A paragraph lacks a field every package has.
    #[error("the paragraph at line {line} has no `{field}` field")]
    Missing {
        /// The paragraph's first line.
        line: usize,
        /// The field.
        field: &'static str,
    },
    /// A package's version is not valid.
    #[error("package `{package}` has a bad version")]
    Version {
        /// The package.
        package: String,
        /// Why.
        #[source]
        source: VersionError,
    },
    /// A package's relation field does not parse.
    #[error("package `{package}` has a bad `{field}` field")]
    Relation {
        /// The package.
        package: String,
        /// The field.
        field: &'static str,
        /// Why.
        #[source]
        source: RelationError,
    },
    /// A number field is not a number, or a hash not a SHA-256.
    #[error("package `{package}` has a bad `{field}` field: `{value}`")]
    BadField {
        /// The package.
        package: String,
        /// The field.
        field: &'static str,
        /// Its value.
        value: String,
    },
}

/// How a package may be used across architectures (`Multi-Arch`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MultiArch {
    /// No `Multi-Arch` field.
    #[default]
    No,
    /// `same`: co-installable for several architectures.
    Same,
    /// `foreign`: satisfies dependencies of any architecture.
    Foreign,
    /// `allowed`: dependents may ask for `:any`.
    Allowed,
}

/// One binary package of the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    /// `Package`.
    pub name: String,
    /// `Version`.
    pub version: Version,
    /// `Architecture` (`amd64`, `all`, …).
    pub architecture: String,
    /// `Depends`.
    pub depends: Vec<Relation>,
    /// `Pre-Depends`.
    pub pre_depends: Vec<Relation>,
    /// `Provides` (each relation a single atom, possibly with `(= v)`).
    pub provides: Vec<Relation>,
    /// `Filename`: the path below the mirror's root (`pool/main/…`).
    pub filename: String,
    /// `Size` of the `.deb` in bytes.
    pub size: u64,
    /// `SHA256` of the `.deb`, lowercase hex.
    pub sha256: String,
    /// `Multi-Arch`.
    pub multi_arch: MultiArch,
    /// `Essential: yes`.
    pub essential: bool,
    /// `Priority` (`required`, `important`, `standard`, `optional`, …).
    pub priority: Option<String>,
}

/// Parses every paragraph of a `Packages` index.
pub fn parse_packages(text: &str) -> Result<Vec<Package>, PackagesError> {
    deb822::paragraphs(text)
        .map(|paragraph| parse_package(&paragraph.map_err(PackagesError::Syntax)?))
        .collect()
}

/// Reads one paragraph.
fn parse_package(paragraph: &deb822::Paragraph<'_>) -> Result<Package, PackagesError> {
    let required = |field: &'static str| {
        paragraph.get(field).ok_or(PackagesError::Missing {
            line: paragraph.line,
            field,
        })
    };
    let name = required("Package")?.to_owned();
    let relations = |field: &'static str| {
        parse_relations(paragraph.get(field).unwrap_or_default()).map_err(|source| {
            PackagesError::Relation {
                package: name.clone(),
                field,
                source,
            }
        })
    };
    let bad = |field: &'static str, value: &str| PackagesError::BadField {
        package: name.clone(),
        field,
        value: value.to_owned(),
    };
    let size = required("Size")?;
    let sha256 = required("SHA256")?;
    if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad("SHA256", sha256));
    }
    let multi_arch = match paragraph.get("Multi-Arch") {
        None | Some("no") => MultiArch::No,
        Some("same") => MultiArch::Same,
        Some("foreign") => MultiArch::Foreign,
        Some("allowed") => MultiArch::Allowed,
        Some(other) => return Err(bad("Multi-Arch", other)),
    };
    Ok(Package {
        version: Version::parse(required("Version")?).map_err(|source| PackagesError::Version {
            package: name.clone(),
            source,
        })?,
        architecture: required("Architecture")?.to_owned(),
        depends: relations("Depends")?,
        pre_depends: relations("Pre-Depends")?,
        provides: relations("Provides")?,
        filename: required("Filename")?.to_owned(),
        size: size.parse().map_err(|_| bad("Size", size))?,
        sha256: sha256.to_ascii_lowercase(),
        multi_arch,
        essential: paragraph
            .get("Essential")
            .is_some_and(|v| v.eq_ignore_ascii_case("yes")),
        priority: paragraph.get("Priority").map(str::to_owned),
        name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const INDEX: &str = "Package: rustc
Version: 1.97.1+dfsg1-1
Installed-Size: 13432
Architecture: amd64
Depends: libc6 (>= 2.34), gcc | clang, binutils (>= 2.26)
Recommends: cargo (= 1.97.1+dfsg1-1)
Description: Rust systems programming language
 with a second line
Multi-Arch: allowed
Filename: pool/main/r/rustc/rustc_1.97.1+dfsg1-1_amd64.deb
Size: 4494600
SHA256: 831790B9B8A19BFA4F750CAFDA6829193E29C66C3F82FF55BCBA6DF9533FD7B1

Package: dash
Essential: yes
Version: 0.5.12-12
Architecture: amd64
Pre-Depends: libc6 (>= 2.38)
Provides: sh (= 1.0), posix-shell
Priority: required
Filename: pool/main/d/dash/dash_0.5.12-12_amd64.deb
Size: 100
SHA256: 0000000000000000000000000000000000000000000000000000000000000000
";

    #[test]
    fn reads_the_fields() {
        let packages = parse_packages(INDEX).unwrap();
        assert_eq!(packages.len(), 2);
        let rustc = &packages[0];
        assert_eq!(rustc.name, "rustc");
        assert_eq!(rustc.version.as_str(), "1.97.1+dfsg1-1");
        assert_eq!(rustc.depends.len(), 3);
        assert_eq!(rustc.depends[1].len(), 2);
        assert_eq!(rustc.multi_arch, MultiArch::Allowed);
        assert_eq!(rustc.size, 4_494_600);
        assert!(rustc.sha256.starts_with("831790b9"));
        assert!(!rustc.essential);
        let dash = &packages[1];
        assert!(dash.essential);
        assert_eq!(dash.pre_depends[0][0].name, "libc6");
        assert_eq!(dash.provides.len(), 2);
        assert_eq!(dash.priority.as_deref(), Some("required"));
    }

    #[test]
    fn errors_name_the_package() {
        let broken = INDEX.replace("gcc | clang", "gcc || clang");
        let err = parse_packages(&broken).unwrap_err();
        assert!(
            matches!(err, PackagesError::Relation { ref package, field: "Depends", .. } if package == "rustc")
        );
        let broken = INDEX.replace("Size: 100", "Size: lots");
        assert!(matches!(
            parse_packages(&broken),
            Err(PackagesError::BadField { field: "Size", .. })
        ));
        let broken = INDEX.replace("Filename: pool/main/d", "File: pool/main/d");
        assert_eq!(
            parse_packages(&broken),
            Err(PackagesError::Missing {
                line: 14,
                field: "Filename"
            })
        );
    }
}
