//! Pushing an image of a layout to a registry: the blobs the registry
//! lacks, then each platform's manifest by digest, then the index under
//! each tag. Whatever the registry has already is not sent again, so a
//! second push of the same image sends only existence checks.

use thiserror::Error;

use crate::layout::{Image, Layout, LayoutError};
use crate::registry::{Registry, RegistryError};

/// Why a push failed.
#[derive(Debug, Error)]
pub enum PushError {
    /// The layout could not be read.
    #[error(transparent)]
    Layout(#[from] LayoutError),
    /// The registry refused or failed.
    #[error(transparent)]
    Registry(#[from] RegistryError),
}

/// One step of a push, for progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The registry has this blob.
    BlobPresent {
        /// Its digest.
        digest: String,
        /// Its size.
        size: u64,
    },
    /// A blob was uploaded.
    BlobUploaded {
        /// Its digest.
        digest: String,
        /// Its size.
        size: u64,
    },
    /// The registry had this manifest under this reference.
    ManifestPresent {
        /// A digest or tag.
        reference: String,
    },
    /// A manifest was written under this reference.
    ManifestPut {
        /// A digest or tag.
        reference: String,
    },
}

/// How to push.
#[derive(Debug, Clone)]
pub struct PushOptions {
    /// The tags to write the image under; none writes it by digest only.
    pub tags: Vec<String>,
    /// Blobs larger than this go up in chunks of this size.
    pub chunk_size: usize,
}

/// Pushes `image` of `layout` to the repository `registry` is connected
/// to; returns the image's digest.
pub fn push(
    layout: &Layout,
    image: &Image,
    registry: &mut Registry,
    options: &PushOptions,
    progress: &mut dyn FnMut(Event),
) -> Result<String, PushError> {
    for blob in image.blobs() {
        if registry.has_blob(&blob.digest)? {
            registry.stats.blobs_present += 1;
            progress(Event::BlobPresent {
                digest: blob.digest.clone(),
                size: blob.size,
            });
            continue;
        }
        let bytes = layout.blob(blob)?;
        registry.upload_blob(&blob.digest, &bytes, options.chunk_size)?;
        progress(Event::BlobUploaded {
            digest: blob.digest.clone(),
            size: blob.size,
        });
    }
    if image.is_index() {
        for platform in &image.platforms {
            let descriptor = &platform.descriptor;
            put_once(
                registry,
                &descriptor.digest,
                &descriptor.digest,
                &descriptor.media_type,
                &platform.manifest,
                progress,
            )?;
        }
    }
    let top = &image.top;
    if options.tags.is_empty() {
        put_once(
            registry,
            &top.digest,
            &top.digest,
            &top.media_type,
            &image.top_bytes,
            progress,
        )?;
    }
    for tag in &options.tags {
        put_once(
            registry,
            tag,
            &top.digest,
            &top.media_type,
            &image.top_bytes,
            progress,
        )?;
    }
    Ok(top.digest.clone())
}

/// Writes a manifest under `reference` unless it already names `digest`.
fn put_once(
    registry: &mut Registry,
    reference: &str,
    digest: &str,
    media_type: &str,
    bytes: &[u8],
    progress: &mut dyn FnMut(Event),
) -> Result<(), PushError> {
    if registry.manifest_digest(reference)?.as_deref() == Some(digest) {
        registry.stats.manifests_present += 1;
        progress(Event::ManifestPresent {
            reference: reference.to_owned(),
        });
        return Ok(());
    }
    registry.put_manifest(reference, media_type, bytes)?;
    progress(Event::ManifestPut {
        reference: reference.to_owned(),
    });
    Ok(())
}
