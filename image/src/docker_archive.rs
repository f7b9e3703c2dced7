//! One platform of an image as a docker archive, the tar `docker load`
//! and `podman load` read: the config as `<digest>.json`, each layer
//! uncompressed as `<diff id>/layer.tar` (checked against the config's
//! `diff_ids`), and `manifest.json` naming them and the image's tags.
//! Entries are in a fixed order with fixed owners, modes and times, so the
//! same image gives the same archive.

use std::io::{Read, Write};
use std::path::Path;

use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use thiserror::Error;

use crate::layout::{Image, Layout, LayoutError, PlatformImage, media};

/// Why an archive could not be written.
#[derive(Debug, Error)]
pub enum ArchiveError {
    /// The layout could not be read.
    #[error(transparent)]
    Layout(#[from] LayoutError),
    /// The image has no manifest for the platform.
    #[error("the image has no `{platform}` manifest; it has {}", available.join(", "))]
    NoPlatform {
        /// The platform asked for.
        platform: String,
        /// The platforms it has.
        available: Vec<String>,
    },
    /// A config or layer is not what the archive format can hold.
    #[error("{0}")]
    Image(String),
    /// Writing the archive failed.
    #[error("cannot write `{}`", path.display())]
    Write {
        /// The archive.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// The platform name of this machine's architecture (`linux/amd64`).
pub fn host_platform() -> String {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    format!("linux/{arch}")
}

/// The platform image of `image` named `platform` (`linux/arm64`, with or
/// without the variant).
pub fn select<'a>(image: &'a Image, platform: &str) -> Result<&'a PlatformImage, ArchiveError> {
    let names: Vec<String> = image
        .platforms
        .iter()
        .map(|p| {
            p.descriptor
                .platform
                .as_ref()
                .map_or_else(|| "(no platform)".to_owned(), ToString::to_string)
        })
        .collect();
    if image.platforms.len() == 1 && image.platforms[0].descriptor.platform.is_none() {
        return Ok(&image.platforms[0]);
    }
    image
        .platforms
        .iter()
        .zip(&names)
        .find(|(p, name)| {
            *name == platform
                || p.descriptor
                    .platform
                    .as_ref()
                    .is_some_and(|pl| format!("{}/{}", pl.os, pl.architecture) == platform)
        })
        .map(|(p, _)| p)
        .ok_or_else(|| ArchiveError::NoPlatform {
            platform: platform.to_owned(),
            available: names.clone(),
        })
}

/// Writes `platform` of `image` to `out` as a docker archive tagged
/// `repo_tags` (`name:tag`; none leaves the image untagged). The file
/// appears whole or not at all.
pub fn write(
    layout: &Layout,
    platform: &PlatformImage,
    repo_tags: &[String],
    out: &Path,
) -> Result<(), ArchiveError> {
    let partial = out.with_file_name(format!(
        ".{}.kiln-partial",
        out.file_name()
            .map_or_else(|| "archive".into(), |n| n.to_string_lossy())
    ));
    let write_error = |source| ArchiveError::Write {
        path: out.to_owned(),
        source,
    };
    let result = (|| {
        let file = std::fs::File::create(&partial).map_err(write_error)?;
        let mut writer = std::io::BufWriter::new(file);
        archive(layout, platform, repo_tags, &mut writer)?;
        let file = writer
            .into_inner()
            .map_err(|e| write_error(e.into_error()))?;
        file.sync_all().map_err(write_error)?;
        std::fs::rename(&partial, out).map_err(write_error)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result
}

fn archive(
    layout: &Layout,
    platform: &PlatformImage,
    repo_tags: &[String],
    out: &mut dyn Write,
) -> Result<(), ArchiveError> {
    let write_error = |source| ArchiveError::Write {
        path: layout.dir().to_owned(),
        source,
    };
    let config = layout.blob(&platform.config)?;
    let parsed: Value = serde_json::from_slice(&config).map_err(|e| {
        ArchiveError::Image(format!(
            "the config {} is not JSON: {e}",
            platform.config.digest
        ))
    })?;
    let diff_ids: Vec<&str> = parsed["rootfs"]["diff_ids"]
        .as_array()
        .map(|ids| ids.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if diff_ids.len() != platform.layers.len() {
        return Err(ArchiveError::Image(format!(
            "the config {} lists {} diff_ids for {} layers",
            platform.config.digest,
            diff_ids.len(),
            platform.layers.len()
        )));
    }
    let mut tar = tar::Builder::new(out);
    let config_name = format!("{}.json", platform.config.hex());
    append(&mut tar, &config_name, &config).map_err(write_error)?;
    let mut layer_names = Vec::new();
    for (layer, diff_id) in platform.layers.iter().zip(&diff_ids) {
        let blob = layout.blob(layer)?;
        let tar_bytes = match layer.media_type.as_str() {
            media::LAYER_GZIP | media::DOCKER_LAYER_GZIP => {
                let mut plain = Vec::new();
                flate2::read::GzDecoder::new(blob.as_slice())
                    .read_to_end(&mut plain)
                    .map_err(|e| {
                        ArchiveError::Image(format!("the layer {} is not gzip: {e}", layer.digest))
                    })?;
                plain
            }
            media::LAYER_TAR => blob,
            other => {
                return Err(ArchiveError::Image(format!(
                    "the layer {} is `{other}`; a docker archive takes tar or gzip layers",
                    layer.digest
                )));
            }
        };
        let got = format!("sha256:{}", hex::encode(Sha256::digest(&tar_bytes)));
        if got != *diff_id {
            return Err(ArchiveError::Image(format!(
                "the layer {} unpacks to {got}, but the config's diff_id is {diff_id}",
                layer.digest
            )));
        }
        let dir = diff_id.trim_start_matches("sha256:");
        append_dir(&mut tar, dir).map_err(write_error)?;
        let name = format!("{dir}/layer.tar");
        append(&mut tar, &name, &tar_bytes).map_err(write_error)?;
        layer_names.push(name);
    }
    let manifest = json!([{
        "Config": config_name,
        "RepoTags": repo_tags,
        "Layers": layer_names,
    }]);
    let manifest = serde_json::to_vec(&manifest)
        .map_err(|e| ArchiveError::Image(format!("cannot write manifest.json: {e}")))?;
    append(&mut tar, "manifest.json", &manifest).map_err(write_error)?;
    tar.into_inner()
        .map_err(write_error)?
        .flush()
        .map_err(write_error)
}

fn header(kind: tar::EntryType, size: u64, mode: u32) -> tar::Header {
    let mut header = tar::Header::new_ustar();
    header.set_entry_type(kind);
    header.set_size(size);
    header.set_mode(mode);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    header
}

fn append(tar: &mut tar::Builder<&mut dyn Write>, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let mut header = header(tar::EntryType::Regular, bytes.len() as u64, 0o644);
    tar.append_data(&mut header, name, bytes)
}

fn append_dir(tar: &mut tar::Builder<&mut dyn Write>, name: &str) -> std::io::Result<()> {
    let mut header = header(tar::EntryType::Directory, 0, 0o755);
    tar.append_data(&mut header, format!("{name}/"), std::io::empty())
}
