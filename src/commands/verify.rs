//! `kiln verify ARTIFACT --flake DIR#OUTPUT`: does a published binary (or
//! tree) come from its pinned source?
//!
//! 1. The artifact is read: a file or a directory here, or a URL downloaded
//!    and checked against the digest given with `--hash`.
//! 2. The flake output is built from its pinned inputs, as `kiln build`
//!    builds it (nothing is fetched when everything is in the store
//!    already; `--offline` forbids fetching; `--check`/`--vary` rebuild it
//!    even when it is in the store).
//! 3. The two are compared. A file matches when one of the output's files
//!    (of any selected target) has the same bytes: first the files with
//!    the artifact's name, then any. A directory matches when it is the
//!    output's tree. Exit 0 only when identical; otherwise kiln says what
//!    differs (sizes, digests, the first differing byte, or the differing
//!    files) and, when `diffoscope` is on `PATH`, writes its reports.
//!
//! With `--provenance FILE` (from `kiln provenance`), the artifact must be
//! one of the statement's subjects, the flake output defaults to the one
//! it names, and the new build's downloads must be exactly the ones it
//! lists. See docs/verify.md.

use std::collections::BTreeSet;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use clap::Args;
use kiln_flake::FlakeRef;
use kiln_store::derivation::FixedOutputHash;
use kiln_store::fetch::{FetchConfig, FetchRequest, Fetcher, NoReporter};
use kiln_store::hash::{Encoding, Hash, HashAlgo, Hasher};
use kiln_store::realise::check::DIFF_LIMIT;
use kiln_store::realise::diff::compare_trees;
use kiln_store::store::Store;
use kiln_store::store_path::{FileIngestionMethod, StorePath};
use serde_json::Value;

use super::flake_build::{instantiate_flake, realise_built};
use super::provenance::{self, PREDICATE_TYPE, STATEMENT_TYPE};
use super::realise::{BuildFlags, code_or_reported};
use super::store::StoreOptions;
use crate::error::AlreadyReported;

/// Arguments of `kiln verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The artifact to verify: a file, a directory (an OCI image layout
    /// is compared as an image), an http(s) URL (with --hash), or an image
    /// in a registry as `docker://REGISTRY/REPOSITORY[:TAG|@DIGEST]`
    #[arg(value_name = "ARTIFACT")]
    pub artifact: String,
    /// Read a `docker://` image over plain HTTP (a registry on loopback)
    #[arg(long)]
    pub insecure: bool,
    /// The flake output the artifact should be (`DIR#NAME[.TARGET]`);
    /// with --provenance, the one the statement names by default
    #[arg(
        long,
        value_name = "DIR#OUTPUT",
        required_unless_present = "provenance"
    )]
    pub flake: Option<String>,
    /// A provenance statement (`kiln provenance`): the artifact must be
    /// one of its subjects, and the rebuild must use exactly the inputs it
    /// lists
    #[arg(long, value_name = "FILE")]
    pub provenance: Option<PathBuf>,
    /// The digest a downloaded artifact must have (`sha256-…` or
    /// `sha256:…`); required for a URL
    #[arg(long, value_name = "HASH")]
    pub hash: Option<String>,
    /// Never fetch: everything the build needs must be in the store
    #[arg(long)]
    pub offline: bool,
    /// Where to write diffoscope's reports when the artifact differs
    /// [default: a new directory under the system's temporary directory]
    #[arg(long, value_name = "DIR")]
    pub report_dir: Option<PathBuf>,
    /// How to build
    #[command(flatten)]
    pub build: BuildFlags,
    /// Which store
    #[command(flatten)]
    pub store: StoreOptions,
}

/// One built output the artifact is compared with.
struct Candidate {
    /// `uv.x86_64`.
    label: String,
    /// Its store path.
    path: StorePath,
    /// Where its files are.
    physical: PathBuf,
}

/// Runs `kiln verify`.
pub fn run(args: &VerifyArgs) -> anyhow::Result<ExitCode> {
    let download = tempfile::TempDir::new().context("cannot make a temporary directory")?;
    let artifact = artifact(args, download.path())?;
    // A registry's image is compared by its blobs; its index.json is ours.
    let pulled = args.artifact.starts_with(DOCKER_PREFIX);
    let claimed = match &args.provenance {
        Some(file) => Some(Claimed::read(file)?),
        None => None,
    };
    let flake = match (&args.flake, &claimed) {
        (Some(flake), _) => flake.clone(),
        (None, Some(claimed)) => claimed.flake.clone().with_context(
            || "the provenance names no flake output (externalParameters.flake): give --flake",
        )?,
        (None, None) => bail!("give --flake or --provenance"),
    };
    if let Some(claimed) = &claimed {
        claimed.covers(&if pulled {
            artifact.join("blobs")
        } else {
            artifact.clone()
        })?;
    }
    let store = Arc::new(args.store.open()?);
    let reference = FlakeRef::parse(&flake);
    let built = instantiate_flake(&reference, &store, &args.build, args.offline)?;
    if let Some(claimed) = &claimed {
        let drvs: Vec<StorePath> = built.iter().map(|b| b.drv.clone()).collect();
        claimed.same_inputs(&store, &drvs)?;
    }
    let outputs = match realise_built(&store, &built, &args.build, args.offline)? {
        Ok(outputs) => outputs,
        Err(code) => return code_or_reported(code),
    };
    let candidates: Vec<Candidate> = built
        .iter()
        .zip(outputs)
        .map(|(b, path)| Candidate {
            label: b.selected.label(),
            physical: store.physical(&path),
            path,
        })
        .collect();
    let meta = fs_err::metadata(&artifact)?;
    let verdict = if meta.is_dir() && artifact.join("oci-layout").is_file() {
        compare_image(&store, &artifact, &candidates)?
    } else if meta.is_dir() {
        compare_tree(&store, &artifact, &candidates)?
    } else {
        compare_file(&store, &artifact, &candidates)?
    };
    let mut out = std::io::stdout().lock();
    match verdict {
        Verdict::Identical(text) => {
            writeln!(out, "identical: {} {text}", args.artifact)?;
            Ok(ExitCode::SUCCESS)
        }
        Verdict::Different { lines, pairs } => {
            let mut err = std::io::stderr().lock();
            writeln!(err, "error: {} is not what {flake} builds", args.artifact)?;
            for line in lines {
                writeln!(err, "  {line}")?;
            }
            diffoscope(args, &pairs, &mut err)?;
            Err(AlreadyReported.into())
        }
    }
}

/// What a provenance statement claims.
struct Claimed {
    /// The file it was read from.
    file: PathBuf,
    /// The subjects' sha256 digests (hex).
    subjects: BTreeSet<String>,
    /// `externalParameters.flake`.
    flake: Option<String>,
    /// The downloads: (URI, digest set as JSON text).
    downloads: BTreeSet<(String, String)>,
}

impl Claimed {
    /// Reads and checks the shape of a statement.
    fn read(file: &Path) -> anyhow::Result<Claimed> {
        let text = fs_err::read_to_string(file)?;
        let value: Value = serde_json::from_str(&text)
            .with_context(|| format!("`{}` is not JSON", file.display()))?;
        if value["_type"] != STATEMENT_TYPE || value["predicateType"] != PREDICATE_TYPE {
            bail!(
                "`{}` is not an in-toto statement with SLSA provenance v1 (`_type` {STATEMENT_TYPE}, `predicateType` {PREDICATE_TYPE})",
                file.display()
            );
        }
        let subjects = value["subject"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s["digest"]["sha256"].as_str().map(str::to_owned))
            .collect();
        let definition = &value["predicate"]["buildDefinition"];
        let flake = definition["externalParameters"]["flake"]
            .as_str()
            .map(str::to_owned);
        let downloads = definition["resolvedDependencies"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|d| d["annotations"]["kind"] == "download")
            .map(download_key)
            .collect();
        Ok(Claimed {
            file: file.to_owned(),
            subjects,
            flake,
            downloads,
        })
    }

    /// Fails unless every file of the artifact is a subject.
    fn covers(&self, artifact: &Path) -> anyhow::Result<()> {
        for (relative, file) in regular_files(artifact)? {
            let (digest, _) = sha256_file(&file)?;
            let hex = digest.encode(Encoding::Base16);
            if !self.subjects.contains(&hex) {
                bail!(
                    "`{}` (sha256 {hex}) is not a subject of the provenance `{}`",
                    relative.display(),
                    self.file.display()
                );
            }
        }
        Ok(())
    }

    /// Fails unless the derivations below `drvs` download exactly what the
    /// statement lists, naming every difference.
    fn same_inputs(&self, store: &Store, drvs: &[StorePath]) -> anyhow::Result<()> {
        let inputs = provenance::inputs(store, drvs)?;
        let ours: BTreeSet<(String, String)> = provenance::fetched_dependencies(store, &inputs)
            .iter()
            .map(download_key)
            .collect();
        let missing: Vec<String> = self.downloads.difference(&ours).map(show_key).collect();
        let extra: Vec<String> = ours.difference(&self.downloads).map(show_key).collect();
        if missing.is_empty() && extra.is_empty() {
            return Ok(());
        }
        let mut text = format!(
            "this build does not use exactly the inputs the provenance `{}` lists",
            self.file.display()
        );
        for line in &missing {
            text.push_str(&format!("\n  listed, not used: {line}"));
        }
        for line in &extra {
            text.push_str(&format!("\n  used, not listed: {line}"));
        }
        bail!(text)
    }
}

/// A download's identity in a statement: its URI and digest set.
fn download_key(dep: &Value) -> (String, String) {
    (
        dep["uri"].as_str().unwrap_or_default().to_owned(),
        dep["digest"].to_string(),
    )
}

fn show_key((uri, digest): &(String, String)) -> String {
    format!("{uri} {digest}")
}

/// Returns the artifact's local path: the path given, or the URL
/// downloaded into `dir` and checked against `--hash`.
/// How a registry's image is named on the command line.
const DOCKER_PREFIX: &str = "docker://";

fn artifact(args: &VerifyArgs, dir: &Path) -> anyhow::Result<PathBuf> {
    let text = &args.artifact;
    if let Some(reference) = text.strip_prefix(DOCKER_PREFIX) {
        return pull_image(reference, args.insecure, dir);
    }
    if args.insecure {
        bail!("--insecure is for a `docker://` image in a registry on loopback");
    }
    if !(text.starts_with("http://") || text.starts_with("https://")) {
        let path = PathBuf::from(text);
        fs_err::metadata(&path).with_context(|| format!("cannot read the artifact `{text}`"))?;
        return Ok(path);
    }
    let Some(hash) = &args.hash else {
        bail!(
            "`{text}` is a URL: give its expected digest with --hash (for example --hash sha256-…)"
        );
    };
    let hash = Hash::parse(hash, None)
        .or_else(|_| Hash::parse(hash, Some(HashAlgo::Sha256)))
        .with_context(|| format!("--hash `{hash}` is not a hash"))?;
    let name = text
        .rsplit('/')
        .next()
        .filter(|name| !name.is_empty())
        .unwrap_or("artifact");
    let out = dir.join(name);
    let fetcher =
        Fetcher::new(&FetchConfig::from_env()).context("cannot set up the HTTP client")?;
    let request = FetchRequest {
        urls: vec![text.clone()],
        expected: FixedOutputHash {
            method: FileIngestionMethod::Flat,
            hash,
        },
        executable: false,
    };
    fetcher
        .fetch(&request, &out, &NoReporter)
        .with_context(|| format!("cannot download the artifact `{text}`"))?;
    Ok(out)
}

/// Pulls a registry's image into an OCI layout under `dir`, every blob
/// checked against its digest. Credentials come from the docker
/// configuration, as for `kiln image push`.
#[expect(clippy::print_stderr, reason = "progress of the pull")]
fn pull_image(text: &str, insecure: bool, dir: &Path) -> anyhow::Result<PathBuf> {
    let reference = kiln_image::Reference::parse(text)?;
    let options = kiln_image::registry::Options {
        insecure,
        credentials: kiln_image::auth::lookup(None, &reference.registry)?,
    };
    let mut registry = kiln_image::registry::Registry::connect(&reference, &options)
        .with_context(|| format!("cannot read `{reference}`"))?;
    let out = dir.join("image");
    let digest = kiln_image::pull::pull(&mut registry, &reference, &out)
        .with_context(|| format!("cannot pull `{reference}`"))?;
    eprintln!(
        "pulled {reference} ({digest}): {} request(s)",
        registry.stats.requests
    );
    Ok(out)
}

/// What the comparison found.
enum Verdict {
    /// The artifact is one of the outputs or one of their files (the text
    /// says which).
    Identical(String),
    /// It is none of them: what differs, and the pairs (built, artifact)
    /// worth a diffoscope report.
    Different {
        lines: Vec<String>,
        pairs: Vec<(PathBuf, PathBuf)>,
    },
}

/// Compares a file with every file of the outputs.
fn compare_file(
    store: &Store,
    artifact: &Path,
    candidates: &[Candidate],
) -> anyhow::Result<Verdict> {
    let (digest, size) = sha256_file(artifact)?;
    let name = artifact.file_name().map(|n| n.to_owned());
    let mut same_name = Vec::new();
    let mut others = Vec::new();
    for candidate in candidates {
        for (relative, file) in regular_files(&candidate.physical)? {
            let (built, built_size) = sha256_file(&file)?;
            let shown = format!(
                "`{}` of {} (`{}/{}`)",
                relative.display(),
                candidate.label,
                store.display(&candidate.path),
                relative.display()
            );
            if built == digest {
                return Ok(Verdict::Identical(format!("is {shown}")));
            }
            if file.file_name().map(|n| n.to_owned()) == name {
                same_name.push((shown, file, built, built_size));
            } else {
                others.push((shown, file, built, built_size));
            }
        }
    }
    let mut lines = vec![format!("the artifact: {size} bytes, {}", digest.to_sri())];
    // Compared with the built files of the same name, or with every one
    // when none has the artifact's name.
    let compared = if same_name.is_empty() {
        lines.push("no built file has the artifact's name; every one differs:".to_owned());
        others
    } else {
        same_name
    };
    let mut pairs = Vec::new();
    for (shown, file, built, built_size) in compared {
        let offset = first_difference(artifact, &file)?;
        let at = offset.map_or_else(String::new, |o| format!("; first difference at byte {o}"));
        lines.push(format!(
            "{shown}: {built_size} bytes, {}{at}",
            built.to_sri()
        ));
        pairs.push((file, artifact.to_owned()));
    }
    Ok(Verdict::Different { lines, pairs })
}

/// Compares a directory with each output's tree.
fn compare_tree(
    store: &Store,
    artifact: &Path,
    candidates: &[Candidate],
) -> anyhow::Result<Verdict> {
    let mut lines = Vec::new();
    let mut pairs = Vec::new();
    for candidate in candidates {
        let diff = compare_trees(&candidate.physical, artifact, DIFF_LIMIT)?;
        if diff.total == 0 {
            return Ok(Verdict::Identical(format!(
                "is the tree of {} (`{}`)",
                candidate.label,
                store.display(&candidate.path)
            )));
        }
        lines.push(format!(
            "{} (`{}`): {} differing files (\"registered\" is the build, \"rebuilt\" the artifact):",
            candidate.label,
            store.display(&candidate.path),
            diff.total
        ));
        lines.extend(diff.differences.iter().map(|d| format!("  {d}")));
        if diff.omitted() > 0 {
            lines.push(format!("  … and {} more", diff.omitted()));
        }
        pairs.push((candidate.physical.clone(), artifact.to_owned()));
    }
    Ok(Verdict::Different { lines, pairs })
}

/// Compares an OCI image layout with each output that is one, as images:
/// the same image digest is the same image, whatever `index.json` names
/// it; otherwise the platforms' manifests, config fields and layers that
/// differ.
fn compare_image(
    store: &Store,
    artifact: &Path,
    candidates: &[Candidate],
) -> anyhow::Result<Verdict> {
    let theirs = kiln_image::layout::Layout::open(artifact)?;
    let mut lines = Vec::new();
    let mut pairs = Vec::new();
    for candidate in candidates {
        let Ok(ours) = kiln_image::layout::Layout::open(&candidate.physical) else {
            lines.push(format!("{} is not an image", candidate.label));
            continue;
        };
        let comparison = kiln_image::compare::compare(&ours, &theirs)?;
        if comparison.identical {
            return Ok(Verdict::Identical(format!(
                "is the image {} ({}, `{}`)",
                candidate.label,
                comparison.digest,
                store.display(&candidate.path)
            )));
        }
        lines.push(format!(
            "{} (`{}`):",
            candidate.label,
            store.display(&candidate.path)
        ));
        lines.extend(comparison.lines.iter().map(|l| format!("  {l}")));
        pairs.extend(comparison.pairs);
    }
    Ok(Verdict::Different { lines, pairs })
}

/// Every regular file under `root` (or `root` itself when it is one),
/// with its path relative to `root`, in name order.
pub fn regular_files(root: &Path) -> anyhow::Result<Vec<(PathBuf, PathBuf)>> {
    let meta = fs_err::symlink_metadata(root)?;
    if meta.is_file() {
        let name = root.file_name().map(PathBuf::from).unwrap_or_default();
        return Ok(vec![(name, root.to_owned())]);
    }
    let mut found = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(relative) = stack.pop() {
        let mut entries: Vec<_> =
            fs_err::read_dir(root.join(&relative))?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|entry| std::cmp::Reverse(entry.file_name()));
        for entry in entries {
            let path = relative.join(entry.file_name());
            let kind = entry.file_type()?;
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file() {
                found.push((path.clone(), root.join(path)));
            }
        }
    }
    found.sort();
    Ok(found)
}

/// The sha256 and size of a file.
pub fn sha256_file(path: &Path) -> anyhow::Result<(Hash, u64)> {
    let mut file = fs_err::File::open(path)?;
    let mut hasher = Hasher::new(HashAlgo::Sha256);
    let mut buffer = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        size += n as u64;
    }
    Ok((hasher.finish(), size))
}

/// The offset of the first byte where two files differ (one ending early
/// counts), or nothing when they are equal.
fn first_difference(a: &Path, b: &Path) -> anyhow::Result<Option<u64>> {
    let mut a = std::io::BufReader::new(fs_err::File::open(a)?);
    let mut b = std::io::BufReader::new(fs_err::File::open(b)?);
    let (mut left, mut right) = (vec![0u8; 1 << 16], vec![0u8; 1 << 16]);
    let mut offset = 0u64;
    loop {
        let n = read_full(&mut a, &mut left)?;
        let m = read_full(&mut b, &mut right)?;
        let common = n.min(m);
        if let Some(i) = (0..common).find(|&i| left[i] != right[i]) {
            return Ok(Some(offset + i as u64));
        }
        if n != m {
            return Ok(Some(offset + common as u64));
        }
        if n == 0 {
            return Ok(None);
        }
        offset += n as u64;
    }
}

/// Reads until `buffer` is full or the input ends.
fn read_full(reader: &mut impl std::io::Read, buffer: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match reader.read(&mut buffer[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// Runs diffoscope on each pair when it is on `PATH`, writing its reports
/// into `--report-dir` (or a new temporary directory), and says where.
fn diffoscope(
    args: &VerifyArgs,
    pairs: &[(PathBuf, PathBuf)],
    err: &mut dyn std::io::Write,
) -> anyhow::Result<()> {
    let Some(program) = super::realise::check::find_on_path("diffoscope") else {
        if !pairs.is_empty() {
            writeln!(err, "(install diffoscope for a report on the differences)")?;
        }
        return Ok(());
    };
    if pairs.is_empty() {
        return Ok(());
    }
    let dir = match &args.report_dir {
        Some(dir) => {
            fs_err::create_dir_all(dir)?;
            dir.clone()
        }
        None => tempfile::Builder::new()
            .prefix("kiln-verify-")
            .tempdir()?
            .keep(),
    };
    for (i, (built, artifact)) in pairs.iter().enumerate() {
        let base = dir.join(format!("report-{}", i + 1));
        match super::realise::check::run_diffoscope(&program, built, artifact, &base) {
            Ok((text, html)) => writeln!(
                err,
                "diffoscope's reports: `{}` and `{}`",
                text.display(),
                html.display()
            )?,
            Err(error) => writeln!(err, "warning: {error:#}")?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_difference_is_found_at_any_offset() {
        let dir = tempfile::TempDir::new().unwrap();
        let write = |name: &str, bytes: &[u8]| {
            let path = dir.path().join(name);
            fs_err::write(&path, bytes).unwrap();
            path
        };
        let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let mut flipped = big.clone();
        flipped[150_001] ^= 1;
        let a = write("a", &big);
        assert_eq!(first_difference(&a, &write("same", &big)).unwrap(), None);
        assert_eq!(
            first_difference(&a, &write("flipped", &flipped)).unwrap(),
            Some(150_001)
        );
        assert_eq!(
            first_difference(&a, &write("short", &big[..70_000])).unwrap(),
            Some(70_000)
        );
        assert_eq!(first_difference(&write("empty", b""), &a).unwrap(), Some(0));
    }

    #[test]
    fn regular_files_are_listed_relative_and_in_order() {
        let dir = tempfile::TempDir::new().unwrap();
        let root = dir.path();
        fs_err::create_dir_all(root.join("bin/sub")).unwrap();
        fs_err::write(root.join("bin/uv"), b"x").unwrap();
        fs_err::write(root.join("bin/sub/uvx"), b"y").unwrap();
        fs_err::write(root.join("README"), b"z").unwrap();
        std::os::unix::fs::symlink("uv", root.join("bin/link")).unwrap();
        let found: Vec<PathBuf> = regular_files(root)
            .unwrap()
            .into_iter()
            .map(|(relative, _)| relative)
            .collect();
        assert_eq!(
            found,
            [
                PathBuf::from("README"),
                PathBuf::from("bin/sub/uvx"),
                PathBuf::from("bin/uv")
            ]
        );
        let single = regular_files(&root.join("bin/uv")).unwrap();
        assert_eq!(single, [(PathBuf::from("uv"), root.join("bin/uv"))]);
    }
}
