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
    let started = std::time::Instant::now();
    let flake = kiln_flake::load(&reference.dir)?;
    let selected = kiln_flake::reference::select(&flake.manifest, reference.output.as_deref())?;
    let built = instantiate_selected(flake, selected, store, flags, offline)?;
    if flags.json {
        let elapsed = started.elapsed().as_secs_f64();
        let event = serde_json::json!({
            "event": "evaluated", "time": elapsed, "elapsed": elapsed,
            "outputs": built.iter().map(|b| b.selected.label()).collect::<Vec<_>>(),
        });
        writeln!(std::io::stderr().lock(), "{event}")?;
    }
    Ok(built)
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
///
/// Outputs of different targets are evaluated side by side, one evaluator
/// per target on its own thread (a per-crate graph is evaluated once per
/// target, and each target's takes about as long). Every thread evaluates
/// the flake itself; the first realises the fetched inputs while the
/// others wait for that before selecting their outputs.
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
        .map_err(|e| format!("error: {}\n", kiln_store::schedule::error_chain(&e)))?
        .to_string();
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    let groups = target_groups(selected, cpus);
    let Some((first, rest)) = groups.split_first() else {
        return Ok(Vec::new());
    };
    std::thread::scope(|scope| {
        let mut others = Vec::with_capacity(rest.len());
        let mut ready = Vec::with_capacity(rest.len());
        for group in rest {
            let (tx, rx) = std::sync::mpsc::channel::<bool>();
            let spec = spec.as_str();
            let thread = std::thread::Builder::new()
                .name("kiln-eval".to_owned())
                .stack_size(kiln_eval::STACK_SIZE)
                .spawn_scoped(scope, move || {
                    let mut evaluation = FlakeEvaluation::new(store, flake, spec)?;
                    // The first thread reports its own failure.
                    if !rx.recv().unwrap_or(false) {
                        return Ok(Vec::new());
                    }
                    evaluation.select(selected, group)
                })
                .map_err(|e| format!("error: cannot start an evaluation thread: {e}\n"))?;
            others.push(thread);
            ready.push(tx);
        }
        let evaluation = FlakeEvaluation::new(store, flake, &spec).and_then(|mut evaluation| {
            evaluation.realise_fetched(store, flake, &used, flags, offline)?;
            Ok(evaluation)
        });
        for tx in ready {
            let _ = tx.send(evaluation.is_ok());
        }
        let mut found: Vec<Option<(String, String)>> = vec![None; selected.len()];
        let mut place = |group: &[usize], drvs: Vec<(String, String)>| {
            for (&i, drv) in group.iter().zip(drvs) {
                found[i] = Some(drv);
            }
        };
        place(first, evaluation?.select(selected, first)?);
        for (group, thread) in rest.iter().zip(others) {
            let drvs = thread
                .join()
                .map_err(|_| "error: an evaluation thread failed\n".to_owned())??;
            place(group, drvs);
        }
        found
            .into_iter()
            .map(|drv| drv.ok_or_else(|| "error: an output was not evaluated\n".to_owned()))
            .collect()
    })
}

/// The selections' indices grouped by target (images, which hold every
/// target, with the first group), at most `threads` groups.
fn target_groups(selected: &[Selected], threads: usize) -> Vec<Vec<usize>> {
    let mut targets: Vec<&str> = Vec::new();
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (i, s) in selected.iter().enumerate() {
        let at = if s.image {
            0
        } else if let Some(at) = targets.iter().position(|t| *t == s.target) {
            at
        } else {
            targets.push(&s.target);
            targets.len() - 1
        };
        let at = at % threads.max(1);
        if groups.len() <= at {
            groups.resize(at + 1, Vec::new());
        }
        groups[at].push(i);
    }
    groups
}

/// An evaluation error as the user sees it.
fn render(e: kiln_eval::Error) -> String {
    e.render()
}

/// One evaluator with the flake's value.
struct FlakeEvaluation {
    ev: Evaluator,
    io: Rc<CliIo>,
    value: kiln_eval::Value,
    auto: Rc<kiln_eval::value::Attrs>,
}

impl FlakeEvaluation {
    /// Evaluates `recipes/flake.nix` with the flake's spec (lazily: no
    /// package is evaluated yet).
    fn new(store: &Arc<Store>, flake: &Flake, spec: &str) -> Result<FlakeEvaluation, String> {
        let opts = options(&[], true);
        let io = Rc::new(CliIo::with_store(Arc::clone(store)));
        let mut ev = Evaluator::new(io.clone(), opts.clone());
        let expr = format!(
            "{{ spec }}: import <kiln/flake.nix> {{ root = /. + \"{}\"; spec = builtins.fromJSON spec; }}",
            nix_string_body(&flake.dir.to_string_lossy())
        );
        let function = ev.eval_expr(&expr, &opts.cwd).map_err(render)?;
        let auto = Rc::new(
            ev.auto_args(&[("spec".to_owned(), AutoArg::Str(spec.to_owned()))])
                .map_err(render)?,
        );
        let value = ev.auto_call(&function, &auto).map_err(render)?;
        Ok(FlakeEvaluation {
            ev,
            io,
            value,
            auto,
        })
    }

    /// Realises the fetched inputs among `used` (the packages read their
    /// Cargo.lock).
    fn realise_fetched(
        &mut self,
        store: &Arc<Store>,
        flake: &Flake,
        used: &[String],
        flags: &BuildFlags,
        offline: bool,
    ) -> Result<(), String> {
        let mut drvs = Vec::new();
        for name in used {
            let fetched = flake
                .manifest
                .inputs
                .get(name)
                .is_some_and(kiln_flake::Input::is_fetched);
            if !fetched {
                continue;
            }
            let input = self
                .ev
                .select_path(&self.value, &format!("inputs.{name}"), &self.auto)
                .map_err(render)?;
            for drv in self
                .ev
                .find_derivations(&input, &self.auto)
                .map_err(render)?
            {
                drvs.push(drv.drv_path);
            }
        }
        if drvs.is_empty() {
            return Ok(());
        }
        self.io.flush()?;
        realise_inputs(store, &drvs, flags, offline)
    }

    /// Writes the derivations of `selected[i]` for each `i` of `group`;
    /// returns each one's `.drv` path and output name, in order.
    fn select(
        &mut self,
        selected: &[Selected],
        group: &[usize],
    ) -> Result<Vec<(String, String)>, String> {
        let mut found = Vec::with_capacity(group.len());
        for s in group.iter().map(|&i| &selected[i]) {
            let path = if s.image {
                format!("images.{}", s.package)
            } else if s.plan {
                format!("plans.{}.{}", s.package, s.target)
            } else {
                format!("packages.{}.{}", s.package, s.target)
            };
            let v = self
                .ev
                .select_path(&self.value, &path, &self.auto)
                .map_err(render)?;
            let drvs = self.ev.find_derivations(&v, &self.auto).map_err(render)?;
            let Some(drv) = drvs.into_iter().next() else {
                return Err(format!("error: `{path}` is not a derivation\n"));
            };
            found.push((drv.drv_path, drv.output));
        }
        self.io.flush()?;
        Ok(found)
    }
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

    fn sel(package: &str, target: &str, image: bool) -> Selected {
        Selected {
            package: package.into(),
            target: target.into(),
            image,
            plan: false,
        }
    }

    #[test]
    fn targets_are_evaluated_in_groups_of_their_own() {
        let selected = [
            sel("rg", "x86_64", false),
            sel("rg", "aarch64", false),
            sel("image", "", true),
            sel("fd", "aarch64", false),
            sel("fd", "x86_64", false),
        ];
        assert_eq!(target_groups(&selected, 2), vec![vec![0, 2, 4], vec![1, 3]]);
        // One CPU: one group, in the given order.
        assert_eq!(target_groups(&selected, 1), vec![vec![0, 1, 2, 3, 4]]);
        // Fewer threads than targets: the targets share them.
        let three = [
            sel("a", "x86_64", false),
            sel("a", "aarch64", false),
            sel("a", "riscv64", false),
        ];
        assert_eq!(target_groups(&three, 2), vec![vec![0, 2], vec![1]]);
        assert!(target_groups(&[], 2).is_empty());
    }

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
