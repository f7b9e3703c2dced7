//! The builder's environment, in the order Nix's `initEnv` builds it.

use std::collections::{BTreeMap, BTreeSet};

use super::{BuildFile, HOME_DIR, SOURCE_DATE_EPOCH, SandboxSpec};
use crate::hash::{Hash, nixbase32};
use crate::sandbox::variation::{Aspect, VARIED_LOCALE};

/// Computes the builder's environment the way Nix's `initEnv` does, plus
/// kiln's hermetic defaults, and the `passAsFile` files.
///
/// Order (later wins): Nix's fixed start (`PATH`, `HOME`, `NIX_STORE`,
/// `NIX_BUILD_CORES`), kiln's defaults (`SOURCE_DATE_EPOCH`, `TZ`,
/// `LC_ALL`), the output paths, the derivation's environment, then what Nix
/// sets after it: the build-directory variables and `PWD`,
/// `NIX_OUTPUT_CHECKED` and `impureEnvVars` for fixed-output builds,
/// `NIX_LOG_FD`, `TERM`.
pub(super) fn environment(spec: &SandboxSpec) -> (BTreeMap<String, String>, Vec<BuildFile>) {
    let build_dir = spec.variation.build_dir();
    let mut env = BTreeMap::new();
    let mut set = |name: &str, value: &str| env.insert(name.to_owned(), value.to_owned());
    set("PATH", "/path-not-set");
    set("HOME", HOME_DIR);
    set("NIX_STORE", spec.store_dir.as_str());
    set("NIX_BUILD_CORES", &spec.cores.to_string());
    set("SOURCE_DATE_EPOCH", SOURCE_DATE_EPOCH);
    set("TZ", spec.variation.timezone());
    set("LC_ALL", spec.variation.locale());
    if spec.variation.varies(Aspect::Locale) {
        set("LANG", VARIED_LOCALE);
    }
    for (name, path) in &spec.outputs {
        set(name, &spec.store_dir.display(path));
    }
    let pass_as_file: BTreeSet<&str> = spec
        .env
        .get("passAsFile")
        .map(|names| {
            names
                .split([' ', '\t', '\n', '\r'])
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let mut build_files = Vec::new();
    for (name, value) in &spec.env {
        if pass_as_file.contains(name.as_str()) {
            let file = pass_as_file_name(name);
            set(&format!("{name}Path"), &format!("{build_dir}/{file}"));
            build_files.push(BuildFile {
                name: file,
                contents: value.clone().into_bytes(),
            });
        } else {
            set(name, value);
        }
    }
    for name in ["NIX_BUILD_TOP", "TMPDIR", "TEMPDIR", "TMP", "TEMP", "PWD"] {
        set(name, build_dir);
    }
    if spec.fixed_output {
        set("NIX_OUTPUT_CHECKED", "1");
        for (name, value) in &spec.impure_env {
            set(name, value);
        }
    }
    set("NIX_LOG_FD", "2");
    set("TERM", "xterm-256color");
    (env, build_files)
}

/// Returns Nix's file name for a `passAsFile` attribute:
/// `.attr-<nixbase32 sha256 of the attribute name>`.
pub fn pass_as_file_name(attribute: &str) -> String {
    format!(
        ".attr-{}",
        nixbase32::encode(Hash::sha256(attribute).as_bytes())
    )
}
