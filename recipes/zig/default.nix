# zig 0.15.1 from the PyPI `ziglang` wheel (manylinux x86_64), as the C/C++
# compiler, archiver and linker for the musl targets.
#
#   import ./recipes/zig { rootfs; }  ->  a derivation whose `bin/` holds
#     zig                              the compiler driver
#     <triple>-cc, <triple>-c++,       wrappers for x86_64-linux-musl and
#     <triple>-ar                      aarch64-linux-musl, usable as
#                                      `CC_<rust triple>`, `CXX_…`, `AR_…` and
#                                      as rustc's linker, and for the host,
#                                      x86_64-linux-gnu (for build scripts that
#                                      compile C; the root filesystem's gcc,
#                                      `cc`, serves them by default)
#
# What the wrappers do (each learned the hard way, see DESIGN.md):
#   - drop `--target=<rust triple>`, which the `cc` crate appends and zig
#     does not understand (zig gets its own `-target`);
#   - rewrite rustc's `-static-pie` to `-static -pie` (zig 0.15.1 would
#     otherwise emit a non-PIE executable);
#   - keep zig's caches inside the build (`$TMPDIR`), so that no build
#     reuses another's cached libc and its recorded paths.
{ rootfs }:
let
  version = "0.15.1";
  wheelName = "ziglang-${version}-py3-none-manylinux_2_12_x86_64.manylinux2010_x86_64.musllinux_1_1_x86_64.whl";

  wheel = derivation {
    name = wheelName;
    builder = "builtin:fetchurl";
    system = "builtin";
    url = "https://files.pythonhosted.org/packages/30/a0/8aabb5f4e0862340ebb4d86f614567a5492e4e1ac09639c9c759404babe1/${wheelName}";
    outputHashMode = "flat";
    outputHashAlgo = "sha256";
    outputHash = "4e45994a0e608d9b16ecad255698f5557a2e24de0bd7ba9efb156ab3f3683d9a";
  };

  unpacked = derivation {
    name = "ziglang-${version}-wheel";
    builder = "builtin:unpack-v1";
    system = "builtin";
    src = wheel;
    format = "whl";
  };

in
derivation {
  name = "zig-${version}";
  system = "x86_64-linux";
  builder = "/bin/sh";
  __kilnRootfs = rootfs;
  inherit unpacked;
  targets = "x86_64-linux-musl aarch64-linux-musl x86_64-linux-gnu";
  args = [
    "-euc"
    ''
      export PATH=/usr/bin:/bin
      mkdir -p "$out/bin" "$out/lib"
      cp -r "$unpacked/ziglang" "$out/lib/zig"
      chmod -R u+w "$out/lib/zig"
      chmod 0755 "$out/lib/zig/zig"
      ln -s ../lib/zig/zig "$out/bin/zig"
      zig="$out/lib/zig/zig"
      # wrapper FILE TOOL TARGET
      wrapper() {
        cat > "$1" <<EOF
      #!/bin/sh
      # zig $2 for $3 (made by kiln's zig recipe)
      : "\''${ZIG_GLOBAL_CACHE_DIR:=\''${TMPDIR:-/tmp}/zig-global-cache}"
      : "\''${ZIG_LOCAL_CACHE_DIR:=\''${TMPDIR:-/tmp}/zig-local-cache}"
      export ZIG_GLOBAL_CACHE_DIR ZIG_LOCAL_CACHE_DIR
      for arg do
        shift
        case "\$arg" in
          --target=*|-target=*) ;;
          -static-pie) set -- "\$@" -static -pie ;;
          *) set -- "\$@" "\$arg" ;;
        esac
      done
      exec $zig $2 -target $3 "\$@"
      EOF
        chmod 0755 "$1"
      }
      for target in $targets; do
        wrapper "$out/bin/$target-cc" cc "$target"
        wrapper "$out/bin/$target-c++" c++ "$target"
        cat > "$out/bin/$target-ar" <<EOF
      #!/bin/sh
      : "\''${ZIG_GLOBAL_CACHE_DIR:=\''${TMPDIR:-/tmp}/zig-global-cache}"
      export ZIG_GLOBAL_CACHE_DIR
      exec $zig ar "\$@"
      EOF
        chmod 0755 "$out/bin/$target-ar"
      done
      export ZIG_GLOBAL_CACHE_DIR="$TMPDIR/zig-cache" ZIG_LOCAL_CACHE_DIR="$TMPDIR/zig-cache"
      "$out/bin/zig" version
    ''
  ];
}
