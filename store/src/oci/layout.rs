//! An OCI image layout directory (`oci-layout`, `index.json`,
//! `blobs/sha256/…`) for a multi-platform image, from an [`ImageSpec`].
//!
//! Per platform: one layer ([`super::layer`]), a config (`created` from the
//! spec's time, `config` with the entrypoint, command, working directory,
//! environment, user and labels, `rootfs.diff_ids`, one `history` entry)
//! and a manifest. An image index lists the manifests with their
//! platforms; the layout's `index.json` points at that index, named by the
//! image's tags (`org.opencontainers.image.ref.name`), and at each
//! platform's manifest as `TAG-ARCH` (`latest-arm64`), for tools that
//! unpack one image. Every JSON document
//! is written compactly with its keys in a fixed order, so the index
//! digest is a function of the spec and the files alone.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use thiserror::Error;

use super::layer::{self, LayerError, Tree};
use super::media;

/// What an image holds; the JSON a derivation gives the image builder.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ImageSpec {
    /// The image's name (`uv`), for the reference names.
    pub name: String,
    /// Its tags (`latest`, `0.13.7`).
    #[serde(default)]
    pub tags: Vec<String>,
    /// `created`, and every file's mtime, in seconds since the epoch
    /// (`SOURCE_DATE_EPOCH`).
    pub created: u64,
    /// The entrypoint.
    #[serde(default)]
    pub entrypoint: Vec<String>,
    /// The default arguments.
    #[serde(default)]
    pub cmd: Vec<String>,
    /// The working directory (created in the image).
    #[serde(default)]
    pub working_dir: Option<String>,
    /// `NAME=value` entries.
    #[serde(default)]
    pub env: Vec<String>,
    /// The user to run as.
    #[serde(default)]
    pub user: Option<String>,
    /// Labels (`org.opencontainers.image.source`, …).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// One image per platform.
    pub platforms: Vec<PlatformSpec>,
}

/// One platform's image.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlatformSpec {
    /// `amd64`, `arm64`.
    pub architecture: String,
    /// `v8` for arm64.
    #[serde(default)]
    pub variant: Option<String>,
    /// What goes in, in order.
    pub contents: Vec<Content>,
}

/// A path (or tree) of the store put at a path in the image.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Content {
    /// The logical store path (or a path below one).
    pub source: String,
    /// Where it goes in the image (absolute).
    pub target: String,
}

/// Why an image could not be written.
#[derive(Debug, Error)]
pub enum ImageError {
    /// The spec is not valid JSON of the right shape.
    #[error("the image spec is not valid: {0}")]
    Spec(String),
    /// A layer could not be made.
    #[error(transparent)]
    Layer(#[from] LayerError),
    /// Writing the layout failed.
    #[error("cannot write `{path}`")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// What was written: the digest of the image index (`sha256:<hex>`) and
/// each platform's manifest digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The multi-platform index.
    pub index_digest: String,
    /// `(platform, manifest digest)`.
    pub manifests: Vec<(String, String)>,
}

impl ImageSpec {
    /// Parses the spec's JSON.
    pub fn parse(text: &str) -> Result<ImageSpec, ImageError> {
        let spec: ImageSpec =
            serde_json::from_str(text).map_err(|error| ImageError::Spec(error.to_string()))?;
        if spec.platforms.is_empty() {
            return Err(ImageError::Spec("it lists no platform".to_owned()));
        }
        Ok(spec)
    }
}

/// Writes the layout of `spec` into `out` (created), reading each
/// content's source through `resolve` (logical path to host path).
pub fn write(
    spec: &ImageSpec,
    resolve: &dyn Fn(&str) -> Option<PathBuf>,
    out: &Path,
) -> Result<Written, ImageError> {
    let blobs = out.join("blobs").join("sha256");
    fs_err::create_dir_all(&blobs).map_err(write_error(&blobs))?;
    let mut entries = Vec::new();
    let mut manifests = Vec::new();
    for platform in &spec.platforms {
        let tree = platform_tree(spec, platform, resolve)?;
        let layer = layer::write(&tree, spec.created)?;
        let layer_desc = put(&blobs, media::LAYER_GZIP, &layer.blob)?;
        let config = config(spec, platform, &layer.diff_id);
        let config_desc = put(&blobs, media::CONFIG, &to_bytes(&config))?;
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": media::MANIFEST,
            "config": config_desc,
            "layers": [layer_desc],
        });
        let mut manifest_desc = put(&blobs, media::MANIFEST, &to_bytes(&manifest))?;
        manifest_desc["platform"] = platform_json(platform);
        manifests.push((
            platform_name(platform),
            manifest_desc["digest"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        ));
        entries.push(manifest_desc);
    }
    let index = json!({
        "schemaVersion": 2,
        "mediaType": media::INDEX,
        "manifests": entries,
    });
    let index_desc = put(&blobs, media::INDEX, &to_bytes(&index))?;
    let index_digest = index_desc["digest"].as_str().unwrap_or_default().to_owned();
    let tags: Vec<&str> = if spec.tags.is_empty() {
        vec!["latest"]
    } else {
        spec.tags.iter().map(String::as_str).collect()
    };
    let named = |desc: &Value, name: String| {
        let mut desc = desc.clone();
        desc["annotations"] = json!({ "org.opencontainers.image.ref.name": name });
        desc
    };
    // Each tag names the index; `TAG-ARCH` names one platform's manifest,
    // for tools that take a single image (umoci).
    let mut refs: Vec<Value> = Vec::new();
    for tag in &tags {
        refs.push(named(&index_desc, (*tag).to_owned()));
        for (platform, desc) in spec.platforms.iter().zip(&entries) {
            refs.push(named(desc, format!("{tag}-{}", platform.architecture)));
        }
    }
    let top = json!({ "schemaVersion": 2, "mediaType": media::INDEX, "manifests": refs });
    write_file(&out.join("index.json"), &to_bytes(&top))?;
    write_file(
        &out.join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )?;
    Ok(Written {
        index_digest,
        manifests,
    })
}

/// The files of one platform's image: its contents and the working
/// directory.
fn platform_tree(
    spec: &ImageSpec,
    platform: &PlatformSpec,
    resolve: &dyn Fn(&str) -> Option<PathBuf>,
) -> Result<Tree, ImageError> {
    let mut tree = Tree::default();
    for content in &platform.contents {
        let host = resolve(&content.source).ok_or_else(|| {
            ImageError::Spec(format!(
                "`{}` is not a path of the build's inputs",
                content.source
            ))
        })?;
        tree.add(&host, &content.target)?;
    }
    if let Some(dir) = &spec.working_dir {
        tree.add_dir(dir)?;
    }
    Ok(tree)
}

/// `linux/amd64`, `linux/arm64/v8`.
pub fn platform_name(platform: &PlatformSpec) -> String {
    match &platform.variant {
        Some(variant) => format!("linux/{}/{variant}", platform.architecture),
        None => format!("linux/{}", platform.architecture),
    }
}

fn platform_json(platform: &PlatformSpec) -> Value {
    let mut value = json!({ "architecture": platform.architecture, "os": "linux" });
    if let Some(variant) = &platform.variant {
        value["variant"] = json!(variant);
    }
    value
}

/// The image config of one platform.
fn config(spec: &ImageSpec, platform: &PlatformSpec, diff_id: &str) -> Value {
    let created = rfc3339(spec.created);
    let mut inner = serde_json::Map::new();
    if !spec.env.is_empty() {
        inner.insert("Env".into(), json!(spec.env));
    }
    if !spec.entrypoint.is_empty() {
        inner.insert("Entrypoint".into(), json!(spec.entrypoint));
    }
    if !spec.cmd.is_empty() {
        inner.insert("Cmd".into(), json!(spec.cmd));
    }
    if let Some(dir) = &spec.working_dir {
        inner.insert("WorkingDir".into(), json!(dir));
    }
    if let Some(user) = &spec.user {
        inner.insert("User".into(), json!(user));
    }
    if !spec.labels.is_empty() {
        inner.insert("Labels".into(), json!(spec.labels));
    }
    let mut config = json!({
        "created": created,
        "architecture": platform.architecture,
        "os": "linux",
        "config": Value::Object(inner),
        "rootfs": { "type": "layers", "diff_ids": [diff_id] },
        "history": [{ "created": created, "created_by": "kiln (builtin:oci-image-v1)" }],
    });
    if let Some(variant) = &platform.variant {
        config["variant"] = json!(variant);
    }
    config
}

/// Seconds since the epoch as `1980-01-01T00:00:00Z`.
pub fn rfc3339(secs: u64) -> String {
    let days = secs / 86_400;
    let rest = secs % 86_400;
    let (year, month, day) = civil_from_days(days as i64);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
/// algorithm, in its public-domain form).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn to_bytes(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

/// Writes a blob named by its digest; returns its descriptor.
fn put(blobs: &Path, media_type: &str, bytes: &[u8]) -> Result<Value, ImageError> {
    let hex = format!("{:x}", Sha256::digest(bytes));
    write_file(&blobs.join(&hex), bytes)?;
    Ok(json!({
        "mediaType": media_type,
        "digest": format!("sha256:{hex}"),
        "size": bytes.len(),
    }))
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), ImageError> {
    fs_err::write(path, bytes).map_err(write_error(path))
}

fn write_error(path: &Path) -> impl FnOnce(std::io::Error) -> ImageError + '_ {
    move |source| ImageError::Write {
        path: path.to_owned(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(315_532_800), "1980-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_764_762_245), "2025-12-03T11:44:05Z");
    }

    fn spec(dir: &Path) -> ImageSpec {
        let text = format!(
            r#"{{
              "name": "uv", "tags": ["latest", "0.13.7"], "created": 315532800,
              "entrypoint": ["/uv"], "workingDir": "/io",
              "labels": {{ "org.opencontainers.image.version": "0.13.7" }},
              "platforms": [
                {{ "architecture": "amd64", "contents": [{{ "source": "{0}/x86_64/bin/uv", "target": "/uv" }}] }},
                {{ "architecture": "arm64", "variant": "v8", "contents": [{{ "source": "{0}/aarch64/bin/uv", "target": "/uv" }}] }}
              ]
            }}"#,
            dir.display()
        );
        ImageSpec::parse(&text).unwrap()
    }

    fn binaries(dir: &Path) {
        for arch in ["x86_64", "aarch64"] {
            fs_err::create_dir_all(dir.join(arch).join("bin")).unwrap();
            fs_err::write(dir.join(arch).join("bin/uv"), format!("uv for {arch}")).unwrap();
        }
    }

    #[test]
    fn a_layout_lists_both_platforms_and_is_reproducible() {
        let dir = tempfile::TempDir::new().unwrap();
        binaries(dir.path());
        let spec = spec(dir.path());
        let identity = |p: &str| Some(PathBuf::from(p));
        let first = write(&spec, &identity, &dir.path().join("one")).unwrap();
        let second = write(&spec, &identity, &dir.path().join("two")).unwrap();
        assert_eq!(first, second);
        assert_eq!(
            first
                .manifests
                .iter()
                .map(|(p, _)| p.as_str())
                .collect::<Vec<_>>(),
            ["linux/amd64", "linux/arm64/v8"]
        );
        let read = |rel: &str| -> Value {
            serde_json::from_slice(&fs_err::read(dir.path().join("one").join(rel)).unwrap())
                .unwrap()
        };
        let top = read("index.json");
        let names: Vec<&str> = top["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                m["annotations"]["org.opencontainers.image.ref.name"]
                    .as_str()
                    .unwrap()
            })
            .collect();
        assert_eq!(
            names,
            [
                "latest",
                "latest-amd64",
                "latest-arm64",
                "0.13.7",
                "0.13.7-amd64",
                "0.13.7-arm64"
            ]
        );
        assert_eq!(top["manifests"][2]["platform"]["variant"], "v8");
        let hex = first.index_digest.trim_start_matches("sha256:");
        let index = read(&format!("blobs/sha256/{hex}"));
        assert_eq!(index["manifests"][1]["platform"]["variant"], "v8");
        let manifest_hex = index["manifests"][0]["digest"]
            .as_str()
            .unwrap()
            .trim_start_matches("sha256:")
            .to_owned();
        let manifest = read(&format!("blobs/sha256/{manifest_hex}"));
        let config_hex = manifest["config"]["digest"]
            .as_str()
            .unwrap()
            .trim_start_matches("sha256:")
            .to_owned();
        let config = read(&format!("blobs/sha256/{config_hex}"));
        assert_eq!(config["created"], "1980-01-01T00:00:00Z");
        assert_eq!(config["config"]["WorkingDir"], "/io");
        assert_eq!(config["config"]["Entrypoint"][0], "/uv");
        assert_eq!(config["architecture"], "amd64");
        // The layer's digest is the blob's, its diff_id the tar's.
        let layer_hex = manifest["layers"][0]["digest"]
            .as_str()
            .unwrap()
            .trim_start_matches("sha256:")
            .to_owned();
        let blob = fs_err::read(dir.path().join("one/blobs/sha256").join(&layer_hex)).unwrap();
        assert_eq!(format!("{:x}", Sha256::digest(&blob)), layer_hex);
        let mut tar = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(blob.as_slice()), &mut tar)
            .unwrap();
        assert_eq!(
            config["rootfs"]["diff_ids"][0],
            format!("sha256:{:x}", Sha256::digest(&tar))
        );
        assert_eq!(
            fs_err::read_to_string(dir.path().join("one/oci-layout")).unwrap(),
            r#"{"imageLayoutVersion":"1.0.0"}"#
        );

        // One label changed: another index.
        let mut changed = spec.clone();
        changed
            .labels
            .insert("org.opencontainers.image.version".into(), "0.13.8".into());
        let other = write(&changed, &identity, &dir.path().join("three")).unwrap();
        assert_ne!(other.index_digest, first.index_digest);
    }

    #[test]
    fn bad_specs_are_refused_clearly() {
        let error =
            ImageSpec::parse(r#"{"name": "x", "created": 0, "platforms": []}"#).unwrap_err();
        assert_eq!(
            error.to_string(),
            "the image spec is not valid: it lists no platform"
        );
        let error =
            ImageSpec::parse(r#"{"name": "x", "created": 0, "platforms": [], "colour": 1}"#)
                .unwrap_err();
        assert!(
            error.to_string().contains("unknown field `colour`"),
            "{error}"
        );
        let dir = tempfile::TempDir::new().unwrap();
        let spec = spec(dir.path());
        let error = write(&spec, &|_| None, &dir.path().join("out")).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("is not a path of the build's inputs"),
            "{error}"
        );
    }
}
