//! The bundle file format (version 1).
//!
//! ```text
//! "kiln-bundle\n"      12 bytes of magic
//! version              u32, little-endian (1)
//! one zstd frame (with its content checksum) holding:
//!   manifest length    u64, little-endian
//!   manifest           that many bytes of JSON (a `Manifest`)
//!   for each path of the manifest, in its order:
//!     NAR length       u64, little-endian (the entry's `narSize`)
//!     NAR              that many bytes
//!   "kiln-end"         8 bytes
//! ```
//!
//! Nothing may follow the frame. The manifest says, per store path, its
//! NAR hash and size, references, deriver and content address; the
//! importer checks every NAR against it ([`super::import`]).
//!
//! [`BundleWriter`] writes a bundle given its manifest, one NAR at a time;
//! [`BundleReader`] reads the header and manifest, then hands out each NAR
//! as a [`NarReader`] limited to its length.

use std::collections::BTreeSet;
use std::io::{self, Read, Write};

use serde::{Deserialize, Serialize};

use super::{BundleError, read_error};
use crate::db::parse_content_address;
use crate::hash::{Encoding, Hash, HashAlgo};
use crate::store_path::{ContentAddress, StoreDir, StorePath};

/// The first bytes of every bundle.
pub const MAGIC: &[u8; 12] = b"kiln-bundle\n";
/// The format version this kiln writes and reads.
pub const VERSION: u32 = 1;
/// The bytes after the last NAR.
pub const END: &[u8; 8] = b"kiln-end";
/// The largest manifest accepted (a million paths need about 400 MB).
pub const MAX_MANIFEST_LEN: u64 = 1 << 30;
/// The zstd level bundles are written at.
const LEVEL: i32 = 6;

/// A bundle's table of contents, stored as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Manifest {
    /// The logical store directory the paths belong to.
    pub store_dir: String,
    /// The paths, in the order of their NARs.
    pub paths: Vec<ManifestEntry>,
}

/// What the manifest says about one store path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ManifestEntry {
    /// The full logical path.
    pub path: String,
    /// The SHA-256 of its NAR, as the store database records it
    /// (`sha256:<nixbase32>`).
    pub nar_hash: String,
    /// The NAR's size in bytes.
    pub nar_size: u64,
    /// The full paths it refers to (possibly itself), sorted.
    pub references: Vec<String>,
    /// The derivation that produced it, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deriver: Option<String>,
    /// Its content address (`text:…`, `fixed:[r:]…`), if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<String>,
}

/// A manifest entry with its texts parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The store path.
    pub path: StorePath,
    /// The SHA-256 of its NAR.
    pub nar_hash: Hash,
    /// The NAR's size in bytes.
    pub nar_size: u64,
    /// Its references.
    pub references: BTreeSet<StorePath>,
    /// Its deriver.
    pub deriver: Option<StorePath>,
    /// Its content address.
    pub ca: Option<ContentAddress>,
}

impl Entry {
    /// Returns the manifest form of this entry.
    pub fn to_manifest(&self, store_dir: &StoreDir) -> ManifestEntry {
        ManifestEntry {
            path: store_dir.display(&self.path),
            nar_hash: self.nar_hash.encode_with_algo(Encoding::Nixbase32),
            nar_size: self.nar_size,
            references: self
                .references
                .iter()
                .map(|r| store_dir.display(r))
                .collect(),
            deriver: self.deriver.as_ref().map(|d| store_dir.display(d)),
            ca: self.ca.as_ref().map(ToString::to_string),
        }
    }
}

impl Manifest {
    /// Parses every entry for a store whose directory is `store_dir`,
    /// refusing another directory, unparsable fields and duplicates.
    pub fn entries(&self, store_dir: &StoreDir) -> Result<Vec<Entry>, BundleError> {
        if self.store_dir != store_dir.as_str() {
            return Err(BundleError::WrongStoreDir {
                found: self.store_dir.clone(),
                expected: store_dir.as_str().to_owned(),
            });
        }
        let parse = |text: &str, what: &str| {
            store_dir.parse(text).map_err(|e| {
                BundleError::Manifest(format!("{what} `{text}` is not a store path: {e}"))
            })
        };
        let mut seen = BTreeSet::new();
        let mut entries = Vec::with_capacity(self.paths.len());
        for raw in &self.paths {
            let path = parse(&raw.path, "path")?;
            if !seen.insert(path.clone()) {
                return Err(BundleError::Manifest(format!(
                    "`{}` is listed twice",
                    raw.path
                )));
            }
            let nar_hash = Hash::parse(&raw.nar_hash, None)
                .ok()
                .filter(|h| h.algo() == HashAlgo::Sha256)
                .ok_or_else(|| {
                    BundleError::Manifest(format!(
                        "`{}` has the NAR hash `{}`, which is not a SHA-256 hash",
                        raw.path, raw.nar_hash
                    ))
                })?;
            let references = raw
                .references
                .iter()
                .map(|r| parse(r, "reference"))
                .collect::<Result<BTreeSet<_>, _>>()?;
            let deriver = raw
                .deriver
                .as_deref()
                .map(|d| parse(d, "deriver"))
                .transpose()?;
            let ca = match &raw.ca {
                Some(text) => Some(parse_content_address(text).ok_or_else(|| {
                    BundleError::Manifest(format!(
                        "`{}` has the content address `{text}`, which does not parse",
                        raw.path
                    ))
                })?),
                None => None,
            };
            entries.push(Entry {
                path,
                nar_hash,
                nar_size: raw.nar_size,
                references,
                deriver,
                ca,
            });
        }
        Ok(entries)
    }
}

/// Writes a bundle: the header and manifest on creation, then each NAR
/// with [`BundleWriter::nar`], then [`BundleWriter::finish`].
pub struct BundleWriter<W: Write> {
    encoder: zstd::stream::write::Encoder<'static, W>,
    /// The NAR sizes still to write, in order.
    sizes: std::vec::IntoIter<u64>,
}

impl<W: Write> BundleWriter<W> {
    /// Writes the header and the manifest to `out`.
    pub fn new(mut out: W, manifest: &Manifest) -> Result<BundleWriter<W>, BundleError> {
        out.write_all(MAGIC).map_err(BundleError::Write)?;
        out.write_all(&VERSION.to_le_bytes())
            .map_err(BundleError::Write)?;
        let mut encoder =
            zstd::stream::write::Encoder::new(out, LEVEL).map_err(BundleError::Write)?;
        encoder.include_checksum(true).map_err(BundleError::Write)?;
        let json = serde_json::to_vec(manifest).map_err(|e| BundleError::Write(e.into()))?;
        encoder
            .write_all(&(json.len() as u64).to_le_bytes())
            .map_err(BundleError::Write)?;
        encoder.write_all(&json).map_err(BundleError::Write)?;
        let sizes: Vec<u64> = manifest.paths.iter().map(|p| p.nar_size).collect();
        Ok(BundleWriter {
            encoder,
            sizes: sizes.into_iter(),
        })
    }

    /// Starts the next NAR: the returned writer takes exactly the size
    /// the manifest gives ([`NarWriter::finish`] checks it).
    pub fn nar(&mut self) -> Result<NarWriter<'_, W>, BundleError> {
        let size = self.sizes.next().ok_or_else(|| {
            BundleError::Write(io::Error::other("more NARs than the manifest lists"))
        })?;
        self.encoder
            .write_all(&size.to_le_bytes())
            .map_err(BundleError::Write)?;
        Ok(NarWriter {
            encoder: &mut self.encoder,
            remaining: size,
            size,
        })
    }

    /// Writes the end marker and ends the compressed stream; returns the
    /// output.
    pub fn finish(mut self) -> Result<W, BundleError> {
        if self.sizes.next().is_some() {
            return Err(BundleError::Write(io::Error::other(
                "fewer NARs than the manifest lists",
            )));
        }
        self.encoder.write_all(END).map_err(BundleError::Write)?;
        let mut out = self.encoder.finish().map_err(BundleError::Write)?;
        out.flush().map_err(BundleError::Write)?;
        Ok(out)
    }
}

/// One NAR being written into a bundle.
pub struct NarWriter<'a, W: Write> {
    encoder: &'a mut zstd::stream::write::Encoder<'static, W>,
    remaining: u64,
    size: u64,
}

impl<W: Write> Write for NarWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.remaining == 0 && !buf.is_empty() {
            return Err(io::Error::other(format!(
                "the NAR is longer than the {} bytes the manifest gives",
                self.size
            )));
        }
        let max = usize::try_from(self.remaining)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let n = self.encoder.write(buf.get(..max).unwrap_or(buf))?;
        self.remaining -= n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<W: Write> NarWriter<'_, W> {
    /// Checks that the whole NAR was written.
    pub fn finish(self) -> Result<(), BundleError> {
        if self.remaining != 0 {
            return Err(BundleError::Write(io::Error::other(format!(
                "the NAR is {} bytes shorter than the {} bytes the manifest gives",
                self.remaining, self.size
            ))));
        }
        Ok(())
    }
}

/// Reads a bundle: the header and manifest on [`BundleReader::open`],
/// then each NAR with [`BundleReader::nar`], then [`BundleReader::finish`].
pub struct BundleReader<R: Read> {
    decoder: zstd::stream::read::Decoder<'static, io::BufReader<R>>,
}

impl<R: Read> BundleReader<R> {
    /// Checks the header and reads the manifest.
    pub fn open(mut input: R) -> Result<(Manifest, BundleReader<R>), BundleError> {
        let mut header = [0u8; MAGIC.len() + 4];
        read_full(&mut input, &mut header, "the header")?;
        let (magic, version) = header.split_at(MAGIC.len());
        if magic != MAGIC {
            return Err(BundleError::BadMagic);
        }
        let mut version_bytes = [0u8; 4];
        version_bytes.copy_from_slice(version);
        let found = u32::from_le_bytes(version_bytes);
        if found != VERSION {
            return Err(BundleError::Version {
                found,
                supported: VERSION,
            });
        }
        let decoder = zstd::stream::read::Decoder::new(input)
            .map_err(|e| read_error("the compressed stream", e))?;
        let mut reader = BundleReader { decoder };
        let len = reader.read_u64("the manifest")?;
        if len > MAX_MANIFEST_LEN {
            return Err(BundleError::ManifestTooLarge {
                len,
                max: MAX_MANIFEST_LEN,
            });
        }
        // Read to the end of the limit rather than allocating `len` up
        // front: a lying length must not cost memory.
        let mut json = Vec::new();
        (&mut reader.decoder)
            .take(len)
            .read_to_end(&mut json)
            .map_err(|e| read_error("the manifest", e))?;
        if json.len() as u64 != len {
            return Err(BundleError::Truncated {
                what: "the manifest".into(),
            });
        }
        let manifest = serde_json::from_slice(&json).map_err(BundleError::ManifestJson)?;
        Ok((manifest, reader))
    }

    /// Reads the next NAR's length prefix and returns a reader of exactly
    /// that many bytes; `what` names the NAR in errors.
    pub fn nar(&mut self, what: &str) -> Result<NarReader<'_, R>, BundleError> {
        let len = self.read_u64(what)?;
        Ok(NarReader {
            decoder: &mut self.decoder,
            len,
            remaining: len,
            truncated: false,
        })
    }

    /// Checks the end marker and that nothing follows it.
    pub fn finish(mut self) -> Result<(), BundleError> {
        let mut end = [0u8; END.len()];
        read_full(&mut self.decoder, &mut end, "the end marker")?;
        if &end != END {
            return Err(BundleError::TrailingData);
        }
        let mut byte = [0u8; 1];
        match self.decoder.read(&mut byte) {
            Ok(0) => Ok(()),
            Ok(_) => Err(BundleError::TrailingData),
            Err(e) => Err(read_error("the end of the bundle", e)),
        }
    }

    fn read_u64(&mut self, what: &str) -> Result<u64, BundleError> {
        let mut bytes = [0u8; 8];
        read_full(&mut self.decoder, &mut bytes, what)?;
        Ok(u64::from_le_bytes(bytes))
    }
}

/// Like `read_exact`, with the bundle's errors.
fn read_full(input: &mut impl Read, buf: &mut [u8], what: &str) -> Result<(), BundleError> {
    input.read_exact(buf).map_err(|e| read_error(what, e))
}

/// One NAR of a bundle: reads end after its length. Whether the bundle
/// ended before that is kept ([`NarReader::truncated`]).
pub struct NarReader<'a, R: Read> {
    decoder: &'a mut zstd::stream::read::Decoder<'static, io::BufReader<R>>,
    len: u64,
    remaining: u64,
    truncated: bool,
}

impl<R: Read> NarReader<'_, R> {
    /// The length from the NAR's prefix.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the NAR is empty (never, for a valid NAR).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the bundle ended before the NAR did.
    pub fn truncated(&self) -> bool {
        self.truncated
    }

    /// Whether every byte of the NAR has been read.
    pub fn done(&self) -> bool {
        self.remaining == 0
    }
}

impl<R: Read> Read for NarReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let max = usize::try_from(self.remaining)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let Some(buf) = buf.get_mut(..max).filter(|b| !b.is_empty()) else {
            return Ok(0);
        };
        match self.decoder.read(buf) {
            Ok(0) => {
                self.truncated = true;
                Err(io::ErrorKind::UnexpectedEof.into())
            }
            Ok(n) => {
                self.remaining -= n as u64;
                Ok(n)
            }
            Err(e) => {
                if e.kind() == io::ErrorKind::UnexpectedEof {
                    self.truncated = true;
                }
                Err(e)
            }
        }
    }
}
