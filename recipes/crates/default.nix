# Crates from crates.io, pinned by the SHA-256 that Cargo.lock records.
#
#   fetchCrate { name, version, sha256 }  the `.crate` file: a fixed-output
#                                         `builtin:fetchurl` from static.crates.io
#   unpackCrate crate                     its sources (`builtin:unpack-v1`,
#                                         the `<name>-<version>/` top directory
#                                         stripped)
#   vendor { name, crates, rootfs }       a directory in `cargo vendor`'s
#                                         layout (`<name>-<version>/` with a
#                                         `.cargo-checksum.json`) for
#                                         `[source.vendored] directory = …`
{ }:
let
  fetchCrate =
    { name, version, sha256 }:
    derivation {
      name = "${name}-${version}.crate";
      builder = "builtin:fetchurl";
      system = "builtin";
      url = "https://static.crates.io/crates/${name}/${name}-${version}.crate";
      outputHashMode = "flat";
      outputHashAlgo = "sha256";
      outputHash = sha256;
    };

  unpackCrate =
    crate:
    derivation {
      name = "${crate.name}-${crate.version}";
      builder = "builtin:unpack-v1";
      system = "builtin";
      src = fetchCrate crate;
      format = "crate";
    };

  # One line per crate: `<dir> <sources> <sha256>`; the builder copies the
  # sources and writes the checksum file cargo wants (an empty file list:
  # cargo then only checks the package's own hash against Cargo.lock).
  vendor =
    { name, crates, rootfs }:
    derivation {
      inherit name;
      system = "x86_64-linux";
      builder = "/bin/sh";
      __kilnRootfs = rootfs;
      crateList = builtins.concatStringsSep "\n" (
        map (c: "${c.name}-${c.version} ${unpackCrate c} ${c.sha256}") crates
      );
      args = [
        "-euc"
        ''
          export PATH=/usr/bin:/bin
          mkdir -p "$out"
          printf '%s\n' "$crateList" | while read -r dir src sha; do
            cp -r "$src" "$out/$dir"
            chmod -R u+w "$out/$dir"
            printf '{"files":{},"package":"%s"}' "$sha" > "$out/$dir/.cargo-checksum.json"
          done
        ''
      ];
    };
in
{
  inherit fetchCrate unpackCrate vendor;
}
