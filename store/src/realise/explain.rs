//! Why was a derivation rebuilt? Compares it with the derivation of the
//! same name built here before ([`super::history`]) and names the first
//! input that differs, following changed input derivations down to the
//! change that started it all (`kiln why-rebuilt`, `kiln build --explain`).
//!
//! Inputs are compared before anything else, because a changed input
//! changes the environment variables that name its outputs too: first the
//! input derivations (by name; a new version of a crate is one input gone
//! and one new), then the sources (by name), then the environment (but for
//! the variables naming the outputs, which change with everything else),
//! the arguments, the builder and the platform.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::derivation::Derivation;
use crate::schedule::graph::{GraphError, load_drv};
use crate::store::Store;
use crate::store_path::StorePath;

/// How long an environment value may be in an explanation.
const SHOWN_VALUE: usize = 60;

/// What differs between a derivation and the one of its name built before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// An input derivation of the same name differs, because of `because`.
    Input {
        /// The input's name (without `.drv`).
        name: String,
        /// Why it differs.
        because: Box<Change>,
    },
    /// Input derivations were added or removed (a new crate version is one
    /// of each).
    Inputs {
        /// Names of inputs that are new.
        added: Vec<String>,
        /// Names of inputs that are gone.
        removed: Vec<String>,
    },
    /// A source of the same name has other contents.
    Source {
        /// The source's name.
        name: String,
    },
    /// Sources were added or removed.
    Sources {
        /// Names of new sources.
        added: Vec<String>,
        /// Names of sources that are gone.
        removed: Vec<String>,
    },
    /// An environment variable differs.
    Env {
        /// Its name.
        name: String,
        /// The earlier value (none: it was not set).
        old: Option<String>,
        /// The value now (none: it is not set).
        new: Option<String>,
    },
    /// The builder's arguments differ.
    Args,
    /// The builder differs.
    Builder {
        /// Before.
        old: String,
        /// Now.
        new: String,
    },
    /// The platform differs.
    Platform,
    /// The earlier derivation is no longer in the store (collected), so it
    /// cannot be compared.
    Collected(String),
    /// Nothing differs (the same derivation).
    Nothing,
}

/// Explains why `new` differs from `old` (two derivations of one name).
pub fn explain(store: &Store, old: &StorePath, new: &StorePath) -> Result<Change, GraphError> {
    if old == new {
        return Ok(Change::Nothing);
    }
    if !store.is_valid(old)? {
        return Ok(Change::Collected(store.display(old)));
    }
    let before = load_drv(store, old)?;
    let now = load_drv(store, new)?;
    compare(store, &before, &now)
}

fn compare(store: &Store, before: &Derivation, now: &Derivation) -> Result<Change, GraphError> {
    let old_inputs = by_name(before.input_drvs.keys());
    let new_inputs = by_name(now.input_drvs.keys());
    for (name, path) in &new_inputs {
        if let Some(old_path) = old_inputs.get(name)
            && old_path != path
        {
            return Ok(Change::Input {
                name: name.trim_end_matches(".drv").to_owned(),
                because: Box::new(explain(store, old_path, path)?),
            });
        }
    }
    let (added, removed) = added_removed(&old_inputs, &new_inputs);
    if !added.is_empty() || !removed.is_empty() {
        return Ok(Change::Inputs { added, removed });
    }
    let old_sources = by_name(before.input_srcs.iter());
    let new_sources = by_name(now.input_srcs.iter());
    for (name, path) in &new_sources {
        if old_sources.get(name).is_some_and(|old| old != path) {
            return Ok(Change::Source { name: name.clone() });
        }
    }
    let (added, removed) = added_removed(&old_sources, &new_sources);
    if !added.is_empty() || !removed.is_empty() {
        return Ok(Change::Sources { added, removed });
    }
    // The variables naming the outputs change with everything else: they
    // are a consequence, not a cause.
    let names: BTreeSet<&String> = before.env.keys().chain(now.env.keys()).collect();
    let outputs =
        |name: &String| before.outputs.contains_key(name) || now.outputs.contains_key(name);
    for name in names.into_iter().filter(|name| !outputs(name)) {
        let (old, new) = (before.env.get(name), now.env.get(name));
        if old != new {
            return Ok(Change::Env {
                name: name.clone(),
                old: old.cloned(),
                new: new.cloned(),
            });
        }
    }
    if before.args != now.args {
        return Ok(Change::Args);
    }
    if before.builder != now.builder {
        return Ok(Change::Builder {
            old: before.builder.clone(),
            new: now.builder.clone(),
        });
    }
    if before.platform != now.platform {
        return Ok(Change::Platform);
    }
    Ok(Change::Nothing)
}

fn by_name<'a>(paths: impl Iterator<Item = &'a StorePath>) -> BTreeMap<String, StorePath> {
    paths.map(|p| (p.name().to_owned(), p.clone())).collect()
}

fn added_removed(
    old: &BTreeMap<String, StorePath>,
    new: &BTreeMap<String, StorePath>,
) -> (Vec<String>, Vec<String>) {
    let strip = |name: &String| name.trim_end_matches(".drv").to_owned();
    let added = new
        .keys()
        .filter(|n| !old.contains_key(*n))
        .map(strip)
        .collect();
    let removed = old
        .keys()
        .filter(|n| !new.contains_key(*n))
        .map(strip)
        .collect();
    (added, removed)
}

fn quoted(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn shown(value: &Option<String>) -> String {
    match value {
        None => "unset".to_owned(),
        Some(v) if v.chars().count() > SHOWN_VALUE => {
            let head: String = v.chars().take(SHOWN_VALUE).collect();
            format!("`{head}…`")
        }
        Some(v) => format!("`{v}`"),
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::Input { name, because } => write!(f, "input `{name}` changed: {because}"),
            Change::Inputs { added, removed } => match (added.as_slice(), removed.as_slice()) {
                ([new], [old]) => write!(f, "input `{new}` replaces `{old}`"),
                _ if removed.is_empty() => write!(f, "new inputs {}", quoted(added)),
                _ if added.is_empty() => write!(f, "inputs {} are gone", quoted(removed)),
                _ => write!(
                    f,
                    "new inputs {}; inputs {} are gone",
                    quoted(added),
                    quoted(removed)
                ),
            },
            Change::Source { name } => write!(f, "the source `{name}` has other contents"),
            Change::Sources { added, removed } => match (added.as_slice(), removed.as_slice()) {
                ([new], [old]) => write!(f, "the source `{new}` replaces `{old}`"),
                _ => write!(
                    f,
                    "sources added: {}; sources gone: {}",
                    quoted(added),
                    quoted(removed)
                ),
            },
            Change::Env { name, old, new } => write!(
                f,
                "the variable `{name}` changed from {} to {}",
                shown(old),
                shown(new)
            ),
            Change::Args => f.write_str("the builder's arguments changed"),
            Change::Builder { old, new } => {
                write!(f, "the builder changed from `{old}` to `{new}`")
            }
            Change::Platform => f.write_str("the platform changed"),
            Change::Collected(old) => write!(
                f,
                "the derivation built before (`{old}`) has been collected, so it cannot be compared"
            ),
            Change::Nothing => f.write_str("nothing differs from the derivation built before"),
        }
    }
}
