# A Debian root filesystem from a lock made by `kiln lock debian`.
#
#   import ./recipes/debian {
#     lock = builtins.fromJSON (builtins.readFile ./recipes/debian/sid.lock.json);
#   }
#
# gives { debs, packages, rootfs }:
#   debs      one `builtin:fetchurl` fixed-output derivation per package, in
#             the lock's order (sorted by name): the pool URL first, the
#             snapshot.debian.org URL as the second mirror, the flat SHA-256
#             from the archive's Packages index;
#   packages  the same derivations by package name;
#   rootfs    the `builtin:debian-rootfs-v1` derivation that extracts them
#             all into one usr-merged root filesystem for the sandbox's
#             `__kilnRootfs`.
#
# Arguments:
#   lock      the parsed lock (required);
#   exclude   paths left out of the root filesystem besides documentation,
#             `*` matching one path component; by default the parts of
#             rust-src that no build needs (the compiler's tools and books:
#             217 MB of the 326 MB), keeping `library/` for -Zbuild-std;
#   name      the root filesystem's name.
#
# Nothing here touches the network at evaluation time: every byte is
# pinned by the lock.
{
  lock,
  exclude ? [
    "usr/src/*/src/tools"
    "usr/src/*/src/doc"
  ],
  name ? "debian-${lock.suite}-${lock.architecture}-rootfs",
}:
let
  # Store path names allow neither `~` nor `%` (pool file names may hold
  # both, for `~` versions and escaped epochs).
  storeName = filename: builtins.replaceStrings [ "~" "%" ] [ "_" "_" ] (baseNameOf filename);

  fetchDeb =
    package:
    derivation {
      name = storeName package.filename;
      builder = "builtin:fetchurl";
      system = "builtin";
      url = builtins.head package.urls;
      urls = builtins.concatStringsSep " " (builtins.tail package.urls);
      outputHashMode = "flat";
      outputHashAlgo = "sha256";
      outputHash = package.sha256;
    };

  debs = map fetchDeb lock.packages;

  packages = builtins.listToAttrs (
    map (package: {
      name = package.name;
      value = fetchDeb package;
    }) lock.packages
  );

  rootfs = derivation {
    inherit name;
    builder = "builtin:debian-rootfs-v1";
    system = "builtin";
    debs = builtins.concatStringsSep " " (map toString debs);
    exclude = builtins.concatStringsSep " " exclude;
  };
in
{
  inherit debs packages rootfs;
}
