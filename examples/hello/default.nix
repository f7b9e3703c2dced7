# The hello example in Nix rather than flake.toml (examples/hello/flake.toml
# builds the same): buildRustPackage for both musl targets.
#   kiln build examples/hello/default.nix            (both)
#   kiln build examples/hello/default.nix -A x86_64  (one)
{
  recipes ? import ../../recipes { },
}:
let
  build =
    target:
    recipes.buildRustPackage {
      name = "hello";
      src = builtins.path {
        path = ./.;
        name = "hello-source";
        filter = path: type: baseNameOf path != "target" && baseNameOf path != "result" && baseNameOf path != "default.nix";
      };
      cargoLock = builtins.fromTOML (builtins.readFile ./Cargo.lock);
      inherit target;
    };
in
{
  x86_64 = build "x86_64-unknown-linux-musl";
  aarch64 = build "aarch64-unknown-linux-musl";
}
