# 1,000 trivial sandboxed derivations with a few layers of fan-in, for
# bench/realise/run.sh. Both `kiln build` and `nix-instantiate` evaluate it.
# `nonce` makes every run's derivations new, so each run really builds.
{ nonce ? "0", count ? 1000 }:
let
  bb = ./bb;
  mk = name: deps: derivation {
    inherit name deps nonce;
    system = "x86_64-linux";
    builder = "${bb}/bin/busybox";
    args = [ "sh" "-c" "echo $name > $out" ];
  };
  # Layer sizes halve: 500, 250, 125, … down to 1; each node of a layer
  # depends on two of the layer below.
  mod = a: b: a - (a / b) * b;
  layer = depth: size: below:
    builtins.genList (i: mk "n${toString depth}-${toString i}"
      (if below == [] then [] else [
        (builtins.elemAt below (mod (2 * i) (builtins.length below)))
        (builtins.elemAt below (mod (2 * i + 1) (builtins.length below)))
      ])) size;
  layers = depth: size: below: total:
    let this = layer depth size below; in
    if size <= 1 then { nodes = total ++ this; top = this; }
    else layers (depth + 1) (size / 2) this (total ++ this);
  all = layers 0 (count / 2) [] [];
  # The root needs every node, so one build realises the whole graph.
  filler = builtins.genList (i: mk "extra-${toString i}" []) (count - builtins.length all.nodes - 1);
in mk "root" (all.nodes ++ filler)
