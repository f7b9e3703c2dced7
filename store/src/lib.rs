/*!
kiln's store: Nix's data formats and, later, the content-addressed store that
builds derivations.

The formats are exactly Nix's, so that kiln and Nix agree byte for byte:

- [`hash`]: digests ([`hash::Hash`]) in md5/sha1/sha256/sha512 and their
  encodings (base16, nixbase32, base64, SRI).
- [`store_path`]: store path names and the recipes that compute them for
  sources, text files, fixed outputs and derivation outputs.

This crate knows nothing about the Nix language: the evaluator (`kiln-eval`)
produces derivations and hands them here.
*/

#[cfg(target_os = "linux")]
pub mod build;
#[cfg(all(feature = "fetch", feature = "unpack"))]
pub mod builtins;
#[cfg(feature = "runtime")]
pub mod bundle;
#[cfg(feature = "runtime")]
pub mod db;
pub mod derivation;
#[cfg(feature = "fetch")]
pub mod fetch;
pub mod hash;
#[cfg(feature = "runtime")]
pub mod layout;
#[cfg(feature = "runtime")]
pub mod lock;
pub mod nar;
pub mod oci;
#[cfg(feature = "runtime")]
pub mod realise;
#[cfg(target_os = "linux")]
pub mod sandbox;
#[cfg(all(feature = "runtime", target_os = "linux"))]
pub mod schedule;
#[cfg(feature = "runtime")]
pub mod store;
pub mod store_path;
#[cfg(feature = "unpack")]
pub mod unpack;
