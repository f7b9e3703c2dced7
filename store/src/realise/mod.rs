//! Turning the results of builds and fetches into valid store paths.
//!
//! A build or a fetch writes its outputs somewhere under the store's
//! `tmp/` ([`crate::store::Store::scratch_path`]). Registration then, for
//! each output:
//!
//! 1. [`canonicalise()`]s it: fixed permissions, modification time 1, no
//!    setuid/setgid/sticky bits, no special files;
//! 2. serialises it as a NAR once ([`sink`]), computing the NAR hash and
//!    size and [`scan`]ning for references to the input closure and to the
//!    outputs themselves;
//! 3. for a fixed output, checks the declared hash, and refuses the whole
//!    registration on a mismatch ([`HashMismatch`]);
//! 4. renames it into `store/` (same file system, so atomic), syncs it, and
//!    records every output in one database transaction
//!    ([`crate::store::Store::register_outputs`]).
//!
//! Nothing is valid until that transaction commits. A process killed
//! before leaves at most an unregistered object in `store/`, which the
//! next [`crate::store::Store::open`] removes; killed after, the paths are
//! valid. The caller holds the [`crate::lock::PathLock`] of every output
//! from before it starts producing them until registration returns.
//!
//! [`job`] puts it together for one derivation: lock its outputs, run its
//! builder (built-in or sandboxed), register; [`log`] keeps each build's
//! log. [`check`] builds a derivation whose outputs are valid again and
//! compares the outputs with the registered ones ([`diff`] lists the
//! differing files), registering nothing. Scheduling many derivations is
//! [`crate::schedule`]'s business.

pub mod canonicalise;
#[cfg(target_os = "linux")]
pub mod check;
pub mod cutoff;
pub mod diff;
#[cfg(target_os = "linux")]
pub mod explain;
pub mod history;
#[cfg(target_os = "linux")]
pub mod job;
pub mod log;
mod register;
pub mod scan;
pub mod sink;
pub mod texts;

pub use canonicalise::{CanonicaliseError, canonicalise};

/// Writes `contents` to `dir/name` (creating `dir`) through a temporary
/// file renamed over it, so a reader sees the old file or the new one.
/// For kiln's own small state files (history, cutoff records).
pub(crate) fn replace_file(
    dir: &std::path::Path,
    name: &str,
    contents: &str,
) -> std::io::Result<()> {
    fs_err::create_dir_all(dir)?;
    let temp = dir.join(format!(".{name}.{}", std::process::id()));
    fs_err::write(&temp, contents)?;
    fs_err::rename(&temp, dir.join(name))
}
pub(crate) use register::flat_hash;
pub use register::{HashMismatch, PendingOutput, RegisterError, Registration};
pub use scan::RefScanner;
pub use sink::{NarSummary, summarise};
