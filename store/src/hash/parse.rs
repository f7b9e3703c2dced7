//! Parsing hashes from the texts Nix accepts.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use thiserror::Error;

use super::{Hash, HashAlgo, UnknownAlgo, nixbase32};

/// A text that is not a hash.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParseError {
    /// The algorithm prefix is not one Nix knows.
    #[error(transparent)]
    UnknownAlgo(#[from] UnknownAlgo),
    /// A bare digest was given and no algorithm was known for it.
    #[error(
        "hash `{0}` does not say which algorithm made it; write it as `sha256:…` or in SRI form"
    )]
    MissingAlgo(String),
    /// The prefix and the expected algorithm disagree.
    #[error("hash `{text}` should be a {expected} hash")]
    AlgoMismatch {
        /// The text.
        text: String,
        /// The algorithm the caller asked for.
        expected: HashAlgo,
    },
    /// The digest's length fits none of the encodings of the algorithm.
    #[error(
        "hash `{text}` has the wrong length for {algo}: expected {} (base16), {} (nixbase32) or {} (base64) characters, got {got}",
        algo.size() * 2, nixbase32::encoded_len(algo.size()), base64_len(algo.size())
    )]
    WrongLength {
        /// The text.
        text: String,
        /// The algorithm.
        algo: HashAlgo,
        /// The length found.
        got: usize,
    },
    /// The digest has characters outside its encoding.
    #[error("hash `{text}` is not valid {encoding}")]
    BadDigest {
        /// The text.
        text: String,
        /// The encoding it was read as.
        encoding: &'static str,
    },
}

/// Returns the padded base64 length of `bytes` bytes.
const fn base64_len(bytes: usize) -> usize {
    bytes.div_ceil(3) * 4
}

/// Parses `text`; see [`Hash::parse`].
pub(super) fn parse(text: &str, expected: Option<HashAlgo>) -> Result<Hash, ParseError> {
    let (algo, digest, is_sri) = split_prefix(text)?;
    let algo = match (algo, expected) {
        (Some(found), Some(wanted)) if found != wanted => {
            return Err(ParseError::AlgoMismatch {
                text: text.to_owned(),
                expected: wanted,
            });
        }
        (Some(found), _) => found,
        (None, Some(wanted)) => wanted,
        (None, None) => return Err(ParseError::MissingAlgo(text.to_owned())),
    };
    if is_sri {
        return decode_base64(text, algo, digest);
    }
    decode_digest(text, algo, digest)
}

/// Splits `algo:digest` or `algo-base64` into its parts.
fn split_prefix(text: &str) -> Result<(Option<HashAlgo>, &str, bool), ParseError> {
    if let Some((name, digest)) = text.split_once(':') {
        return Ok((Some(name.parse()?), digest, false));
    }
    if let Some((name, digest)) = text.split_once('-') {
        return Ok((Some(name.parse()?), digest, true));
    }
    Ok((None, text, false))
}

/// Decodes a bare digest, telling its encoding by its length.
fn decode_digest(text: &str, algo: HashAlgo, digest: &str) -> Result<Hash, ParseError> {
    let size = algo.size();
    let bad = |encoding| ParseError::BadDigest {
        text: text.to_owned(),
        encoding,
    };
    let bytes = if digest.len() == size * 2 {
        hex::decode(digest).map_err(|_| bad("base16"))?
    } else if digest.len() == nixbase32::encoded_len(size) {
        nixbase32::decode(digest).map_err(|_| bad("nixbase32"))?
    } else if digest.len() == base64_len(size) {
        return decode_base64(text, algo, digest);
    } else {
        return Err(ParseError::WrongLength {
            text: text.to_owned(),
            algo,
            got: digest.len(),
        });
    };
    Hash::from_bytes(algo, &bytes).map_err(|_| bad("digest"))
}

/// Decodes a base64 digest, which must hold exactly the algorithm's size.
fn decode_base64(text: &str, algo: HashAlgo, digest: &str) -> Result<Hash, ParseError> {
    let bytes = BASE64.decode(digest).map_err(|_| ParseError::BadDigest {
        text: text.to_owned(),
        encoding: "base64",
    })?;
    Hash::from_bytes(algo, &bytes).map_err(|e| ParseError::WrongLength {
        text: text.to_owned(),
        algo,
        got: e.got,
    })
}
