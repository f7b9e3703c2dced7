# kiln's recipe library: everything a static Rust release build needs,
# from pinned inputs only.
#
#   let kiln = import ./recipes { }; in kiln.rust.toolchain
#
# Arguments (all optional):
#   debianLock   the parsed Debian lock for the root filesystem
#                (default: debian/sid-extra.lock.json: the toolchain's
#                packages plus Debian's essential set, cmake, perl, pkgconf
#                and make, which C build scripts such as jemalloc's
#                configure or openssl-src need; debian/sid.lock.json is the
#                toolchain's closure alone)
{
  debianLock ? builtins.fromJSON (builtins.readFile ./debian/sid-extra.lock.json),
}:
let
  debian = import ./debian { lock = debianLock; };
  rootfs = debian.rootfs;
  crates = import ./crates { };
  zig = import ./zig { inherit rootfs; };
  rust = import ./rust { inherit rootfs zig crates; };
  lockedCrates = import ./rust/lock.nix { inherit rootfs crates; };
  buildRustPackage = import ./rust/package.nix {
    inherit
      rootfs
      zig
      rust
      lockedCrates
      ;
  };
  buildRustUnits = import ./rust/units.nix {
    inherit
      rootfs
      zig
      rust
      lockedCrates
      ;
  };
  ociImage = import ./oci;
in
{
  inherit
    debian
    rootfs
    crates
    zig
    rust
    lockedCrates
    buildRustPackage
    buildRustUnits
    ociImage
    ;
}
