//! `kiln build`: evaluate a Nix file or expression, write its derivations
//! to the store, realise them, print their output paths and make `result`
//! links, like `nix-build`.
//!
//! The value may be a derivation, or a list or attribute set of them (the
//! top-level attributes that are derivations, as `nix-build` takes them).
//! Links are named as `nix-build` names them: `result` for the first
//! derivation's selected output, `result-2`, `result-3`… for the next ones,
//! with `-<output>` appended for an output other than `out`. Each link
//! points at the output's physical path in kiln's store and is registered
//! as a garbage-collector root.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::rc::Rc;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Args;
use kiln_store::schedule::Graph;
use kiln_store::store::Store;
use kiln_store::store_path::StorePath;

use super::realise::{BuildFlags, code_or_reported, realise_roots};
use super::store::StoreOptions;
use crate::commands::eval::{Loaded, SourceArgs, load, options};
use crate::error::AlreadyReported;
use crate::eval_io::CliIo;

/// Arguments of `kiln build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// What to evaluate
    #[command(flatten)]
    pub source: SourceArgs,
    /// Name the result links LINK, LINK-2, … instead of `result` (missing
    /// directories of LINK are created)
    #[arg(
        short = 'o',
        long = "out-link",
        value_name = "LINK",
        default_value = "result"
    )]
    pub out_link: PathBuf,
    /// Make no result links (the outputs may then be garbage-collected)
    #[arg(long, conflicts_with = "out_link")]
    pub no_link: bool,
    /// Write the derivations to the store and list what would be built
    /// (on stderr), building nothing; print the `.drv` paths on stdout
    #[arg(long)]
    pub dry_run: bool,
    /// Never use the network: fail before building anything, listing every
    /// download that is not in the store (`kiln fetch` fetches them)
    #[arg(long)]
    pub offline: bool,
    /// How to build
    #[command(flatten)]
    pub build: BuildFlags,
    /// Which store
    #[command(flatten)]
    pub store: StoreOptions,
}

/// Runs `kiln build`.
pub fn run(args: &BuildArgs) -> anyhow::Result<ExitCode> {
    if let Some(reference) = super::flake_build::reference(args) {
        return super::flake_build::run(&reference, args);
    }
    let store = Arc::new(args.store.open()?);
    let found = {
        let store = Arc::clone(&store);
        let source = args.source.clone();
        kiln_eval::with_big_stack(move || instantiate(store, &source))
            .ok_or_else(|| anyhow::anyhow!("the evaluation thread failed"))?
    };
    let found = match found {
        Ok(found) => found,
        Err(rendered) => {
            let _ = std::io::stderr().lock().write_all(rendered.as_bytes());
            return Err(AlreadyReported.into());
        }
    };
    let mut selected = Vec::with_capacity(found.len());
    let mut roots: Vec<StorePath> = Vec::new();
    for (drv, output) in found {
        let drv = store.resolve(&drv)?;
        if !roots.contains(&drv) {
            roots.push(drv.clone());
        }
        selected.push((drv, output));
    }
    if args.dry_run {
        return dry_run(&store, &roots);
    }
    if args.offline {
        super::fetch::require_offline(&store, &roots)?;
    }
    let (graph, code) = realise_roots(&store, &roots, &args.build)?;
    if code != ExitCode::SUCCESS {
        return code_or_reported(code);
    }
    let mut out = std::io::stdout().lock();
    for (index, (drv, output)) in selected.iter().enumerate() {
        let path = output_path(&graph, drv, output)
            .with_context(|| format!("`{}` has no output `{output}`", store.display(drv)))?;
        if !args.no_link {
            let link = link_name(&args.out_link, index, output);
            make_link(&store, &path, &link)?;
        }
        writeln!(out, "{}", store.display(&path))?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Returns the path of `drv`'s `output` in a realised graph.
pub(super) fn output_path(graph: &Graph, drv: &StorePath, output: &str) -> Option<StorePath> {
    graph
        .nodes
        .iter()
        .find(|node| &node.drv_path == drv)
        .and_then(|node| node.drv.outputs.get(output))
        .and_then(|o| o.path.clone())
}

/// Lists the derivations that would be built; prints the roots.
pub(super) fn dry_run(store: &Store, roots: &[StorePath]) -> anyhow::Result<ExitCode> {
    let graph = Graph::load(store, roots)?;
    let needed: Vec<String> = graph
        .needed()
        .map(|(_, node)| store.display(&node.drv_path))
        .collect();
    let mut err = std::io::stderr().lock();
    writeln!(err, "{} derivations would be built:", needed.len())?;
    for drv in needed {
        writeln!(err, "  {drv}")?;
    }
    let mut out = std::io::stdout().lock();
    for root in roots {
        writeln!(out, "{}", store.display(root))?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Evaluates and writes the derivations to the store; returns each found
/// derivation's `.drv` path and selected output, or the rendered error.
fn instantiate(store: Arc<Store>, source: &SourceArgs) -> Result<Vec<(String, String)>, String> {
    let opts = options(&source.include, source.pure);
    let io = Rc::new(CliIo::with_store(store));
    let Loaded {
        mut evaluator,
        values,
        auto_args,
    } = load(source, io.clone(), opts)?;
    let mut found = Vec::new();
    for value in values {
        let drvs = evaluator
            .find_derivations(&value, &auto_args)
            .map_err(|e| e.render())?;
        found.extend(drvs.into_iter().map(|drv| (drv.drv_path, drv.output)));
    }
    io.flush()?;
    if found.is_empty() {
        return Err("error: the expression does not evaluate to any derivation\n".to_owned());
    }
    Ok(found)
}

/// Returns the link name of the `index`th result, as `nix-build` names it.
fn link_name(base: &Path, index: usize, output: &str) -> PathBuf {
    let mut name = base.as_os_str().to_owned();
    if index > 0 {
        name.push(format!("-{}", index + 1));
    }
    if output != "out" {
        name.push(format!("-{output}"));
    }
    PathBuf::from(name)
}

/// Points `link` at `path`'s physical location (replacing an old link,
/// creating missing parent directories as `nix-build -o` does) and
/// registers it as a garbage-collector root.
pub(super) fn make_link(store: &Store, path: &StorePath, link: &Path) -> anyhow::Result<()> {
    if let Some(parent) = link.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs_err::create_dir_all(parent)?;
    }
    if let Ok(meta) = fs_err::symlink_metadata(link) {
        if !meta.file_type().is_symlink() {
            anyhow::bail!(
                "`{}` exists and is not a symlink; not replacing it",
                link.display()
            );
        }
        fs_err::remove_file(link)?;
    }
    fs_err::os::unix::fs::symlink(store.physical(path), link)?;
    store
        .add_indirect_root(link)
        .with_context(|| format!("cannot register `{}` as a root", link.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_named_like_nix_build() {
        let base = Path::new("result");
        assert_eq!(link_name(base, 0, "out"), Path::new("result"));
        assert_eq!(link_name(base, 1, "out"), Path::new("result-2"));
        assert_eq!(link_name(base, 0, "dev"), Path::new("result-dev"));
        assert_eq!(link_name(base, 2, "lib"), Path::new("result-3-lib"));
    }
}
