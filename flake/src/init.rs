//! `kiln init`: a flake.toml for the Cargo project in a directory.
//!
//! A package's `Cargo.toml` gives one `[packages.<name>]`; a virtual
//! workspace gives one per member (listed literally, globs expanded one
//! level) that has a binary (`src/main.rs`, `src/bin/`, or `[[bin]]`).

use std::path::Path;

use crate::FlakeError;

/// Returns the text of a flake.toml for the Cargo project in `dir`.
pub fn flake_toml(dir: &Path) -> Result<String, FlakeError> {
    let cargo_toml = dir.join("Cargo.toml");
    let text = fs_err::read_to_string(&cargo_toml)
        .map_err(|e| FlakeError::Init(format!("no Cargo project here: {e}")))?;
    if !dir.join("Cargo.lock").is_file() {
        return Err(FlakeError::Init(
            "there is no Cargo.lock: kiln builds with `--locked`; run `cargo generate-lockfile` first".to_owned(),
        ));
    }
    let git_crates = git_crates(&dir.join("Cargo.lock"))?;
    let manifest: toml::Table = toml::from_str(&text).map_err(|e| {
        FlakeError::Init(format!("`{}` is not valid TOML: {e}", cargo_toml.display()))
    })?;
    let mut packages = Vec::new();
    if let Some(name) = package_name(&manifest) {
        packages.push(name);
    } else if let Some(members) = manifest
        .get("workspace")
        .and_then(|w| w.get("members"))
        .and_then(|m| m.as_array())
    {
        for member in members.iter().filter_map(|m| m.as_str()) {
            for path in expand(dir, member) {
                if let Some(name) = binary_package(&path) {
                    packages.push(name);
                }
            }
        }
    }
    if packages.is_empty() {
        return Err(FlakeError::Init(
            "found no package with a binary in Cargo.toml (or its workspace members)".to_owned(),
        ));
    }
    let mut out = String::from(
        "# kiln's manifest: what `kiln build` builds (docs/flake.md).\n\
         # The source is this directory (`self`), less what .gitignore excludes.\n",
    );
    out.push_str(&format!(
        "default = [{}]\n",
        packages
            .iter()
            .map(|p| format!("\"{p}\""))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    for name in &packages {
        out.push_str(&format!(
            "\n[packages.{name}]\npackage = \"{name}\"\n# Static binaries for both targets, with the project's release profile.\ntargets = [\"x86_64\", \"aarch64\"]\n# preset = \"small\"   # smallest binaries: opt-level z, static relocation model\n"
        ));
        if !git_crates.is_empty() {
            out.push_str(&format!(
                "# Each git dependency of Cargo.lock is pinned by the hash of what kiln\n\
                 # fetches: build once, and put in each the `got:` hash of its mismatch.\n\
                 [packages.{name}.git-hashes]\n"
            ));
            for key in &git_crates {
                out.push_str(&format!("\"{key}\" = \"{PLACEHOLDER_HASH}\"\n"));
            }
        }
    }
    if let Some(main) = packages.first() {
        out.push_str(&format!(
            "\n# An OCI image (linux/amd64 and linux/arm64) of {main}'s binaries at /,\n# entrypoint /{main}, working directory /io: `kiln build .#image`.\n[images.image]\npackage = \"{main}\"\n# entrypoint = [\"/{main}\"]\n# labels = {{ \"org.opencontainers.image.source\" = \"https://…\" }}\n"
        ));
    }
    Ok(out)
}

/// The hash `kiln init` writes for each git dependency: a fixed-output
/// fetch with it fails and names the right one.
const PLACEHOLDER_HASH: &str = "sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";

/// The `NAME-VERSION` of each git package of a Cargo.lock, in order.
fn git_crates(lock: &Path) -> Result<Vec<String>, FlakeError> {
    let text = fs_err::read_to_string(lock).map_err(|e| FlakeError::Init(e.to_string()))?;
    let parsed: toml::Table = toml::from_str(&text)
        .map_err(|e| FlakeError::Init(format!("`{}` is not valid TOML: {e}", lock.display())))?;
    let packages = parsed.get("package").and_then(|p| p.as_array());
    let mut keys: Vec<String> = packages
        .into_iter()
        .flatten()
        .filter(|p| {
            p.get("source")
                .and_then(|s| s.as_str())
                .is_some_and(|s| s.starts_with("git+"))
        })
        .filter_map(|p| {
            let name = p.get("name")?.as_str()?;
            let version = p.get("version")?.as_str()?;
            Some(format!("{name}-{version}"))
        })
        .collect();
    keys.sort();
    keys.dedup();
    Ok(keys)
}

fn package_name(manifest: &toml::Table) -> Option<String> {
    let name = manifest.get("package")?.get("name")?.as_str()?;
    let ok = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    ok.then(|| name.to_owned())
}

/// `crates/*` → every directory under `crates/`; a plain path → itself.
fn expand(dir: &Path, member: &str) -> Vec<std::path::PathBuf> {
    match member.strip_suffix("/*") {
        Some(parent) => {
            let mut found: Vec<_> = fs_err::read_dir(dir.join(parent))
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.join("Cargo.toml").is_file())
                .collect();
            found.sort();
            found
        }
        None => vec![dir.join(member)],
    }
}

fn binary_package(path: &Path) -> Option<String> {
    let text = fs_err::read_to_string(path.join("Cargo.toml")).ok()?;
    let manifest: toml::Table = toml::from_str(&text).ok()?;
    let has_bin = path.join("src/main.rs").is_file()
        || path.join("src/bin").is_dir()
        || manifest.get("bin").is_some();
    if has_bin {
        package_name(&manifest)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, file: &str, text: &str) {
        let path = root.join(file);
        fs_err::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        fs_err::write(path, text).expect("write");
    }

    #[test]
    fn a_package_and_a_workspace() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        write(
            root,
            "Cargo.toml",
            "[package]\nname = \"hello\"\nversion = \"0.1.0\"\n",
        );
        write(root, "Cargo.lock", "version = 4\n");
        let text = flake_toml(root).expect("init");
        let m = crate::manifest::parse(&text, "flake.toml").expect("a valid manifest");
        assert_eq!(m.packages["hello"].package.as_deref(), Some("hello"));
        let image = &m.images["image"];
        assert_eq!(image.package, "hello");
        assert_eq!(image.entrypoint, ["/hello"]);
        assert_eq!(image.workdir, "/io");

        write(
            root,
            "Cargo.toml",
            "[workspace]\nmembers = [\"crates/*\", \"tool\"]\n",
        );
        write(root, "crates/app/Cargo.toml", "[package]\nname = \"app\"\n");
        write(root, "crates/app/src/main.rs", "fn main() {}");
        write(root, "crates/lib/Cargo.toml", "[package]\nname = \"lib\"\n");
        write(
            root,
            "tool/Cargo.toml",
            "[package]\nname = \"tool\"\n[[bin]]\nname = \"t\"\n",
        );
        let text = flake_toml(root).expect("init");
        let m = crate::manifest::parse(&text, "flake.toml").expect("a valid manifest");
        assert_eq!(m.packages.keys().collect::<Vec<_>>(), ["app", "tool"]);
    }

    #[test]
    fn git_dependencies_get_placeholder_hashes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        write(
            root,
            "Cargo.toml",
            "[package]\nname = \"app\"\nversion = \"0.1.0\"\n",
        );
        let git =
            "git+https://example.com/greet?rev=233e6e3#233e6e3db0d38a372e3d8348afa4ef05afd370f0";
        write(
            root,
            "Cargo.lock",
            &format!(
                "version = 4\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\n\
                 [[package]]\nname = \"greet\"\nversion = \"0.3.0\"\nsource = \"{git}\"\n\
                 [[package]]\nname = \"itoa\"\nversion = \"1.0.19\"\n\
                 source = \"registry+https://github.com/rust-lang/crates.io-index\"\n"
            ),
        );
        let text = flake_toml(root).expect("init");
        let m = crate::manifest::parse(&text, "flake.toml").expect("a valid manifest");
        let hashes = &m.packages["app"].git_hashes;
        assert_eq!(hashes.keys().collect::<Vec<_>>(), ["greet-0.3.0"]);
        assert_eq!(hashes["greet-0.3.0"], PLACEHOLDER_HASH);
    }

    #[test]
    fn no_lock_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(dir.path(), "Cargo.toml", "[package]\nname = \"x\"\n");
        let e = flake_toml(dir.path()).expect_err("no lock").to_string();
        assert!(e.contains("cargo generate-lockfile"), "{e}");
    }
}
