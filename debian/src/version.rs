//! Debian version numbers and their order, as `dpkg --compare-versions`
//! defines it.
//!
//! A version is `[epoch:]upstream[-revision]`: the epoch is a number (0
//! when absent), the revision is what follows the last `-` (empty when
//! there is none, which compares equal to `0`). Parts compare in that
//! order. Within upstream and revision, the text alternates between
//! non-digit runs, compared character by character with `~` before
//! everything (even the end of the string), then the end, then letters,
//! then the other characters; and digit runs, compared as numbers.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use thiserror::Error;

/// Why a version number is not valid.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum VersionError {
    /// The version is empty (or only an epoch and a revision).
    #[error("version `{version}` has no upstream part")]
    Empty {
        /// The version.
        version: String,
    },
    /// The epoch is not a number.
    #[error("version `{version}` has an epoch that is not a number")]
    BadEpoch {
        /// The version.
        version: String,
    },
    /// A character that Debian versions do not allow.
    #[error("version `{version}` has the character `{character}`, which versions do not allow")]
    BadCharacter {
        /// The version.
        version: String,
        /// The character.
        character: char,
    },
}

/// A parsed Debian version. Equality and order are dpkg's: `1.0` equals
/// `0:1.0` and `1.0-0`, so [`Version`] compares by [`Ord`], not by text.
#[derive(Debug, Clone)]
pub struct Version {
    text: String,
    epoch: u64,
    /// Byte ranges of upstream and revision within `text`.
    upstream: (usize, usize),
    revision: (usize, usize),
}

impl Version {
    /// Parses a version, checking its syntax as dpkg does (leniently:
    /// an upstream part that does not start with a digit is accepted, as
    /// `dpkg --compare-versions` accepts it with a warning).
    pub fn parse(text: &str) -> Result<Version, VersionError> {
        let text = text.trim();
        let error = |kind: fn(String) -> VersionError| kind(text.to_owned());
        let (epoch, rest_start) = match text.split_once(':') {
            Some((epoch, _)) => {
                let epoch = epoch
                    .parse::<u64>()
                    .map_err(|_| error(|version| VersionError::BadEpoch { version }))?;
                (epoch, text.find(':').map_or(0, |i| i + 1))
            }
            None => (0, 0),
        };
        let rest = text.get(rest_start..).unwrap_or_default();
        let (upstream_len, revision) = match rest.rfind('-') {
            Some(dash) => (dash, (rest_start + dash + 1, text.len())),
            None => (rest.len(), (text.len(), text.len())),
        };
        if upstream_len == 0 {
            return Err(error(|version| VersionError::Empty { version }));
        }
        if let Some(character) = rest
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || ".+-~:".contains(*c)))
        {
            return Err(VersionError::BadCharacter {
                version: text.to_owned(),
                character,
            });
        }
        Ok(Version {
            text: text.to_owned(),
            epoch,
            upstream: (rest_start, rest_start + upstream_len),
            revision,
        })
    }

    /// Returns the version as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Returns the epoch (0 when absent).
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Returns the upstream part.
    pub fn upstream(&self) -> &str {
        self.text
            .get(self.upstream.0..self.upstream.1)
            .unwrap_or_default()
    }

    /// Returns the revision (empty when absent).
    pub fn revision(&self) -> &str {
        self.text
            .get(self.revision.0..self.revision.1)
            .unwrap_or_default()
    }
}

impl FromStr for Version {
    type Err = VersionError;

    fn from_str(text: &str) -> Result<Version, VersionError> {
        Version::parse(text)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Version) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| compare_part(self.upstream(), other.upstream()))
            .then_with(|| compare_part(self.revision(), other.revision()))
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Version) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Version) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version {}

/// The weight of one character in a non-digit run: `~` sorts before the
/// end of the string (0), letters after it, everything else after letters.
fn weight(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(b'~') => -1,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

/// Skips leading zeros at `k` and returns the run of digits after them.
fn digits<'s>(s: &'s [u8], k: &mut usize) -> &'s [u8] {
    while s.get(*k) == Some(&b'0') {
        *k += 1;
    }
    let start = *k;
    while s.get(*k).is_some_and(u8::is_ascii_digit) {
        *k += 1;
    }
    s.get(start..*k).unwrap_or_default()
}

/// Compares an upstream version or a revision as dpkg's `verrevcmp` does.
fn compare_part(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    let non_digit = |s: &[u8], k: usize| s.get(k).is_some_and(|c| !c.is_ascii_digit());
    while i < a.len() || j < b.len() {
        while non_digit(a, i) || non_digit(b, j) {
            let (wa, wb) = (weight(a.get(i).copied()), weight(b.get(j).copied()));
            if wa != wb {
                return wa.cmp(&wb);
            }
            i += 1;
            j += 1;
        }
        let (da, db) = (digits(a, &mut i), digits(b, &mut j));
        // Without leading zeros, a longer run is a larger number; runs of
        // equal length compare as text.
        let order = da.len().cmp(&db.len()).then_with(|| da.cmp(db));
        if order != Ordering::Equal {
            return order;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests;
