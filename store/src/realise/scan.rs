//! Finding references: which candidate store paths' hash parts occur in a
//! stream of bytes (a NAR, so file contents, symlink targets and names).
//!
//! Nix finds a path's references the same way: a reference is any
//! candidate whose 32-character nixbase32 hash part appears anywhere in the
//! serialisation. Candidates are the build's input closure and its own
//! outputs (for self-references and references between outputs).
//!
//! The search is a single pass that looks only at runs of nixbase32
//! characters, whatever the number of candidates: at each position it
//! checks the last byte of the 32-byte window first and, when that byte
//! cannot be part of a hash, skips the whole window (most binary data is
//! skipped 32 bytes at a time). Inside a run of at least 32 nixbase32
//! characters, every 32-byte window is looked up in a hash set. The last
//! 31 bytes of each chunk are kept, so a hash part that straddles two
//! chunks is found too.

use std::collections::{BTreeSet, HashMap};

use crate::store_path::{HASH_PART_LEN, StorePath};

/// Nix's base-32 alphabet (no `e`, `o`, `u`, `t`).
const ALPHABET: &[u8; 32] = b"0123456789abcdfghijklmnpqrsvwxyz";

/// Whether each byte value is a nixbase32 digit.
const IS_DIGIT: [bool; 256] = {
    let mut table = [false; 256];
    let mut i = 0;
    while i < ALPHABET.len() {
        table[ALPHABET[i] as usize] = true;
        i += 1;
    }
    table
};

/// Bytes kept from one chunk to the next.
const KEEP: usize = HASH_PART_LEN - 1;

/// Scans a stream for the hash parts of a set of candidate store paths.
#[derive(Debug, Clone)]
pub struct RefScanner {
    candidates: HashMap<[u8; HASH_PART_LEN], usize>,
    paths: Vec<StorePath>,
    found: Vec<bool>,
    tail: Vec<u8>,
}

impl RefScanner {
    /// Returns a scanner looking for the hash parts of `candidates`.
    pub fn new<'a>(candidates: impl IntoIterator<Item = &'a StorePath>) -> RefScanner {
        let mut scanner = RefScanner {
            candidates: HashMap::new(),
            paths: Vec::new(),
            found: Vec::new(),
            tail: Vec::with_capacity(2 * KEEP),
        };
        for path in candidates {
            let mut key = [0u8; HASH_PART_LEN];
            // A hash part is always 32 ASCII characters (checked when the
            // StorePath was made), so this copies the whole of it.
            for (slot, byte) in key.iter_mut().zip(path.hash_part().bytes()) {
                *slot = byte;
            }
            if !scanner.candidates.contains_key(&key) {
                scanner.candidates.insert(key, scanner.paths.len());
                scanner.paths.push(path.clone());
                scanner.found.push(false);
            }
        }
        scanner
    }

    /// Scans the next chunk of the stream.
    pub fn feed(&mut self, chunk: &[u8]) {
        if self.candidates.is_empty() || chunk.is_empty() {
            return;
        }
        // Windows that start in the previous chunk and end in this one.
        if !self.tail.is_empty() {
            let mut joined = std::mem::take(&mut self.tail);
            joined.extend_from_slice(chunk.get(..KEEP).unwrap_or(chunk));
            self.search(&joined);
            if chunk.len() < KEEP {
                // `joined` holds all of the chunk: keep its last KEEP bytes.
                joined.drain(..joined.len().saturating_sub(KEEP));
                self.tail = joined;
                return;
            }
            joined.clear();
            self.tail = joined;
        }
        self.search(chunk);
        self.tail.extend_from_slice(
            chunk
                .get(chunk.len().saturating_sub(KEEP)..)
                .unwrap_or(chunk),
        );
    }

    /// Returns the candidates found so far.
    pub fn found(&self) -> BTreeSet<StorePath> {
        self.paths
            .iter()
            .zip(&self.found)
            .filter(|(_, found)| **found)
            .map(|(path, _)| path.clone())
            .collect()
    }

    /// Looks up every 32-byte window of `data` made only of nixbase32 digits.
    fn search(&mut self, data: &[u8]) {
        let mut start = 0;
        while start + HASH_PART_LEN <= data.len() {
            let window = &data[start..start + HASH_PART_LEN];
            // Find the last byte that cannot be in a hash part: no window
            // containing it can match, so jump past it.
            if let Some(bad) = window.iter().rposition(|&b| !IS_DIGIT[usize::from(b)]) {
                start += bad + 1;
                continue;
            }
            // A run of digits: look up each window until the run ends.
            let mut end = start + HASH_PART_LEN;
            loop {
                self.look_up(&data[end - HASH_PART_LEN..end]);
                match data.get(end) {
                    Some(&b) if IS_DIGIT[usize::from(b)] => end += 1,
                    _ => break,
                }
            }
            start = end + 1;
        }
    }

    fn look_up(&mut self, window: &[u8]) {
        let Ok(key) = <[u8; HASH_PART_LEN]>::try_from(window) else {
            return;
        };
        if let Some(&index) = self.candidates.get(&key)
            && let Some(found) = self.found.get_mut(index)
        {
            *found = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(hash: &str) -> StorePath {
        StorePath::from_base_name(&format!("{hash}-x")).unwrap()
    }

    const A: &str = "7rjj86a15146cq1d3qy068lml7n8ykzm";
    const B: &str = "0c8n79nkkb0l5gwmad4yfcyjfzcgnykv";
    const C: &str = "g4lhmdmxrp3j2d2s0b8b6fya7s7k7vhq";

    fn scan(candidates: &[&str], chunks: &[&[u8]]) -> BTreeSet<StorePath> {
        let paths: Vec<StorePath> = candidates.iter().map(|h| path(h)).collect();
        let mut scanner = RefScanner::new(&paths);
        for chunk in chunks {
            scanner.feed(chunk);
        }
        scanner.found()
    }

    #[test]
    fn finds_hash_parts_in_text_and_ignores_non_candidates() {
        let text = format!("exec /nix/store/{A}-bash/bin/bash; ref to {C}-unknown\0\x01{B}");
        let found = scan(&[A, B], &[text.as_bytes()]);
        assert_eq!(found, [path(A), path(B)].into());
    }

    #[test]
    fn finds_a_hash_inside_a_longer_run_of_digits() {
        let text = format!("0000{A}1111");
        assert_eq!(scan(&[A], &[text.as_bytes()]), [path(A)].into());
    }

    #[test]
    fn finds_hash_parts_straddling_every_chunk_boundary() {
        let text = format!("..{A}..");
        let bytes = text.as_bytes();
        for split in 0..=bytes.len() {
            let (first, second) = bytes.split_at(split);
            assert_eq!(
                scan(&[A], &[first, second]),
                [path(A)].into(),
                "split at {split}"
            );
        }
        // One byte at a time: the tail must carry across many tiny chunks.
        let singles: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(scan(&[A], &singles), [path(A)].into());
        let threes: Vec<&[u8]> = bytes.chunks(3).collect();
        assert_eq!(scan(&[A], &threes), [path(A)].into());
    }

    #[test]
    fn a_partial_hash_is_not_a_reference() {
        let text = &A[..31];
        assert!(scan(&[A], &[text.as_bytes(), b"-"]).is_empty());
        assert!(scan(&[A], &[b"", text.as_bytes()]).is_empty());
    }

    #[test]
    fn matches_a_naive_search_on_random_data() {
        use proptest::prelude::*;
        let hashes = [A, B, C];
        proptest!(|(pieces in proptest::collection::vec((0usize..4, "[0-9a-z\\-/]{0,40}"), 0..12), cut in 1usize..70)| {
            let mut data = String::new();
            for (which, filler) in &pieces {
                data.push_str(filler);
                if let Some(hash) = hashes.get(*which) {
                    data.push_str(hash);
                }
            }
            let expected: BTreeSet<StorePath> =
                hashes.iter().filter(|h| data.contains(*h)).map(|h| path(h)).collect();
            let chunks: Vec<&[u8]> = data.as_bytes().chunks(cut).collect();
            prop_assert_eq!(scan(&hashes, &chunks), expected);
        });
    }
}
