//! Reading an image from a registry into an OCI image layout: the index
//! (or manifest) a reference names, every platform's manifest, config and
//! layers, each checked against its digest as it arrives.

use std::path::Path;

use serde_json::json;
use thiserror::Error;

use crate::layout::{Descriptor, LayoutError, REF_NAME, media, sha256_digest};
use crate::reference::Reference;
use crate::registry::{Registry, RegistryError};

/// Why a pull failed.
#[derive(Debug, Error)]
pub enum PullError {
    /// The registry refused or failed.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// What it sent is not an image.
    #[error("{reference}: {reason}")]
    NotImage {
        /// The image.
        reference: String,
        /// What is wrong.
        reason: String,
    },
    /// The layout could not be written.
    #[error("cannot write `{}`", path.display())]
    Write {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The written layout cannot be read back.
    #[error(transparent)]
    Layout(#[from] LayoutError),
}

/// Pulls the image `reference` names into a new OCI image layout at `dir`
/// (which must not exist); returns the image's digest. `index.json` names
/// it by the reference's tag, if any.
pub fn pull(
    registry: &mut Registry,
    reference: &Reference,
    dir: &Path,
) -> Result<String, PullError> {
    let not_image = |reason: String| PullError::NotImage {
        reference: reference.to_string(),
        reason,
    };
    let blobs = dir.join("blobs/sha256");
    fs_err::create_dir_all(&blobs).map_err(|source| PullError::Write {
        path: blobs.clone(),
        source,
    })?;
    let (media_type, top) = registry.get_manifest(reference.manifest_reference())?;
    let digest = sha256_digest(&top);
    write_blob(&blobs, &digest, &top)?;
    // An index names each platform's manifest; a manifest is the one image.
    let platform_manifests = if media::is_index(&media_type) {
        let index: serde_json::Value = serde_json::from_slice(&top)
            .map_err(|e| not_image(format!("its index is not JSON: {e}")))?;
        let entries: Vec<Descriptor> = serde_json::from_value(index["manifests"].clone())
            .map_err(|e| not_image(format!("its index lists no manifests: {e}")))?;
        if entries.is_empty() {
            return Err(not_image("its index lists no manifests".to_owned()));
        }
        let mut manifests = Vec::with_capacity(entries.len());
        for entry in &entries {
            let (_, bytes) = registry.get_manifest(&entry.digest)?;
            write_blob(&blobs, &entry.digest, &bytes)?;
            manifests.push(bytes);
        }
        manifests
    } else if media::is_manifest(&media_type) {
        vec![top.clone()]
    } else {
        return Err(not_image(format!(
            "it is `{media_type}`, not an image index or manifest"
        )));
    };
    for bytes in &platform_manifests {
        let manifest: serde_json::Value = serde_json::from_slice(bytes)
            .map_err(|e| not_image(format!("a manifest is not JSON: {e}")))?;
        let config: Descriptor = serde_json::from_value(manifest["config"].clone())
            .map_err(|e| not_image(format!("a manifest has no config: {e}")))?;
        let layers: Vec<Descriptor> = serde_json::from_value(manifest["layers"].clone())
            .map_err(|e| not_image(format!("a manifest has no layers: {e}")))?;
        for blob in std::iter::once(&config).chain(&layers) {
            if blobs.join(blob.hex()).exists() {
                continue;
            }
            let bytes = registry.get_blob(&blob.digest)?;
            write_blob(&blobs, &blob.digest, &bytes)?;
        }
    }
    let mut top_descriptor = json!({
        "mediaType": media_type,
        "digest": digest,
        "size": top.len(),
    });
    if let Some(tag) = &reference.tag {
        top_descriptor["annotations"] = json!({ REF_NAME: tag });
    }
    let index =
        json!({ "schemaVersion": 2, "mediaType": media::INDEX, "manifests": [top_descriptor] });
    write_file(&dir.join("index.json"), index.to_string().as_bytes())?;
    write_file(
        &dir.join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )?;
    Ok(digest)
}

fn write_blob(blobs: &Path, digest: &str, bytes: &[u8]) -> Result<(), PullError> {
    let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
    write_file(&blobs.join(hex), bytes)
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), PullError> {
    fs_err::write(path, bytes).map_err(|source| PullError::Write {
        path: path.to_owned(),
        source,
    })
}
