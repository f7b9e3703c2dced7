//! Nix's recipes for computing store paths.
//!
//! Every store path is `makeStorePath(type, inner hash, name)`: the SHA-256
//! of `<type>:sha256:<inner hash in base16>:<store dir>:<name>`, folded to 20
//! bytes. What differs is the type string and the inner hash:
//!
//! | kind | type | inner hash |
//! |---|---|---|
//! | text (`toFile`, `.drv`) | `text[:<ref>…]` | sha256 of the contents |
//! | source (`nix-store --add`) | `source[:<ref>…][:self]` | sha256 of the NAR |
//! | fixed output, sha256 recursive | same as source | the NAR hash |
//! | other fixed outputs | `output:out` | sha256 of `fixed:out:[r:]<algo>:<base16>:` |
//! | derivation output | `output:<name>` | hashDerivationModulo |

use std::collections::BTreeSet;
use std::fmt;

use super::{HASH_BYTES, ParseError, StoreDir, StorePath};
use crate::hash::{Base16, Encoding, Hash, HashAlgo, Hasher};

/// How a file system object is turned into bytes to hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileIngestionMethod {
    /// The contents of a single regular file.
    Flat,
    /// The NAR serialisation of a whole tree.
    Recursive,
}

/// The content address of a store object, as Nix records it (`ca` field).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ContentAddress {
    /// A text file (`text:sha256:…`).
    Text(Hash),
    /// A fixed-output object (`fixed:[r:]<algo>:…`).
    Fixed(FileIngestionMethod, Hash),
}

impl fmt::Display for ContentAddress {
    /// Writes Nix's textual form, digests in nixbase32.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ContentAddress::Text(hash) => {
                write!(f, "text:{}", hash.encode_with_algo(Encoding::Nixbase32))
            }
            ContentAddress::Fixed(method, hash) => {
                let r = if *method == FileIngestionMethod::Recursive {
                    "r:"
                } else {
                    ""
                };
                write!(f, "fixed:{r}{}", hash.encode_with_algo(Encoding::Nixbase32))
            }
        }
    }
}

impl StoreDir {
    /// Nix's `makeStorePath`: the path for a type string, an inner hash and a name.
    pub fn make_store_path(
        &self,
        path_type: &str,
        inner: &Hash,
        name: &str,
    ) -> Result<StorePath, ParseError> {
        self.make_typed_path(&[path_type], &BTreeSet::new(), false, inner, name)
    }

    /// `makeStorePath` for Nix's `makeType`: the type is `base` (in pieces)
    /// with `:<path>` for each reference and `:self` appended. The
    /// fingerprint `<type>:<algo>:<base16>:<store dir>:<name>` is hashed
    /// piece by piece, never assembled: every derivation computes a few.
    fn make_typed_path(
        &self,
        base: &[&str],
        references: &BTreeSet<StorePath>,
        self_reference: bool,
        inner: &Hash,
        name: &str,
    ) -> Result<StorePath, ParseError> {
        let mut hasher = Hasher::new(HashAlgo::Sha256);
        for part in base {
            hasher.update(part.as_bytes());
        }
        for reference in references {
            for part in [":", self.as_str(), "/", reference.as_str()] {
                hasher.update(part.as_bytes());
            }
        }
        if self_reference {
            hasher.update(b":self");
        }
        for part in [":", inner.algo().name(), ":"] {
            hasher.update(part.as_bytes());
        }
        update_base16(&mut hasher, inner.as_bytes());
        for part in [":", self.as_str(), ":", name] {
            hasher.update(part.as_bytes());
        }
        let digest = hasher.finish().compress::<HASH_BYTES>();
        StorePath::from_digest(&digest, name)
    }

    /// The path of a text file (`builtins.toFile`, `.drv` files).
    pub fn make_text_path(
        &self,
        name: &str,
        contents: &[u8],
        references: &BTreeSet<StorePath>,
    ) -> Result<StorePath, ParseError> {
        self.make_text_path_from_hash(name, &Hash::sha256(contents), references)
    }

    /// The path of a text file given the SHA-256 of its contents.
    pub fn make_text_path_from_hash(
        &self,
        name: &str,
        contents_hash: &Hash,
        references: &BTreeSet<StorePath>,
    ) -> Result<StorePath, ParseError> {
        self.make_typed_path(&["text"], references, false, contents_hash, name)
    }

    /// The path of a source tree added with `nix-store --add`, given the
    /// SHA-256 of its NAR.
    pub fn make_source_path(
        &self,
        name: &str,
        nar_hash: &Hash,
        references: &BTreeSet<StorePath>,
        self_reference: bool,
    ) -> Result<StorePath, ParseError> {
        self.make_typed_path(&["source"], references, self_reference, nar_hash, name)
    }

    /// Nix's `makeFixedOutputPath`: the path of a fixed-output object
    /// (`nix-store --add-fixed [--recursive]`, fixed-output derivations).
    ///
    /// Recursive SHA-256 is the same path as a source; every other case
    /// hashes a `fixed:out:` descriptor and cannot have references.
    pub fn make_fixed_output_path(
        &self,
        name: &str,
        method: FileIngestionMethod,
        hash: &Hash,
        references: &BTreeSet<StorePath>,
        self_reference: bool,
    ) -> Result<StorePath, ParseError> {
        if method == FileIngestionMethod::Recursive && hash.algo() == HashAlgo::Sha256 {
            return self.make_source_path(name, hash, references, self_reference);
        }
        let r = if method == FileIngestionMethod::Recursive {
            "r:"
        } else {
            ""
        };
        let descriptor = format!("fixed:out:{r}{}:", hash.encode_with_algo(Encoding::Base16));
        self.make_store_path("output:out", &Hash::sha256(descriptor.as_bytes()), name)
    }

    /// The path of a content-addressed object.
    pub fn make_content_addressed_path(
        &self,
        name: &str,
        address: &ContentAddress,
        references: &BTreeSet<StorePath>,
    ) -> Result<StorePath, ParseError> {
        match address {
            ContentAddress::Text(hash) => self.make_text_path_from_hash(name, hash, references),
            ContentAddress::Fixed(method, hash) => {
                self.make_fixed_output_path(name, *method, hash, references, false)
            }
        }
    }

    /// The path of an input-addressed derivation output: `hash_modulo` is the
    /// derivation's hashDerivationModulo, `drv_name` its `name` attribute.
    pub fn make_output_path(
        &self,
        hash_modulo: &Hash,
        output: &str,
        drv_name: &str,
    ) -> Result<StorePath, ParseError> {
        let name = output_path_name(drv_name, output);
        self.make_typed_path(
            &["output:", output],
            &BTreeSet::new(),
            false,
            hash_modulo,
            &name,
        )
    }
}

/// Feeds `bytes` in lowercase base16 to `hasher`, through a buffer on the
/// stack (digests: at most 64 bytes).
fn update_base16(hasher: &mut Hasher, bytes: &[u8]) {
    hasher.update(Base16::new(bytes).as_bytes());
}

/// The name of an output's store path: `name` for `out`, `name-<output>` otherwise.
pub fn output_path_name(drv_name: &str, output: &str) -> String {
    if output == "out" {
        drv_name.to_owned()
    } else {
        format!("{drv_name}-{output}")
    }
}
