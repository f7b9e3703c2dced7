//! One pass over a tree's NAR serialisation that computes everything
//! registration needs: the SHA-256 NAR hash, the NAR size, optionally a
//! second hash with another algorithm (for a recursive fixed output that
//! is not SHA-256), and the references.

use std::collections::BTreeSet;
use std::io::{self, Write};
use std::path::Path;

use super::scan::RefScanner;
use crate::hash::{Hash, HashAlgo, Hasher};
use crate::nar::{self, WriteError};
use crate::store_path::StorePath;

/// What one pass over a NAR found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NarSummary {
    /// The SHA-256 of the NAR.
    pub nar_hash: Hash,
    /// The NAR's size in bytes.
    pub nar_size: u64,
    /// The hash with the extra algorithm, when one was asked for.
    pub extra_hash: Option<Hash>,
    /// The candidates whose hash parts occur in the NAR.
    pub references: BTreeSet<StorePath>,
}

/// A writer that hashes, counts and scans what is written to it.
struct Sink {
    sha256: Hasher,
    extra: Option<Hasher>,
    scanner: RefScanner,
    size: u64,
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.sha256.update(buf);
        if let Some(extra) = &mut self.extra {
            extra.update(buf);
        }
        self.scanner.feed(buf);
        self.size += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Serialises the tree at `path` once, returning its NAR hash and size,
/// the hash with `extra` if given, and which of `candidates` it refers to.
pub fn summarise<'a>(
    path: &Path,
    extra: Option<HashAlgo>,
    candidates: impl IntoIterator<Item = &'a StorePath>,
) -> Result<NarSummary, WriteError> {
    let mut sink = Sink {
        sha256: Hasher::new(HashAlgo::Sha256),
        extra: extra.map(Hasher::new),
        scanner: RefScanner::new(candidates),
        size: 0,
    };
    nar::dump(path, &mut sink)?;
    Ok(NarSummary {
        nar_hash: sink.sha256.finish(),
        nar_size: sink.size,
        extra_hash: sink.extra.map(Hasher::finish),
        references: sink.scanner.found(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agrees_with_a_plain_dump_and_finds_references() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("out");
        std::fs::create_dir(&root).unwrap();
        let dep = StorePath::from_base_name("7rjj86a15146cq1d3qy068lml7n8ykzm-dep").unwrap();
        let other = StorePath::from_base_name("0c8n79nkkb0l5gwmad4yfcyjfzcgnykv-other").unwrap();
        std::fs::write(
            root.join("script"),
            b"#!/nix/store/7rjj86a15146cq1d3qy068lml7n8ykzm-dep/bin/sh\n",
        )
        .unwrap();
        let mut nar = Vec::new();
        nar::dump(&root, &mut nar).unwrap();

        let summary = summarise(&root, Some(HashAlgo::Sha1), [&dep, &other]).unwrap();
        assert_eq!(summary.nar_hash, Hash::sha256(&nar));
        assert_eq!(summary.nar_size, nar.len() as u64);
        assert_eq!(summary.extra_hash, Some(Hash::digest(HashAlgo::Sha1, &nar)));
        assert_eq!(summary.references, [dep].into());
    }
}
