# ociImage: a multi-platform OCI image layout, written by kiln's built-in
# builder `builtin:oci-image-v1` (see docs/builtins.md), so its digest is a
# function of the pinned inputs alone.
#
#   ociImage {
#     name = "uv";
#     tags = [ "latest" "0.13.7" ];          # default [ "latest" ]
#     created = 315532800;                   # SOURCE_DATE_EPOCH (default 1980-01-01)
#     entrypoint = [ "/uv" ];
#     cmd = [ ];
#     workingDir = "/io";                    # created in the image
#     env = { PATH = "/"; };                 # written as NAME=value, sorted
#     user = null;
#     labels = { "org.opencontainers.image.source" = "…"; };
#     platforms = {
#       amd64 = [ { source = "${uvX86}/bin/uv"; target = "/uv"; } ];
#       arm64 = [ { source = "${uvArm}/bin/uv"; target = "/uv"; } ];   # variant v8
#     };
#   }
#
# `source` is a store path or a path below one; its string context makes it
# an input of the image.
{
  name,
  platforms,
  tags ? [ "latest" ],
  created ? 315532800,
  entrypoint ? [ ],
  cmd ? [ ],
  workingDir ? null,
  env ? { },
  user ? null,
  labels ? { },
}:
let
  variants = {
    arm64 = "v8";
  };
  platform =
    architecture:
    {
      inherit architecture;
      contents = platforms.${architecture};
    }
    // (if variants ? ${architecture} then { variant = variants.${architecture}; } else { });
in
derivation {
  name = "${name}-image";
  system = "builtin";
  builder = "builtin:oci-image-v1";
  image = builtins.toJSON (
    {
      inherit
        name
        tags
        created
        entrypoint
        cmd
        labels
        ;
      env = map (key: "${key}=${env.${key}}") (builtins.attrNames env);
      platforms = map platform (builtins.attrNames platforms);
    }
    // (if workingDir != null then { inherit workingDir; } else { })
    // (if user != null then { inherit user; } else { })
  );
}
