//! `kiln build DIR#NAME`: build a flake's packages.
//!
//! 1. flake.toml and flake.lock are read and checked (a stale lock is an
//!    error naming every input `kiln lock` must pin); the output address
//!    selects packages and targets.
//! 2. `recipes/flake.nix` is evaluated with the spec. The fetched inputs
//!    the selected packages use are realised first (fetch and unpack: their
//!    hashes are pinned), because the packages read their Cargo.lock.
//! 3. The fetch phase ([`fetch`]): every fixed-output derivation in the
//!    closure is realised, all of them even when some fail; a failure lists
//!    every missing file with its URL, and nothing is built. With
//!    `--offline`, nothing is fetched: a missing download is an error.
//! 4. The builds; then `result-<target>` links (`result-<package>-<target>`
//!    when several packages are built; `-o LINK` renames the prefix).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::rc::Rc;
use std::sync::Arc;

use anyhow::Context as _;
use kiln_eval::{AutoArg, Evaluator};
use kiln_flake::{Flake, FlakeRef, Selected};
use kiln_store::store::Store;
use kiln_store::store_path::StorePath;

use super::build::{BuildArgs, make_link, output_path};
use super::fetch;
use super::realise::{BuildFlags, code_or_reported, realise_roots};
use crate::commands::eval::options;
use crate::error::AlreadyReported;
use crate::eval_io::CliIo;

/// Returns the flake address `build` was given, if it names a flake: an
/// argument with `#`, a directory holding flake.toml, or nothing at all
/// in a directory holding flake.toml.
pub fn reference(args: &BuildArgs) -> Option<FlakeRef> {
    if args.source.expr.is_some() || !args.source.attr.is_empty() {
        return None;
    }
    match &args.source.file {
        Some(text) if text.contains('#') => Some(FlakeRef::parse(text)),
        Some(text) if kiln_flake::is_flake(Path::new(text)) => Some(FlakeRef::parse(text)),
        Some(_) => None,
        None if kiln_flake::is_flake(Path::new(".")) => Some(FlakeRef::parse(".")),
        None => None,
    }
}

/// One selected output, instantiated.
pub struct Built {
    /// The package and target.
    pub selected: Selected,
    /// Its derivation.
    pub drv: StorePath,
    /// The output selected.
    pub output: String,
}

/// Evaluates the flake and instantiates the outputs `reference` names;
/// the fetched inputs of the selected packages are realised on the way
/// (or, `offline`, must be in the store already).
pub fn instantiate_flake(
    reference: &FlakeRef,
    store: &Arc<Store>,
    flags: &BuildFlags,
    offline: bool,
) -> anyhow::Result<Vec<Built>> {
    let flake = kiln_flake::load(&reference.dir)?;
    let selected = kiln_flake::reference::select(&flake.manifest, reference.output.as_deref())?;
    instantiate_selected(flake, selected, store, flags, offline)
}

/// Evaluates `flake` and instantiates the given selections; the fetched
/// inputs they use are realised on the way (or, `offline`, must be in the
/// store already).
pub fn instantiate_selected(
    flake: Flake,
    selected: Vec<Selected>,
    store: &Arc<Store>,
    flags: &BuildFlags,
    offline: bool,
) -> anyhow::Result<Vec<Built>> {
    let instantiated = {
        let store = Arc::clone(store);
        let flags = flags.clone();
        let selected = selected.clone();
        kiln_eval::with_big_stack(move || instantiate(&store, &flake, &selected, &flags, offline))
            .ok_or_else(|| anyhow::anyhow!("the evaluation thread failed"))?
    };
    let found = match instantiated {
        Ok(found) => found,
        Err(rendered) => {
            let _ = std::io::stderr().lock().write_all(rendered.as_bytes());
            return Err(AlreadyReported.into());
        }
    };
    let mut built = Vec::new();
    for (selected, (drv, output)) in selected.into_iter().zip(found) {
        built.push(Built {
            selected,
            drv: store.resolve(&drv)?,
            output,
        });
    }
    Ok(built)
}

/// Builds the outputs `reference` names.
pub fn run(reference: &FlakeRef, args: &BuildArgs) -> anyhow::Result<ExitCode> {
    let store = Arc::new(args.store.open()?);
    let built = instantiate_flake(reference, &store, &args.build, args.offline)?;
    if args.dry_run {
        let roots: Vec<StorePath> = built.iter().map(|b| b.drv.clone()).collect();
        return super::build::dry_run(&store, &roots);
    }
    let outputs = match realise_built(&store, &built, &args.build, args.offline)? {
        Ok(outputs) => outputs,
        Err(code) => return code_or_reported(code),
    };
    let several = {
        let mut packages: Vec<&str> = built
            .iter()
            .filter(|b| !b.selected.image)
            .map(|b| b.selected.package.as_str())
            .collect();
        packages.dedup();
        packages.len() > 1
    };
    let mut out = std::io::stdout().lock();
    for (b, path) in built.iter().zip(&outputs) {
        if !args.no_link {
            make_link(
                &store,
                path,
                &link_name(&args.out_link, &b.selected, several),
            )?;
        }
        writeln!(out, "{}", store.display(path))?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Realises instantiated flake outputs: the fetch phase (or, `offline`,
/// the check that nothing needs fetching), then the builds. Returns each
/// output's path, in order, or the exit code of a failed run (reported).
pub fn realise_built(
    store: &Arc<Store>,
    built: &[Built],
    flags: &BuildFlags,
    offline: bool,
) -> anyhow::Result<Result<Vec<StorePath>, ExitCode>> {
    let roots: Vec<StorePath> = built.iter().map(|b| b.drv.clone()).collect();
    if offline {
        fetch::require_offline(store, &roots)?;
    } else {
        fetch::fetch_phase(store, &roots, flags)?;
    }
    let (graph, code) = realise_roots(store, &roots, flags)?;
    if code != ExitCode::SUCCESS {
        return Ok(Err(code));
    }
    let mut outputs = Vec::with_capacity(built.len());
    for b in built {
        let path = output_path(&graph, &b.drv, &b.output)
            .with_context(|| format!("`{}` has no output `{}`", store.display(&b.drv), b.output))?;
        outputs.push(path);
    }
    Ok(Ok(outputs))
}

/// `result-x86_64`, or `result-<package>-x86_64` when several packages
/// are built; `result-<image>` for an image.
fn link_name(base: &Path, selected: &Selected, several: bool) -> PathBuf {
    let mut name = base.as_os_str().to_owned();
    if selected.image {
        name.push(format!("-{}", selected.package));
        return PathBuf::from(name);
    }
    if several {
        name.push(format!("-{}", selected.package));
    }
    name.push(format!("-{}", selected.target));
    PathBuf::from(name)
}

/// Evaluates the flake and writes the selected outputs' derivations; the
/// fetched inputs the selected packages use are realised on the way.
/// Returns each output's `.drv` path and output name, or the rendered error.
fn instantiate(
    store: &Arc<Store>,
    flake: &Flake,
    selected: &[Selected],
    flags: &BuildFlags,
    offline: bool,
) -> Result<Vec<(String, String)>, String> {
    let package_of = |s: &Selected| -> String {
        if s.image {
            flake.manifest.images[&s.package].package.clone()
        } else {
            s.package.clone()
        }
    };
    let mut used: Vec<String> = selected
        .iter()
        .map(|s| flake.manifest.packages[&package_of(s)].src.clone())
        .collect();
    used.sort();
    used.dedup();
    let spec = kiln_flake::spec::spec(&flake.dir, &flake.manifest, &flake.lock, Some(&used))
        .map_err(|e| format!("error: {}\n", kiln_store::schedule::error_chain(&e)))?;
    let opts = options(&[], true);
    let io = Rc::new(CliIo::with_store(Arc::clone(store)));
    let mut ev = Evaluator::new(io.clone(), opts.clone());
    let render = |e: kiln_eval::Error| e.render();
    let expr = format!(
        "{{ spec }}: import <kiln/flake.nix> {{ root = /. + \"{}\"; spec = builtins.fromJSON spec; }}",
        nix_string_body(&flake.dir.to_string_lossy())
    );
    let function = ev.eval_expr(&expr, &opts.cwd).map_err(render)?;
    let auto = Rc::new(
        ev.auto_args(&[("spec".to_owned(), AutoArg::Str(spec.to_string()))])
            .map_err(render)?,
    );
    let value = ev.auto_call(&function, &auto).map_err(render)?;

    let fetched: Vec<&String> = used
        .iter()
        .filter(|name| {
            flake
                .manifest
                .inputs
                .get(*name)
                .is_some_and(kiln_flake::Input::is_fetched)
        })
        .collect();
    if !fetched.is_empty() {
        let mut drvs = Vec::new();
        for name in fetched {
            let input = ev
                .select_path(&value, &format!("inputs.{name}"), &auto)
                .map_err(render)?;
            for drv in ev.find_derivations(&input, &auto).map_err(render)? {
                drvs.push(drv.drv_path);
            }
        }
        io.flush()?;
        realise_inputs(store, &drvs, flags, offline)?;
    }

    let mut found = Vec::new();
    for s in selected {
        let path = if s.image {
            format!("images.{}", s.package)
        } else if s.plan {
            format!("plans.{}.{}", s.package, s.target)
        } else {
            format!("packages.{}.{}", s.package, s.target)
        };
        let v = ev.select_path(&value, &path, &auto).map_err(render)?;
        let drvs = ev.find_derivations(&v, &auto).map_err(render)?;
        let Some(drv) = drvs.into_iter().next() else {
            return Err(format!("error: `{path}` is not a derivation\n"));
        };
        found.push((drv.drv_path, drv.output));
    }
    io.flush()?;
    Ok(found)
}

fn realise_inputs(
    store: &Arc<Store>,
    drvs: &[String],
    flags: &BuildFlags,
    offline: bool,
) -> Result<(), String> {
    let roots = drvs
        .iter()
        .map(|d| store.resolve(d))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("error: {e}\n"))?;
    if offline {
        fetch::require_offline(store, &roots).map_err(|e| format!("error: {e:#}\n"))?;
    }
    match realise_roots(store, &roots, flags) {
        Ok((_, code)) if code == ExitCode::SUCCESS => Ok(()),
        Ok(_) => Err("error: the flake's inputs could not be fetched (see above)\n".to_owned()),
        Err(e) => Err(format!("error: {e:#}\n")),
    }
}

/// Escapes text for a Nix double-quoted string.
fn nix_string_body(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '$' => out.push_str("\\$"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_name_the_target_and_the_package_when_several() {
        let s = Selected {
            package: "rg".into(),
            target: "aarch64".into(),
            image: false,
            plan: false,
        };
        assert_eq!(
            link_name(Path::new("result"), &s, false),
            Path::new("result-aarch64")
        );
        assert_eq!(
            link_name(Path::new("out"), &s, true),
            Path::new("out-rg-aarch64")
        );
        let image = Selected {
            package: "image".into(),
            target: String::new(),
            image: true,
            plan: false,
        };
        assert_eq!(
            link_name(Path::new("result"), &image, true),
            Path::new("result-image")
        );
    }

    #[test]
    fn nix_strings_are_escaped() {
        assert_eq!(
            nix_string_body("/a \"b\" ${c}\\"),
            "/a \\\"b\\\" \\${c}\\\\"
        );
    }
}
