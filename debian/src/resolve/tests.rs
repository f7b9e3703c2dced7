use super::*;
use crate::packages::parse_packages;
use crate::relation::parse_relations;

/// Writes a `Packages` index from `(name, version, arch, extra fields)`.
fn index(entries: &[(&str, &str, &str, &str)]) -> Vec<Package> {
    let mut text = String::new();
    for (name, version, arch, extra) in entries {
        text.push_str(&format!(
            "Package: {name}\nVersion: {version}\nArchitecture: {arch}\n{extra}\
             Filename: pool/{name}_{version}_{arch}.deb\nSize: 1\nSHA256: {}\n\n",
            "0".repeat(64)
        ));
    }
    parse_packages(&text).unwrap()
}

fn roots(names: &[&str]) -> Vec<Relation> {
    names
        .iter()
        .flat_map(|n| parse_relations(n).unwrap())
        .collect()
}

fn names(packages: &[&Package]) -> Vec<String> {
    packages
        .iter()
        .map(|p| format!("{}={}", p.name, p.version))
        .collect()
}

fn closure(packages: &[Package], root_names: &[&str]) -> Result<Vec<String>, ResolveError> {
    let universe = Universe::new(packages, "amd64");
    resolve(&universe, &roots(root_names)).map(|p| names(&p))
}

#[test]
fn follows_depends_and_pre_depends() {
    let packages = index(&[
        (
            "rustc",
            "1.97",
            "amd64",
            "Depends: libc6 (>= 2.34), gcc | clang\nRecommends: cargo\n",
        ),
        ("libc6", "2.41", "amd64", "Pre-Depends: libgcc-s1\n"),
        ("libgcc-s1", "16", "amd64", ""),
        ("gcc", "16", "amd64", ""),
        ("clang", "20", "amd64", ""),
        ("cargo", "1.97", "amd64", ""),
        ("libc6", "2.41", "i386", "Depends: nothing-here\n"),
    ]);
    assert_eq!(
        closure(&packages, &["rustc"]).unwrap(),
        ["gcc=16", "libc6=2.41", "libgcc-s1=16", "rustc=1.97"]
    );
}

#[test]
fn prefers_what_is_selected_and_the_highest_version() {
    let packages = index(&[
        ("a", "1", "amd64", "Depends: x | y\n"),
        ("b", "1", "all", "Depends: y (>= 2)\n"),
        ("x", "1", "amd64", ""),
        ("y", "1", "amd64", ""),
        ("y", "3", "amd64", ""),
        ("y", "2", "amd64", ""),
    ]);
    // `b` first selects y 3; then `a`'s `x | y` holds without x.
    assert_eq!(
        closure(&packages, &["b", "a"]).unwrap(),
        ["a=1", "b=1", "y=3"]
    );
    assert_eq!(closure(&packages, &["a"]).unwrap(), ["a=1", "x=1"]);
    assert_eq!(closure(&packages, &["y (<< 3)"]).unwrap(), ["y=2"]);
}

#[test]
fn virtual_packages() {
    let packages = index(&[
        ("rustc", "1", "amd64", "Depends: libc-dev, awk, sh (>= 2)\n"),
        (
            "libc6-dev",
            "2.41",
            "amd64",
            "Provides: libc-dev (= 2.41)\n",
        ),
        (
            "mawk",
            "1.3",
            "amd64",
            "Provides: awk\nPriority: required\n",
        ),
        ("gawk", "5", "amd64", "Provides: awk\n"),
        ("dash", "0.5", "amd64", "Provides: sh (= 1)\n"),
        ("bash", "5.2", "amd64", "Provides: sh (= 2)\n"),
    ]);
    assert_eq!(
        closure(&packages, &["rustc"]).unwrap(),
        ["bash=5.2", "libc6-dev=2.41", "mawk=1.3", "rustc=1"]
    );
    // An unversioned Provides does not satisfy a versioned relation.
    let err = closure(&packages, &["awk (>= 1)"]).unwrap_err();
    assert!(matches!(err, ResolveError::Unsatisfiable { .. }));
}

#[test]
fn errors_name_the_chain() {
    let packages = index(&[
        (
            "rustc",
            "1.97",
            "amd64",
            "Depends: libstd-rust-dev (= 1.97)\n",
        ),
        (
            "libstd-rust-dev",
            "1.97",
            "amd64",
            "Depends: libc6 (>= 9) | musl\n",
        ),
        ("libc6", "2.41", "amd64", ""),
    ]);
    let err = closure(&packages, &["rustc"]).unwrap_err();
    let ResolveError::Unsatisfiable {
        chain,
        relation,
        reasons,
    } = &err;
    assert_eq!(chain, &["rustc 1.97", "libstd-rust-dev 1.97"]);
    assert_eq!(relation, "libc6 (>= 9) | musl");
    assert_eq!(reasons.len(), 2);
    let text = err.to_string();
    assert!(
        text.contains("needed by rustc 1.97 -> libstd-rust-dev 1.97"),
        "{text}"
    );
    assert!(
        text.contains("`libc6 (>= 9)`: only 2.41 available"),
        "{text}"
    );
    assert!(text.contains("no package is or provides `musl`"), "{text}");
    let err = closure(&packages, &["nonesuch"]).unwrap_err();
    assert!(err.to_string().contains("needed by the root set"), "{err}");
}

#[test]
fn selected_version_conflict_and_arch_rules() {
    let packages = index(&[
        ("a", "1", "amd64", "Depends: c (= 1)\n"),
        ("b", "1", "amd64", "Depends: c (= 2)\n"),
        ("c", "1", "amd64", ""),
        ("c", "2", "amd64", ""),
        (
            "d",
            "1",
            "amd64",
            "Depends: perl:any, e:i386 | c, f [i386]\n",
        ),
        ("perl", "5", "amd64", "Multi-Arch: allowed\n"),
    ]);
    let err = closure(&packages, &["a", "b"]).unwrap_err();
    assert!(
        err.to_string().contains("version 1 is selected already"),
        "{err}"
    );
    assert_eq!(
        closure(&packages, &["d"]).unwrap(),
        ["c=2", "d=1", "perl=5"]
    );
}

#[test]
fn essential_roots() {
    let packages = index(&[
        ("dash", "1", "amd64", "Essential: yes\n"),
        ("base-files", "13", "amd64", "Essential: yes\n"),
        ("rustc", "1", "amd64", ""),
    ]);
    let universe = Universe::new(&packages, "amd64");
    let essential = universe.essential();
    assert_eq!(
        names(&resolve(&universe, &essential).unwrap()),
        ["base-files=13", "dash=1"]
    );
}
