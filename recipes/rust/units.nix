# Build a Rust package one cargo unit at a time: one derivation per rustc
# call and per build-script run, from a plan (`kiln units`: cargo's own
# calls, checked against its unit graph; docs/architecture.md).
#
#   buildUnits {
#     name;         the package name (for the final store path)
#     src;          the source tree the plan was made from (a store path)
#     cargoLock;    its parsed Cargo.lock (the crates' checksums)
#     target;       the musl triple the plan is for
#     plan;         the parsed plan (builtins.fromJSON of `kiln units`)
#     gitHashes ? { };  the git dependencies' hashes (lock.nix)
#   }
#   -> the package: `$out/bin` holds the plan's root binaries, as the
#      whole-project build (package.nix) does; `.units` lists every unit's
#      derivation
#
# Each unit runs rustc (or the build script) with cargo's exact arguments
# and environment. A workspace member's unit copies its source tree to
# /build/src, where the whole-project build shows it, so no path of it
# names a store path. Every store path a unit reads is remapped (rustc's
# --remap-path-prefix, C's -ffile-prefix-map) to the path the whole-project
# build would have shown: a crate's sources to /cargo/vendor/NAME-VERSION,
# a build script's output to its OUT_DIR under /build/src/target. A build
# script's directives (`cargo:` and `cargo::`) are applied as cargo applies them:
# rustc-cfg, rustc-check-cfg, rustc-env, rustc-link-lib, rustc-link-search,
# rustc-flags and rustc-link-arg* to its own package's compilation, link
# search paths to every dependent, `metadata` (and old-style `KEY=VALUE`)
# as DEP_<LINKS>_<KEY> to the build scripts of packages that depend on it.
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
  plan,
  gitHashes ? { },
}:
let
  inherit (builtins)
    attrNames
    attrValues
    concatMap
    concatStringsSep
    elemAt
    filter
    genList
    length
    listToAttrs
    mapAttrs
    replaceStrings
    ;
  # Every crate's sources (crates.io's and git's), by NAME-VERSION.
  inherit (lockedCrates { inherit name cargoLock gitHashes; }) crateDirs;
  units = plan.units;
  count = length units;
  unit = i: elemAt units i;
  isRun = u: u.kind == "run";

  # A package's crate (NAME-VERSION), or null for a workspace member.
  crateOf =
    u:
    let
      m = builtins.match "@\\{crate:(.*)}" u.package.dir;
    in
    if m == null then null else elemAt m 0;
  # A crate's sources.
  sourceOf =
    u:
    let
      c = crateOf u;
    in
    crateDirs.${c} or (throw "${name}: the plan names the crate ${c}, which Cargo.lock does not");
  # What a path of the whole-project build shows as (after its remapping).
  shown = replaceStrings [ "@{src}" ] [ "/build/src" ];

  # Each workspace member's units see a source tree of their own: the
  # whole tree without the other members' directories, Cargo.lock and
  # kiln's own files, at the same place. An edit of one member, or a
  # Cargo.lock bump, then leaves the other members' trees byte for byte
  # the same, and early cutoff (docs/architecture.md) reuses their units.
  # A member reading another member's files fails to build (not found).
  memberDir =
    u:
    let
      d = replaceStrings [ "@{src}" ] [ "" ] u.package.dir;
    in
    if d == "" then "." else "." + d;
  memberDirs = attrNames (
    listToAttrs (
      map (u: {
        name = memberDir u;
        value = true;
      }) (filter (u: crateOf u == null) units)
    )
  );
  memberSources = listToAttrs (
    map (dir: {
      name = dir;
      value = memberSource dir;
    }) memberDirs
  );
  memberSource =
    dir:
    let
      # Another member is left out unless it holds this one.
      others = filter (o: o != dir && o != "." && !(builtins.substring 0 (builtins.stringLength o + 1) dir == o + "/")) memberDirs;
      leftOut = others ++ [
        "./Cargo.lock"
        "./flake.toml"
        "./flake.lock"
        "./kiln-units"
      ];
    in
    derivation (
      common
      // {
        name = "${name}-source${if dir == "." then "" else "-" + baseNameOf dir}";
        inherit src;
        excludes = concatStringsSep " " (map (o: "--exclude=${o}") leftOut);
        args = [
          "-euc"
          ''
            export PATH=/usr/bin:/bin
            mkdir "$out"
            tar -C "$src" --anchored $excludes --no-same-owner -cf - . | tar -C "$out" --no-same-owner -xf -
          ''
        ];
      }
    );
  # The source tree a member's unit copies to /build/src (none for a
  # crates.io unit, whose sources are its crate's). Copied rather than
  # read in the store, its paths are the same whatever the tree's store
  # path: a C file's object name, a build script's echoed CFLAGS and the
  # like do not change when only another file of the tree does, and early
  # cutoff holds below an edit that leaves a unit's output the same.
  memberSrcOf = u: if crateOf u == null then "${memberSources.${memberDir u}}" else "";

  # The transitive compilation units below each unit (the libraries rustc
  # looks up with -L dependency=), and the build-script runs among and
  # beside them (their link search paths reach every dependent). A
  # closure is a set from each unit's index, as a string, to the index.
  closures = genList (
    i:
    let
      direct = filter (j: !isRun (unit j)) (unit i).deps;
    in
    listToAttrs (
      map (j: {
        name = toString j;
        value = j;
      }) direct
    )
    // builtins.foldl' (acc: j: acc // elemAt closures j) { } direct
  ) count;
  runsBelow =
    i:
    filter (j: isRun (unit j)) (
      concatMap (k: (unit k).deps) ([ i ] ++ attrValues (elemAt closures i))
    );

  placeholders =
    i:
    let
      u = unit i;
      deps = u.deps ++ (if isRun u then [ u.script ] else [ ]);
      c = crateOf u;
    in
    {
      from = [
        "@{src}"
        "@{toolchain}"
        "@{zig}"
      ]
      ++ (if c == null then [ ] else [ "@{crate:${c}}" ])
      ++ map (j: "@{unit:${toString j}}") deps;
      to = [
        "/build/src"
        "${rust.toolchain}"
        "${zig}"
      ]
      ++ (if c == null then [ ] else [ "${sourceOf u}" ])
      ++ map outOf deps;
    };
  substitute =
    i:
    let
      p = placeholders i;
    in
    replaceStrings p.from p.to;

  # Remappings: this unit's store paths to what cargo's build shows.
  remaps =
    i:
    let
      u = unit i;
      remapped = builtins.any (a: builtins.match "--remap-path-prefix=.*" a != null) (u.args or [ ]);
      c = crateOf u;
      own = if c == null then [ ] else [ "${sourceOf u}=/cargo/vendor/${c}" ];
      outDirs = map (
        j: "${outOf j}/out=${shown (unit j).cargoOutDir}"
      ) (filter (j: isRun (unit j)) u.deps);
    in
    if isRun u || remapped then own ++ outDirs else [ ];

  # A package's library and binary can share a crate name (uv's `uv`):
  # such a binary's unit is named `…-NAME-bin-…`, so that each has its own
  # `--explain` history.
  crateKey = u: "${u.package.name}-${u.package.version}-${u.crateName}-${toString u.platform}";
  libraries = listToAttrs (
    map (u: {
      name = crateKey u;
      value = true;
    }) (filter (u: !isRun u && !(builtins.elem "bin" u.crateTypes)) units)
  );
  sharesLibraryName = u: builtins.elem "bin" u.crateTypes && libraries ? ${crateKey u};
  unitName =
    u:
    let
      what =
        if isRun u then
          "build-script-run"
        else if sharesLibraryName u then
          "${u.crateName}-bin"
        else
          u.crateName;
      # The platform in the name: the history `--explain` reads is by
      # name, so each target's unit is compared with that target's.
      platform = if u.platform == null then "host" else elemAt (builtins.split "-" u.platform) 0;
    in
    "${u.package.name}-${u.package.version}-${what}-${platform}";

  common = {
    system = "x86_64-linux";
    builder = "/bin/sh";
    __kilnRootfs = rootfs;
    toolchain = rust.toolchain;
    inherit (rust) zigEnv;
  };

  copyMemberSource = ''
    if [ -n "$memberSrc" ]; then cp -a "$memberSrc" /build/src; fi
  '';

  compileScript = ''
    export PATH=/usr/bin:/bin HOME="$TMPDIR"
    ${copyMemberSource}
    mkdir -p "$out" "$TMPDIR/deps"
    # Every dependency's files linked by one `ln` (uv's binary links
    # about 1,150: one process each took seconds).
    set --
    for dir in $depDirs; do set -- "$@" "$dir"/*; done
    if [ $# -gt 0 ]; then ln -s "$@" "$TMPDIR/deps/"; fi
    printf '%s\n' "$rustcArgs" | sed "s|@{out}|$out|g" > "$TMPDIR/args"
    printf '%s\n' -L "dependency=$TMPDIR/deps" >> "$TMPDIR/args"
    for run in $linkSearch; do cat "$run/link-search" >> "$TMPDIR/args"; done
    if [ -n "$buildScript" ]; then
      cat "$buildScript/rustc-args" >> "$TMPDIR/args"
      while IFS= read -r pair; do export "$pair"; done < "$buildScript/rustc-env"
    fi
    for remap in $remaps; do printf -- '--remap-path-prefix=%s\n' "$remap" >> "$TMPDIR/args"; done
    cd "$cwd"
    "$toolchain/bin/rustc" "@$TMPDIR/args"
    rm -f "$out"/*.d
  '';

  # The build script's directives, as files its dependents read.
  runScript = ''
    export PATH=/usr/bin:/bin HOME="$TMPDIR"
    ${copyMemberSource}
    export $zigEnv
    export RUSTC="$toolchain/bin/rustc" NUM_JOBS="''${NIX_BUILD_CORES:-1}" OUT_DIR="$out/out"
    prefixMaps="-ffile-prefix-map=$out/out=$outDirShown"
    for map in $remaps; do prefixMaps="$prefixMaps -ffile-prefix-map=$map"; done
    export "CFLAGS_$targetLower=$prefixMaps" "CXXFLAGS_$targetLower=$prefixMaps"
    mkdir -p "$out/out"
    : > "$out/rustc-args"; : > "$out/rustc-env"; : > "$out/link-search"; : > "$out/metadata"
    for dep in $linked; do
      links=''${dep%%:*} path=''${dep#*:}
      prefix=DEP_$(printf '%s' "$links" | tr 'a-z-' 'A-Z_')_
      while IFS= read -r pair; do
        key=''${pair%%=*}
        export "$prefix$(printf '%s' "$key" | tr 'a-z-' 'A-Z_')=''${pair#*=}"
      done < "$path/metadata"
    done
    cd "$cwd"
    if ! "$script/$program" > "$TMPDIR/stdout" 2> "$TMPDIR/stderr"; then
      cat "$TMPDIR/stderr" "$TMPDIR/stdout" >&2
      echo "the build script of $packageName failed" >&2
      exit 1
    fi
    # The output keeps the directives only: whatever else a script prints
    # (a parallel `make` echoing its commands, say) may come in another
    # order each time, and would make this unit's output differ between
    # identical builds. The rest goes to the build log.
    : > "$out/output"
    while IFS= read -r line; do
      case $line in
        cargo::*) directive=''${line#cargo::} ;;
        cargo:*) directive=''${line#cargo:} ;;
        *) printf '%s\n' "$line" >&2; continue ;;
      esac
      printf '%s\n' "$line" >> "$out/output"
      key=''${directive%%=*} value=''${directive#*=}
      case $key in
        rustc-cfg) printf -- '--cfg\n%s\n' "$value" >> "$out/rustc-args" ;;
        rustc-check-cfg) printf -- '--check-cfg\n%s\n' "$value" >> "$out/rustc-args" ;;
        rustc-env) printf '%s\n' "$value" >> "$out/rustc-env" ;;
        rustc-link-lib) printf -- '-l\n%s\n' "$value" >> "$out/rustc-args" ;;
        rustc-link-search)
          printf -- '-L\n%s\n' "$value" >> "$out/rustc-args"
          printf -- '-L\n%s\n' "$value" >> "$out/link-search"
          ;;
        rustc-flags)
          set -- $value
          while [ $# -gt 0 ]; do
            case $1 in
              -l | -L) printf '%s\n%s\n' "$1" "$2" >> "$out/rustc-args"; shift 2 ;;
              -l* | -L*) printf '%s\n' "$1" >> "$out/rustc-args"; shift ;;
              *) echo "unsupported rustc-flags: $1" >&2; exit 1 ;;
            esac
          done
          ;;
        rustc-link-arg | rustc-link-arg-bins | rustc-cdylib-link-arg)
          printf -- '-C\nlink-arg=%s\n' "$value" >> "$out/rustc-args"
          ;;
        metadata) printf '%s\n' "$value" >> "$out/metadata" ;;
        warning) printf 'warning: %s: %s\n' "$packageName" "$value" >&2 ;;
        error) printf 'error: %s: %s\n' "$packageName" "$value" >&2; exit 1 ;;
        rerun-if-* | rustc-link-arg-* | rustc-cdylib-* ) ;;
        *) if [ "''${line#cargo::}" = "$line" ]; then printf '%s\n' "$directive" >> "$out/metadata"; fi ;;
      esac
    done < "$TMPDIR/stdout"
  '';

  compileUnit =
    i:
    let
      u = unit i;
      s = substitute i;
      runDep = filter (j: isRun (unit j)) u.deps;
      env = removeAttrs (mapAttrs (_: s) u.env) [ "NUM_JOBS" ];
    in
    derivation (
      env
      // common
      // {
        name = unitName u;
        rustcArgs = concatStringsSep "\n" (
          map s (filter (a: builtins.match "--remap-path-prefix=@\\{(vendor|src)}=.*|--error-format=json|--json=.*" a == null) u.args)
        );
        depDirs = concatStringsSep " " (map outOf (attrValues (elemAt closures i)));
        linkSearch = concatStringsSep " " (map outOf (runsBelow i));
        buildScript = if runDep == [ ] then "" else outOf (elemAt runDep 0);
        remaps = concatStringsSep " " (remaps i);
        memberSrc = memberSrcOf u;
        cwd = s u.cwd;
        args = [
          "-euc"
          compileScript
        ];
      }
    );

  runUnit =
    i:
    let
      u = unit i;
      s = substitute i;
      env = removeAttrs (mapAttrs (_: s) u.env) [
        "NUM_JOBS"
        "OUT_DIR"
      ];
      linked = filter (j: j != u.script && isRun (unit j) && (unit j).links != null) u.deps;
    in
    derivation (
      env
      // common
      // {
        name = unitName u;
        packageName = "${u.package.name} ${u.package.version}";
        script = elemAt drvs u.script;
        inherit (u) program;
        linked = concatStringsSep " " (map (j: "${(unit j).links}:${outOf j}") linked);
        remaps = concatStringsSep " " (remaps i);
        memberSrc = memberSrcOf u;
        outDirShown = shown u.cargoOutDir;
        targetLower = replaceStrings [ "-" ] [ "_" ] target;
        cwd = s u.cwd;
        args = [
          "-euc"
          runScript
        ];
      }
    );

  drvs = genList (i: if isRun (unit i) then runUnit i else compileUnit i) count;
  # Each unit's output path (a string with its context), made once.
  outs = map (d: "${d}") drvs;
  outOf = j: elemAt outs j;

  binaries = map (
    i:
    let
      u = unit i;
    in
    {
      # A binary's file is named for its target (plans before targetName
      # was recorded: the crate name).
      name = u.targetName or u.crateName;
      file = "${elemAt drvs i}/${elemAt u.outputs 0}";
    }
  ) plan.roots;
in
derivation (
  common
  // {
    name = "${name}-${target}";
    files = concatStringsSep " " (map (b: "${b.name}:${b.file}") binaries);
    args = [
      "-euc"
      ''
        export PATH=/usr/bin:/bin
        mkdir -p "$out/bin"
        for pair in $files; do cp "''${pair#*:}" "$out/bin/''${pair%%:*}"; done
      ''
    ];
  }
)
// {
  units = drvs;
}
