//! The per-crate build plan: every unit of cargo's unit graph joined with
//! the call cargo made for it, its paths turned into placeholders, and
//! checked edge by edge against the graph.
//!
//! Placeholders, which the recipe replaces with store paths:
//! - `@{src}`: the source tree (where cargo ran);
//! - `@{crate:NAME-VERSION}`: a crates.io package's unpacked sources;
//! - `@{vendor}`: the vendor directory itself (only in path remappings);
//! - `@{toolchain}`: the Rust toolchain;
//! - `@{zig}`: zig (the linker and C compiler);
//! - `@{out}`: the unit's own output;
//! - `@{jobs}`: the build's job count (`NUM_JOBS`);
//! - `@{unit:N}`: the output of unit N (its files; a build script run's
//!   `OUT_DIR` is `@{unit:N}/out`).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::PlanError;
use crate::graph::{GraphUnit, UnitGraph};
use crate::record::{CompileCall, Records, RunCall};

/// The plan's format version.
pub const VERSION: u32 = 1;

/// A whole plan: one entry per unit, in the unit graph's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Plan {
    /// [`VERSION`].
    pub version: u32,
    /// The units; dependencies refer to them by index.
    pub units: Vec<Unit>,
    /// The units asked for (the binaries).
    pub roots: Vec<usize>,
    /// What the plan was made from, for evaluation to tell a stale plan:
    /// the SHA-256 of each Cargo.toml and Cargo.lock (`files`), and the
    /// planning build's cargo flags, profile settings, extra rustc flags
    /// and toolchain.
    pub made_from: MadeFrom,
}

/// See [`Plan::made_from`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MadeFrom {
    /// SHA-256 (base16) by path relative to the source tree's top.
    pub files: BTreeMap<String, String>,
    /// `cargoFlags` of the build.
    pub cargo_flags: String,
    /// `profileEnv` of the build.
    pub profile_env: String,
    /// `extraRustflags` of the build.
    pub extra_rustflags: String,
    /// The toolchain's store path.
    pub toolchain: String,
}

/// The package a unit belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Package {
    /// Its name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// Its sources: `@{src}/DIR` (a workspace member or path dependency)
    /// or `@{crate:NAME-VERSION}` (crates.io).
    pub dir: String,
}

/// One unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, tag = "kind")]
pub enum Unit {
    /// A rustc call.
    #[serde(rename = "compile", rename_all = "camelCase")]
    Compile {
        /// The package.
        package: Package,
        /// `--crate-name`.
        crate_name: String,
        /// The target's name as cargo names it (a binary's file name:
        /// `git-app` where the crate name is `git_app`).
        #[serde(default)]
        target_name: String,
        /// `--crate-type`s.
        crate_types: Vec<String>,
        /// The platform (`--target`), or none for the host.
        platform: Option<String>,
        /// Enabled features.
        features: Vec<String>,
        /// The files rustc writes into `@{out}`.
        outputs: Vec<String>,
        /// The working directory.
        cwd: String,
        /// rustc's arguments (without `-L dependency=`: the recipe passes
        /// the dependencies' directories).
        args: Vec<String>,
        /// What cargo added to the builder's environment.
        env: BTreeMap<String, String>,
        /// The units it needs (libraries it links, its build script's run).
        deps: Vec<usize>,
        /// Where cargo put the outputs (`--out-dir`), for remapping.
        cargo_out_dir: String,
    },
    /// A build script's run.
    #[serde(rename = "run", rename_all = "camelCase")]
    Run {
        /// The package.
        package: Package,
        /// The compiled build script (a unit of this plan).
        script: usize,
        /// The file of that unit cargo runs.
        program: String,
        /// The platform the package is built for.
        platform: Option<String>,
        /// Enabled features.
        features: Vec<String>,
        /// The package's `links` key.
        links: Option<String>,
        /// The working directory.
        cwd: String,
        /// What cargo added to the builder's environment (`DEP_*` are
        /// left to the recipe: they come from the dependencies' runs).
        env: BTreeMap<String, String>,
        /// The units it needs (its script, the runs of dependencies with
        /// `links`).
        deps: Vec<usize>,
        /// cargo's `OUT_DIR`, for remapping.
        cargo_out_dir: String,
    },
}

/// Variables that describe the planning build, not the unit.
const NOT_THE_UNITS: &[&str] = &[
    "RUSTC_WRAPPER",
    "KILN_PLAN_DIR",
    "PWD",
    "OLDPWD",
    "SHLVL",
    "_",
    "CARGO_MAKEFLAGS",
    "LD_LIBRARY_PATH",
];

/// Builds the plan from a planning build's records.
pub fn plan(records: &Records) -> Result<Plan, PlanError> {
    let graph = &records.graph;
    let paths = Paths::new(records)?;
    let keys: Vec<Key> = graph.units.iter().map(graph_key).collect();
    let mut by_key: BTreeMap<&Key, usize> = BTreeMap::new();
    for (index, key) in keys.iter().enumerate() {
        if let Some(other) = by_key.insert(key, index) {
            return Err(PlanError::Graph(format!(
                "units {other} and {index} are the same unit ({key})"
            )));
        }
    }
    // Each call to its unit.
    let mut compile_of: Vec<Option<(&CompileCall, Parsed)>> =
        (0..graph.units.len()).map(|_| None).collect();
    let mut run_of: Vec<Option<&RunCall>> = vec![None; graph.units.len()];
    for call in &records.compiles {
        let parsed = Parsed::of(call)?;
        let key = compile_key(call, &parsed)?;
        let index = *by_key.get(&key).ok_or_else(|| PlanError::Unmatched {
            record: call.record.clone(),
            what: format!("a rustc call for {key}"),
        })?;
        if compile_of[index].replace((call, parsed)).is_some() {
            return Err(PlanError::Graph(format!(
                "two rustc calls for unit {index} ({key})"
            )));
        }
    }
    for call in &records.runs {
        let key = run_key(call, &paths.src)?;
        let index = *by_key.get(&key).ok_or_else(|| PlanError::Unmatched {
            record: call.record.clone(),
            what: format!("a build-script run for {key}"),
        })?;
        if run_of[index].replace(call).is_some() {
            return Err(PlanError::Graph(format!(
                "two runs of unit {index} ({key})"
            )));
        }
    }
    // Every file and OUT_DIR cargo names, to the unit that makes it.
    let mut files: BTreeMap<String, (usize, String)> = BTreeMap::new();
    let mut out_dirs: BTreeMap<String, usize> = BTreeMap::new();
    for index in 0..graph.units.len() {
        if let Some((_, parsed)) = &compile_of[index] {
            for file in parsed.outputs() {
                files.insert(format!("{}/{file}", parsed.out_dir), (index, file));
            }
        } else if let Some(call) = run_of[index] {
            let out_dir = required(&call.env, "OUT_DIR", &call.record)?;
            out_dirs.insert(out_dir.to_owned(), index);
        } else {
            return Err(PlanError::Graph(format!(
                "cargo planned unit {index} ({}) but made no call for it",
                keys[index]
            )));
        }
    }
    // Every OUT_DIR as its run's output, for the compilations that read one.
    let run_outputs: Vec<(String, String)> = out_dirs
        .iter()
        .map(|(dir, run)| (dir.clone(), format!("@{{unit:{run}}}/out")))
        .collect();
    let mut units = Vec::with_capacity(graph.units.len());
    for (index, unit) in graph.units.iter().enumerate() {
        let planned = match (&compile_of[index], run_of[index]) {
            (Some((call, parsed)), _) => compile_unit(
                index,
                unit,
                (call, parsed),
                &records.base_env,
                &paths,
                &files,
                (&out_dirs, &run_outputs),
            )?,
            (None, Some(call)) => run_unit(index, unit, call, &records.base_env, &paths, &files)?,
            (None, None) => {
                return Err(PlanError::Graph(format!("unit {index} has no call")));
            }
        };
        units.push(planned);
    }
    let var = |name: &str| records.base_env.get(name).cloned().unwrap_or_default();
    Ok(Plan {
        version: VERSION,
        units,
        roots: graph.roots.clone(),
        made_from: MadeFrom {
            files: records.manifests.clone(),
            cargo_flags: var("cargoFlags"),
            profile_env: var("profileEnv"),
            extra_rustflags: var("extraRustflags"),
            toolchain: records.paths.get("toolchain").cloned().unwrap_or_default(),
        },
    })
}

/// What identifies a unit on both sides: package, crate, platform, mode
/// and features.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    name: String,
    version: String,
    /// The crate name (`-` as `_`), or `run` for a build script's run.
    crate_name: String,
    crate_types: Vec<String>,
    platform: Option<String>,
    /// Feature names, upper-case with `_` for `-` (how build scripts see
    /// them).
    features: Vec<String>,
}

impl Key {
    /// A key, its crate types and features in order and each feature once
    /// (`a-b` and `a_b` are one variable to a build script).
    fn new(
        name: &str,
        version: &str,
        crate_name: String,
        mut crate_types: Vec<String>,
        platform: Option<String>,
        mut features: Vec<String>,
    ) -> Key {
        crate_types.sort();
        features.sort();
        features.dedup();
        Key {
            name: name.to_owned(),
            version: version.to_owned(),
            crate_name,
            crate_types,
            platform,
            features,
        }
    }
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} {} [{}] for {} with features [{}]",
            self.name,
            self.version,
            self.crate_name,
            self.crate_types.join(","),
            self.platform.as_deref().unwrap_or("the host"),
            self.features.join(",")
        )
    }
}

fn feature_key(feature: &str) -> String {
    feature.to_ascii_uppercase().replace('-', "_")
}

fn graph_key(unit: &GraphUnit) -> Key {
    let (name, version) = unit.package();
    let run = unit.mode == "run-custom-build";
    let (crate_name, crate_types) = if run {
        ("run".to_owned(), Vec::new())
    } else {
        (
            unit.target.name.replace('-', "_"),
            unit.target.crate_types.clone(),
        )
    };
    Key::new(
        &name,
        &version,
        crate_name,
        crate_types,
        unit.platform.clone(),
        unit.features.iter().map(|f| feature_key(f)).collect(),
    )
}

fn required<'a>(
    env: &'a BTreeMap<String, String>,
    name: &str,
    record: &std::path::Path,
) -> Result<&'a str, PlanError> {
    env.get(name)
        .map(String::as_str)
        .ok_or_else(|| PlanError::Record {
            path: record.to_owned(),
            reason: format!("no {name} in the environment"),
        })
}

fn compile_key(call: &CompileCall, parsed: &Parsed) -> Result<Key, PlanError> {
    Ok(Key::new(
        required(&call.env, "CARGO_PKG_NAME", &call.record)?,
        required(&call.env, "CARGO_PKG_VERSION", &call.record)?,
        parsed.crate_name.clone(),
        parsed.crate_types.clone(),
        parsed.target.clone(),
        parsed.features.iter().map(|f| feature_key(f)).collect(),
    ))
}

/// A run's key. Its platform is the target's when cargo put its `OUT_DIR`
/// under `target/<triple>/` (a target unit), else the host's.
fn run_key(call: &RunCall, src: &str) -> Result<Key, PlanError> {
    let triple = required(&call.env, "TARGET", &call.record)?;
    let out_dir = required(&call.env, "OUT_DIR", &call.record)?;
    let for_target = out_dir.starts_with(&format!("{src}/target/{triple}/"));
    let features = call
        .env
        .keys()
        .filter_map(|k| k.strip_prefix("CARGO_FEATURE_").map(str::to_owned))
        .collect();
    Ok(Key::new(
        required(&call.env, "CARGO_PKG_NAME", &call.record)?,
        required(&call.env, "CARGO_PKG_VERSION", &call.record)?,
        "run".to_owned(),
        Vec::new(),
        for_target.then(|| triple.to_owned()),
        features,
    ))
}

/// What kiln reads from a rustc command line.
struct Parsed {
    crate_name: String,
    crate_types: Vec<String>,
    target: Option<String>,
    out_dir: String,
    extra_filename: String,
    features: Vec<String>,
}

impl Parsed {
    fn of(call: &CompileCall) -> Result<Parsed, PlanError> {
        let mut crate_name = None;
        let mut crate_types = Vec::new();
        let mut target = None;
        let mut out_dir = None;
        let mut extra_filename = String::new();
        let mut features = Vec::new();
        let mut args = call.args.iter();
        while let Some(arg) = args.next() {
            let mut value = |name: &str| -> Result<String, PlanError> {
                args.next().cloned().ok_or_else(|| PlanError::Record {
                    path: call.record.clone(),
                    reason: format!("`{name}` without a value"),
                })
            };
            match arg.as_str() {
                "--crate-name" => crate_name = Some(value(arg)?),
                "--crate-type" => crate_types.push(value(arg)?),
                "--target" => target = Some(value(arg)?),
                "--out-dir" => out_dir = Some(value(arg)?),
                "-C" => {
                    let codegen = value(arg)?;
                    if let Some(extra) = codegen.strip_prefix("extra-filename=") {
                        extra_filename = extra.to_owned();
                    }
                }
                "--cfg" => {
                    let cfg = value(arg)?;
                    if let Some(feature) = cfg
                        .strip_prefix("feature=\"")
                        .and_then(|f| f.strip_suffix('"'))
                    {
                        features.push(feature.to_owned());
                    }
                }
                _ => {}
            }
        }
        let missing = |what: &str| PlanError::Record {
            path: call.record.clone(),
            reason: format!("a rustc call without {what}"),
        };
        Ok(Parsed {
            crate_name: crate_name.ok_or_else(|| missing("--crate-name"))?,
            crate_types,
            target,
            out_dir: out_dir.ok_or_else(|| missing("--out-dir"))?,
            extra_filename,
            features,
        })
    }

    /// The files rustc writes for this call (with `--emit=link`).
    fn outputs(&self) -> Vec<String> {
        let stem = format!("{}{}", self.crate_name, self.extra_filename);
        let mut files = Vec::new();
        for crate_type in &self.crate_types {
            match crate_type.as_str() {
                "lib" | "rlib" => {
                    files.push(format!("lib{stem}.rlib"));
                    files.push(format!("lib{stem}.rmeta"));
                }
                "proc-macro" | "dylib" | "cdylib" => files.push(format!("lib{stem}.so")),
                "staticlib" => files.push(format!("lib{stem}.a")),
                _ => files.push(stem.clone()),
            }
        }
        files
    }
}

/// The planning build's paths, longest first, with their placeholders.
struct Paths {
    src: String,
    vendor: String,
    /// (path, placeholder), longest path first.
    table: Vec<(String, String)>,
}

impl Paths {
    fn new(records: &Records) -> Result<Paths, PlanError> {
        let path = |name: &str| {
            records.paths.get(name).cloned().ok_or_else(|| {
                PlanError::Graph(format!("the planning build recorded no `{name}` path"))
            })
        };
        let src = path("src")?;
        let vendor = path("vendor")?;
        let mut table = vec![
            (src.clone(), "@{src}".to_owned()),
            (vendor.clone(), "@{vendor}".to_owned()),
        ];
        for name in ["toolchain", "zig"] {
            if let Ok(path) = path(name) {
                table.push((path, format!("@{{{name}}}")));
            }
        }
        table.sort_by_key(|(path, _)| std::cmp::Reverse(path.len()));
        Ok(Paths { src, vendor, table })
    }

    /// `text` with every known path replaced by its placeholder: unit
    /// outputs first, then a vendored crate's directory, then the rest.
    /// Only whole path components are replaced.
    fn substitute(&self, text: &str, units: &[(String, String)]) -> String {
        // `--remap-path-prefix=FROM=TO`: only FROM is a path of this build.
        if let Some(rest) = text.strip_prefix("--remap-path-prefix=")
            && let Some((from, to)) = rest.split_once('=')
        {
            return format!("--remap-path-prefix={}={to}", self.substitute(from, units));
        }
        let mut result = String::with_capacity(text.len());
        let mut rest = text;
        'scan: while !rest.is_empty() {
            for (path, placeholder) in units.iter().chain(&self.table) {
                if let Some(after) = rest.strip_prefix(path.as_str())
                    && ends_component(after)
                {
                    if path == &self.vendor
                        && let Some(crate_dir) = after.strip_prefix('/')
                    {
                        let end = crate_dir
                            .find(['/', '\u{1f}', ' ', ':'])
                            .unwrap_or(crate_dir.len());
                        result.push_str(&format!("@{{crate:{}}}", &crate_dir[..end]));
                        rest = &crate_dir[end..];
                        continue 'scan;
                    }
                    result.push_str(placeholder);
                    rest = after;
                    continue 'scan;
                }
            }
            let mut chars = rest.chars();
            if let Some(c) = chars.next() {
                result.push(c);
            }
            rest = chars.as_str();
        }
        // A flag list in one variable (CARGO_ENCODED_RUSTFLAGS).
        if result.contains('\u{1f}') && text.contains("--remap-path-prefix=") {
            return text
                .split('\u{1f}')
                .map(|field| self.substitute(field, units))
                .collect::<Vec<_>>()
                .join("\u{1f}");
        }
        result
    }

    /// The package's directory as a placeholder.
    fn package_dir(&self, manifest_dir: &str) -> String {
        self.substitute(manifest_dir, &[])
    }
}

fn ends_component(after: &str) -> bool {
    after
        .chars()
        .next()
        .is_none_or(|c| matches!(c, '/' | '=' | ':' | ' ' | '\u{1f}' | '"'))
}

/// The environment cargo gave the call: what differs from the builder's.
/// `NUM_JOBS` (the planning machine's cores) becomes `@{jobs}`.
fn own_env(
    env: &BTreeMap<String, String>,
    base: &BTreeMap<String, String>,
    paths: &Paths,
    units: &[(String, String)],
) -> BTreeMap<String, String> {
    env.iter()
        .filter(|(name, value)| {
            !NOT_THE_UNITS.contains(&name.as_str()) && base.get(*name) != Some(*value)
        })
        .map(|(name, value)| {
            let value = if name == "NUM_JOBS" {
                "@{jobs}".to_owned()
            } else {
                paths.substitute(value, units)
            };
            (name.clone(), value)
        })
        .collect()
}

/// Refuses a value that still names a path of the planning build.
fn check_placeholders(
    index: usize,
    what: &str,
    value: &str,
    paths: &Paths,
) -> Result<(), PlanError> {
    if value.contains("/nix/store/") || value.contains(&format!("{}/target", paths.src)) {
        return Err(PlanError::Graph(format!(
            "unit {index}: its {what} names a path kiln cannot place: `{value}`"
        )));
    }
    Ok(())
}

fn graph_deps(unit: &GraphUnit) -> BTreeSet<usize> {
    unit.dependencies.iter().map(|d| d.index).collect()
}

fn compile_unit(
    index: usize,
    unit: &GraphUnit,
    (call, parsed): (&CompileCall, &Parsed),
    base: &BTreeMap<String, String>,
    paths: &Paths,
    files: &BTreeMap<String, (usize, String)>,
    (out_dirs, units): (&BTreeMap<String, usize>, &[(String, String)]),
) -> Result<Unit, PlanError> {
    let mut deps = BTreeSet::new();
    let mut args = Vec::with_capacity(call.args.len());
    let mut iter = call.args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--out-dir" => {
                iter.next();
                args.push(arg.clone());
                args.push("@{out}".to_owned());
            }
            "-L" => {
                let value = iter.next().cloned().unwrap_or_default();
                if !value.starts_with("dependency=") {
                    args.push(arg.clone());
                    args.push(paths.substitute(&value, units));
                }
            }
            "--extern" => {
                let value = iter.next().cloned().unwrap_or_default();
                args.push(arg.clone());
                match value.split_once('=') {
                    Some((name, path)) => {
                        let (dep, file) = files.get(path).ok_or_else(|| PlanError::Record {
                            path: call.record.clone(),
                            reason: format!("`--extern {value}` names a file no unit makes"),
                        })?;
                        deps.insert(*dep);
                        args.push(format!("{name}=@{{unit:{dep}}}/{file}"));
                    }
                    None => args.push(value),
                }
            }
            _ if arg.starts_with("-Ldependency=") => {}
            _ => args.push(paths.substitute(arg, units)),
        }
    }
    if let Some(out_dir) = call.env.get("OUT_DIR") {
        let run = out_dirs.get(out_dir).ok_or_else(|| PlanError::Record {
            path: call.record.clone(),
            reason: format!("OUT_DIR `{out_dir}` is no build script's"),
        })?;
        deps.insert(*run);
    }
    let expected = graph_deps(unit);
    if deps != expected {
        return Err(PlanError::Graph(format!(
            "unit {index} ({}): cargo's call depends on units {deps:?}, its unit graph on {expected:?}",
            parsed.crate_name
        )));
    }
    let env = own_env(&call.env, base, paths, units);
    let cwd = paths.substitute(&call.cwd, units);
    let planned = Unit::Compile {
        package: package(unit, &call.env, &call.record, paths)?,
        crate_name: parsed.crate_name.clone(),
        target_name: unit.target.name.clone(),
        crate_types: parsed.crate_types.clone(),
        platform: parsed.target.clone(),
        features: unit.features.clone(),
        outputs: parsed.outputs(),
        cwd,
        args,
        env,
        deps: expected.into_iter().collect(),
        cargo_out_dir: paths.substitute(&parsed.out_dir, &[]),
    };
    check_unit(index, &planned, paths)?;
    Ok(planned)
}

fn run_unit(
    index: usize,
    unit: &GraphUnit,
    call: &RunCall,
    base: &BTreeMap<String, String>,
    paths: &Paths,
    files: &BTreeMap<String, (usize, String)>,
) -> Result<Unit, PlanError> {
    // cargo runs `build-script-build`, a hard link to the compiled file.
    let dir = call.program.rsplit_once('/').map_or("", |(dir, _)| dir);
    let (script, program) = files
        .iter()
        .find(|(path, _)| path.rsplit_once('/').is_some_and(|(d, _)| d == dir))
        .map(|(_, (unit, file))| (*unit, file.clone()))
        .ok_or_else(|| PlanError::Record {
            path: call.record.clone(),
            reason: format!("`{}` is no compiled build script", call.program),
        })?;
    let expected = graph_deps(unit);
    if !expected.contains(&script) {
        return Err(PlanError::Graph(format!(
            "unit {index}: cargo ran unit {script}'s script, its unit graph needs {expected:?}"
        )));
    }
    let out_dir = required(&call.env, "OUT_DIR", &call.record)?.to_owned();
    let units = vec![(out_dir.clone(), "@{out}/out".to_owned())];
    let env: BTreeMap<String, String> = own_env(&call.env, base, paths, &units)
        .into_iter()
        .filter(|(name, _)| !name.starts_with("DEP_"))
        .collect();
    let planned = Unit::Run {
        package: package(unit, &call.env, &call.record, paths)?,
        script,
        program,
        platform: unit.platform.clone(),
        features: unit.features.clone(),
        links: call.env.get("CARGO_MANIFEST_LINKS").cloned(),
        cwd: paths.substitute(&call.cwd, &units),
        env,
        deps: expected.into_iter().collect(),
        cargo_out_dir: paths.substitute(&out_dir, &[]),
    };
    check_unit(index, &planned, paths)?;
    Ok(planned)
}

fn package(
    unit: &GraphUnit,
    env: &BTreeMap<String, String>,
    record: &std::path::Path,
    paths: &Paths,
) -> Result<Package, PlanError> {
    let (name, version) = unit.package();
    let manifest_dir = required(env, "CARGO_MANIFEST_DIR", record)?;
    Ok(Package {
        name,
        version,
        dir: paths.package_dir(manifest_dir),
    })
}

fn check_unit(index: usize, unit: &Unit, paths: &Paths) -> Result<(), PlanError> {
    let (cwd, args, env): (&str, &[String], &BTreeMap<String, String>) = match unit {
        Unit::Compile { cwd, args, env, .. } => (cwd, args, env),
        Unit::Run { cwd, env, .. } => (cwd, &[], env),
    };
    check_placeholders(index, "working directory", cwd, paths)?;
    for arg in args {
        check_placeholders(index, "argument", arg, paths)?;
    }
    for (name, value) in env {
        check_placeholders(index, &format!("variable {name}"), value, paths)?;
    }
    Ok(())
}

/// How many units of each kind a plan has, for people.
pub fn summary(plan: &Plan, graph: &UnitGraph) -> String {
    let compiles = plan
        .units
        .iter()
        .filter(|u| matches!(u, Unit::Compile { .. }))
        .count();
    let runs = plan.units.len() - compiles;
    let edges: usize = graph.units.iter().map(|u| u.dependencies.len()).sum();
    format!(
        "{} units ({compiles} rustc calls, {runs} build-script runs), {edges} dependency edges, all as in cargo's unit graph",
        plan.units.len()
    )
}
