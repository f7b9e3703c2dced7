//! Output addresses: `DIR#NAME`, `DIR#NAME.TARGET`, `#NAME`, `DIR`.
//!
//! `NAME` is a package (every target of it) or an image; `NAME.TARGET` one
//! target of a package (`x86_64`, `aarch64`, or the triple). No `#NAME`
//! means the flake's default packages.

use std::path::PathBuf;

use crate::FlakeError;
use crate::manifest::{Manifest, short_target};

/// A parsed address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlakeRef {
    /// The flake's directory.
    pub dir: PathBuf,
    /// The output named after `#`, if any.
    pub output: Option<String>,
}

impl FlakeRef {
    /// Parses `DIR#NAME` (an empty `DIR` is `.`).
    pub fn parse(text: &str) -> FlakeRef {
        let (dir, output) = match text.split_once('#') {
            Some((dir, output)) => (dir, Some(output.to_owned()).filter(|o| !o.is_empty())),
            None => (text, None),
        };
        FlakeRef {
            dir: PathBuf::from(if dir.is_empty() { "." } else { dir }),
            output,
        }
    }
}

/// One output to build: a package for one target, or an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selected {
    /// The package (or the image).
    pub package: String,
    /// The target's short name (empty for an image, which holds every
    /// target of its package).
    pub target: String,
    /// Whether this is an image (`[images.NAME]`).
    pub image: bool,
    /// Whether this is the package's planning build for the target (`kiln
    /// lock` builds it for a package with `units = true`).
    pub plan: bool,
}

impl Selected {
    /// `uv.x86_64`, or the image's name.
    pub fn label(&self) -> String {
        if self.image {
            self.package.clone()
        } else {
            format!("{}.{}", self.package, self.target)
        }
    }
}

/// Returns the outputs `output` names in `manifest` (the default packages
/// when `None`), every target of a package in the manifest's order.
pub fn select(manifest: &Manifest, output: Option<&str>) -> Result<Vec<Selected>, FlakeError> {
    let every_target = |name: &String| -> Vec<Selected> {
        manifest.packages[name]
            .targets
            .iter()
            .map(|t| Selected {
                package: name.clone(),
                target: t.clone(),
                image: false,
                plan: false,
            })
            .collect()
    };
    let Some(output) = output else {
        if manifest.default.is_empty() {
            return Err(FlakeError::NoOutput(
                "flake.toml declares no packages ([packages.NAME])".to_owned(),
            ));
        }
        return Ok(manifest.default.iter().flat_map(every_target).collect());
    };
    let (name, target) = match output.split_once('.') {
        Some((name, target)) => (name, Some(target)),
        None => (output, None),
    };
    if manifest.images.contains_key(name) {
        if let Some(target) = target {
            return Err(FlakeError::NoOutput(format!(
                "`{name}` is an image, which holds every target: drop `.{target}`"
            )));
        }
        return Ok(vec![Selected {
            package: name.to_owned(),
            target: String::new(),
            image: true,
            plan: false,
        }]);
    }
    let Some((name, package)) = manifest.packages.get_key_value(name) else {
        let known: Vec<&str> = manifest
            .packages
            .keys()
            .chain(manifest.images.keys())
            .map(String::as_str)
            .collect();
        return Err(FlakeError::NoOutput(format!(
            "flake.toml has no package or image `{name}` (it has: {})",
            if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            }
        )));
    };
    let Some(target) = target else {
        return Ok(every_target(name));
    };
    match short_target(target) {
        Some(short) if package.targets.iter().any(|t| t == short) => Ok(vec![Selected {
            package: name.clone(),
            target: short.to_owned(),
            image: false,
            plan: false,
        }]),
        _ => Err(FlakeError::NoOutput(format!(
            "package `{name}` is not built for `{target}` (its targets: {})",
            package.targets.join(", ")
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_parse() {
        assert_eq!(
            FlakeRef::parse(".#rg"),
            FlakeRef {
                dir: ".".into(),
                output: Some("rg".into())
            }
        );
        assert_eq!(FlakeRef::parse("#rg.x86_64").dir, PathBuf::from("."));
        assert_eq!(FlakeRef::parse("a/b").output, None);
        assert_eq!(FlakeRef::parse("a/b#").output, None);
    }

    #[test]
    fn outputs_are_selected() {
        let m = crate::manifest::parse(
            "default = [\"b\"]\n[packages.a]\n[packages.b]\ntargets = [\"x86_64\"]\n[images.img]\npackage = \"a\"\n",
            "flake.toml",
        )
        .expect("manifest");
        let names = |s: Vec<Selected>| -> Vec<String> {
            s.into_iter()
                .map(|s| format!("{}.{}", s.package, s.target))
                .collect()
        };
        assert_eq!(names(select(&m, None).expect("default")), ["b.x86_64"]);
        assert_eq!(
            names(select(&m, Some("a")).expect("a")),
            ["a.x86_64", "a.aarch64"]
        );
        assert_eq!(
            names(select(&m, Some("a.aarch64-unknown-linux-musl")).expect("one")),
            ["a.aarch64"]
        );
        let e = select(&m, Some("b.aarch64"))
            .expect_err("not a target of b")
            .to_string();
        assert!(e.contains("its targets: x86_64"), "{e}");
        let e = select(&m, Some("c")).expect_err("no c").to_string();
        assert!(e.contains("it has: a, b, img"), "{e}");
        let image = select(&m, Some("img")).expect("the image");
        assert_eq!((image[0].image, image[0].label()), (true, "img".to_owned()));
        let e = select(&m, Some("img.x86_64")).expect_err("an image has no target");
        assert!(e.to_string().contains("is an image"), "{e}");
    }
}
