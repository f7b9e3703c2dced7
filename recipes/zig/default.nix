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
#   and, as attributes of it,
#     compiler                         the unpacked zig (`lib/zig/zig`), with
#                                      wrappers that start from an empty cache
#     libcCache                        zig's cache after linking a musl
#                                      executable the way rustc does
#
# What the wrappers do (each learned the hard way, see DESIGN.md):
#   - drop `--target=<rust triple>`, which the `cc` crate appends and zig
#     does not understand (zig gets its own `-target`);
#   - rewrite rustc's `-static-pie` to `-static -pie` (zig 0.15.1 would
#     otherwise emit a non-PIE executable);
#   - keep zig's caches inside the build (`$TMPDIR`), so that no build
#     reuses another's cache and the paths recorded in it;
#   - seed that cache from `libcCache` before a link: zig builds musl's libc,
#     libunwind and compiler-rt from source the first time it links for a
#     target, about 30 s of both cores here, and every build that links
#     (each binary of a per-unit build, each configure script) would pay
#     it again. `libcCache` is made by the same zig, from the same paths,
#     so what it holds is what the build would have made.
{ rootfs }:
let
  version = "0.15.1";
  wheelName = "ziglang-${version}-py3-none-manylinux_2_12_x86_64.manylinux2010_x86_64.musllinux_1_1_x86_64.whl";
  targets = "x86_64-linux-musl aarch64-linux-musl x86_64-linux-gnu";
  muslTargets = "x86_64-linux-musl aarch64-linux-musl";

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

  # The zig recipe before the cache: its wrappers start from nothing. It is
  # kept as it was, so that the paths in what zig builds stay the same.
  compiler = derivation {
    name = "zig-${version}";
    system = "x86_64-linux";
    builder = "/bin/sh";
    __kilnRootfs = rootfs;
    inherit unpacked targets;
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
  };

  # What a build's first link puts in zig's cache, for each musl triple
  # and each of the two ways rustc links (stripped, as release profiles
  # with `strip` do, or not: zig builds libc once for each): rustc's link
  # of an executable (its flags, with libunwind and libc: static-pie on
  # x86_64, static on aarch64, as rustc links them). Each is a cache of its
  # own, `$out/<triple>/{stripped,unstripped}`, made where builds make
  # theirs, from `/build/src` into `$TMPDIR/zig-global-cache`: both paths
  # reach the debug info of what zig builds. Left out: `z/`, zig's parsed
  # sources, which a hit does not read, and `tmp/`. The inode numbers zig
  # records for its sources are zeroed, as they differ between stores; zig
  # rehashes a source whose inode differs, and finds the same contents.
  libcCache = derivation {
    name = "zig-${version}-libc-cache";
    system = "x86_64-linux";
    builder = "/bin/sh";
    __kilnRootfs = rootfs;
    inherit compiler;
    targets = muslTargets;
    args = [
      "-euc"
      ''
        export PATH=/usr/bin:/bin
        cache="$TMPDIR/zig-global-cache"
        export ZIG_LOCAL_CACHE_DIR="$TMPDIR/zig-local-cache"
        mkdir -p /build/src
        cd /build/src
        # zig builds musl's files in parallel and lists each header in a
        # library's cache entry as its file finishes, so the entries' order
        # (and the directory names derived from it) would differ from build
        # to build. On one CPU it does not. (The root filesystem's gcc
        # builds the helper: util-linux's taskset is not in every root
        # filesystem.)
        cat > "$TMPDIR/one-cpu.c" <<'EOF'
        #define _GNU_SOURCE
        #include <sched.h>
        #include <stdio.h>
        #include <unistd.h>
        int main(int argc, char **argv) {
          cpu_set_t cpus;
          int cpu = 0;
          if (argc < 2) return 2;
          if (sched_getaffinity(0, sizeof cpus, &cpus) != 0) { perror("sched_getaffinity"); return 1; }
          while (cpu < CPU_SETSIZE - 1 && !CPU_ISSET(cpu, &cpus)) cpu++;
          CPU_ZERO(&cpus);
          CPU_SET(cpu, &cpus);
          if (sched_setaffinity(0, sizeof cpus, &cpus) != 0) { perror("sched_setaffinity"); return 1; }
          execvp(argv[1], argv + 1);
          perror(argv[1]);
          return 127;
        }
        EOF
        cc -O2 -o "$TMPDIR/one-cpu" "$TMPDIR/one-cpu.c"
        printf 'int main(void) { return 0; }\n' > seed.c
        for target in $targets; do
          cc="$compiler/bin/$target-cc"
          case $target in
            x86_64-*) flags="-m64 -static-pie" ;;
            *) flags="-static -no-pie" ;;
          esac
          ZIG_GLOBAL_CACHE_DIR="$TMPDIR/compile-cache" "$cc" -c -O2 seed.c -o seed.o
          for variant in unstripped stripped; do
            case $variant in
              stripped) strip=-Wl,--strip-all ;;
              *) strip= ;;
            esac
            rm -rf "$cache"
            ZIG_GLOBAL_CACHE_DIR="$cache" "$TMPDIR/one-cpu" "$cc" seed.o \
              -Wl,--as-needed -Wl,-Bstatic -lunwind -lc -Wl,-Bdynamic -Wl,--eh-frame-hdr \
              -Wl,-z,noexecstack -o seed -Wl,--gc-sections $flags -Wl,-z,relro,-z,now \
              -Wl,-O1 -nodefaultlibs $strip
            rm -rf "$cache/tmp" "$cache/z"
            find "$cache/h" -type f -exec sed -i -E 's/^([0-9]+) [0-9]+ /\1 0 /' {} +
            mkdir -p "$out/$target"
            cp -r "$cache" "$out/$target/$variant"
          done
        done
      ''
    ];
  };
in
derivation {
  name = "zig-${version}-cc";
  system = "x86_64-linux";
  builder = "/bin/sh";
  __kilnRootfs = rootfs;
  inherit compiler libcCache targets;
  args = [
    "-euc"
    ''
      export PATH=/usr/bin:/bin
      mkdir -p "$out/bin"
      ln -s "$compiler/lib" "$out/lib"
      ln -s ../lib/zig/zig "$out/bin/zig"
      # wrapper TOOL TARGET: `zig.compiler`'s wrapper for TOOL and TARGET
      # (which rewrites the arguments), run after seeding. Before a link
      # for a musl triple, the build's cache takes in the seed for that
      # triple and that way of linking (stripped or not), once: `cp -n` adds
      # the seed's entries and replaces none (zig names its entries by
      # their inputs' hashes, so an entry of the same name holds the same
      # thing). The manifests (`h/`) go in last, so that zig, running beside
      # the copy, never finds a manifest whose files are not all there yet.
      # A lock directory keeps two links from seeding at once; a wrapper
      # stopped by a signal while it holds it lets it go. A link that waited
      # two minutes for it (its holder killed outright) marks the seeding
      # abandoned, and it and every later link go on unseeded, which is
      # only slower.
      wrapper() {
        seeds=
        if [ -d "$libcCache/$2" ]; then seeds="$libcCache/$2"; fi
        cat > "$out/bin/$2-$1" <<EOF
      #!/bin/sh
      # zig $1 for $2, its cache seeded (made by kiln's zig recipe)
      : "\''${ZIG_GLOBAL_CACHE_DIR:=\''${TMPDIR:-/tmp}/zig-global-cache}"
      export ZIG_GLOBAL_CACHE_DIR
      seeds=$seeds
      cache=\$ZIG_GLOBAL_CACHE_DIR
      link=yes variant=unstripped
      for arg do
        case "\$arg" in
          -c|-S|-E|-M|-MM|--version|-v|-dumpversion|-dumpmachine|-print-*|-###) link=no ;;
          -s) variant=stripped ;;
          -Wl,*)
            case ",\''${arg#-Wl,}," in
              *,-s,*|*,-S,*|*,--strip-all,*|*,--strip-debug,*) variant=stripped ;;
            esac ;;
        esac
      done
      seeded="\$cache/kiln-seeded-$2-\$variant"
      abandoned="\$cache/kiln-seeding-abandoned"
      if [ -n "\$seeds" ] && [ \$link = yes ] && [ ! -e "\$seeded" ] && [ ! -e "\$abandoned" ] \\
        && mkdir -p "\$cache" 2> /dev/null; then
        lock="\$cache/kiln-seeding" locked=no waited=0
        while [ \$waited -lt 600 ]; do
          if mkdir "\$lock" 2> /dev/null; then locked=yes; break; fi
          # mkdir failed with no lock there: the cache cannot take one
          if [ ! -d "\$lock" ]; then break; fi
          waited=\$((waited + 1))
          sleep 0.2
        done
        if [ \$waited -ge 600 ]; then : > "\$abandoned"; fi
        if [ \$locked = yes ]; then
          trap 'rmdir "\$lock" 2> /dev/null; exit 129' HUP
          trap 'rmdir "\$lock" 2> /dev/null; exit 130' INT
          trap 'rmdir "\$lock" 2> /dev/null; exit 143' TERM
          if [ ! -e "\$seeded" ]; then
            copied=yes
            for entry in "\$seeds/\$variant"/*; do
              if [ "\''${entry##*/}" != h ]; then
                cp -rn --no-preserve=mode "\$entry" "\$cache/" || copied=no
              fi
            done
            if [ \$copied = yes ] && cp -rn --no-preserve=mode "\$seeds/\$variant/h" "\$cache/"; then
              : > "\$seeded"
            fi
          fi
          rmdir "\$lock"
          trap - HUP INT TERM
        fi
      fi
      exec $compiler/bin/$2-$1 "\$@"
      EOF
        chmod 0755 "$out/bin/$2-$1"
      }
      for target in $targets; do
        wrapper cc "$target"
        wrapper c++ "$target"
        ln -s "$compiler/bin/$target-ar" "$out/bin/$target-ar"
      done
      export ZIG_GLOBAL_CACHE_DIR="$TMPDIR/zig-cache" ZIG_LOCAL_CACHE_DIR="$TMPDIR/zig-cache"
      "$out/bin/zig" version
    ''
  ];
}
// {
  inherit compiler libcCache;
}
