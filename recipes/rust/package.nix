# Build a Rust package from its source and Cargo.lock into static binaries
# for one musl target.
#
#   buildPackage {
#     name;          the package name (for the store path)
#     src;           the source tree (a path: copied to the store)
#     cargoLock;     the parsed Cargo.lock (builtins.fromTOML)
#     target;        a musl triple, e.g. "aarch64-unknown-linux-musl"
#     cargoArgs ? [ ];  extra arguments to `cargo build`
#   }
#
# Every crates.io package of the lock is a fixed-output fetch checked
# against the lock's checksum, assembled into a vendor directory; the build
# runs `cargo build --release --offline --locked --target <triple>` with
# the toolchain's sysroot and zig as linker and C compiler, and copies the
# executables from `target/<triple>/release/` to `$out/bin`.
{
  rootfs,
  zig,
  crates,
  rust,
}:
{
  name,
  src,
  cargoLock,
  target,
  cargoArgs ? [ ],
}:
let
  registryPackages = builtins.filter (
    p: (p.source or "") == "registry+https://github.com/rust-lang/crates.io-index"
  ) (cargoLock.package or [ ]);
  vendor = crates.vendor {
    name = "${name}-vendor";
    crates = map (p: {
      inherit (p) name version;
      sha256 = p.checksum;
    }) registryPackages;
    inherit rootfs;
  };
in
derivation {
  name = "${name}-${target}";
  system = "x86_64-linux";
  builder = "/bin/sh";
  __kilnRootfs = rootfs;
  inherit src vendor target;
  inherit (rust) zigEnv;
  toolchain = rust.toolchain;
  cargoArgs = builtins.concatStringsSep " " cargoArgs;
  args = [
    "-euc"
    ''
      export PATH=/usr/bin:/bin
      ${rust.cargoHome}
      export $zigEnv
      export RUSTC="$toolchain/bin/rustc" CARGO_BUILD_JOBS="''${NIX_BUILD_CORES:-1}"
      export RUSTFLAGS="-C link-self-contained=no --remap-path-prefix=$vendor=/cargo/vendor"
      cp -r "$src" "$TMPDIR/src"
      chmod -R u+w "$TMPDIR/src"
      cd "$TMPDIR/src"
      /usr/bin/cargo build --release --offline --locked --target "$target" $cargoArgs
      mkdir -p "$out/bin"
      for file in "target/$target/release"/*; do
        if [ -f "$file" ] && [ -x "$file" ]; then cp "$file" "$out/bin/"; fi
      done
    ''
  ];
}
