//! A suite's `InRelease` (or unsigned `Release`) file: the root of the
//! archive's hash chain.
//!
//! `InRelease` is an OpenPGP clear-signed message: an armor header line,
//! `Hash:` headers, a blank line, the signed text with every line that
//! starts with `-` escaped as `- -…` (RFC 4880 §7.1), then the signature
//! block. [`strip_clearsign`] recovers the signed text; a file that does
//! not start with the armor line is read as a plain `Release`.
//!
//! The signature is not checked here (see `docs/recipes.md`): the lock
//! records the SHA-256 of the `InRelease` it read, trust on first use,
//! and every index below it is checked against the hashes it lists.
//! `Valid-Until` is ignored on purpose: the mirror reachable here is a
//! frozen snapshot whose `Release` has expired, and a lock pins what it
//! read whenever it is read.

use thiserror::Error;

use crate::deb822::{self, Deb822Error};

const BEGIN_SIGNED: &str = "-----BEGIN PGP SIGNED MESSAGE-----";
const BEGIN_SIGNATURE: &str = "-----BEGIN PGP SIGNATURE-----";

/// Why a `Release` file could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ReleaseError {
    /// The clear-signed message has no blank line after its headers.
    #[error("the clear-signed message has no blank line after its armor headers")]
    NoBody,
    /// The clear-signed message has no signature block.
    #[error("the clear-signed message has no `{BEGIN_SIGNATURE}` line")]
    NoSignature,
    /// The control syntax is broken.
    #[error("cannot read the Release file")]
    Syntax(#[source] Deb822Error),
    /// The file has no paragraph.
    #[error("the Release file is empty")]
    Empty,
    /// A required field is missing.
    #[error("the Release file has no `{field}` field")]
    Missing {
        /// The field.
        field: &'static str,
    },
    /// A line of the `SHA256` list is not `<hash> <size> <path>`.
    #[error("`SHA256` line `{line}` is not `<sha256> <size> <path>`")]
    BadHashLine {
        /// The line.
        line: String,
    },
    /// The `Date` is not an RFC 2822 date in UTC.
    #[error("`Date: {date}` is not a date like `Fri, 30 Oct 2026 08:08:01 UTC`")]
    BadDate {
        /// The field's value.
        date: String,
    },
}

/// One file listed in the `SHA256` field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexFile {
    /// The path below `dists/<suite>/`, e.g. `main/binary-amd64/Packages.xz`.
    pub path: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its SHA-256, lowercase hex.
    pub sha256: String,
}

/// The fields of a `Release` file that a lock needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    /// Whether the text was clear-signed (the signature itself is not
    /// checked).
    pub signed: bool,
    /// `Suite` (e.g. `unstable`).
    pub suite: Option<String>,
    /// `Codename` (e.g. `sid`).
    pub codename: Option<String>,
    /// `Date`, as written.
    pub date: String,
    /// The `Date` as snapshot.debian.org spells a timestamp:
    /// `YYYYMMDDTHHMMSSZ`.
    pub snapshot: String,
    /// `Architectures`.
    pub architectures: Vec<String>,
    /// `Components`.
    pub components: Vec<String>,
    /// The `SHA256` list.
    pub files: Vec<IndexFile>,
}

impl Release {
    /// Parses an `InRelease` (clear-signed) or `Release` (plain) file.
    pub fn parse(text: &str) -> Result<Release, ReleaseError> {
        let (body, signed) = match strip_clearsign(text)? {
            Some(body) => (body, true),
            None => (text.to_owned(), false),
        };
        let paragraph = deb822::paragraphs(&body)
            .next()
            .ok_or(ReleaseError::Empty)?
            .map_err(ReleaseError::Syntax)?;
        let words = |name| {
            paragraph
                .get(name)
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_owned)
                .collect()
        };
        let date = paragraph
            .get("Date")
            .ok_or(ReleaseError::Missing { field: "Date" })?
            .to_owned();
        let files = paragraph
            .lines("SHA256")
            .map(parse_hash_line)
            .collect::<Result<Vec<_>, _>>()?;
        if files.is_empty() {
            return Err(ReleaseError::Missing { field: "SHA256" });
        }
        Ok(Release {
            signed,
            suite: paragraph.get("Suite").map(str::to_owned),
            codename: paragraph.get("Codename").map(str::to_owned),
            snapshot: snapshot_timestamp(&date)?,
            date,
            architectures: words("Architectures"),
            components: words("Components"),
            files,
        })
    }

    /// Returns the listed file at `path` (below `dists/<suite>/`).
    pub fn file(&self, path: &str) -> Option<&IndexFile> {
        self.files.iter().find(|file| file.path == path)
    }
}

fn parse_hash_line(line: &str) -> Result<IndexFile, ReleaseError> {
    let bad = || ReleaseError::BadHashLine {
        line: line.to_owned(),
    };
    let mut parts = line.split_whitespace();
    let (Some(sha256), Some(size), Some(path), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    Ok(IndexFile {
        path: path.to_owned(),
        size: size.parse().map_err(|_| bad())?,
        sha256: sha256.to_ascii_lowercase(),
    })
}

/// Returns the signed text of a clear-signed message, or `None` when
/// `text` is not one.
///
/// The text runs from after the blank line that ends the armor headers to
/// the line before the signature block; dash-escaped lines (`- ` then the
/// line) lose their escape, and the line end just before the signature
/// belongs to the armor, not to the text (RFC 4880 §7.1).
pub fn strip_clearsign(text: &str) -> Result<Option<String>, ReleaseError> {
    let mut lines = text.lines();
    if lines.next().map(str::trim_end) != Some(BEGIN_SIGNED) {
        return Ok(None);
    }
    // Armor headers (`Hash: SHA256`) up to the first empty line.
    if !lines.by_ref().any(|line| line.trim().is_empty()) {
        return Err(ReleaseError::NoBody);
    }
    let mut body: Vec<&str> = Vec::new();
    for line in lines {
        if line.trim_end() == BEGIN_SIGNATURE {
            return Ok(Some(body.join("\n")));
        }
        body.push(line.strip_prefix("- ").unwrap_or(line));
    }
    Err(ReleaseError::NoSignature)
}

/// Turns an RFC 2822 date in UTC (`Fri, 30 Oct 2026 08:08:01 UTC`) into a
/// snapshot.debian.org timestamp (`20261030T080801Z`).
fn snapshot_timestamp(date: &str) -> Result<String, ReleaseError> {
    let bad = || ReleaseError::BadDate {
        date: date.to_owned(),
    };
    let rest = date.split_once(',').map_or(date, |(_, rest)| rest);
    let parts: Vec<&str> = rest.split_whitespace().collect();
    let [day, month, year, time, zone] = parts.as_slice() else {
        return Err(bad());
    };
    if !matches!(*zone, "UTC" | "GMT" | "Z" | "+0000" | "-0000") {
        return Err(bad());
    }
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS
        .iter()
        .position(|m| m.eq_ignore_ascii_case(month))
        .ok_or_else(bad)?
        + 1;
    let number = |text: &str, max: u32| text.parse::<u32>().ok().filter(|n| *n <= max);
    let day = number(day, 31).filter(|d| *d > 0).ok_or_else(bad)?;
    let year = number(year, 9999).ok_or_else(bad)?;
    let hms: Vec<u32> = time
        .split(':')
        .map(|part| number(part, 60).ok_or_else(bad))
        .collect::<Result<_, _>>()?;
    let [hour, minute, second] = hms.as_slice() else {
        return Err(bad());
    };
    Ok(format!(
        "{year:04}{month:02}{day:02}T{hour:02}{minute:02}{second:02}Z"
    ))
}

#[cfg(test)]
mod tests;
