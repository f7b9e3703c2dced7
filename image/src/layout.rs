//! Reading an OCI image layout (`oci-layout`, `index.json`,
//! `blobs/sha256/…`), every blob checked against its descriptor's size and
//! digest, so that nothing corrupted leaves the machine.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use thiserror::Error;

pub use kiln_store::oci::media;

/// The annotation naming a reference in `index.json`.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// A content descriptor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// What the content is.
    pub media_type: String,
    /// `sha256:…`.
    pub digest: String,
    /// Its length in bytes.
    pub size: u64,
    /// The platform, in an index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<serde_json::Map<String, Value>>,
}

impl Descriptor {
    /// The `org.opencontainers.image.ref.name` annotation.
    pub fn ref_name(&self) -> Option<&str> {
        self.annotations.as_ref()?.get(REF_NAME)?.as_str()
    }

    /// The hex part of the digest.
    pub fn hex(&self) -> &str {
        self.digest.strip_prefix("sha256:").unwrap_or(&self.digest)
    }
}

/// A platform of an index entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    /// `amd64`, `arm64`.
    pub architecture: String,
    /// `linux`.
    pub os: String,
    /// `v8`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(variant) = &self.variant {
            write!(f, "/{variant}")?;
        }
        Ok(())
    }
}

#[derive(Deserialize)]
struct IndexDoc {
    manifests: Vec<Descriptor>,
}

#[derive(Deserialize)]
struct ManifestDoc {
    config: Descriptor,
    layers: Vec<Descriptor>,
}

/// Why a layout or one of its images cannot be read.
#[derive(Debug, Error)]
pub enum LayoutError {
    /// A file cannot be read.
    #[error("cannot read `{}`", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The directory is not an OCI image layout.
    #[error("`{}` is not an OCI image layout: {reason}", dir.display())]
    NotLayout {
        /// The directory.
        dir: PathBuf,
        /// What is missing or wrong.
        reason: String,
    },
    /// A JSON document is not what its media type says.
    #[error("the {what} `{digest}` is not valid: {reason}")]
    BadDocument {
        /// An index, a manifest.
        what: &'static str,
        /// Its digest.
        digest: String,
        /// What is wrong.
        reason: String,
    },
    /// A blob's size or digest is not its descriptor's.
    #[error("the blob `{}` does not match its descriptor ({reason}): the layout is corrupt", path.display())]
    Corrupt {
        /// The blob's file.
        path: PathBuf,
        /// What differs.
        reason: String,
    },
    /// No image carries the asked-for tag.
    #[error("`{}` has no image tagged `{tag}`; its tags: {}", dir.display(), if tags.is_empty() { "none".to_owned() } else { tags.join(", ") })]
    NoTag {
        /// The layout.
        dir: PathBuf,
        /// The tag asked for.
        tag: String,
        /// The tags it has.
        tags: Vec<String>,
    },
}

/// One platform's image: its manifest and what it names.
#[derive(Debug, Clone)]
pub struct PlatformImage {
    /// The manifest's descriptor (with its platform when the index gave one).
    pub descriptor: Descriptor,
    /// The manifest's bytes.
    pub manifest: Vec<u8>,
    /// The config's descriptor.
    pub config: Descriptor,
    /// The layers' descriptors, bottom first.
    pub layers: Vec<Descriptor>,
}

/// An image of a layout: an index of platform images, or one manifest.
#[derive(Debug, Clone)]
pub struct Image {
    /// The top descriptor (an index or a manifest).
    pub top: Descriptor,
    /// The top document's bytes.
    pub top_bytes: Vec<u8>,
    /// The tags (`index.json` reference names) that name `top`.
    pub tags: Vec<String>,
    /// The platform images (one when `top` is a manifest).
    pub platforms: Vec<PlatformImage>,
}

impl Image {
    /// Every config and layer, each once, in the order the manifests name
    /// them.
    pub fn blobs(&self) -> Vec<&Descriptor> {
        let mut seen = BTreeSet::new();
        let mut blobs = Vec::new();
        for platform in &self.platforms {
            for blob in std::iter::once(&platform.config).chain(&platform.layers) {
                if seen.insert(blob.digest.as_str()) {
                    blobs.push(blob);
                }
            }
        }
        blobs
    }

    /// Whether `top` is an index.
    pub fn is_index(&self) -> bool {
        media::is_index(&self.top.media_type)
    }
}

/// An opened image layout.
#[derive(Debug)]
pub struct Layout {
    dir: PathBuf,
    entries: Vec<Descriptor>,
}

impl Layout {
    /// Opens `dir`, reading `oci-layout` and `index.json`.
    pub fn open(dir: &Path) -> Result<Layout, LayoutError> {
        let not_layout = |reason: String| LayoutError::NotLayout {
            dir: dir.to_owned(),
            reason,
        };
        let marker = dir.join("oci-layout");
        if !marker.is_file() {
            return Err(not_layout("it has no `oci-layout` file".into()));
        }
        let marker: Value = serde_json::from_slice(&read(&marker)?)
            .map_err(|e| not_layout(format!("`oci-layout` is not JSON: {e}")))?;
        if marker["imageLayoutVersion"].as_str() != Some("1.0.0") {
            return Err(not_layout(
                "`oci-layout` does not say imageLayoutVersion 1.0.0".into(),
            ));
        }
        let index: IndexDoc = serde_json::from_slice(&read(&dir.join("index.json"))?)
            .map_err(|e| not_layout(format!("`index.json` is not an image index: {e}")))?;
        index.check().map_err(not_layout)?;
        Ok(Layout {
            dir: dir.to_owned(),
            entries: index.manifests,
        })
    }

    /// The layout's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The tags of the layout's images (reference names of `index.json`
    /// entries that are indexes, or manifests when there is no index).
    pub fn tags(&self) -> Vec<String> {
        let any_index = self.entries.iter().any(|e| media::is_index(&e.media_type));
        self.entries
            .iter()
            .filter(|e| !any_index || media::is_index(&e.media_type))
            .filter_map(|e| e.ref_name().map(str::to_owned))
            .collect()
    }

    /// The image tagged `tag`, or, without a tag, the first entry of
    /// `index.json` (kiln's layouts list their image index first).
    pub fn image(&self, tag: Option<&str>) -> Result<Image, LayoutError> {
        let top = match tag {
            Some(tag) => self.entries.iter().find(|e| e.ref_name() == Some(tag)),
            None => self.entries.first(),
        }
        .ok_or_else(|| LayoutError::NoTag {
            dir: self.dir.clone(),
            tag: tag.unwrap_or("(any)").to_owned(),
            tags: self.tags(),
        })?
        .clone();
        let tags = self
            .entries
            .iter()
            .filter(|e| e.digest == top.digest)
            .filter_map(|e| e.ref_name().map(str::to_owned))
            .collect();
        let top_bytes = self.blob(&top)?;
        let platforms = if media::is_index(&top.media_type) {
            let index: IndexDoc = document(&top, "image index", &top_bytes)?;
            let mut platforms = Vec::new();
            for entry in index.manifests {
                if !media::is_manifest(&entry.media_type) {
                    return Err(bad(
                        &top,
                        "image index",
                        format!(
                            "it lists `{}` of type `{}`, not an image manifest",
                            entry.digest, entry.media_type
                        ),
                    ));
                }
                platforms.push(self.platform_image(entry)?);
            }
            platforms
        } else if media::is_manifest(&top.media_type) {
            vec![self.platform_image(top.clone())?]
        } else {
            return Err(bad(
                &top,
                "image",
                format!(
                    "its media type `{}` is neither an index nor a manifest",
                    top.media_type
                ),
            ));
        };
        Ok(Image {
            top,
            top_bytes,
            tags,
            platforms,
        })
    }

    fn platform_image(&self, descriptor: Descriptor) -> Result<PlatformImage, LayoutError> {
        let manifest = self.blob(&descriptor)?;
        let doc: ManifestDoc = document(&descriptor, "image manifest", &manifest)?;
        Ok(PlatformImage {
            descriptor,
            manifest,
            config: doc.config,
            layers: doc.layers,
        })
    }

    /// The path of a blob.
    pub fn blob_path(&self, descriptor: &Descriptor) -> PathBuf {
        self.dir.join("blobs/sha256").join(descriptor.hex())
    }

    /// A blob's bytes, checked against the descriptor's size and digest.
    pub fn blob(&self, descriptor: &Descriptor) -> Result<Vec<u8>, LayoutError> {
        let path = self.blob_path(descriptor);
        if crate::reference::check_digest(&descriptor.digest).is_err() {
            return Err(LayoutError::Corrupt {
                path,
                reason: format!("`{}` is not a sha256 digest", descriptor.digest),
            });
        }
        let bytes = read(&path)?;
        if bytes.len() as u64 != descriptor.size {
            return Err(LayoutError::Corrupt {
                path,
                reason: format!(
                    "{} bytes, the descriptor says {}",
                    bytes.len(),
                    descriptor.size
                ),
            });
        }
        let digest = sha256_digest(&bytes);
        if digest != descriptor.digest {
            return Err(LayoutError::Corrupt {
                path,
                reason: format!("its digest is {digest}"),
            });
        }
        Ok(bytes)
    }
}

impl IndexDoc {
    fn check(&self) -> Result<(), String> {
        if self.manifests.is_empty() {
            return Err("`index.json` lists no image".into());
        }
        for entry in &self.manifests {
            crate::reference::check_digest(&entry.digest)
                .map_err(|e| format!("`index.json`: {e}"))?;
        }
        Ok(())
    }
}

/// `sha256:` and the hex digest of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

fn document<T: serde::de::DeserializeOwned>(
    descriptor: &Descriptor,
    what: &'static str,
    bytes: &[u8],
) -> Result<T, LayoutError> {
    serde_json::from_slice(bytes).map_err(|e| bad(descriptor, what, e.to_string()))
}

fn bad(descriptor: &Descriptor, what: &'static str, reason: String) -> LayoutError {
    LayoutError::BadDocument {
        what,
        digest: descriptor.digest.clone(),
        reason,
    }
}

fn read(path: &Path) -> Result<Vec<u8>, LayoutError> {
    std::fs::read(path).map_err(|source| LayoutError::Read {
        path: path.to_owned(),
        source,
    })
}
