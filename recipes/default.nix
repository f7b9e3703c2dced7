# kiln's recipe library: everything a static Rust release build needs,
# from pinned inputs only.
#
#   let kiln = import ./recipes { }; in kiln.rust.toolchain
#
# Arguments (all optional):
#   debianLock   the parsed Debian lock for the root filesystem
#                (default: debian/sid.lock.json)
{
  debianLock ? builtins.fromJSON (builtins.readFile ./debian/sid.lock.json),
}:
let
  debian = import ./debian { lock = debianLock; };
  rootfs = debian.rootfs;
  crates = import ./crates { };
  zig = import ./zig { inherit rootfs; };
  rust = import ./rust { inherit rootfs zig crates; };
  buildRustPackage = import ./rust/package.nix {
    inherit
      rootfs
      zig
      crates
      rust
      ;
  };
in
{
  inherit
    debian
    rootfs
    crates
    zig
    rust
    buildRustPackage
    ;
}
