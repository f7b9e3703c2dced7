//! `kiln provenance RESULT…`: an in-toto statement (v1) with a SLSA
//! provenance predicate (v1) for built outputs: what was built (every
//! file of the outputs, by sha256), from what (every download of the
//! derivations' closure with its URL and pinned digest, every source
//! added from a local path, the recipe library's digest), and how (the
//! derivations, kiln's version). See docs/verify.md.
//!
//! The statement holds no time and no host name: the same outputs built
//! from the same inputs give the same file.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use kiln_store::derivation::{Derivation, FixedOutputHash};
use kiln_store::hash::{Encoding, Hash};
use kiln_store::schedule::graph::load_drv;
use kiln_store::store::Store;
use kiln_store::store_path::{FileIngestionMethod, StorePath};
use serde_json::{Value, json};

use super::store::StoreOptions;
use super::verify::{regular_files, sha256_file};

/// `_type` of an in-toto statement, version 1.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// `predicateType` of SLSA provenance, version 1.
pub const PREDICATE_TYPE: &str = "https://slsa.dev/provenance/v1";
/// kiln's `buildType`: a flake output built by kiln from pinned inputs.
pub const BUILD_TYPE: &str = "urn:kiln:build-type:flake-build:v1";
/// The builder's id.
pub const BUILDER_ID: &str = "urn:kiln:builder:local";
/// The digest key of a NAR serialisation's sha256 (a recursive hash).
pub const NAR_DIGEST: &str = "nixNarSha256";

/// Arguments of `kiln provenance`.
#[derive(Debug, Args)]
pub struct ProvenanceArgs {
    /// The built outputs: `result` links or store paths
    #[arg(required = true, value_name = "RESULT")]
    pub results: Vec<String>,
    /// The flake output they were built from (`DIR#NAME`), recorded as
    /// the build's parameter (and used by `kiln verify --provenance`)
    #[arg(long, value_name = "DIR#OUTPUT")]
    pub flake: Option<String>,
    /// Write the statement to FILE instead of stdout
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Which store
    #[command(flatten)]
    pub store: StoreOptions,
}

/// Runs `kiln provenance`.
pub fn run(args: &ProvenanceArgs) -> anyhow::Result<ExitCode> {
    let store = args.store.open()?;
    let mut outputs = Vec::new();
    let mut drvs = Vec::new();
    for text in &args.results {
        let path = store.resolve(text)?;
        let info = store
            .path_info(&path)?
            .with_context(|| format!("`{}` is not valid in the store", store.display(&path)))?;
        let drv = info.deriver.with_context(|| {
            format!(
                "`{}` has no deriver: it was not built here",
                store.display(&path)
            )
        })?;
        outputs.push(path);
        drvs.push(drv);
    }
    let statement = statement(&store, &outputs, &drvs, args.flake.as_deref())?;
    let text = serde_json::to_string_pretty(&statement)? + "\n";
    match &args.output {
        Some(file) => fs_err::write(file, text)?,
        None => std::io::stdout().lock().write_all(text.as_bytes())?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Everything the derivations below some roots were built from.
#[derive(Debug, Default)]
pub struct Inputs {
    /// Every derivation of the closure.
    pub drvs: BTreeSet<StorePath>,
    /// The downloads: fixed-output derivations, by path.
    pub fetched: BTreeMap<StorePath, Derivation>,
    /// Store paths the derivations name directly (sources added from
    /// local paths, `toFile` texts).
    pub sources: BTreeSet<StorePath>,
}

/// Walks the derivations below `roots` (every one, built or not).
pub fn inputs(store: &Store, roots: &[StorePath]) -> anyhow::Result<Inputs> {
    let mut found = Inputs::default();
    let mut stack: Vec<StorePath> = roots.to_vec();
    while let Some(drv_path) = stack.pop() {
        if !found.drvs.insert(drv_path.clone()) {
            continue;
        }
        let drv = load_drv(store, &drv_path)?;
        stack.extend(drv.input_drvs.keys().cloned());
        found.sources.extend(drv.input_srcs.iter().cloned());
        if drv.fixed_output().is_some() {
            found.fetched.insert(drv_path, drv);
        }
    }
    Ok(found)
}

/// The digest set of a pinned hash: `sha256` (hex) for a flat file,
/// [`NAR_DIGEST`] for a tree.
fn digest_set(fixed: &FixedOutputHash) -> Value {
    let key = match fixed.method {
        FileIngestionMethod::Flat => fixed.hash.algo().to_string(),
        FileIngestionMethod::Recursive => NAR_DIGEST.to_owned(),
    };
    json!({ key: fixed.hash.encode(Encoding::Base16) })
}

/// One resolved dependency per download: its first URL, its digest, and
/// its mirrors and store path as annotations.
pub fn fetched_dependencies(store: &Store, inputs: &Inputs) -> Vec<Value> {
    let mut deps = Vec::new();
    for (drv_path, drv) in &inputs.fetched {
        let Some(fixed) = drv.fixed_output() else {
            continue;
        };
        let mut urls: Vec<&str> = drv.env.get("url").map(String::as_str).into_iter().collect();
        if let Some(more) = drv.env.get("urls") {
            urls.extend(more.split_whitespace());
        }
        let name = drv_path.name().trim_end_matches(".drv");
        let mut digest = digest_set(fixed);
        // A git crate (crates.fetchGitCrate): the commit it was fetched at.
        if let Some(rev) = drv.env.get("rev").filter(|r| is_commit(r)) {
            digest["gitCommit"] = json!(rev);
        }
        let mut dep = json!({
            "name": name,
            "digest": digest,
            "annotations": {
                "kind": "download",
                "storePath": drv.outputs.get("out").and_then(|o| o.path.as_ref()).map(|p| store.display(p)),
            },
        });
        if let Some(first) = urls.first() {
            dep["uri"] = json!(first);
            dep["annotations"]["mirrors"] = json!(urls[1..]);
        }
        deps.push(dep);
    }
    deps
}

/// One resolved dependency per source the derivations name: its store
/// path and its NAR's sha256.
fn source_dependencies(store: &Store, inputs: &Inputs) -> anyhow::Result<Vec<Value>> {
    let mut deps = Vec::new();
    for path in &inputs.sources {
        let info = store
            .path_info(path)?
            .with_context(|| format!("the source `{}` is not valid", store.display(path)))?;
        deps.push(json!({
            "name": path.name(),
            "digest": { NAR_DIGEST: nar_hex(&info.nar_hash) },
            "annotations": { "kind": "source", "storePath": store.display(path) },
        }));
    }
    Ok(deps)
}

/// Whether `rev` is a full git commit hash (40 lowercase hex digits).
fn is_commit(rev: &str) -> bool {
    rev.len() == 40 && rev.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn nar_hex(hash: &Hash) -> String {
    hash.encode(Encoding::Base16)
}

/// The subjects: every regular file of the outputs, named
/// `<output name>/<relative path>` (the output's name alone for a file).
fn subjects(store: &Store, outputs: &[StorePath]) -> anyhow::Result<Vec<Value>> {
    let mut subjects = Vec::new();
    for output in outputs {
        let physical = store.physical(output);
        let single = fs_err::symlink_metadata(&physical)?.is_file();
        for (relative, file) in regular_files(&physical)? {
            let name = if single {
                output.name().to_owned()
            } else {
                format!("{}/{}", output.name(), relative.display())
            };
            let (digest, _) = sha256_file(&file)?;
            subjects.push(json!({
                "name": name,
                "digest": { "sha256": digest.encode(Encoding::Base16) },
            }));
        }
    }
    Ok(subjects)
}

/// Builds the statement for `outputs`, built by `drvs`.
pub fn statement(
    store: &Store,
    outputs: &[StorePath],
    drvs: &[StorePath],
    flake: Option<&str>,
) -> anyhow::Result<Value> {
    let inputs = inputs(store, drvs)?;
    let recipes = match std::env::var_os("KILN_RECIPES") {
        // Recipes from a checkout: named by where they are.
        Some(dir) => json!({
            "name": "kiln recipes",
            "uri": format!("file://{}", PathBuf::from(dir).display()),
            "annotations": { "kind": "recipes" },
        }),
        None => json!({
            "name": "kiln recipes",
            "digest": { "sha256": crate::recipes::digest_hex() },
            "annotations": { "kind": "recipes", "embeddedIn": format!("kiln {}", env!("CARGO_PKG_VERSION")) },
        }),
    };
    let mut resolved = vec![recipes];
    resolved.extend(fetched_dependencies(store, &inputs));
    resolved.extend(source_dependencies(store, &inputs)?);
    let built: Vec<Value> = outputs
        .iter()
        .zip(drvs)
        .map(|(output, drv)| {
            let nar = store
                .path_info(output)
                .ok()
                .flatten()
                .map(|i| nar_hex(&i.nar_hash));
            json!({ "drv": store.display(drv), "path": store.display(output), NAR_DIGEST: nar })
        })
        .collect();
    let mut external = json!({ "outputs": built });
    if let Some(flake) = flake {
        external["flake"] = json!(flake);
    }
    Ok(json!({
        "_type": STATEMENT_TYPE,
        "subject": subjects(store, outputs)?,
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "buildDefinition": {
                "buildType": BUILD_TYPE,
                "externalParameters": external,
                "internalParameters": {
                    "storeDir": store.store_dir().as_str(),
                    "derivations": inputs.drvs.len(),
                },
                "resolvedDependencies": resolved,
            },
            "runDetails": {
                "builder": {
                    "id": BUILDER_ID,
                    "version": { "kiln": env!("CARGO_PKG_VERSION") },
                },
            },
        },
    }))
}
