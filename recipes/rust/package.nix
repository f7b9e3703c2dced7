# Build a Rust package from its source and Cargo.lock into static binaries
# for one musl target.
#
#   buildPackage {
#     name;                 the package name (for the store path)
#     src;                  the source tree: a path (copied to the store) or
#                           a store path string; cargo runs at its top, where
#                           Cargo.lock is
#     cargoLock;            the parsed Cargo.lock (builtins.fromTOML)
#     target;               a musl triple, e.g. "aarch64-unknown-linux-musl"
#     package ? null;       `cargo build -p <package>` (a workspace member)
#     bins ? [ ];           `--bin <name>` for each (default: every binary)
#     features ? [ ];       `--features`
#     defaultFeatures ? true;  false: `--no-default-features`
#     profile ? "release";  the cargo profile (`--profile`)
#     settings ? { };       profile settings that override the project's own:
#                           opt-level, lto, codegen-units, panic, strip
#                           (cargo's names and values, as strings)
#     rustflags ? [ ];      extra rustc flags for the target's crates
#     cargoArgs ? [ ];      extra arguments to `cargo build`
#     gitHashes ? { };      "NAME-VERSION" = hash, for each git dependency
#                           (lock.nix)
#     plan ? false;         true: instead of building, plan the build (see
#                           below)
#   }
#
# Every crates.io package of the lock is a fixed-output fetch checked
# against the lock's checksum, and every git dependency a fixed-output
# fetch pinned by its hash in `gitHashes`, assembled into a vendor
# directory (lock.nix); a lock that names a git dependency without a hash,
# or another registry, is refused with a message naming the crates. The
# build runs `cargo build --offline --locked
# --target <triple>` with the toolchain's sysroot and zig as linker and
# C/C++ compiler (CC_/CXX_/AR_/CFLAGS_ per target), in $TMPDIR/src, with
# the vendor directory's store path remapped to /cargo/vendor and the
# source directory to /build/src (whatever the build directory is: see
# `kiln build --vary build-dir`) in Rust and C debug information and panic
# locations, and copies the executables from
# `target/<triple>/<profile>/` to `$out/bin`. Cargo runs quietly: a failing
# build's log is the failing crate's compiler output.
#
# With `plan = true`, the derivation runs the same cargo command in the same
# environment, but with plan-rustc.sh as RUSTC_WRAPPER: nothing is compiled,
# and $out records every rustc call and build-script run exactly as cargo
# made it (calls/), cargo's own unit graph (unit-graph.json, from
# `--unit-graph`), the builder's environment before cargo ran (base-env)
# and the paths the records mention (paths). `kiln units` reads it: the
# per-crate build plan (docs/architecture.md).
{
  rootfs,
  zig,
  rust,
  lockedCrates,
}:
{
  name,
  src,
  cargoLock,
  target,
  package ? null,
  bins ? [ ],
  features ? [ ],
  defaultFeatures ? true,
  profile ? "release",
  settings ? { },
  rustflags ? [ ],
  cargoArgs ? [ ],
  plan ? false,
  gitHashes ? { },
}:
let
  locked = lockedCrates { inherit name cargoLock gitHashes; };
  inherit (locked) vendor;
  # The git sources' replacements, after crates.io's (none without git).
  addGitSources =
    if locked.cargoConfig == "" then
      ""
    else
      "printf '%s' \"$gitSources\" >> \"$CARGO_HOME/config.toml\"";
  upper = s: builtins.replaceStrings [ "-" ] [ "_" ] (toUpperAscii s);
  toUpperAscii =
    s:
    builtins.replaceStrings
      (builtins.genList (i: builtins.substring i 1 "abcdefghijklmnopqrstuvwxyz") 26)
      (builtins.genList (i: builtins.substring i 1 "ABCDEFGHIJKLMNOPQRSTUVWXYZ") 26)
      s;
  # CARGO_PROFILE_<PROFILE>_<SETTING>=value, one word each.
  profileEnv = builtins.concatStringsSep " " (
    builtins.attrValues (
      builtins.mapAttrs (key: value: "CARGO_PROFILE_${upper profile}_${upper key}=${toString value}") settings
    )
  );
  lowerTarget = builtins.replaceStrings [ "-" ] [ "_" ] target;
  flags =
    [
      "--profile"
      profile
      "--target"
      target
    ]
    ++ (if package != null then [ "-p" package ] else [ ])
    ++ builtins.concatMap (b: [ "--bin" b ]) bins
    ++ (if features != [ ] then [ "--features" (builtins.concatStringsSep "," features) ] else [ ])
    ++ (if defaultFeatures then [ ] else [ "--no-default-features" ])
    ++ cargoArgs;
  setup = ''
    export PATH=/usr/bin:/bin
    ${rust.cargoHome}${addGitSources}
    export $zigEnv
    if [ -n "$profileEnv" ]; then export $profileEnv; fi
    export RUSTC="$toolchain/bin/rustc" CARGO_BUILD_JOBS="''${NIX_BUILD_CORES:-1}"
    vendorMap="$vendor=/cargo/vendor" srcMap="$TMPDIR/src=/build/src"
    export RUSTFLAGS="-C link-self-contained=no --remap-path-prefix=$vendorMap --remap-path-prefix=$srcMap $extraRustflags"
    export CFLAGS_${lowerTarget}="-ffile-prefix-map=$vendorMap -ffile-prefix-map=$srcMap"
    export CXXFLAGS_${lowerTarget}="-ffile-prefix-map=$vendorMap -ffile-prefix-map=$srcMap"
    export CARGO_TERM_COLOR=never
    cp -r "$src" "$TMPDIR/src"
    chmod -R u+w "$TMPDIR/src"
    cd "$TMPDIR/src"
  '';
  build =
    setup
    + ''
      /usr/bin/cargo build --quiet --offline --locked $cargoFlags
      case "$profile" in dev) dir=debug ;; *) dir=$profile ;; esac
      mkdir -p "$out/bin"
      for file in "target/$target/$dir"/*; do
        if [ -f "$file" ] && [ -x "$file" ]; then cp "$file" "$out/bin/"; fi
      done
      if [ -z "$(ls "$out/bin")" ]; then
        echo "cargo built no executable in target/$target/$dir" >&2
        exit 1
      fi
    '';
  planBuild =
    setup
    + ''
      mkdir -p "$out/calls"
      env -0 > "$out/base-env"
      # What the plan depends on besides the flags: checked at evaluation.
      find . -name Cargo.toml -o -name Cargo.lock | LC_ALL=C sort | xargs sha256sum > "$out/manifests"
      printf '%s\0' src "$TMPDIR/src" vendor "$vendor" toolchain "$toolchain" zig "$zig" > "$out/paths"
      RUSTC_BOOTSTRAP=1 /usr/bin/cargo build --quiet --offline --locked $cargoFlags \
        -Z unstable-options --unit-graph > "$out/unit-graph.json"
      cp "$planRustc" "$TMPDIR/plan-rustc"
      chmod +x "$TMPDIR/plan-rustc"
      KILN_PLAN_DIR="$out" RUSTC_WRAPPER="$TMPDIR/plan-rustc" \
        /usr/bin/cargo build --quiet --offline --locked $cargoFlags
    '';
in
derivation (
  {
    name = "${name}-${target}${if plan then "-plan" else ""}";
    system = "x86_64-linux";
    builder = "/bin/sh";
    __kilnRootfs = rootfs;
    inherit
      src
      vendor
      target
      profile
      profileEnv
      ;
    inherit (rust) zigEnv;
    toolchain = rust.toolchain;
    cargoFlags = builtins.concatStringsSep " " flags;
    extraRustflags = builtins.concatStringsSep " " rustflags;
    args = [
      "-euc"
      (if plan then planBuild else build)
    ];
  }
  // (if locked.cargoConfig == "" then { } else { gitSources = locked.cargoConfig; })
  // (
    if plan then
      {
        planRustc = ./plan-rustc.sh;
        inherit zig;
      }
    else
      { }
  )
)
