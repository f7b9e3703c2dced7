//! The build history: for each derivation name, the last two derivations
//! of that name built here, so that kiln can say why a derivation was
//! rebuilt ([`super::explain`]).
//!
//! `ROOT/history/<name>.drv` holds up to two lines: the base name of the
//! derivation of that name built last, then the one built before it. A
//! build rewrites the file (into a temporary file renamed over it) only
//! when it records a new derivation. The history is advisory: a missing
//! or unreadable file means no earlier build is known.

use std::io;

use crate::store::Store;
use crate::store_path::StorePath;

/// Records that `drv` was built (its outputs registered) here.
pub fn record(store: &Store, drv: &StorePath) -> io::Result<()> {
    let entries = read(store, drv);
    if entries.first() == Some(drv) {
        return Ok(());
    }
    let mut text = format!("{}\n", drv.base_name());
    if let Some(last) = entries.first() {
        text.push_str(&format!("{}\n", last.base_name()));
    }
    super::replace_file(&store.layout().history(), drv.name(), &text)
}

/// Returns the derivation of `drv`'s name built here before `drv`: the
/// one before it when `drv` is the last built, else the last built.
pub fn previous(store: &Store, drv: &StorePath) -> Option<StorePath> {
    let entries = read(store, drv);
    match entries.first() {
        Some(last) if last == drv => entries.get(1).cloned(),
        Some(last) => Some(last.clone()),
        None => None,
    }
}

/// Whether `drv` is recorded as the last derivation of its name built here.
pub fn is_last(store: &Store, drv: &StorePath) -> bool {
    read(store, drv).first() == Some(drv)
}

fn read(store: &Store, drv: &StorePath) -> Vec<StorePath> {
    let file = store.layout().history().join(drv.name());
    let Ok(text) = std::fs::read_to_string(file) else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|line| StorePath::from_base_name(line).ok())
        .filter(|path| path.name() == drv.name())
        .take(2)
        .collect()
}
