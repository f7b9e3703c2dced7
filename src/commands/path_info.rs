//! `kiln path-info`: what the store records about paths, shaped like
//! `nix path-info [--json]` of Nix 2.8.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use kiln_store::db::PathInfo;
use kiln_store::hash::Encoding;
use kiln_store::store::Store;
use kiln_store::store_path::StorePath;
use serde_json::{Map, Value, json};

use super::store::StoreOptions;

/// Arguments of `kiln path-info`.
#[derive(Debug, Args)]
pub struct PathInfoArgs {
    /// Store paths, paths inside them, or links to them (can be repeated)
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<String>,
    /// Show the whole closure of the paths
    #[arg(short, long)]
    pub recursive: bool,
    /// Print JSON like `nix path-info --json`
    #[arg(long)]
    pub json: bool,
    /// Which store
    #[command(flatten)]
    pub store: StoreOptions,
}

/// Runs `kiln path-info`.
pub fn run(args: &PathInfoArgs) -> anyhow::Result<ExitCode> {
    let store = args.store.open()?;
    let mut paths = BTreeSet::new();
    for text in &args.paths {
        let path = store.resolve(text)?;
        if !store.is_valid(&path)? {
            anyhow::bail!("path `{}` is not valid", store.display(&path));
        }
        paths.insert(path);
    }
    if args.recursive {
        paths = store
            .db()
            .closure(&paths)
            .context("cannot compute the closure")?;
    }
    let mut out = std::io::stdout().lock();
    if !args.json {
        for path in &paths {
            writeln!(out, "{}", store.display(path))?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut list = Vec::with_capacity(paths.len());
    for path in &paths {
        let info = store
            .path_info(path)?
            .with_context(|| format!("path `{}` is not valid", store.display(path)))?;
        list.push(to_json(&store, &info));
    }
    serde_json::to_writer(&mut out, &Value::Array(list))?;
    writeln!(out)?;
    Ok(ExitCode::SUCCESS)
}

/// Renders one path's info with the fields, order and encodings of
/// Nix 2.8's `pathInfoToJSON`: the NAR hash in SRI, absent optional
/// fields left out.
fn to_json(store: &Store, info: &PathInfo) -> Value {
    let mut object = Map::new();
    object.insert("path".into(), json!(store.display(&info.path)));
    object.insert("narHash".into(), json!(info.nar_hash.encode(Encoding::Sri)));
    object.insert("narSize".into(), json!(info.nar_size));
    let references: Vec<String> = info
        .references
        .iter()
        .map(|r: &StorePath| store.display(r))
        .collect();
    object.insert("references".into(), json!(references));
    if let Some(ca) = &info.ca {
        object.insert("ca".into(), json!(ca.to_string()));
    }
    if let Some(deriver) = &info.deriver {
        object.insert("deriver".into(), json!(store.display(deriver)));
    }
    if info.registration_time != 0 {
        object.insert("registrationTime".into(), json!(info.registration_time));
    }
    // Nix marks what it built itself `ultimate` (trusted without
    // signatures); kiln records a deriver only for outputs it built.
    if info.deriver.is_some() {
        object.insert("ultimate".into(), json!(true));
    }
    Value::Object(object)
}
