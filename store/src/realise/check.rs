//! Checking that a derivation builds the same outputs again, bit for bit
//! (`kiln build --check`, `--rounds N`), as `nix-build --check` does.
//!
//! A check builds a derivation whose outputs are valid once more, exactly
//! as [`super::job`] builds it (same builder, inputs, sandbox and log),
//! into scratch space. Each new output is canonicalised and serialised as
//! registration would do it (a fixed output must have its declared hash,
//! as usual), and its NAR hash is compared with the registered one.
//! Nothing is registered and the registered outputs are not touched: the
//! database does not change.
//!
//! When an output differs, [`compare_trees`] lists the differing files and
//! the new build is kept beside the registered one, for inspection, as
//! `store/<hash>-<name>.check` ([`Layout::check_object`]), replacing an
//! older one. It is not valid; [`Store::open`] leaves it alone and
//! `kiln gc` removes it. Everything else the check wrote in scratch space
//! is removed.
//!
//! The check holds the locks of the outputs while it runs, so two checks
//! of one derivation never write the same `.check` at once.
//!
//! [`Layout::check_object`]: crate::layout::Layout::check_object
//! [`Store::open`]: crate::store::Store::open

use std::collections::BTreeSet;
use std::fmt;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use super::PendingOutput;
use super::diff::{TreeDiff, compare_trees};
use super::job::{Job, RealiseError, Realised, Realiser, output_paths};
use super::log::LogWriter;
use crate::derivation::Derivation;
use crate::hash::Hash;
use crate::sandbox::{Aspect, Variation};
use crate::schedule::events::{Event, Reporter};
use crate::store::cleanup::remove_tree;
use crate::store_path::StorePath;

/// How many differing files a check lists per output (all are counted).
pub const DIFF_LIMIT: usize = 100;

/// How one output of a check compared with the registered one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputCheck {
    /// The output's name (`out`).
    pub name: String,
    /// Its store path.
    pub path: StorePath,
    /// The registered NAR hash.
    pub registered: Hash,
    /// The NAR hash of the new build.
    pub rebuilt: Hash,
    /// The differing files (none when identical).
    pub differences: TreeDiff,
    /// Where the new build was kept, when it differs.
    pub kept: Option<PathBuf>,
}

impl OutputCheck {
    /// Whether the new build is the registered output, bit for bit.
    pub fn identical(&self) -> bool {
        self.registered == self.rebuilt
    }
}

/// What one check of a derivation found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport {
    /// The derivation.
    pub drv: StorePath,
    /// Which check this was (from 1).
    pub round: u32,
    /// How many checks were asked for.
    pub rounds: u32,
    /// What the check varied in the build's surroundings.
    pub variation: Variation,
    /// Every output, in name order.
    pub outputs: Vec<OutputCheck>,
    /// For a varied check that differed: what made the difference, found
    /// by checking again without variation and with each aspect alone.
    pub cause: Option<Cause>,
}

/// What made a varied check differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cause {
    /// A check without any variation differs too: the build is not
    /// deterministic whatever its surroundings.
    Unvaried,
    /// These aspects, each varied alone, change the outputs.
    Aspects(Vec<Aspect>),
    /// No aspect alone changes the outputs, only several together.
    Combination,
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cause::Unvaried => f.write_str("it differs without any variation too"),
            Cause::Aspects(aspects) => {
                let names: Vec<String> = aspects
                    .iter()
                    .map(|aspect| format!("{aspect} ({})", aspect.describe()))
                    .collect();
                write!(f, "changed by {}", names.join("; "))
            }
            Cause::Combination => {
                f.write_str("no single variation changes it alone, only several together")
            }
        }
    }
}

impl CheckReport {
    /// Whether every output is identical to the registered one.
    pub fn identical(&self) -> bool {
        self.outputs.iter().all(OutputCheck::identical)
    }

    /// Returns the outputs that differ.
    pub fn differing(&self) -> impl Iterator<Item = &OutputCheck> {
        self.outputs.iter().filter(|output| !output.identical())
    }
}

impl fmt::Display for CheckReport {
    /// Prints which outputs differ: ``output `out` differs from the
    /// registered one (check 1 of 1)``.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<String> = self
            .differing()
            .map(|output| format!("`{}`", output.name))
            .collect();
        let (noun, verb) = if names.len() == 1 {
            ("output", "differs from the registered one")
        } else {
            ("outputs", "differ from the registered ones")
        };
        write!(
            f,
            "{noun} {} {verb} (check {} of {}",
            names.join(", "),
            self.round,
            self.rounds
        )?;
        if !self.variation.is_none() {
            write!(f, ", varying {}", self.variation)?;
        }
        f.write_str(")")?;
        match &self.cause {
            Some(cause) => write!(f, "; {cause}"),
            None => Ok(()),
        }
    }
}

/// Which check of how many.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Round {
    /// This check (from 1).
    pub round: u32,
    /// How many checks in all.
    pub of: u32,
}

/// Returns how many checks follow realising a derivation: `rounds - 1`
/// after a build here, none when its outputs were valid already, and at
/// least one for a derivation being checked.
pub fn checks_after(rounds: u32, check: bool, ran: bool) -> u32 {
    let extra = rounds.saturating_sub(1);
    if check {
        extra.max(1)
    } else if ran {
        extra
    } else {
        0
    }
}

impl Realiser {
    /// Realises `drv` like [`Realiser::realise`], then checks it as many
    /// times as [`checks_after`] says (`check`: it is a derivation being
    /// checked), reporting each check. Stops at the first difference,
    /// failing with [`RealiseError::NotDeterministic`].
    pub fn realise_and_check(
        self: &Arc<Self>,
        drv_path: &StorePath,
        drv: &Derivation,
        inputs: &BTreeSet<StorePath>,
        check: bool,
        reporter: &Arc<dyn Reporter>,
    ) -> Result<Realised, RealiseError> {
        let mut realised = self.realise(drv_path, drv, inputs, reporter)?;
        let checks = checks_after(self.options().rounds, check, realised.ran);
        let variation = &self.options().vary;
        for round in 1..=checks {
            let round = Round { round, of: checks };
            let report =
                self.check_and_report(drv_path, drv, inputs, round, variation, reporter)?;
            if !report.identical() {
                let cause = self.find_cause(drv_path, drv, inputs, variation, reporter)?;
                let report = CheckReport { cause, ..report };
                return Err(RealiseError::NotDeterministic(Box::new(report)));
            }
        }
        realised.checks = checks;
        Ok(realised)
    }

    /// Checks once ([`Realiser::check`]) and reports the result.
    fn check_and_report(
        self: &Arc<Self>,
        drv_path: &StorePath,
        drv: &Derivation,
        inputs: &BTreeSet<StorePath>,
        round: Round,
        variation: &Variation,
        reporter: &Arc<dyn Reporter>,
    ) -> Result<CheckReport, RealiseError> {
        let report = self.check(drv_path, drv, inputs, round, variation, reporter)?;
        reporter.event(&Event::Checked {
            drv: drv_path,
            report: &report,
        });
        Ok(report)
    }

    /// After a check that varied several aspects differed: checks again
    /// without variation, then (when that is identical) with each aspect
    /// alone, to say what changes the outputs. Nothing to find for a check
    /// that varied nothing.
    fn find_cause(
        self: &Arc<Self>,
        drv_path: &StorePath,
        drv: &Derivation,
        inputs: &BTreeSet<StorePath>,
        variation: &Variation,
        reporter: &Arc<dyn Reporter>,
    ) -> Result<Option<Cause>, RealiseError> {
        if variation.is_none() {
            return Ok(None);
        }
        let aspects: Vec<Aspect> = variation.aspects().collect();
        let of = u32::try_from(aspects.len() + 1).unwrap_or(u32::MAX);
        let first = Round { round: 1, of };
        let unvaried = Variation::none();
        let control = self.check_and_report(drv_path, drv, inputs, first, &unvaried, reporter)?;
        if !control.identical() {
            return Ok(Some(Cause::Unvaried));
        }
        if aspects.len() == 1 {
            return Ok(Some(Cause::Aspects(aspects)));
        }
        let mut changing = Vec::new();
        for (round, aspect) in (2..).zip(&aspects) {
            let round = Round { round, of };
            let alone = Variation::of([*aspect]);
            let report = self.check_and_report(drv_path, drv, inputs, round, &alone, reporter)?;
            if !report.identical() {
                changing.push(*aspect);
            }
        }
        Ok(Some(if changing.is_empty() {
            Cause::Combination
        } else {
            Cause::Aspects(changing)
        }))
    }

    /// Builds `drv`, whose outputs are valid and whose inputs are `inputs`
    /// (valid too), once more and compares the outputs with the registered
    /// ones; see the module documentation.
    pub fn check(
        self: &Arc<Self>,
        drv_path: &StorePath,
        drv: &Derivation,
        inputs: &BTreeSet<StorePath>,
        round: Round,
        variation: &Variation,
        reporter: &Arc<dyn Reporter>,
    ) -> Result<CheckReport, RealiseError> {
        let outputs = output_paths(self.store(), drv_path, drv)?;
        let locks = self.lock_outputs(&outputs)?;
        let registered = self.registered_hashes(&outputs)?;
        let closure = self.input_closure(inputs)?;
        reporter.event(&Event::CheckStarted {
            drv: drv_path,
            round: round.round,
            rounds: round.of,
            variation,
        });
        let work = self.store().scratch_path(drv_path.name());
        let job = Job {
            drv_path,
            drv,
            outputs: &outputs,
            work: &work,
            reporter,
            variation,
        };
        let mut log = LogWriter::create(self.store(), drv_path)?;
        let result = self.build_and_compare(&job, &closure, &registered, round, &mut log);
        if let Err(error) = &result {
            let _ = writeln!(log, "error: {error}");
        }
        let finished = log.finish();
        let _ = remove_tree(&work);
        drop(locks);
        let report = result?;
        finished?;
        Ok(report)
    }

    /// Returns the registered NAR hash of each output, which must be valid.
    fn registered_hashes(
        &self,
        outputs: &[(String, StorePath)],
    ) -> Result<Vec<(String, StorePath, Hash)>, RealiseError> {
        let mut hashes = Vec::with_capacity(outputs.len());
        for (name, path) in outputs {
            let info = self
                .store()
                .path_info(path)?
                .ok_or_else(|| RealiseError::NotValid(self.store().display(path)))?;
            hashes.push((name.clone(), path.clone(), info.nar_hash));
        }
        Ok(hashes)
    }

    /// Runs the builder and compares each output it made with the
    /// registered one.
    fn build_and_compare(
        self: &Arc<Self>,
        job: &Job<'_>,
        closure: &BTreeSet<StorePath>,
        registered: &[(String, StorePath, Hash)],
        round: Round,
        log: &mut LogWriter,
    ) -> Result<CheckReport, RealiseError> {
        let (pending, _) = self.run_builder(job, closure, log)?;
        let mut candidates = closure.clone();
        candidates.extend(registered.iter().map(|(_, path, _)| path.clone()));
        let mut outputs = Vec::with_capacity(registered.len());
        for (name, path, hash) in registered {
            let output = pending
                .iter()
                .find(|output| &output.path == path)
                .ok_or_else(|| RealiseError::MissingOutput {
                    output: name.clone(),
                    path: self.store().display(path),
                })?;
            let checked = self.compare_output(output, name, *hash, &candidates)?;
            let verdict = if checked.identical() {
                "identical"
            } else {
                "differs"
            };
            let _ = writeln!(
                log,
                "check {} of {} (varying {}): output `{name}` {verdict}",
                round.round, round.of, job.variation
            );
            outputs.push(checked);
        }
        Ok(CheckReport {
            drv: job.drv_path.clone(),
            round: round.round,
            rounds: round.of,
            variation: job.variation.clone(),
            outputs,
            cause: None,
        })
    }

    /// Canonicalises and hashes one new output as registration would, and
    /// compares it with the registered NAR hash; keeps it when it differs.
    fn compare_output(
        &self,
        output: &PendingOutput,
        name: &str,
        registered: Hash,
        candidates: &BTreeSet<StorePath>,
    ) -> Result<OutputCheck, RealiseError> {
        let store = self.store();
        let summary = store.check_output(output, candidates)?;
        let mut checked = OutputCheck {
            name: name.to_owned(),
            path: output.path.clone(),
            registered,
            rebuilt: summary.nar_hash,
            differences: TreeDiff::default(),
            kept: None,
        };
        if checked.identical() {
            return Ok(checked);
        }
        checked.differences =
            compare_trees(&store.physical(&output.path), &output.tmp, DIFF_LIMIT)?;
        let kept = store.layout().check_object(&output.path);
        store.place(&output.tmp, &kept)?;
        checked.kept = Some(kept);
        Ok(checked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_follow_builds_and_checked_derivations() {
        // --check alone: one check of the checked roots, whether or not
        // they were built here; nothing else is checked.
        assert_eq!(checks_after(1, true, false), 1);
        assert_eq!(checks_after(1, true, true), 1);
        assert_eq!(checks_after(1, false, true), 0);
        // --rounds 3: two checks of everything built here.
        assert_eq!(checks_after(3, false, true), 2);
        assert_eq!(checks_after(3, false, false), 0);
        // --check --rounds 3: two checks of the checked roots.
        assert_eq!(checks_after(3, true, false), 2);
    }

    #[test]
    fn a_report_names_the_differing_outputs() {
        let path = |name: &str| {
            StorePath::from_base_name(&format!("7rjj86a15146cq1d3qy068lml7n8ykzm-{name}")).unwrap()
        };
        let output = |name: &str, rebuilt: &[u8]| OutputCheck {
            name: name.to_owned(),
            path: path(name),
            registered: Hash::sha256(b"registered"),
            rebuilt: Hash::sha256(rebuilt),
            differences: TreeDiff::default(),
            kept: None,
        };
        let mut report = CheckReport {
            drv: path("x.drv"),
            round: 1,
            rounds: 2,
            variation: Variation::none(),
            outputs: vec![output("dev", b"registered"), output("out", b"other")],
            cause: None,
        };
        assert!(!report.identical());
        assert_eq!(
            report.to_string(),
            "output `out` differs from the registered one (check 1 of 2)"
        );
        report.outputs[0].rebuilt = Hash::sha256(b"also other");
        assert_eq!(
            report.to_string(),
            "outputs `dev`, `out` differ from the registered ones (check 1 of 2)"
        );
        report.variation = Variation::of([Aspect::Umask, Aspect::Clock]);
        assert_eq!(
            report.to_string(),
            "outputs `dev`, `out` differ from the registered ones (check 1 of 2, varying clock, umask)"
        );
        report.cause = Some(Cause::Combination);
        assert!(
            report
                .to_string()
                .ends_with("umask); no single variation changes it alone, only several together")
        );
    }

    #[test]
    fn causes_say_what_changed_the_outputs() {
        assert_eq!(
            Cause::Aspects(vec![Aspect::Umask]).to_string(),
            "changed by umask (umask 022 -> 002)"
        );
        assert_eq!(
            Cause::Unvaried.to_string(),
            "it differs without any variation too"
        );
    }
}
