//! `builtin:oci-image-v1`: an OCI image layout built from store paths,
//! the same bytes (the same index digest) when built again from scratch.

use serde_json::Value;

use super::{Env, describe, need_sandbox};
use crate::util::run;

/// Two "binaries" (one per platform) and the image holding them.
pub(super) const IMAGE: &str = r#"{ version ? "1.0" }: let
  bin = arch: mk { name = "bin-${arch}"; script = "mkdir -p $out/bin; echo ${arch} > $out/bin/app; chmod +x $out/bin/app"; };
in derivation {
  name = "image";
  system = "x86_64-linux";
  builder = "builtin:oci-image-v1";
  image = builtins.toJSON {
    name = "app";
    tags = [ "latest" version ];
    created = 315532800;
    entrypoint = [ "/app" ];
    workingDir = "/io";
    labels = { "org.opencontainers.image.version" = version; };
    platforms = [
      { architecture = "amd64"; contents = [ { source = "${bin "x86_64"}/bin/app"; target = "/app"; } ]; }
      { architecture = "arm64"; variant = "v8"; contents = [ { source = "${bin "aarch64"}/bin/app"; target = "/app"; } ]; }
    ];
  };
}"#;

pub(super) fn index_digest(env: &Env, out: &str) -> String {
    let top: Value =
        serde_json::from_slice(&fs_err::read(env.physical(out).join("index.json")).unwrap())
            .unwrap();
    top["manifests"][0]["digest"].as_str().unwrap().to_owned()
}

#[test]
fn an_image_is_the_same_after_a_rebuild_from_scratch() {
    need_sandbox!();
    let env = Env::new();
    env.nix("image.nix", IMAGE);
    let (paths, _) = env.build_ok("image.nix", &[]);
    let first = index_digest(&env, &paths[0]);
    let layout = env.physical(&paths[0]);
    assert!(layout.join("oci-layout").is_file());
    let index: Value = serde_json::from_slice(
        &fs_err::read(
            layout
                .join("blobs/sha256")
                .join(first.trim_start_matches("sha256:")),
        )
        .unwrap(),
    )
    .unwrap();
    let platforms: Vec<String> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["platform"]["architecture"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(platforms, ["amd64", "arm64"]);

    // Everything collected (no roots), then built again: the same digest.
    let gc = run(env.kiln().args(["gc"]));
    assert!(gc.status.success(), "{}", describe(&gc));
    assert!(!layout.exists());
    let (again, _) = env.build_ok("image.nix", &[]);
    assert_eq!(again, paths);
    assert_eq!(index_digest(&env, &again[0]), first);

    tools_accept(&env.physical(&again[0]));

    // Another label: another image.
    let (other, _) = env.build_ok("image.nix", &["--argstr", "version", "1.1"]);
    assert_ne!(index_digest(&env, &other[0]), first);
}

/// Whether a program is on `PATH`; CI (`KILN_REQUIRE_NIX`) requires it.
pub(super) fn have(program: &str) -> bool {
    let found = std::process::Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|out| out.status.success());
    assert!(
        found || std::env::var_os("KILN_REQUIRE_NIX").is_none(),
        "{program} is missing (CI installs it)"
    );
    found
}

/// Debian's OCI tools read the layout: oci-image-tool validates it
/// (1.0.0-rc1 calls a layout `--type image`), skopeo sees both platforms,
/// umoci unpacks each platform's root filesystem.
fn tools_accept(layout: &std::path::Path) {
    if !(have("oci-image-tool") && have("skopeo") && have("umoci")) {
        eprintln!("note: oci-image-tool, skopeo or umoci missing; skipping their checks");
        return;
    }
    let out = run(std::process::Command::new("oci-image-tool")
        .args(["validate", "--type", "image"])
        .arg(layout));
    assert!(out.status.success(), "{}", describe(&out));
    let out = run(std::process::Command::new("skopeo")
        .args(["inspect", "--raw"])
        .arg(format!("oci:{}:latest", layout.display())));
    assert!(out.status.success(), "{}", describe(&out));
    let raw: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(raw["manifests"][1]["platform"]["architecture"], "arm64");
    let scratch = tempfile::TempDir::new().unwrap();
    for (tag, arch) in [("latest-amd64", "x86_64"), ("latest-arm64", "aarch64")] {
        let bundle = scratch.path().join(tag);
        let out = run(std::process::Command::new("umoci")
            .args(["unpack", "--rootless", "--image"])
            .arg(format!("{}:{tag}", layout.display()))
            .arg(&bundle));
        assert!(out.status.success(), "{}", describe(&out));
        let rootfs = bundle.join("rootfs");
        assert_eq!(
            fs_err::read_to_string(rootfs.join("app")).unwrap(),
            format!("{arch}\n")
        );
        assert!(rootfs.join("io").is_dir());
    }
}

#[test]
fn an_image_cannot_read_what_is_not_its_input() {
    need_sandbox!();
    let env = Env::new();
    env.nix(
        "sneaky.nix",
        r#"derivation {
  name = "sneaky";
  system = "x86_64-linux";
  builder = "builtin:oci-image-v1";
  image = builtins.toJSON {
    name = "x"; created = 0;
    platforms = [ { architecture = "amd64"; contents = [ { source = "/nix/store/00000000000000000000000000000000-x"; target = "/x"; } ]; } ];
  };
}"#,
    );
    let out = env.build("sneaky.nix", &[]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("is not a path of the build's inputs"),
        "{stderr}"
    );
}
