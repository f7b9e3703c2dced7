//! Comparing two images of OCI layouts (a build and a pulled copy): the
//! same index digest means the same image; otherwise what differs, per
//! platform: the manifest, the config's fields, the layers.

use std::path::PathBuf;

use serde_json::Value;

use crate::layout::{Image, Layout, LayoutError};

/// What a comparison found.
#[derive(Debug, Default)]
pub struct Comparison {
    /// Whether the images are the same (the same top digest).
    pub identical: bool,
    /// The digest of our image (the build's).
    pub digest: String,
    /// What differs, for people.
    pub lines: Vec<String>,
    /// The blobs (ours, theirs) that differ, for a diff tool.
    pub pairs: Vec<(PathBuf, PathBuf)>,
}

/// Compares `theirs` with `ours`.
pub fn compare(ours: &Layout, theirs: &Layout) -> Result<Comparison, LayoutError> {
    let a = ours.image(None)?;
    let b = theirs.image(None)?;
    let mut result = Comparison {
        digest: a.top.digest.clone(),
        ..Comparison::default()
    };
    if a.top.digest == b.top.digest {
        result.identical = true;
        return Ok(result);
    }
    result.lines.push(format!(
        "image: the build's is {}, the other's {}",
        a.top.digest, b.top.digest
    ));
    let platform = |image: &Image, i: usize| {
        image.platforms[i]
            .descriptor
            .platform
            .as_ref()
            .map_or_else(|| "(one platform)".to_owned(), ToString::to_string)
    };
    let names_a: Vec<String> = (0..a.platforms.len()).map(|i| platform(&a, i)).collect();
    let names_b: Vec<String> = (0..b.platforms.len()).map(|i| platform(&b, i)).collect();
    for (i, name) in names_a.iter().enumerate() {
        let Some(j) = names_b.iter().position(|n| n == name) else {
            result.lines.push(format!("{name}: only in the build"));
            continue;
        };
        let (pa, pb) = (&a.platforms[i], &b.platforms[j]);
        if pa.descriptor.digest == pb.descriptor.digest {
            continue;
        }
        result.lines.push(format!(
            "{name}: manifest {} in the build, {} in the other",
            pa.descriptor.digest, pb.descriptor.digest
        ));
        if pa.config.digest != pb.config.digest {
            let ca: Value = serde_json::from_slice(&ours.blob(&pa.config)?).unwrap_or(Value::Null);
            let cb: Value =
                serde_json::from_slice(&theirs.blob(&pb.config)?).unwrap_or(Value::Null);
            let mut fields = Vec::new();
            differing_fields("", &ca, &cb, &mut fields);
            result.lines.push(format!(
                "{name}: config {} differs in {}",
                pb.config.digest,
                if fields.is_empty() {
                    "its bytes only".to_owned()
                } else {
                    fields.join("; ")
                }
            ));
            result
                .pairs
                .push((ours.blob_path(&pa.config), theirs.blob_path(&pb.config)));
        }
        if pa.layers.len() != pb.layers.len() {
            result.lines.push(format!(
                "{name}: {} layers in the build, {} in the other",
                pa.layers.len(),
                pb.layers.len()
            ));
        }
        for (k, (la, lb)) in pa.layers.iter().zip(&pb.layers).enumerate() {
            if la.digest != lb.digest {
                result.lines.push(format!(
                    "{name}: layer {k} is {} ({} bytes) in the build, {} ({} bytes) in the other",
                    la.digest, la.size, lb.digest, lb.size
                ));
                result
                    .pairs
                    .push((ours.blob_path(la), theirs.blob_path(lb)));
            }
        }
    }
    for name in names_b.iter().filter(|n| !names_a.contains(n)) {
        result.lines.push(format!("{name}: only in the other"));
    }
    Ok(result)
}

/// The paths of the JSON fields that differ (`config.Labels.x: "a" vs "b"`).
fn differing_fields(path: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(ma), Value::Object(mb)) => {
            let keys: std::collections::BTreeSet<&String> = ma.keys().chain(mb.keys()).collect();
            for key in keys {
                let sub = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                differing_fields(
                    &sub,
                    ma.get(key).unwrap_or(&Value::Null),
                    mb.get(key).unwrap_or(&Value::Null),
                    out,
                );
            }
        }
        _ if a != b => {
            let show = |v: &Value| {
                let text = v.to_string();
                if text.len() > 80 {
                    format!("{}…", &text[..text.floor_char_boundary(80)])
                } else {
                    text
                }
            };
            out.push(format!("{path}: {} vs {}", show(a), show(b)));
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Writes a two-platform image whose label `version` is `version`.
    fn layout(dir: &std::path::Path, version: &str) -> Layout {
        let bin = dir.join("bin");
        fs_err::write(&bin, "binary").unwrap();
        let spec = kiln_store::oci::ImageSpec::parse(
            &json!({
                "name": "app", "created": 0, "entrypoint": ["/app"],
                "labels": { "version": version },
                "platforms": [
                    { "architecture": "amd64", "contents": [ { "source": "/s/bin", "target": "/app" } ] },
                    { "architecture": "arm64", "variant": "v8", "contents": [ { "source": "/s/bin", "target": "/app" } ] }
                ]
            })
            .to_string(),
        )
        .unwrap();
        let out = dir.join(version);
        kiln_store::oci::layout::write(&spec, &|_| Some(bin.clone()), &out).unwrap();
        Layout::open(&out).unwrap()
    }

    #[test]
    fn images_compare_by_digest_and_name_what_differs() {
        let dir = tempfile::tempdir().unwrap();
        let ours = layout(dir.path(), "1");
        let again = tempfile::tempdir().unwrap();
        let same = layout(again.path(), "1");
        assert!(compare(&ours, &same).unwrap().identical);
        let other = layout(dir.path(), "2");
        let found = compare(&ours, &other).unwrap();
        assert!(!found.identical);
        let text = found.lines.join("\n");
        assert!(text.starts_with("image: the build's is sha256:"), "{text}");
        for platform in ["linux/amd64", "linux/arm64/v8"] {
            assert!(
                text.contains(&format!("{platform}: config sha256:")),
                "{text}"
            );
        }
        assert!(
            text.contains(r#"config.Labels.version: "1" vs "2""#),
            "{text}"
        );
        // The layers are the same; only the configs go to the diff tool.
        assert!(!text.contains("layer 0"), "{text}");
        assert_eq!(found.pairs.len(), 2);
    }

    #[test]
    fn differing_fields_are_named_by_path() {
        let mut out = Vec::new();
        differing_fields(
            "",
            &json!({"config": {"Labels": {"v": "1"}, "Env": ["A=1"]}, "os": "linux"}),
            &json!({"config": {"Labels": {"v": "2"}, "Env": ["A=1"]}, "os": "linux", "x": 1}),
            &mut out,
        );
        assert_eq!(out, ["config.Labels.v: \"1\" vs \"2\"", "x: null vs 1"]);
    }
}
