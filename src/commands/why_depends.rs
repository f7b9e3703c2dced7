//! `kiln why-depends A B`: show why `A` depends on `B`, as one shortest
//! chain of references from `A` to `B`, like `nix why-depends` (without
//! `--all`).

use std::collections::{HashMap, VecDeque};
use std::io::Write as _;
use std::process::ExitCode;

use clap::Args;
use kiln_store::store::Store;
use kiln_store::store_path::StorePath;

use super::store::StoreOptions;

/// Arguments of `kiln why-depends`.
#[derive(Debug, Args)]
pub struct WhyDependsArgs {
    /// The path that depends (a store path or a link to one)
    #[arg(value_name = "PACKAGE")]
    pub package: String,
    /// The path depended on
    #[arg(value_name = "DEPENDENCY")]
    pub dependency: String,
    /// Which store
    #[command(flatten)]
    pub store: StoreOptions,
}

/// Runs `kiln why-depends`: prints the chain, one path per line, each
/// indented under the one that refers to it.
pub fn run(args: &WhyDependsArgs) -> anyhow::Result<ExitCode> {
    let store = args.store.open()?;
    let from = store.resolve(&args.package)?;
    let to = store.resolve(&args.dependency)?;
    for path in [&from, &to] {
        if !store.is_valid(path)? {
            anyhow::bail!("path `{}` is not valid", store.display(path));
        }
    }
    let Some(chain) = shortest_chain(&store, &from, &to)? else {
        anyhow::bail!(
            "`{}` does not depend on `{}`",
            store.display(&from),
            store.display(&to)
        );
    };
    let mut out = std::io::stdout().lock();
    for (depth, path) in chain.iter().enumerate() {
        let indent = if depth == 0 {
            String::new()
        } else {
            format!("{}└───", "    ".repeat(depth - 1))
        };
        writeln!(out, "{indent}{}", store.display(path))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Returns a shortest chain of references from `from` to `to` (both
/// included), by breadth-first search; `None` if `to` is not in the
/// closure of `from`.
fn shortest_chain(
    store: &Store,
    from: &StorePath,
    to: &StorePath,
) -> anyhow::Result<Option<Vec<StorePath>>> {
    let mut parent: HashMap<StorePath, StorePath> = HashMap::new();
    let mut queue = VecDeque::from([from.clone()]);
    let mut seen = std::collections::HashSet::from([from.clone()]);
    while let Some(path) = queue.pop_front() {
        if &path == to {
            let mut chain = vec![path];
            while let Some(previous) = chain.last().and_then(|last| parent.get(last)) {
                chain.push(previous.clone());
            }
            chain.reverse();
            return Ok(Some(chain));
        }
        for reference in store.db().references(&path)? {
            if seen.insert(reference.clone()) {
                parent.insert(reference.clone(), path.clone());
                queue.push_back(reference);
            }
        }
    }
    Ok(None)
}
