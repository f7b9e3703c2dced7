//! Checking the OpenPGP signatures of a clear-signed `InRelease` against
//! a keyring (by default Debian's, `/usr/share/keyrings/debian-archive-keyring.gpg`),
//! with the pure-Rust `pgp` crate.
//!
//! An `InRelease` carries one signature per archive key in use (sid's
//! carries two: the bookworm and trixie automatic signing keys). The
//! check passes when at least one signature verifies against a primary
//! key or subkey of the keyring; [`verify`] returns the fingerprints of the
//! keys that made good signatures, for the lock. Every key in the keyring
//! is trusted as it is: its own bindings and expiry are not checked (the
//! keyring is the system's trust root, and the mirror here is a frozen
//! snapshot whose signatures are older than the machine's clock).
//!
//! The text that `pgp` checked must also be the text that
//! [`crate::release::strip_clearsign`] parsed (up to line ends and
//! trailing whitespace, which signatures ignore), so the two parsers of
//! the armor cannot disagree unnoticed.

use std::path::{Path, PathBuf};

use pgp::composed::{CleartextSignedMessage, PublicOrSecret, SignedPublicKey};
use pgp::types::KeyDetails as _;
use thiserror::Error;

use crate::release::strip_clearsign;

pub use crate::DEBIAN_KEYRING;

/// Why the signature check failed.
#[derive(Debug, Error)]
pub enum SignatureError {
    /// The keyring could not be read (the cause names it).
    #[error("cannot read the keyring")]
    ReadKeyring(#[source] std::io::Error),
    /// The keyring is not OpenPGP keys.
    #[error("`{path}` is not an OpenPGP keyring")]
    ParseKeyring {
        /// The keyring.
        path: PathBuf,
        /// Why.
        #[source]
        source: pgp::errors::Error,
    },
    /// The keyring holds no public key.
    #[error("`{path}` holds no public key")]
    EmptyKeyring {
        /// The keyring.
        path: PathBuf,
    },
    /// The `InRelease` is not a clear-signed message.
    #[error("`InRelease` is not a clear-signed OpenPGP message")]
    NotSigned(#[source] pgp::errors::Error),
    /// No signature verifies against the keyring.
    #[error(
        "no signature of `InRelease` verifies against the keyring `{keyring}` (signed by {})",
        if issuers.is_empty() { "unnamed keys".to_owned() } else { issuers.join(", ") }
    )]
    Bad {
        /// The keyring.
        keyring: PathBuf,
        /// The fingerprints or key ids the signatures name.
        issuers: Vec<String>,
    },
    /// The signed text differs from the text kiln parsed.
    #[error("the signed text of `InRelease` differs from the text read from it")]
    TextMismatch,
}

/// The public keys of a keyring.
#[derive(Debug)]
pub struct Keyring {
    path: PathBuf,
    keys: Vec<SignedPublicKey>,
}

impl Keyring {
    /// Reads a keyring, binary (`.gpg`) or ASCII-armored (`.asc`).
    pub fn load(path: &Path) -> Result<Keyring, SignatureError> {
        let bytes = fs_err::read(path).map_err(SignatureError::ReadKeyring)?;
        let parse_error = |source| SignatureError::ParseKeyring {
            path: path.to_owned(),
            source,
        };
        let (keys, _) = PublicOrSecret::from_reader_many(bytes.as_slice()).map_err(parse_error)?;
        let mut public = Vec::new();
        for key in keys {
            if let PublicOrSecret::Public(key) = key.map_err(parse_error)? {
                public.push(key);
            }
        }
        if public.is_empty() {
            return Err(SignatureError::EmptyKeyring {
                path: path.to_owned(),
            });
        }
        Ok(Keyring {
            path: path.to_owned(),
            keys: public,
        })
    }

    /// Returns how many keys (not counting subkeys) the keyring holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the keyring holds no key (never true for a loaded keyring).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// Checks the signatures of the clear-signed `in_release` against
/// `keyring`, and returns the fingerprints (uppercase hex) of the keys
/// that made good ones, sorted.
pub fn verify(in_release: &str, keyring: &Keyring) -> Result<Vec<String>, SignatureError> {
    let (message, _) =
        CleartextSignedMessage::from_string(in_release).map_err(SignatureError::NotSigned)?;
    let text = message.signed_text();
    let mut good = Vec::new();
    for signature in message.signatures() {
        for key in &keyring.keys {
            let primary = signature
                .verify(key, text.as_bytes())
                .is_ok()
                .then(|| key.fingerprint());
            let found = primary.or_else(|| {
                key.public_subkeys
                    .iter()
                    .find(|sub| signature.verify(*sub, text.as_bytes()).is_ok())
                    .map(|sub| sub.fingerprint())
            });
            if let Some(fingerprint) = found {
                good.push(format!("{fingerprint:X}"));
                break;
            }
        }
    }
    if good.is_empty() {
        let issuers = message
            .signatures()
            .iter()
            .flat_map(|s| s.issuer_fingerprint())
            .map(|f| format!("{f:X}"))
            .collect();
        return Err(SignatureError::Bad {
            keyring: keyring.path.clone(),
            issuers,
        });
    }
    let ours = strip_clearsign(in_release)
        .ok()
        .flatten()
        .ok_or(SignatureError::TextMismatch)?;
    if normalise(&ours) != normalise(&text) {
        return Err(SignatureError::TextMismatch);
    }
    good.sort();
    good.dedup();
    Ok(good)
}

/// Lines without line ends or trailing whitespace, which signatures ignore.
fn normalise(text: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The real `InRelease` of the mirror, when a copy is at hand
    /// (`KILN_TEST_INRELEASE=<file>`), against Debian's keyring.
    #[test]
    #[expect(clippy::print_stderr, reason = "a skipped test must say so")]
    fn real_in_release_verifies() {
        let (Some(file), true) = (
            std::env::var_os("KILN_TEST_INRELEASE"),
            Path::new(DEBIAN_KEYRING).exists(),
        ) else {
            eprintln!(
                "note: set KILN_TEST_INRELEASE (and install debian-archive-keyring) to run this"
            );
            return;
        };
        let text = std::fs::read_to_string(file).unwrap();
        let keyring = Keyring::load(Path::new(DEBIAN_KEYRING)).unwrap();
        let signers = verify(&text, &keyring).unwrap();
        assert!(!signers.is_empty());
        let tampered = text.replacen("Suite: unstable", "Suite: stable", 1);
        assert!(matches!(
            verify(&tampered, &keyring),
            Err(SignatureError::Bad { .. })
        ));
    }

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name)
    }

    /// `tests/fixtures/InRelease` was clear-signed by `gpg --clearsign` with
    /// the key in `test-keyring.gpg`, and has a dash-escaped line.
    #[test]
    fn a_gpg_clearsigned_release_verifies() {
        let keyring = Keyring::load(&fixture("test-keyring.gpg")).unwrap();
        assert_eq!(keyring.len(), 1);
        let text = std::fs::read_to_string(fixture("InRelease")).unwrap();
        assert_eq!(
            verify(&text, &keyring).unwrap(),
            ["436DAE340F309C494C7A7750199BA4BCE7C05CF1"]
        );
        let tampered = text.replace("Codename: sid", "Codename: bookworm");
        let error = verify(&tampered, &keyring).unwrap_err();
        assert!(matches!(error, SignatureError::Bad { .. }), "{error:?}");
        assert!(
            error
                .to_string()
                .contains("436DAE340F309C494C7A7750199BA4BCE7C05CF1"),
            "{error}"
        );
        let plain = text.split("-----BEGIN PGP SIGNATURE-----").next().unwrap();
        assert!(verify(plain, &keyring).is_err());
    }

    #[test]
    fn another_keyring_does_not_verify() {
        if !Path::new(DEBIAN_KEYRING).exists() {
            return;
        }
        let keyring = Keyring::load(Path::new(DEBIAN_KEYRING)).unwrap();
        let text = std::fs::read_to_string(fixture("InRelease")).unwrap();
        assert!(matches!(
            verify(&text, &keyring),
            Err(SignatureError::Bad { .. })
        ));
    }

    #[test]
    fn keyring_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.gpg");
        std::fs::write(&path, b"not a key").unwrap();
        assert!(Keyring::load(&path).is_err());
        assert!(matches!(
            Keyring::load(&dir.path().join("missing.gpg")),
            Err(SignatureError::ReadKeyring(_))
        ));
    }

    #[test]
    fn normalising_ignores_line_ends_and_trailing_space() {
        assert_eq!(normalise("a \r\nb\r\n\r\n"), normalise("a\nb"));
        assert_ne!(normalise("a\nb"), normalise("a\n b"));
    }
}
