//! The flake commands: `kiln init` (write a flake.toml for a Cargo
//! project), `kiln show` (list a flake's outputs and inputs) and the flake
//! half of `kiln lock` (pin the fetched inputs in flake.lock).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use kiln_flake::resolve::{self, Registries};
use kiln_flake::{Flake, Input};
use kiln_store::fetch::{FetchConfig, Fetcher};
use serde_json::json;

/// Arguments of `kiln init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// The Cargo project's directory
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Replace an existing flake.toml
    #[arg(long)]
    pub force: bool,
}

/// Runs `kiln init`.
pub fn init(args: &InitArgs) -> anyhow::Result<ExitCode> {
    let path = args.dir.join(kiln_flake::manifest::MANIFEST);
    if path.exists() && !args.force {
        anyhow::bail!("`{}` exists already (--force replaces it)", path.display());
    }
    let text = kiln_flake::init::flake_toml(&args.dir)?;
    // What init writes must be what load accepts.
    kiln_flake::manifest::parse(&text, &path.display().to_string())?;
    fs_err::write(&path, text)?;
    let mut err = std::io::stderr().lock();
    writeln!(err, "wrote {}; build it with `kiln build`", path.display())?;
    Ok(ExitCode::SUCCESS)
}

/// Arguments of `kiln show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The flake's directory
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

/// Runs `kiln show`.
pub fn show(args: &ShowArgs) -> anyhow::Result<ExitCode> {
    let flake = kiln_flake::read(&args.dir)?;
    let stale = kiln_flake::lock::check(&flake.manifest, &flake.lock).err();
    let mut out = std::io::stdout().lock();
    if args.json {
        let value = show_json(&flake, &args.dir);
        writeln!(out, "{}", serde_json::to_string_pretty(&value)?)?;
    } else {
        show_text(&mut out, &flake, &args.dir)?;
        if let Some(stale) = stale {
            writeln!(out, "\n{stale}")?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn address(dir: &Path, name: &str) -> String {
    format!("{}#{name}", dir.display())
}

fn show_text(out: &mut impl std::io::Write, flake: &Flake, dir: &Path) -> anyhow::Result<()> {
    let m = &flake.manifest;
    if let Some(description) = &m.description {
        writeln!(out, "{description}")?;
    }
    writeln!(out, "packages:")?;
    for (name, p) in &m.packages {
        let default = if m.default.contains(name) {
            " (default)"
        } else {
            ""
        };
        writeln!(out, "  {}{default}", address(dir, name))?;
        for target in &p.targets {
            let triple = kiln_flake::manifest::triple(target).unwrap_or("?");
            writeln!(
                out,
                "    {}  {triple}",
                address(dir, &format!("{name}.{target}"))
            )?;
        }
    }
    if !m.images.is_empty() {
        writeln!(out, "images:")?;
        for (name, image) in &m.images {
            let targets = m
                .packages
                .get(&image.package)
                .map(|p| p.targets.join(", "))
                .unwrap_or_default();
            writeln!(
                out,
                "  {}  OCI image of `{}` ({targets}), entrypoint {}",
                address(dir, name),
                image.package,
                image.entrypoint.join(" ")
            )?;
        }
    }
    writeln!(out, "inputs:")?;
    for (name, input) in &m.inputs {
        let pin = match flake.lock.inputs.get(name) {
            _ if !input.is_fetched() => "hashed on import".to_owned(),
            Some(locked) if locked.request == input.request() => {
                format!("{} {}", locked.file, locked.hash)
            }
            Some(_) => "stale lock entry".to_owned(),
            None => "not locked".to_owned(),
        };
        writeln!(out, "  {name}: {}  ({pin})", input.request())?;
    }
    Ok(())
}

fn show_json(flake: &Flake, dir: &Path) -> serde_json::Value {
    let m = &flake.manifest;
    let packages: serde_json::Map<String, serde_json::Value> = m
        .packages
        .iter()
        .map(|(name, p)| {
            let targets: serde_json::Map<String, serde_json::Value> = p
                .targets
                .iter()
                .map(|t| {
                    (
                        t.clone(),
                        json!({
                            "address": address(dir, &format!("{name}.{t}")),
                            "triple": kiln_flake::manifest::triple(t),
                        }),
                    )
                })
                .collect();
            (
                name.clone(),
                json!({
                    "address": address(dir, name),
                    "default": m.default.contains(name),
                    "src": p.src,
                    "dir": p.dir,
                    "package": p.package,
                    "bins": p.bins,
                    "features": p.features,
                    "profile": p.profile,
                    "settings": p.settings,
                    "rustflags": p.rustflags,
                    "targets": targets,
                }),
            )
        })
        .collect();
    let inputs: serde_json::Map<String, serde_json::Value> = m
        .inputs
        .iter()
        .map(|(name, input)| {
            let locked = flake
                .lock
                .inputs
                .get(name)
                .filter(|l| input.is_fetched() && l.request == input.request());
            (
                name.clone(),
                json!({
                    "request": input.request(),
                    "fetched": input.is_fetched(),
                    "locked": locked,
                }),
            )
        })
        .collect();
    let images: serde_json::Map<String, serde_json::Value> = m
        .images
        .iter()
        .map(|(name, image)| {
            (
                name.clone(),
                json!({
                    "address": address(dir, name),
                    "package": image.package,
                    "entrypoint": image.entrypoint,
                    "cmd": image.cmd,
                    "workdir": image.workdir,
                    "env": image.env,
                    "user": image.user,
                    "tags": image.tags,
                    "labels": image.labels,
                    "created": image.created,
                }),
            )
        })
        .collect();
    json!({
        "description": m.description,
        "packages": packages,
        "images": images,
        "inputs": inputs,
        "default": m.default,
    })
}

/// Pins the flake's fetched inputs in `dir/flake.lock`: new inputs and
/// those whose request changed, plus `update` (every fetched input when
/// empty but given). Removes entries of inputs no longer declared.
pub fn lock(dir: &Path, update: Option<&[String]>) -> anyhow::Result<ExitCode> {
    let flake = kiln_flake::read(dir)?;
    let mut lock = flake.lock.clone();
    if let Some(names) = update {
        for name in names {
            if !flake.manifest.inputs.contains_key(name) {
                anyhow::bail!("flake.toml has no input `{name}`");
            }
        }
    }
    let fetcher =
        Fetcher::new(&FetchConfig::from_env()).context("cannot set up the HTTP client")?;
    let registries = Registries::from_env();
    let mut err = std::io::stderr().lock();
    let mut changed = false;
    let mut failures = Vec::new();
    lock.inputs.retain(|name, _| {
        let keep = flake
            .manifest
            .inputs
            .get(name)
            .is_some_and(Input::is_fetched);
        changed |= !keep;
        keep
    });
    for (name, input) in &flake.manifest.inputs {
        if !input.is_fetched() {
            continue;
        }
        let forced = update.is_some_and(|names| names.is_empty() || names.contains(name));
        let current = lock
            .inputs
            .get(name)
            .is_some_and(|l| l.request == input.request());
        if current && !forced {
            continue;
        }
        writeln!(err, "locking {name} ({})", input.request())?;
        match resolve::resolve(&fetcher, &registries, input) {
            Ok(locked) => {
                writeln!(err, "  {} {}", locked.file, locked.hash)?;
                if lock.inputs.get(name) != Some(&locked) {
                    changed = true;
                    lock.inputs.insert(name.clone(), locked);
                }
            }
            Err(e) => failures.push(format!(
                "  {name}: {}",
                kiln_store::schedule::error_chain(&e)
            )),
        }
    }
    if !failures.is_empty() {
        anyhow::bail!(
            "cannot lock {} input(s); flake.lock is unchanged:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }
    let path = flake.dir.join(kiln_flake::lock::LOCK);
    if changed || !path.exists() {
        lock.version = kiln_flake::lock::VERSION;
        kiln_flake::lock::write(&flake.dir, &lock)?;
        writeln!(err, "wrote {}", path.display())?;
    } else {
        writeln!(err, "{} is up to date", path.display())?;
    }
    drop(err);
    plan_units(&flake.dir)?;
    Ok(ExitCode::SUCCESS)
}

/// The directory under a flake that holds its per-crate plans.
pub const UNITS_DIR: &str = "kiln-units";

/// Plans every target of every package with `units = true`: builds its
/// planning build (cargo's calls recorded, nothing compiled), turns the
/// records into a plan checked against cargo's unit graph, and writes it
/// to `kiln-units/<package>.<target>.json`, where evaluation reads it.
#[expect(clippy::print_stderr, reason = "progress of kiln lock")]
fn plan_units(dir: &Path) -> anyhow::Result<()> {
    use clap::Parser as _;
    #[derive(clap::Parser)]
    struct Defaults {
        #[command(flatten)]
        store: super::store::StoreOptions,
        #[command(flatten)]
        build: super::realise::BuildFlags,
    }
    let flake = kiln_flake::load(dir)?;
    let selected: Vec<kiln_flake::Selected> = flake
        .manifest
        .packages
        .iter()
        .filter(|(_, package)| package.units)
        .flat_map(|(name, package)| {
            package.targets.iter().map(|target| kiln_flake::Selected {
                package: name.clone(),
                target: target.clone(),
                image: false,
                plan: true,
            })
        })
        .collect();
    if selected.is_empty() {
        return Ok(());
    }
    let labels: Vec<String> = selected.iter().map(kiln_flake::Selected::label).collect();
    eprintln!("planning the per-crate builds of {}", labels.join(", "));
    let defaults = Defaults::parse_from(["kiln"]);
    let mut flags = defaults.build;
    flags.quiet = true;
    let store = std::sync::Arc::new(defaults.store.open()?);
    let built = super::flake_build::instantiate_selected(flake, selected, &store, &flags, false)?;
    let outputs = match super::flake_build::realise_built(&store, &built, &flags, false)? {
        Ok(outputs) => outputs,
        Err(_) => anyhow::bail!("the planning builds failed; kiln-units/ is unchanged"),
    };
    let units_dir = dir.join(UNITS_DIR);
    fs_err::create_dir_all(&units_dir)?;
    for (b, output) in built.iter().zip(&outputs) {
        let label = b.selected.label();
        let records = kiln_units::Records::read(&store.physical(output))
            .with_context(|| format!("cannot read the planning build of {label}"))?;
        let plan = kiln_units::plan(&records).with_context(|| format!("cannot plan {label}"))?;
        let file = units_dir.join(format!("{}.{}.json", b.selected.package, b.selected.target));
        let partial = file.with_extension("json.partial");
        fs_err::write(&partial, serde_json::to_string_pretty(&plan)? + "\n")?;
        fs_err::rename(&partial, &file)?;
        eprintln!(
            "planned {label}: {} -> {}",
            kiln_units::plan::summary(&plan, &records.graph),
            file.display()
        );
    }
    Ok(())
}
