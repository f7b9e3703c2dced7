# (a) A recipe-shaped graph: 3,000 crates, each a fixed-output source fetch
# and one build per target (2 targets), depending on up to 4 earlier
# crates' builds for the same target through string context.
let
  n = 3000;
  targets = [ "x86_64-unknown-linux-musl" "aarch64-unknown-linux-musl" ];
  hashOf = i: builtins.hashString "sha256" "crate-${toString i}";
  src = i: derivation {
    name = "crate-${toString i}-1.0.${toString (i - (i / 7) * 7)}.crate";
    builder = "builtin:fetchurl";
    system = "builtin";
    urls = "https://static.crates.io/crates/crate-${toString i}/crate-${toString i}-1.0.0.crate";
    outputHash = hashOf i;
    outputHashAlgo = "sha256";
    outputHashMode = "flat";
  };
  sources = builtins.genList src n;
  # Up to 4 distinct earlier crates.
  depsOf = i: builtins.filter (j: j >= 0 && j < i) [ (i - 1) (i / 2) (i / 3 - 1) (i - 17) ];
  build = target: let builds = builtins.genList (i: derivation {
    name = "crate-${toString i}-${target}";
    builder = "/bin/sh";
    system = "x86_64-linux";
    args = [ "-c" "cargo build --offline --target ${target}" ];
    src = builtins.elemAt sources i;
    deps = map (j: builtins.elemAt builds j) (depsOf i);
    features = [ "default" "std" ];
    RUSTFLAGS = "-C opt-level=3 --cap-lints allow";
  }) n; in builds;
  memo = map (t: build t) targets;
in builtins.concatMap (bs: map (d: d.drvPath) bs) memo
