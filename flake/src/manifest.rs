//! `flake.toml`: what a project declares — its inputs and the packages
//! built from them — read, checked and normalised.
//!
//! The file is TOML; unknown keys are errors (a typo must not silently
//! change a build). See docs/flake.md for the format.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Component, Path};

use kiln_store::hash::{Hash, HashAlgo};
use serde::Deserialize;
use thiserror::Error;

/// The file name of the manifest.
pub const MANIFEST: &str = "flake.toml";

/// The name of the implicit input holding the flake's own directory.
pub const SELF_INPUT: &str = "self";

/// The musl targets kiln builds for: (short name, Rust triple).
pub const TARGETS: [(&str, &str); 2] = [
    ("x86_64", "x86_64-unknown-linux-musl"),
    ("aarch64", "aarch64-unknown-linux-musl"),
];

/// Why a manifest was refused.
#[derive(Debug, Error)]
pub enum ManifestError {
    /// The file could not be read.
    #[error("cannot read `{path}`")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML, or not the expected shape (the message
    /// shows the line).
    #[error("`{path}` is not a valid flake.toml:\n{message}")]
    Parse {
        /// The file.
        path: String,
        /// The TOML parser's message, with the offending line.
        message: String,
    },
    /// A value is well-formed TOML but not acceptable.
    #[error("`{path}`: {what}: {problem}")]
    Invalid {
        /// The file.
        path: String,
        /// Which table or key (`inputs.foo`, `packages.bar.targets`).
        what: String,
        /// What is wrong with it.
        problem: String,
    },
}

/// A checked manifest, with every default filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The one-line description, if any.
    pub description: Option<String>,
    /// The inputs by name (always including [`SELF_INPUT`]).
    pub inputs: BTreeMap<String, Input>,
    /// The packages by name.
    pub packages: BTreeMap<String, Package>,
    /// The OCI images by name.
    pub images: BTreeMap<String, Image>,
    /// The packages `kiln build` builds when given no output name.
    pub default: Vec<String>,
}

/// An OCI image of a package's binaries, one platform per target
/// (`[images.NAME]`; see docs/flake.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// The package whose binaries go in, at `/`.
    pub package: String,
    /// The entrypoint (default: the package's first binary, at `/`).
    pub entrypoint: Vec<String>,
    /// The default arguments.
    pub cmd: Vec<String>,
    /// The working directory, created in the image (default `/io`).
    pub workdir: String,
    /// Environment variables.
    pub env: BTreeMap<String, String>,
    /// The user, if not root.
    pub user: Option<String>,
    /// The tags (default `latest`).
    pub tags: Vec<String>,
    /// Labels (`org.opencontainers.image.created` is added from `created`).
    pub labels: BTreeMap<String, String>,
    /// `SOURCE_DATE_EPOCH` of the image: its time and every file's mtime.
    pub created: u64,
}

/// The default `created` of an image: 1980-01-01, the ZIP epoch, as the
/// sandbox's `SOURCE_DATE_EPOCH`.
pub const IMAGE_EPOCH: u64 = 315_532_800;

/// Where an input's files come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A directory inside the flake, hashed on import.
    Path {
        /// Relative to the flake's directory (`.` for itself).
        path: String,
        /// `.gitignore`-style patterns left out, on top of the
        /// directory's `.gitignore` files.
        exclude: Vec<String>,
    },
    /// A crate from crates.io.
    Crate {
        /// The crate's name.
        name: String,
        /// The exact version; `None` locks the newest release.
        version: Option<String>,
    },
    /// A file of a PyPI release: its sdist, or a named wheel.
    Pypi {
        /// The project's name.
        name: String,
        /// The exact version; `None` locks the newest release.
        version: Option<String>,
        /// The exact file name; `None` takes the sdist.
        file: Option<String>,
    },
    /// An archive at a URL.
    Url {
        /// The URL.
        url: String,
    },
}

impl Input {
    /// Returns whether the input is fetched (and so must be locked).
    pub fn is_fetched(&self) -> bool {
        !matches!(self, Input::Path { .. })
    }

    /// Returns the request that `flake.lock` records the input was locked
    /// for: when it changes, the lock entry is stale.
    pub fn request(&self) -> String {
        match self {
            Input::Path { path, .. } => format!("path {path}"),
            Input::Crate { name, version } => {
                format!("crate {name} {}", version.as_deref().unwrap_or("newest"))
            }
            Input::Pypi {
                name,
                version,
                file,
            } => format!(
                "pypi {name} {} {}",
                version.as_deref().unwrap_or("newest"),
                file.as_deref().unwrap_or("sdist")
            ),
            Input::Url { url } => format!("url {url}"),
        }
    }
}

/// One package: a Cargo project built for some targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    /// The input holding the source.
    pub src: String,
    /// The directory inside the input where Cargo.lock is and cargo runs
    /// (`""` for its top).
    pub dir: String,
    /// `cargo build -p`.
    pub package: Option<String>,
    /// `--bin` for each; empty for every binary.
    pub bins: Vec<String>,
    /// `--features`.
    pub features: Vec<String>,
    /// `false` for `--no-default-features`.
    pub default_features: bool,
    /// The targets, by short name (`x86_64`, `aarch64`), in order.
    pub targets: Vec<String>,
    /// The cargo profile.
    pub profile: String,
    /// Profile settings overriding the project's: cargo's key and value.
    pub settings: BTreeMap<String, String>,
    /// Extra rustc flags.
    pub rustflags: Vec<String>,
    /// Whether to build one derivation per cargo unit, from the plans
    /// `kiln lock` writes under `kiln-units/` (docs/flake.md).
    pub units: bool,
    /// The hash of each git dependency of Cargo.lock, by `NAME-VERSION`.
    pub git_hashes: BTreeMap<String, String>,
}

/// A package's preset: a bundle of settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Preset {
    /// The project's release profile, symbols stripped (the default).
    Release,
    /// Smallest binaries: `opt-level = "z"`, symbols stripped, static
    /// relocation model (uv PR #3372's flags).
    Small,
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Preset::Release => "release",
            Preset::Small => "small",
        })
    }
}

/// A profile value written as a string, a number or a boolean.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Scalar {
    Bool(bool),
    Int(i64),
    Str(String),
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::Bool(b) => write!(f, "{b}"),
            Scalar::Int(i) => write!(f, "{i}"),
            Scalar::Str(s) => f.write_str(s),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    description: Option<String>,
    default: Option<Vec<String>>,
    #[serde(default)]
    inputs: BTreeMap<String, RawInput>,
    #[serde(default)]
    packages: BTreeMap<String, RawPackage>,
    #[serde(default)]
    images: BTreeMap<String, RawImage>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawImage {
    package: Option<String>,
    entrypoint: Option<Vec<String>>,
    #[serde(default)]
    cmd: Vec<String>,
    workdir: Option<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    user: Option<String>,
    tags: Option<Vec<String>>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    created: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInput {
    path: Option<String>,
    exclude: Option<Vec<String>>,
    #[serde(rename = "crate")]
    krate: Option<String>,
    pypi: Option<String>,
    url: Option<String>,
    version: Option<String>,
    file: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawPackage {
    src: Option<String>,
    dir: Option<String>,
    package: Option<String>,
    #[serde(default)]
    bins: Vec<String>,
    #[serde(default)]
    features: Vec<String>,
    default_features: Option<bool>,
    targets: Option<Vec<String>>,
    profile: Option<String>,
    preset: Option<Preset>,
    opt_level: Option<Scalar>,
    lto: Option<Scalar>,
    codegen_units: Option<Scalar>,
    panic: Option<Scalar>,
    strip: Option<Scalar>,
    #[serde(default)]
    rustflags: Vec<String>,
    #[serde(default)]
    units: bool,
    #[serde(default)]
    git_hashes: BTreeMap<String, String>,
}

/// Reads and checks `dir/flake.toml`.
pub fn read(dir: &Path) -> Result<Manifest, ManifestError> {
    let path = dir.join(MANIFEST);
    let shown = path.display().to_string();
    let text = fs_err::read_to_string(&path).map_err(|source| ManifestError::Read {
        path: shown.clone(),
        source,
    })?;
    parse(&text, &shown)
}

/// Parses and checks a manifest's text; `path` names it in errors.
pub fn parse(text: &str, path: &str) -> Result<Manifest, ManifestError> {
    let raw: RawManifest = toml::from_str(text).map_err(|e| ManifestError::Parse {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    let invalid = |what: String, problem: String| ManifestError::Invalid {
        path: path.to_owned(),
        what,
        problem,
    };
    let mut inputs = BTreeMap::new();
    for (name, raw) in raw.inputs {
        check_name(&name).map_err(|p| invalid(format!("inputs.{name}"), p))?;
        let input = input(raw).map_err(|p| invalid(format!("inputs.{name}"), p))?;
        inputs.insert(name, input);
    }
    inputs
        .entry(SELF_INPUT.to_owned())
        .or_insert_with(|| Input::Path {
            path: ".".to_owned(),
            exclude: Vec::new(),
        });
    let mut packages = BTreeMap::new();
    for (name, raw) in raw.packages {
        let what = format!("packages.{name}");
        check_name(&name).map_err(|p| invalid(what.clone(), p))?;
        let package = package(raw).map_err(|p| invalid(what.clone(), p))?;
        if !inputs.contains_key(&package.src) {
            let known: Vec<&str> = inputs.keys().map(String::as_str).collect();
            return Err(invalid(
                format!("{what}.src"),
                format!(
                    "no input is named `{}` (the inputs are: {})",
                    package.src,
                    known.join(", ")
                ),
            ));
        }
        packages.insert(name, package);
    }
    let mut images = BTreeMap::new();
    for (name, raw) in raw.images {
        let what = format!("images.{name}");
        check_name(&name).map_err(|p| invalid(what.clone(), p))?;
        if packages.contains_key(&name) {
            return Err(invalid(
                what,
                "a package has the same name (outputs share one namespace)".to_owned(),
            ));
        }
        let image = image(raw, &packages).map_err(|p| invalid(what.clone(), p))?;
        images.insert(name, image);
    }
    let default = match raw.default {
        Some(names) => {
            for name in &names {
                if !packages.contains_key(name) {
                    return Err(invalid(
                        "default".to_owned(),
                        format!("no package is named `{name}`"),
                    ));
                }
            }
            names
        }
        None => packages.keys().cloned().collect(),
    };
    Ok(Manifest {
        description: raw.description,
        inputs,
        packages,
        images,
        default,
    })
}

fn image(raw: RawImage, packages: &BTreeMap<String, Package>) -> Result<Image, String> {
    let package = match (raw.package, packages.len()) {
        (Some(name), _) => name,
        (None, 1) => packages.keys().next().cloned().unwrap_or_default(),
        (None, _) => return Err("say which `package` goes in the image".to_owned()),
    };
    let Some(built) = packages.get(&package) else {
        return Err(format!("no package is named `{package}`"));
    };
    let entrypoint = match raw.entrypoint {
        Some(entrypoint) => entrypoint,
        None => {
            let main = built
                .bins
                .first()
                .or(built.package.as_ref())
                .cloned()
                .unwrap_or_else(|| package.clone());
            vec![format!("/{main}")]
        }
    };
    let workdir = raw.workdir.unwrap_or_else(|| "/io".to_owned());
    if !workdir.starts_with('/') {
        return Err(format!("`workdir` `{workdir}` is not an absolute path"));
    }
    Ok(Image {
        package,
        entrypoint,
        cmd: raw.cmd,
        workdir,
        env: raw.env,
        user: raw.user,
        tags: raw.tags.unwrap_or_else(|| vec!["latest".to_owned()]),
        labels: raw.labels,
        created: raw.created.unwrap_or(IMAGE_EPOCH),
    })
}

/// Input and package names become store path names and output addresses
/// (`NAME.TARGET`): letters, digits, `-` and `_`, not starting with `-`.
fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && !name.starts_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(
            "a name may hold only ASCII letters, digits, `-` and `_`, and not start with `-`"
                .to_owned(),
        )
    }
}

fn input(raw: RawInput) -> Result<Input, String> {
    let kinds = [
        raw.path.is_some(),
        raw.krate.is_some(),
        raw.pypi.is_some(),
        raw.url.is_some(),
    ];
    if kinds.iter().filter(|&&k| k).count() != 1 {
        return Err("say exactly one of `path`, `crate`, `pypi` or `url`".to_owned());
    }
    let only = |key: &str, allowed: bool, present: bool| {
        if present && !allowed {
            Err(format!("`{key}` does not apply to this kind of input"))
        } else {
            Ok(())
        }
    };
    let is_path = raw.path.is_some();
    let is_crate = raw.krate.is_some();
    let is_pypi = raw.pypi.is_some();
    only("exclude", is_path, raw.exclude.is_some())?;
    only("version", is_crate || is_pypi, raw.version.is_some())?;
    only("file", is_pypi, raw.file.is_some())?;
    if let Some(path) = raw.path {
        check_relative(&path)?;
        return Ok(Input::Path {
            path: normalise_relative(&path),
            exclude: raw.exclude.unwrap_or_default(),
        });
    }
    if let Some(name) = raw.krate {
        return Ok(Input::Crate {
            name,
            version: raw.version,
        });
    }
    if let Some(name) = raw.pypi {
        return Ok(Input::Pypi {
            name,
            version: raw.version,
            file: raw.file,
        });
    }
    match raw.url {
        Some(url) if url.starts_with("https://") || url.starts_with("http://") => {
            Ok(Input::Url { url })
        }
        Some(url) => Err(format!("`{url}` is not an http:// or https:// URL")),
        None => Err("say exactly one of `path`, `crate`, `pypi` or `url`".to_owned()),
    }
}

/// A path input must stay inside the flake: relative, no `..`.
fn check_relative(path: &str) -> Result<(), String> {
    let p = Path::new(path);
    if p.is_absolute() {
        return Err(format!(
            "`{path}` is absolute; a path input is relative to the flake's directory"
        ));
    }
    if p.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(format!("`{path}` leaves the flake's directory (`..`)"));
    }
    Ok(())
}

/// `./a//b/` → `a/b`; `""` and `./` → `.`.
fn normalise_relative(path: &str) -> String {
    let parts: Vec<&str> = path
        .split('/')
        .filter(|part| !part.is_empty() && *part != ".")
        .collect();
    if parts.is_empty() {
        ".".to_owned()
    } else {
        parts.join("/")
    }
}

fn package(raw: RawPackage) -> Result<Package, String> {
    let mut targets = Vec::new();
    for target in raw
        .targets
        .unwrap_or_else(|| TARGETS.iter().map(|(s, _)| (*s).to_owned()).collect())
    {
        let short = short_target(&target).ok_or_else(|| {
            format!(
                "unknown target `{target}` (kiln builds for {})",
                TARGETS
                    .iter()
                    .map(|(s, t)| format!("`{s}` ({t})"))
                    .collect::<Vec<_>>()
                    .join(" and ")
            )
        })?;
        if !targets.iter().any(|t| t == short) {
            targets.push(short.to_owned());
        }
    }
    if targets.is_empty() {
        return Err("`targets` is empty".to_owned());
    }
    let preset = raw.preset.unwrap_or(Preset::Release);
    let mut settings = BTreeMap::new();
    let mut rustflags = Vec::new();
    settings.insert("strip".to_owned(), "symbols".to_owned());
    if preset == Preset::Small {
        settings.insert("opt-level".to_owned(), "z".to_owned());
        rustflags.extend(["-C", "relocation-model=static"].map(str::to_owned));
    }
    type Check = fn(&str) -> bool;
    let knobs: [(&str, Option<Scalar>, Check); 5] = [
        ("opt-level", raw.opt_level, |v| {
            matches!(v, "0" | "1" | "2" | "3" | "s" | "z")
        }),
        ("lto", raw.lto, |v| {
            matches!(v, "true" | "false" | "fat" | "thin" | "off")
        }),
        ("codegen-units", raw.codegen_units, |v| {
            v.parse::<u32>().is_ok_and(|n| n > 0)
        }),
        ("panic", raw.panic, |v| matches!(v, "unwind" | "abort")),
        ("strip", raw.strip, |v| {
            matches!(v, "true" | "false" | "none" | "debuginfo" | "symbols")
        }),
    ];
    for (key, value, valid) in knobs {
        let Some(value) = value else { continue };
        let value = value.to_string();
        if !valid(&value) {
            return Err(format!("`{key} = {value}` is not a value cargo accepts"));
        }
        settings.insert(key.to_owned(), value);
    }
    if settings.get("strip").is_some_and(|v| v == "none") {
        settings.insert("strip".to_owned(), "false".to_owned());
    }
    rustflags.extend(raw.rustflags);
    let dir = raw.dir.unwrap_or_default();
    if !dir.is_empty() {
        check_relative(&dir)?;
    }
    let dir = match normalise_relative(&dir).as_str() {
        "." => String::new(),
        other => other.to_owned(),
    };
    for (crate_key, hash) in &raw.git_hashes {
        check_git_hash(crate_key, hash)?;
    }
    let git_hashes = raw.git_hashes;
    let profile = raw.profile.unwrap_or_else(|| "release".to_owned());
    if profile.is_empty()
        || !profile
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(format!(
            "`profile = \"{profile}\"` is not a cargo profile name"
        ));
    }
    Ok(Package {
        src: raw.src.unwrap_or_else(|| SELF_INPUT.to_owned()),
        dir,
        package: raw.package,
        bins: raw.bins,
        features: raw.features,
        default_features: raw.default_features.unwrap_or(true),
        targets,
        profile,
        settings,
        rustflags,
        units: raw.units,
        git_hashes,
    })
}

/// Checks one `git-hashes` entry: the key `NAME-VERSION`, the value a
/// SHA-256 in SRI form (what a hash mismatch prints).
fn check_git_hash(crate_key: &str, hash: &str) -> Result<(), String> {
    // NAME-VERSION: some `-` is followed by MAJOR.MINOR.PATCH (names may
    // hold `-` and digits themselves: `sha-1-0.10.0`).
    let is_version = |v: &str| {
        let mut parts = v.splitn(3, '.');
        let number =
            |p: Option<&str>| p.is_some_and(|p| p.starts_with(|c: char| c.is_ascii_digit()));
        number(parts.next()) && number(parts.next()) && number(parts.next())
    };
    let named = crate_key
        .match_indices('-')
        .any(|(i, _)| i > 0 && is_version(&crate_key[i + 1..]));
    if !named {
        return Err(format!(
            "`git-hashes` key `{crate_key}` is not NAME-VERSION (as `foo-0.1.0`)"
        ));
    }
    // SRI form only (what a mismatch prints), checked by the store's parser.
    let valid = hash.starts_with("sha256-") && Hash::parse(hash, Some(HashAlgo::Sha256)).is_ok();
    if !valid {
        return Err(format!(
            "`git-hashes.\"{crate_key}\" = \"{hash}\"` is not a SHA-256 in SRI form (`sha256-` and 44 base64 characters)"
        ));
    }
    Ok(())
}

/// Returns the short name of a target given by short name or triple.
pub fn short_target(target: &str) -> Option<&'static str> {
    TARGETS
        .iter()
        .find(|(short, triple)| target == *short || target == *triple)
        .map(|(short, _)| *short)
}

/// Returns the Rust triple of a short target name.
pub fn triple(short: &str) -> Option<&'static str> {
    TARGETS
        .iter()
        .find(|(s, _)| *s == short)
        .map(|(_, triple)| *triple)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Manifest {
        match parse(text, "flake.toml") {
            Ok(m) => m,
            Err(e) => panic!("{e}"),
        }
    }

    fn err(text: &str) -> String {
        match parse(text, "flake.toml") {
            Ok(m) => panic!("accepted: {m:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn the_smallest_manifest_builds_self_for_both_targets() {
        let m = ok("[packages.hello]\n");
        let p = &m.packages["hello"];
        assert_eq!(p.src, "self");
        assert_eq!(p.targets, ["x86_64", "aarch64"]);
        assert_eq!(p.profile, "release");
        assert_eq!(p.settings["strip"], "symbols");
        assert_eq!(m.default, ["hello"]);
        assert_eq!(
            m.inputs["self"],
            Input::Path {
                path: ".".into(),
                exclude: vec![]
            }
        );
    }

    #[test]
    fn knobs_and_presets() {
        let m = ok(r#"
[packages.a]
preset = "small"
lto = "fat"
codegen-units = 1
strip = false
targets = ["aarch64-unknown-linux-musl"]
"#);
        let p = &m.packages["a"];
        assert_eq!(p.settings["opt-level"], "z");
        assert_eq!(p.settings["lto"], "fat");
        assert_eq!(p.settings["codegen-units"], "1");
        assert_eq!(p.settings["strip"], "false");
        assert_eq!(p.rustflags, ["-C", "relocation-model=static"]);
        assert_eq!(p.targets, ["aarch64"]);
    }

    #[test]
    fn git_hashes_by_crate() {
        let m = ok(r#"
[packages.a.git-hashes]
"greet-0.3.0" = "sha256-5aIHl1aWQeHiMeqCv+RY73RRWwrL4A4NtmRhS5KU58I="
"greet-core-0.3.0-rc.1" = "sha256-WNgCvBymj/81cD7WubpL62s6FduqXKJu2rvLqxtxESs="
"sha-1-0.10.0" = "sha256-WNgCvBymj/81cD7WubpL62s6FduqXKJu2rvLqxtxESs="
"#);
        let hashes = &m.packages["a"].git_hashes;
        assert_eq!(hashes.len(), 3);
        assert_eq!(
            hashes["greet-core-0.3.0-rc.1"],
            "sha256-WNgCvBymj/81cD7WubpL62s6FduqXKJu2rvLqxtxESs="
        );
        assert!(
            ok("[packages.a]
")
            .packages["a"]
                .git_hashes
                .is_empty()
        );
    }

    #[test]
    fn inputs_of_each_kind() {
        let m = ok(r#"
[inputs.rg]
crate = "ripgrep"
[inputs.uv]
pypi = "uv"
version = "0.13.7"
[inputs.z]
url = "https://example.org/z.tar.gz"
[inputs.sub]
path = "./crates//sub/"
exclude = ["*.md"]
"#);
        assert_eq!(m.inputs["rg"].request(), "crate ripgrep newest");
        assert_eq!(m.inputs["uv"].request(), "pypi uv 0.13.7 sdist");
        assert!(m.inputs["z"].is_fetched());
        assert_eq!(m.inputs["sub"].request(), "path crates/sub");
    }

    #[test]
    fn mistakes_are_named() {
        assert!(err("[packages.a]\nfeaturs = []\n").contains("unknown field `featurs`"));
        assert!(
            err("[packages.a]\ntargets = [\"riscv64\"]\n").contains("unknown target `riscv64`")
        );
        assert!(err("[packages.a]\nsrc = \"nope\"\n").contains("packages.a.src"));
        assert!(err("[packages.a]\nopt-level = 7\n").contains("`opt-level = 7`"));
        assert!(err("[inputs.x]\ncrate = \"a\"\nurl = \"https://x\"\n").contains("exactly one"));
        assert!(err("[inputs.x]\npath = \"../up\"\n").contains("leaves the flake"));
        assert!(err("[inputs.x]\npath = \"/etc\"\n").contains("absolute"));
        assert!(err("[inputs.x]\nurl = \"ftp://x\"\n").contains("not an http"));
        assert!(err("[packages.\"a.b\"]\n").contains("a name may hold"));
        assert!(err("default = [\"zz\"]\n[packages.a]\n").contains("no package is named `zz`"));
        assert!(err("[packages.a\n").contains("flake.toml"));
        let hash = "sha256-5aIHl1aWQeHiMeqCv+RY73RRWwrL4A4NtmRhS5KU58I=";
        assert!(
            err(&format!("[packages.a.git-hashes]\ngreet = \"{hash}\"\n"))
                .contains("key `greet` is not NAME-VERSION")
        );
        assert!(
            err(&format!(
                "[packages.a.git-hashes]\n\"greet-1\" = \"{hash}\"\n"
            ))
            .contains("key `greet-1` is not NAME-VERSION")
        );
        assert!(
            err("[packages.a.git-hashes]\n\"greet-0.3.0\" = \"sha256:0aqif4dspjxvv9pa\"\n")
                .contains("is not a SHA-256 in SRI form")
        );
        assert!(
            err("[inputs.x]\npath = \".\"\nversion = \"1\"\n").contains("`version` does not apply")
        );
    }
}
