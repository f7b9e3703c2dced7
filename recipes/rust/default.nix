# The Rust toolchain for static musl binaries, built from pinned inputs.
#
#   import ./recipes/rust { rootfs, zig, crates }  ->  {
#     std.<rust triple>   the standard library for a musl target, built from
#                         Debian's rust-src with -Zbuild-std (RUSTC_BOOTSTRAP),
#                         its own crates.io dependencies vendored from
#                         std-crates.json (library/Cargo.lock)
#     toolchain           one sysroot: the host's libraries (from the root
#                         filesystem) and every musl target's std, with
#                         `bin/rustc` (rustc with that sysroot) and
#                         `bin/cargo`; `cargo build --target <triple>`
#                         then works for any crate without rebuilding std
#     targets             the musl triples, and for each the zig triple
#   }
{
  rootfs,
  zig,
  crates,
}:
let
  stdLock = builtins.fromJSON (builtins.readFile ./std-crates.json);

  targets = {
    "x86_64-unknown-linux-musl" = "x86_64-linux-musl";
    "aarch64-unknown-linux-musl" = "aarch64-linux-musl";
  };

  stdVendor = crates.vendor {
    name = "rust-std-vendor";
    crates = stdLock.crates;
    inherit rootfs;
  };

  # Environment variables that point cargo and the `cc` crate at a zig
  # (`zig` or `zig.compiler`) for every musl target (cargo's own names use
  # the upper-case triple).
  zigEnvOf = zig: builtins.concatStringsSep " " (
    builtins.attrValues (
      builtins.mapAttrs (
        rust: zt:
        let
          upper = builtins.replaceStrings [ "-" ] [ "_" ] (
            builtins.replaceStrings
              [ "x86_64" "aarch64" "unknown" "linux" "musl" ]
              [ "X86_64" "AARCH64" "UNKNOWN" "LINUX" "MUSL" ]
              rust
          );
          lower = builtins.replaceStrings [ "-" ] [ "_" ] rust;
        in
        "CARGO_TARGET_${upper}_LINKER=${zig}/bin/${zt}-cc CC_${lower}=${zig}/bin/${zt}-cc CXX_${lower}=${zig}/bin/${zt}-c++ AR_${lower}=${zig}/bin/${zt}-ar"
      ) targets
    )
  );
  zigEnv = zigEnvOf zig;
  # std links nothing for its targets (it builds rlibs; its build scripts
  # are the host's), so it takes the zig without the libc seed: a new
  # machine builds std without waiting for the seed, and a change of the
  # seeding wrappers leaves std as it is.
  stdZigEnv = zigEnvOf (zig.compiler or zig);

  cargoHome = ''
    export HOME="$TMPDIR" CARGO_HOME="$TMPDIR/cargo-home"
    mkdir -p "$CARGO_HOME"
    printf '[source.crates-io]\nreplace-with = "vendored"\n[source.vendored]\ndirectory = "%s"\n' "$vendor" > "$CARGO_HOME/config.toml"
  '';

  buildStd =
    target:
    derivation {
      name = "rust-std-${target}";
      system = "x86_64-linux";
      builder = "/bin/sh";
      __kilnRootfs = rootfs;
      vendor = stdVendor;
      zigEnv = stdZigEnv;
      inherit target;
      args = [
        "-euc"
        ''
          export PATH=/usr/bin:/bin
          ${cargoHome}
          export $zigEnv
          export RUSTC_BOOTSTRAP=1 CARGO_BUILD_JOBS="''${NIX_BUILD_CORES:-1}"
          # The vendored crates' store path would end up in panic
          # locations of every binary; name them by a fixed path instead.
          # Bitcode in every rlib, as in Rust's own std: a project whose
          # profile has `lto = true` (uv's) links std's bitcode too.
          export RUSTFLAGS="-C link-self-contained=no -C embed-bitcode=yes --remap-path-prefix=$vendor=/rust/deps"
          # As Rust's own build does, panic_abort itself is compiled with
          # panic=abort (the rest of std unwinds), so that a project whose
          # profile says `panic = "abort"` can link it.
          printf '#!/bin/sh\nrustc="$1"; shift\ncase " $* " in *" --crate-name panic_abort "*) exec "$rustc" "$@" -C panic=abort ;; esac\nexec "$rustc" "$@"\n' > "$TMPDIR/rustc-wrapper"
          chmod 0755 "$TMPDIR/rustc-wrapper"
          export RUSTC_WRAPPER="$TMPDIR/rustc-wrapper"
          mkdir -p "$TMPDIR/std-build/src"
          cd "$TMPDIR/std-build"
          printf '[package]\nname = "std-build"\nversion = "0.0.0"\nedition = "2021"\n' > Cargo.toml
          printf '#![no_std]\n' > src/lib.rs
          cargo build --release --offline -Zbuild-std=std,panic_abort --target "$target"
          mkdir -p "$out/lib/rustlib/$target/lib"
          for rlib in target/"$target"/release/deps/*.rlib; do
            case "$(basename "$rlib")" in libstd_build-*) continue ;; esac
            cp "$rlib" "$out/lib/rustlib/$target/lib/"
          done
        ''
      ];
    };

  std = builtins.mapAttrs (rust: _: buildStd rust) targets;

  toolchain = derivation {
    name = "rust-toolchain-musl";
    system = "x86_64-linux";
    builder = "/bin/sh";
    __kilnRootfs = rootfs;
    stds = builtins.concatStringsSep " " (builtins.attrValues std);
    args = [
      "-euc"
      ''
        export PATH=/usr/bin:/bin
        mkdir -p "$out/bin" "$out/lib/rustlib"
        # The host's own libraries (build scripts, proc-macros) stay in the
        # root filesystem, which every build using this toolchain mounts.
        ln -s /usr/lib/rustlib/x86_64-unknown-linux-gnu "$out/lib/rustlib/x86_64-unknown-linux-gnu"
        ln -s /usr/lib/rustlib/src "$out/lib/rustlib/src"
        for std in $stds; do
          for dir in "$std"/lib/rustlib/*; do
            ln -s "$dir" "$out/lib/rustlib/$(basename "$dir")"
          done
        done
        printf '#!/bin/sh\nexec /usr/bin/rustc --sysroot %s "$@"\n' "$out" > "$out/bin/rustc"
        printf '#!/bin/sh\nexport RUSTC="${"$"}{RUSTC:-%s/bin/rustc}"\nexec /usr/bin/cargo "$@"\n' "$out" > "$out/bin/cargo"
        chmod 0755 "$out/bin/rustc" "$out/bin/cargo"
        "$out/bin/rustc" --version
        "$out/bin/rustc" --print target-libdir --target x86_64-unknown-linux-musl
      ''
    ];
  };
in
{
  inherit
    std
    toolchain
    targets
    zigEnv
    cargoHome
    stdVendor
    ;
}
