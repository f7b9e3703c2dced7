//! Hash algorithms and the ways Nix writes hashes down.
//!
//! [`struct@Hash`] is a digest together with its [`HashAlgo`]. It prints in any
//! [`Encoding`] Nix uses (base16, nixbase32, base64, SRI) and parses from any
//! of them, the way `nix hash to-*`, `nix-hash` and `builtins.hashString`
//! treat them. [`Hasher`] computes a hash incrementally over a stream.
//!
//! What this module does not do: decide which algorithm a store path or a
//! derivation uses; that belongs to `store_path` and `derivation`.

mod background;
pub mod nixbase32;
mod parse;

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha2::Digest as _;
use thiserror::Error;

pub use background::{HashWriter, hash_with};
pub use parse::ParseError;

/// A hash algorithm Nix supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HashAlgo {
    /// MD5 (16 bytes).
    Md5,
    /// SHA-1 (20 bytes).
    Sha1,
    /// SHA-256 (32 bytes).
    Sha256,
    /// SHA-512 (64 bytes).
    Sha512,
}

impl HashAlgo {
    /// Every algorithm, in Nix's order.
    pub const ALL: [HashAlgo; 4] = [
        HashAlgo::Md5,
        HashAlgo::Sha1,
        HashAlgo::Sha256,
        HashAlgo::Sha512,
    ];

    /// Returns the digest length in bytes.
    pub const fn size(self) -> usize {
        match self {
            HashAlgo::Md5 => 16,
            HashAlgo::Sha1 => 20,
            HashAlgo::Sha256 => 32,
            HashAlgo::Sha512 => 64,
        }
    }

    /// Returns the name Nix uses (`md5`, `sha1`, `sha256`, `sha512`).
    pub const fn name(self) -> &'static str {
        match self {
            HashAlgo::Md5 => "md5",
            HashAlgo::Sha1 => "sha1",
            HashAlgo::Sha256 => "sha256",
            HashAlgo::Sha512 => "sha512",
        }
    }
}

impl fmt::Display for HashAlgo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not a hash algorithm Nix knows.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown hash algorithm `{0}`, expected one of `md5`, `sha1`, `sha256`, `sha512`")]
pub struct UnknownAlgo(pub String);

impl FromStr for HashAlgo {
    type Err = UnknownAlgo;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        HashAlgo::ALL
            .into_iter()
            .find(|algo| algo.name() == s)
            .ok_or_else(|| UnknownAlgo(s.to_owned()))
    }
}

/// How a hash is written as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// Lowercase hexadecimal.
    Base16,
    /// Nix's own base-32 (see [`nixbase32`]).
    Nixbase32,
    /// Standard base64 with padding.
    Base64,
    /// Subresource integrity: `<algo>-<base64>`.
    Sri,
}

/// A digest and the algorithm that made it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hash {
    algo: HashAlgo,
    bytes: [u8; 64],
}

/// Bytes whose length does not match the algorithm's digest size.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("a {algo} digest is {} bytes, got {got}", algo.size())]
pub struct WrongLength {
    /// The algorithm.
    pub algo: HashAlgo,
    /// The number of bytes given.
    pub got: usize,
}

impl Hash {
    /// Returns the hash of `data` with `algo`.
    pub fn digest(algo: HashAlgo, data: impl AsRef<[u8]>) -> Hash {
        let mut hasher = Hasher::new(algo);
        hasher.update(data.as_ref());
        hasher.finish()
    }

    /// Returns the SHA-256 of `data`.
    pub fn sha256(data: impl AsRef<[u8]>) -> Hash {
        Hash::digest(HashAlgo::Sha256, data)
    }

    /// Wraps raw digest bytes, which must have the algorithm's length.
    pub fn from_bytes(algo: HashAlgo, digest: &[u8]) -> Result<Hash, WrongLength> {
        if digest.len() != algo.size() {
            return Err(WrongLength {
                algo,
                got: digest.len(),
            });
        }
        let mut bytes = [0u8; 64];
        bytes[..digest.len()].copy_from_slice(digest);
        Ok(Hash { algo, bytes })
    }

    /// Returns the algorithm.
    pub fn algo(&self) -> HashAlgo {
        self.algo
    }

    /// Returns the digest bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.algo.size()]
    }

    /// Returns the digest in `encoding`, without an algorithm prefix
    /// (except for SRI, which always names its algorithm).
    pub fn encode(&self, encoding: Encoding) -> String {
        match encoding {
            Encoding::Base16 => base16(self.as_bytes()),
            Encoding::Nixbase32 => nixbase32::encode(self.as_bytes()),
            Encoding::Base64 => BASE64.encode(self.as_bytes()),
            Encoding::Sri => format!("{}-{}", self.algo, BASE64.encode(self.as_bytes())),
        }
    }

    /// Returns `<algo>:<digest>` in `encoding` (Nix's `to_string(base, true)`);
    /// SRI is returned as is.
    pub fn encode_with_algo(&self, encoding: Encoding) -> String {
        match encoding {
            Encoding::Sri => self.encode(Encoding::Sri),
            _ => format!("{}:{}", self.algo, self.encode(encoding)),
        }
    }

    /// Returns the SRI form, `sha256-…`.
    pub fn to_sri(&self) -> String {
        self.encode(Encoding::Sri)
    }

    /// Parses a hash in any encoding Nix accepts: `algo:digest`, SRI
    /// `algo-base64`, or a bare digest when `algo` is given (base16,
    /// nixbase32 or base64, told apart by length).
    pub fn parse(text: &str, algo: Option<HashAlgo>) -> Result<Hash, ParseError> {
        parse::parse(text, algo)
    }

    /// Folds the hash into `N` bytes by XOR, as Nix's `compressHash` does
    /// for the 20-byte hash part of store paths.
    pub fn compress<const N: usize>(&self) -> [u8; N] {
        let mut out = [0u8; N];
        if N == 0 {
            return out;
        }
        for (i, byte) in self.as_bytes().iter().enumerate() {
            out[i % N] ^= byte;
        }
        out
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_sri())
    }
}

impl fmt::Display for Hash {
    /// Displays as SRI.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_sri())
    }
}

/// Computes a hash over data given in pieces.
#[derive(Clone)]
pub enum Hasher {
    /// MD5 state.
    Md5(md5::Md5),
    /// SHA-1 state.
    Sha1(sha1::Sha1),
    /// SHA-256 state.
    Sha256(sha2::Sha256),
    /// SHA-512 state.
    Sha512(sha2::Sha512),
}

impl Hasher {
    /// Returns a fresh hasher for `algo`.
    pub fn new(algo: HashAlgo) -> Hasher {
        match algo {
            HashAlgo::Md5 => Hasher::Md5(md5::Md5::new()),
            HashAlgo::Sha1 => Hasher::Sha1(sha1::Sha1::new()),
            HashAlgo::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            HashAlgo::Sha512 => Hasher::Sha512(sha2::Sha512::new()),
        }
    }

    /// Feeds more data.
    pub fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Md5(h) => h.update(data),
            Hasher::Sha1(h) => h.update(data),
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
        }
    }

    /// Returns the hash of everything fed so far.
    pub fn finish(self) -> Hash {
        let mut bytes = [0u8; 64];
        // Each digest's length is its algorithm's `size()`, at most 64.
        let algo = match self {
            Hasher::Md5(h) => {
                bytes[..16].copy_from_slice(&h.finalize());
                HashAlgo::Md5
            }
            Hasher::Sha1(h) => {
                bytes[..20].copy_from_slice(&h.finalize());
                HashAlgo::Sha1
            }
            Hasher::Sha256(h) => {
                bytes[..32].copy_from_slice(&h.finalize());
                HashAlgo::Sha256
            }
            Hasher::Sha512(h) => {
                bytes.copy_from_slice(&h.finalize());
                HashAlgo::Sha512
            }
        };
        Hash { algo, bytes }
    }
}

impl std::io::Write for Hasher {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Lower-case hexadecimal, two digits a byte.
fn base16(bytes: &[u8]) -> String {
    bytes
        .chunks(MAX_DIGEST)
        .map(|chunk| Base16::new(chunk).as_str().to_owned())
        .collect()
}

/// The longest digest (SHA-512's).
const MAX_DIGEST: usize = 64;

/// The lower-case hexadecimal text of a digest, on the stack: hashes modulo
/// and store paths write one for every input of every derivation.
pub(crate) struct Base16 {
    digits: [u8; 2 * MAX_DIGEST],
    len: usize,
}

impl Base16 {
    /// Encodes `bytes`, of which only the first [`MAX_DIGEST`] count.
    pub(crate) fn new(bytes: &[u8]) -> Base16 {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut digits = [0u8; 2 * MAX_DIGEST];
        let mut len = 0;
        for (pair, &b) in digits.chunks_exact_mut(2).zip(bytes) {
            pair.copy_from_slice(&[DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 0x0f)]]);
            len += 2;
        }
        Base16 { digits, len }
    }

    /// The digits, as ASCII bytes.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.digits.get(..self.len).unwrap_or_default()
    }

    /// The digits.
    pub(crate) fn as_str(&self) -> &str {
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests;
