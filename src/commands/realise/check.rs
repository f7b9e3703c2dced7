//! What `--check` and `--rounds` add to a run's display: how a check that
//! failed differs ([`describe`], [`to_json`]), diffoscope's reports on the
//! two builds when `diffoscope` is on `PATH`, and the closing
//! `checked N outputs: identical` ([`conclude`]).

use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::Context as _;
use kiln_store::realise::check::{CheckReport, OutputCheck};
use kiln_store::realise::job::RealiseError;
use kiln_store::sandbox::Variation;
use kiln_store::schedule::{Graph, Summary};
use kiln_store::store::Store;
use kiln_store::store_path::{StoreDir, StorePath};
use serde_json::{Value, json};

use super::progress::Mode;

/// The program run on the two builds of a differing output.
const DIFFOSCOPE: &str = "diffoscope";

/// Returns the lines telling how a check found a derivation's outputs
/// different: the derivation, each differing output with its differing
/// files, and where the new build is kept.
pub fn describe(report: &CheckReport, store_dir: &StoreDir) -> Vec<String> {
    let mut lines = vec![format!(
        "error: `{}` ({}) is not deterministic: {report}",
        store_dir.display(&report.drv),
        drv_name(&report.drv)
    )];
    for output in report.differing() {
        lines.extend(describe_output(output, store_dir));
    }
    lines
}

/// `, varying clock, umask` for a varied check, nothing otherwise.
pub fn varying(variation: &Variation) -> String {
    if variation.is_none() {
        String::new()
    } else {
        format!(", varying {variation}")
    }
}

/// The varied aspects' names, as JSON.
pub fn variation_json(variation: &Variation) -> Value {
    variation.aspects().map(|aspect| aspect.name()).collect()
}

fn describe_output(output: &OutputCheck, store_dir: &StoreDir) -> Vec<String> {
    let diff = &output.differences;
    let mut lines = vec![format!(
        "  output `{}` (`{}`): NAR hash {} registered, {} now; {} differing files:",
        output.name,
        store_dir.display(&output.path),
        output.registered.to_sri(),
        output.rebuilt.to_sri(),
        diff.total
    )];
    lines.extend(diff.differences.iter().map(|d| format!("    {d}")));
    if diff.omitted() > 0 {
        lines.push(format!("    … and {} more", diff.omitted()));
    }
    if let Some(kept) = &output.kept {
        lines.push(format!("  the new build is kept at `{}`", kept.display()));
    }
    lines
}

/// Returns the `check` JSON event of a check.
pub fn to_json(report: &CheckReport, store_dir: &StoreDir, time: f64) -> Value {
    json!({
        "event": "check",
        "time": time,
        "drv": store_dir.display(&report.drv),
        "name": drv_name(&report.drv),
        "round": report.round,
        "rounds": report.rounds,
        "identical": report.identical(),
        "vary": variation_json(&report.variation),
        "outputs": report.outputs.iter().map(|o| output_json(o, store_dir)).collect::<Vec<_>>(),
    })
}

fn output_json(output: &OutputCheck, store_dir: &StoreDir) -> Value {
    let differences: Vec<Value> = output
        .differences
        .differences
        .iter()
        .map(
            |d| json!({ "path": d.shown_path(), "kind": d.kind.tag(), "text": d.kind.to_string() }),
        )
        .collect();
    json!({
        "output": output.name,
        "path": store_dir.display(&output.path),
        "identical": output.identical(),
        "registeredNarHash": output.registered.to_sri(),
        "rebuiltNarHash": output.rebuilt.to_sri(),
        "differences": differences,
        "differing": output.differences.total,
        "kept": output.kept.as_ref().map(|kept| kept.display().to_string()),
    })
}

/// Returns a derivation's name without `.drv`.
pub fn drv_name(drv: &StorePath) -> &str {
    drv.name().trim_end_matches(".drv")
}

/// Ends a run with checks: runs diffoscope on each differing output kept
/// (when it is on `PATH`), printing where its reports are, and says so
/// when every check passed.
pub fn conclude(store: &Store, graph: &Graph, summary: &Summary, mode: Mode) -> anyhow::Result<()> {
    let diffoscope = find_on_path(DIFFOSCOPE);
    for (_, error) in &summary.failed {
        let RealiseError::NotDeterministic(report) = error else {
            continue;
        };
        for output in report.differing() {
            if let (Some(program), Some(kept)) = (&diffoscope, &output.kept) {
                let registered = store.physical(&output.path);
                report_diffoscope(
                    store,
                    output,
                    run_diffoscope(program, &registered, kept, kept),
                    mode,
                )?;
            }
        }
    }
    if summary.success() && !summary.checked.is_empty() && matches!(mode, Mode::Live | Mode::Plain)
    {
        let outputs: usize = graph
            .nodes
            .iter()
            .filter(|node| summary.checked.contains(&node.drv_path))
            .map(|node| node.drv.outputs.len())
            .sum();
        writeln!(std::io::stderr(), "checked {outputs} outputs: identical")?;
    }
    Ok(())
}

/// Prints where diffoscope wrote its reports, or why it could not.
fn report_diffoscope(
    store: &Store,
    output: &OutputCheck,
    reports: anyhow::Result<(PathBuf, PathBuf)>,
    mode: Mode,
) -> anyhow::Result<()> {
    let mut err = std::io::stderr().lock();
    let path = store.display(&output.path);
    match (reports, mode) {
        (Ok((text, html)), Mode::Json) => {
            let event = json!({
                "event": "diffoscope", "path": path,
                "text": text.display().to_string(), "html": html.display().to_string(),
            });
            writeln!(err, "{event}")?;
        }
        (Ok((text, html)), _) => writeln!(
            err,
            "diffoscope's reports on `{path}`: `{}` and `{}`",
            text.display(),
            html.display()
        )?,
        (Err(error), Mode::Json) => {
            let event =
                json!({ "event": "diffoscope", "path": path, "error": format!("{error:#}") });
            writeln!(err, "{event}")?;
        }
        (Err(error), _) => writeln!(err, "warning: {error:#}")?,
    }
    Ok(())
}

/// Runs diffoscope on two builds (the registered output and the kept
/// build of a check), writing `<base>.diffoscope.txt` and
/// `<base>.diffoscope.html`; returns them.
pub fn run_diffoscope(
    program: &Path,
    registered: &Path,
    kept: &Path,
    base: &Path,
) -> anyhow::Result<(PathBuf, PathBuf)> {
    let text = with_suffix(base, ".diffoscope.txt");
    let html = with_suffix(base, ".diffoscope.html");
    let output = Command::new(program)
        .arg("--text")
        .arg(&text)
        .arg("--html")
        .arg(&html)
        .arg(registered)
        .arg(kept)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run `{}`", program.display()))?;
    // 0: no differences, 1: differences; anything else is a failure.
    if !matches!(output.status.code(), Some(0 | 1)) {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr.lines().last().unwrap_or_default();
        anyhow::bail!(
            "diffoscope failed on `{}` ({}): {last}",
            kept.display(),
            output.status
        );
    }
    Ok((text, html))
}

/// Returns `path` with `suffix` appended to its file name.
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Returns the first executable file named `program` in `PATH`.
pub fn find_on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| {
            std::fs::metadata(candidate)
                .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
        })
}

#[cfg(test)]
mod tests {
    use kiln_store::hash::Hash;
    use kiln_store::realise::diff::{Difference, DifferenceKind, TreeDiff};

    use super::*;

    #[test]
    fn a_difference_names_the_derivation_the_files_and_the_kept_build() {
        let path = |name: &str| {
            StorePath::from_base_name(&format!("7rjj86a15146cq1d3qy068lml7n8ykzm-{name}")).unwrap()
        };
        let report = CheckReport {
            drv: path("nondet.drv"),
            round: 1,
            rounds: 1,
            variation: Variation::none(),
            cause: None,
            outputs: vec![OutputCheck {
                name: "out".to_owned(),
                path: path("nondet"),
                registered: Hash::sha256(b"a"),
                rebuilt: Hash::sha256(b"b"),
                differences: TreeDiff {
                    differences: vec![Difference {
                        path: PathBuf::from("random"),
                        kind: DifferenceKind::Contents,
                    }],
                    total: 3,
                },
                kept: Some(PathBuf::from("/s/store/x.check")),
            }],
        };
        let lines = describe(&report, &StoreDir::default());
        assert_eq!(
            lines[0],
            "error: `/nix/store/7rjj86a15146cq1d3qy068lml7n8ykzm-nondet.drv` (nondet) is not \
             deterministic: output `out` differs from the registered one (check 1 of 1)"
        );
        assert!(lines[1].ends_with("3 differing files:"), "{lines:?}");
        assert_eq!(lines[2], "    random: contents differ");
        assert_eq!(lines[3], "    … and 2 more");
        assert_eq!(lines[4], "  the new build is kept at `/s/store/x.check`");
        let json = to_json(&report, &StoreDir::default(), 0.0);
        assert_eq!(json["identical"], false);
        assert_eq!(json["outputs"][0]["differences"][0]["kind"], "contents");
        assert_eq!(json["outputs"][0]["kept"], "/s/store/x.check");
    }

    #[test]
    fn reports_are_named_after_the_kept_build() {
        assert_eq!(
            with_suffix(Path::new("/s/store/h-x.check"), ".diffoscope.txt"),
            Path::new("/s/store/h-x.check.diffoscope.txt")
        );
    }
}
