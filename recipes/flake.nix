# A flake.toml, evaluated: kiln reads and checks flake.toml and flake.lock,
# resolves every default, and passes the result here as `spec` (the format
# is in docs/flake.md; kiln's `src/flake/spec.rs` writes it).
#
#   import <kiln/flake.nix> { root = ./.; spec = { inputs; packages; default; }; }
#   -> {
#     inputs.<name>               the input's source tree (a store path)
#     packages.<name>.<target>    one buildRustPackage derivation per target
#                                 (buildRustUnits, from the plan `kiln lock`
#                                 wrote to kiln-units/<name>.<target>.json,
#                                 for a package with `units = true`)
#     plans.<name>.<target>       the package's planning build (`kiln lock`
#                                 builds it for `units = true`)
#     images.<name>               an ociImage of a package's binaries, one
#                                 platform per target, the binaries at /
#     default                     the names of the default packages
#   }
{
  root,
  spec,
  recipes ? import ./. { },
}:
let
  # A local directory, copied to the store with only the files kiln's walk
  # kept (.gitignore and the input's `exclude`s honoured).
  pathInput =
    name: input:
    let
      base = if input.path == "." then root else root + "/${input.path}";
      prefix = toString base + "/";
      keep = builtins.listToAttrs (
        map (p: {
          name = p;
          value = true;
        }) input.include
      );
      relative = path: builtins.substring (builtins.stringLength prefix) (-1) (toString path);
    in
    builtins.path {
      path = base;
      name = "${name}-source";
      filter = path: _type: keep ? ${relative path};
    };

  # A pinned archive: fetched (fixed-output, checked against the lock's
  # hash) and unpacked.
  fetchedInput =
    name: input:
    derivation {
      name = "${name}-source";
      system = "builtin";
      builder = "builtin:unpack-v1";
      format = input.format;
      stripComponents = toString input.strip;
      src = derivation {
        name = input.file;
        system = "builtin";
        builder = "builtin:fetchurl";
        url = input.url;
        outputHashMode = "flat";
        outputHashAlgo = "sha256";
        outputHash = input.sha256;
      };
    };

  inputs = builtins.mapAttrs (
    name: input: if input.type == "path" then pathInput name input else fetchedInput name input
  ) spec.inputs;

  package =
    plan: name: pkg:
    let
      source = inputs.${pkg.src};
      dir = if pkg.dir == "" then source else "${source}/${pkg.dir}";
      cargoLock = builtins.fromTOML (builtins.readFile "${dir}/Cargo.lock");
      # The whole-project build, or (planning) its planning build.
      whole =
        planning: target:
        recipes.buildRustPackage {
          inherit
            name
            cargoLock
            target
            ;
          plan = planning;
          src = dir;
          inherit (pkg)
            package
            bins
            features
            defaultFeatures
            profile
            settings
            rustflags
            gitHashes
            ;
        };
      planFile = short: root + "/kiln-units/${name}.${short}.json";
      # A plan holds what it was made from; evaluation refuses a stale one
      # (kiln lock makes it again).
      stale =
        planned: target:
        let
          planning = whole true target;
          from = planned.madeFrom;
          changedFiles = builtins.filter (
            file:
            !builtins.pathExists "${dir}/${file}"
            || builtins.hashFile "sha256" "${dir}/${file}" != from.files.${file}
          ) (builtins.attrNames from.files);
        in
        map (f: "${f} changed") changedFiles
        ++ (if planning.cargoFlags != from.cargoFlags then [ "the cargo flags changed" ] else [ ])
        ++ (if planning.profileEnv != from.profileEnv then [ "the profile settings changed" ] else [ ])
        ++ (
          if planning.extraRustflags != from.extraRustflags then [ "the rustc flags changed" ] else [ ]
        )
        ++ (if "${planning.toolchain}" != from.toolchain then [ "the toolchain changed" ] else [ ]);
      perUnit =
        short: target:
        let
          file = planFile short;
          planned = builtins.fromJSON (builtins.readFile file);
          reasons = stale planned target;
        in
        if !builtins.pathExists file then
          throw "${name}.${short} is built one unit at a time (units = true), but kiln-units/${name}.${short}.json is missing: run `kiln lock` to plan it"
        else if reasons != [ ] then
          throw "kiln-units/${name}.${short}.json is stale (${builtins.concatStringsSep ", " reasons}): run `kiln lock` to plan ${name}.${short} again"
        else
          recipes.buildRustUnits {
            inherit name cargoLock target;
            inherit (pkg) gitHashes;
            src = dir;
            plan = planned;
          };
    in
    builtins.mapAttrs (
      short: target: if !plan && (pkg.units or false) then perUnit short target else whole plan target
    ) pkg.targets;
  packages = builtins.mapAttrs (package false) spec.packages;
  plans = builtins.mapAttrs (package true) spec.packages;

  architectures = {
    x86_64 = "amd64";
    aarch64 = "arm64";
  };
  image =
    name: img:
    let
      built = packages.${img.package};
    in
    recipes.ociImage {
      inherit name;
      inherit (img)
        entrypoint
        cmd
        workingDir
        env
        user
        tags
        labels
        created
        ;
      platforms = builtins.listToAttrs (
        map (target: {
          name = architectures.${target};
          value = [
            {
              source = "${built.${target}}/bin";
              target = "/";
            }
          ];
        }) (builtins.attrNames built)
      );
    };
in
{
  inherit inputs packages plans;
  images = builtins.mapAttrs image (spec.images or { });
  inherit (spec) default;
}
