//! The spec: a checked manifest, its lock and the walked path inputs,
//! in the JSON shape `recipes/flake.nix` takes as its `spec` argument.
//! Every default is resolved here, so the Nix side stays simple.

use std::path::Path;

use kiln_store::hash::Encoding;
use kiln_store::unpack::Format;
use serde_json::{Map, Value, json};

use crate::FlakeError;
use crate::lock::LockFile;
use crate::manifest::{Input, Manifest, triple};
use crate::walk;

/// Builds the spec of the flake in `dir`; `inputs` limits which inputs
/// are described (the ones the selected packages use), or all of them.
pub fn spec(
    dir: &Path,
    manifest: &Manifest,
    lock: &LockFile,
    wanted: Option<&[String]>,
) -> Result<Value, FlakeError> {
    let mut inputs = Map::new();
    for (name, input) in &manifest.inputs {
        if wanted.is_some_and(|w| !w.contains(name)) {
            continue;
        }
        inputs.insert(name.clone(), input_spec(dir, name, input, lock)?);
    }
    let mut packages = Map::new();
    for (name, p) in &manifest.packages {
        let targets: Map<String, Value> = p
            .targets
            .iter()
            .filter_map(|short| triple(short).map(|t| (short.clone(), json!(t))))
            .collect();
        packages.insert(
            name.clone(),
            json!({
                "src": p.src,
                "dir": p.dir,
                "package": p.package,
                "bins": p.bins,
                "features": p.features,
                "defaultFeatures": p.default_features,
                "profile": p.profile,
                "settings": p.settings,
                "rustflags": p.rustflags,
                "units": p.units,
                "gitHashes": p.git_hashes,
                "targets": targets,
            }),
        );
    }
    let images: Map<String, Value> = manifest
        .images
        .iter()
        .map(|(name, image)| {
            let mut labels = image.labels.clone();
            labels
                .entry("org.opencontainers.image.created".to_owned())
                .or_insert_with(|| kiln_store::oci::layout::rfc3339(image.created));
            (
                name.clone(),
                json!({
                    "package": image.package,
                    "entrypoint": image.entrypoint,
                    "cmd": image.cmd,
                    "workingDir": image.workdir,
                    "env": image.env,
                    "user": image.user,
                    "tags": image.tags,
                    "labels": labels,
                    "created": image.created,
                }),
            )
        })
        .collect();
    Ok(json!({
        "inputs": inputs,
        "packages": packages,
        "images": images,
        "default": manifest.default,
    }))
}

fn input_spec(dir: &Path, name: &str, input: &Input, lock: &LockFile) -> Result<Value, FlakeError> {
    if let Input::Path { path, exclude } = input {
        let include =
            walk::included(&dir.join(path), exclude).map_err(|source| FlakeError::Walk {
                input: name.to_owned(),
                source,
            })?;
        return Ok(json!({ "type": "path", "path": path, "include": include }));
    }
    let locked = lock
        .inputs
        .get(name)
        .ok_or_else(|| FlakeError::NotLocked(name.to_owned()))?;
    let hash = locked
        .sha256()
        .map_err(|problem| FlakeError::BadLock(format!("input `{name}`: {problem}")))?;
    let format = Format::from_file_name(&locked.file).ok_or_else(|| {
        FlakeError::BadLock(format!(
            "input `{name}`: `{}` is not an archive kiln can unpack (the known formats: {})",
            locked.file,
            Format::ALL.map(Format::name).join(", ")
        ))
    })?;
    // A crate and an sdist hold one top directory, `<name>-<version>/`;
    // so do most release tarballs. Zip archives and wheels usually do not.
    let strip = match format {
        Format::Zip | Format::Wheel | Format::Deb => 0,
        _ => 1,
    };
    Ok(json!({
        "type": "fetch",
        "url": locked.url,
        "file": locked.file,
        "sha256": hash.encode(Encoding::Base16),
        "format": format.name(),
        "strip": strip,
    }))
}
