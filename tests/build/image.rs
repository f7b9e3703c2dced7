//! `builtin:oci-image-v1`: an OCI image layout built from store paths,
//! the same bytes (the same index digest) when built again from scratch.

use serde_json::Value;

use super::{Env, describe, need_sandbox};
use crate::util::run;

/// Two "binaries" (one per platform) and the image holding them.
const IMAGE: &str = r#"{ version ? "1.0" }: let
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

fn index_digest(env: &Env, out: &str) -> String {
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

    // Another label: another image.
    let (other, _) = env.build_ok("image.nix", &["--argstr", "version", "1.1"]);
    assert_ne!(index_digest(&env, &other[0]), first);
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
