//! Downloads: `kiln fetch` (realise every fixed-output derivation a
//! flake's outputs need, and nothing else), the fetch phase that `kiln
//! build` runs before building, and the `--offline` check.

use std::io::Write as _;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use kiln_flake::FlakeRef;
use kiln_store::hash::Encoding;
use kiln_store::schedule::Graph;
use kiln_store::schedule::graph::Node;
use kiln_store::store::Store;
use kiln_store::store_path::StorePath;

use super::realise::{BuildFlags, realise_roots};
use super::store::StoreOptions;
use crate::error::AlreadyReported;

/// Arguments of `kiln fetch`.
#[derive(Debug, Args)]
pub struct FetchArgs {
    /// The flake outputs whose downloads to fetch (`DIR#NAME`; default:
    /// the flake in the current directory's default packages)
    #[arg(value_name = "FLAKE#OUTPUT")]
    pub outputs: Vec<String>,
    /// Fetch every download of the whole build graph, also those below
    /// outputs that are already built: all that `kiln export
    /// --sources-only` needs to rebuild from source elsewhere
    #[arg(long)]
    pub all: bool,
    /// How to fetch
    #[command(flatten)]
    pub build: BuildFlags,
    /// Which store
    #[command(flatten)]
    pub store: StoreOptions,
}

/// Runs `kiln fetch`.
pub fn run(args: &FetchArgs) -> anyhow::Result<ExitCode> {
    let store = Arc::new(args.store.open()?);
    let references: Vec<FlakeRef> = if args.outputs.is_empty() {
        vec![FlakeRef::parse(".")]
    } else {
        args.outputs.iter().map(|o| FlakeRef::parse(o)).collect()
    };
    let mut roots = Vec::new();
    for reference in &references {
        for built in super::flake_build::instantiate_flake(reference, &store, &args.build, false)? {
            roots.push(built.drv);
        }
    }
    let fetched = fetch_downloads(&store, &roots, &args.build, args.all)?;
    if !args.build.quiet {
        let mut err = std::io::stderr().lock();
        writeln!(
            err,
            "{fetched} downloads fetched; everything the build needs from the network is in the store"
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The fixed-output derivations of `graph` whose outputs are not valid:
/// those the build needs, or (`everything`) all of the graph's.
fn missing<'g>(store: &Store, graph: &'g Graph, everything: bool) -> Vec<&'g Node> {
    graph
        .nodes
        .iter()
        .filter(|node| everything || node.needed)
        .filter(|node| node.drv.fixed_output().is_some())
        .filter(|node| {
            !node
                .drv
                .outputs
                .values()
                .filter_map(|o| o.path.as_ref())
                .all(|p| store.is_valid(p).unwrap_or(false))
        })
        .collect()
}

/// One line per download: its name, URLs, and (with `hash`) the pinned hash.
fn describe(nodes: &[&Node], hash: bool) -> Vec<String> {
    let mut lines: Vec<String> = nodes
        .iter()
        .map(|node| {
            let env = &node.drv.env;
            let mut urls: Vec<&str> = Vec::new();
            for url in env
                .get("url")
                .into_iter()
                .chain(env.get("urls"))
                .flat_map(|u| u.split_whitespace())
            {
                if !urls.contains(&url) {
                    urls.push(url);
                }
            }
            let pinned = match node.drv.fixed_output() {
                Some(fixed) if hash => format!("  {}", fixed.hash.encode(Encoding::Sri)),
                _ => String::new(),
            };
            format!(
                "  {}  {}{pinned}",
                node.drv.name().unwrap_or("?"),
                urls.join(" ")
            )
        })
        .collect();
    lines.sort();
    lines
}

/// Realises every fixed-output derivation the roots need, all of them
/// even when some fail; on failure lists each with its URLs and builds
/// nothing. Returns how many were fetched.
pub fn fetch_phase(
    store: &Arc<Store>,
    roots: &[StorePath],
    flags: &BuildFlags,
) -> anyhow::Result<usize> {
    fetch_downloads(store, roots, flags, false)
}

/// Fetches the downloads below `roots` that the build needs, or
/// (`everything`) all of them; returns how many were fetched.
fn fetch_downloads(
    store: &Arc<Store>,
    roots: &[StorePath],
    flags: &BuildFlags,
    everything: bool,
) -> anyhow::Result<usize> {
    let fetches: Vec<StorePath> = if everything {
        every_download(store, roots)?
    } else {
        let graph = Graph::load(store, roots)?;
        missing(store, &graph, false)
            .into_iter()
            .map(|node| node.drv_path.clone())
            .collect()
    };
    if fetches.is_empty() {
        return Ok(0);
    }
    let flags = BuildFlags {
        keep_going: true,
        ..flags.clone()
    };
    let (graph, code) = realise_roots(store, &fetches, &flags)?;
    if code == ExitCode::SUCCESS {
        return Ok(fetches.len());
    }
    let failed = missing(store, &graph, true);
    let mut err = std::io::stderr().lock();
    writeln!(
        err,
        "error: {} of {} downloads failed; nothing was built:",
        failed.len(),
        fetches.len()
    )?;
    for line in describe(&failed, false) {
        writeln!(err, "{line}")?;
    }
    Err(AlreadyReported.into())
}

/// The fixed-output derivations of the whole derivation closure of
/// `roots` whose outputs are not valid, also below outputs that are (the
/// build graph stops there).
fn every_download(store: &Store, roots: &[StorePath]) -> anyhow::Result<Vec<StorePath>> {
    let mut seen: std::collections::BTreeSet<StorePath> = roots.iter().cloned().collect();
    let mut stack: Vec<StorePath> = roots.to_vec();
    let mut downloads = Vec::new();
    while let Some(drv_path) = stack.pop() {
        let drv = kiln_store::schedule::graph::load_drv(store, &drv_path)?;
        if drv.fixed_output().is_some() {
            let fetched = drv
                .outputs
                .values()
                .filter_map(|o| o.path.as_ref())
                .all(|p| store.is_valid(p).unwrap_or(false));
            if !fetched {
                downloads.push(drv_path.clone());
            }
        }
        for input in drv.input_drvs.keys() {
            if seen.insert(input.clone()) {
                stack.push(input.clone());
            }
        }
    }
    downloads.sort();
    Ok(downloads)
}

/// Checks, before anything is built, that every download the roots need
/// is in the store; otherwise lists each with its URLs and hash.
pub fn require_offline(store: &Store, roots: &[StorePath]) -> anyhow::Result<()> {
    let graph = Graph::load(store, roots)?;
    let absent = missing(store, &graph, false);
    if absent.is_empty() {
        return Ok(());
    }
    let mut err = std::io::stderr().lock();
    writeln!(
        err,
        "error: offline, and {} downloads are not in the store (`kiln fetch` fetches them):",
        absent.len()
    )?;
    for line in describe(&absent, true) {
        writeln!(err, "{line}")?;
    }
    Err(AlreadyReported.into())
}
