# The crates a Cargo.lock names, as the builds need them.
#
#   lockedCrates {
#     name;             the package name (for store paths and errors)
#     cargoLock;        the parsed Cargo.lock (builtins.fromTOML)
#     gitHashes ? { };  "NAME-VERSION" = SRI hash, for each git dependency
#   }
#   -> {
#     vendor;       the vendor directory: every crates.io package (checked
#                   against the lock's checksum) and every git crate
#     crateDirs;    each crate's sources by NAME-VERSION
#     cargoConfig;  what cargo's config needs besides crates.io's
#                   replacement: each git source replaced by the vendor
#                   directory (`vendored`); "" without git dependencies
#   }
#
# A git dependency (`source = "git+URL?rev=…#COMMIT"`, or `branch=`,
# `tag=`, or none) is fetched at the locked commit by a fixed-output build
# (crates.fetchGitCrate), pinned by its hash in `gitHashes`. A git crate
# without a hash, a hash for a crate that is no git dependency, and any
# other source (another registry) are errors that name the crates.
{
  rootfs,
  crates,
}:
{
  name,
  cargoLock,
  gitHashes ? { },
}:
let
  inherit (builtins)
    concatStringsSep
    elemAt
    filter
    listToAttrs
    map
    match
    attrNames
    ;
  crateSource = "registry+https://github.com/rust-lang/crates.io-index";
  packages = cargoLock.package or [ ];
  key = p: "${p.name}-${p.version}";
  registryPackages = filter (p: (p.source or "") == crateSource) packages;
  # `git+URL[?KIND=VALUE]#COMMIT`, as cargo writes it.
  parseGit = source: match "git\\+([^?#]+)(\\?(rev|branch|tag)=([^#]*))?#([0-9a-f]{40})" source;
  gitPackages = filter (p: p ? source && parseGit p.source != null) packages;
  # Path dependencies and workspace members have no `source`.
  foreign = filter (
    p: p ? source && p.source != crateSource && parseGit p.source == null
  ) packages;
  describe = p: "  ${p.name} ${p.version} from ${p.source}";
  unhashed = filter (p: !(gitHashes ? ${key p})) gitPackages;
  gitKeys = listToAttrs (
    map (p: {
      name = key p;
      value = true;
    }) gitPackages
  );
  strayHashes = filter (k: !(gitKeys ? ${k})) (attrNames gitHashes);
  # One vendor directory holds both kinds, by NAME-VERSION.
  twice = filter (p: gitKeys ? ${key p}) registryPackages;
  missingChecksum = filter (p: !(p ? checksum)) registryPackages;
  placeholder = "sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
  checked =
    if foreign != [ ] then
      throw ''
        ${name}: Cargo.lock names crates from a source kiln cannot fetch:
        ${concatStringsSep "\n" (map describe foreign)}
        kiln fetches crates.io packages (checked against Cargo.lock's checksums) and git
        dependencies pinned by a hash; vendor these crates into the source tree and depend
        on them by path instead.''
    else if unhashed != [ ] then
      throw ''
        ${name}: Cargo.lock names git dependencies that have no hash:
        ${concatStringsSep "\n" (map describe unhashed)}
        each is fetched at its locked commit and must be pinned by the hash of what is
        fetched: add it to the package (flake.toml; `gitHashes` in recipes):
          [packages.${name}.git-hashes]
        ${concatStringsSep "\n" (map (p: "  \"${key p}\" = \"${placeholder}\"") unhashed)}
        and build: the hash mismatch names the right hash to put instead of the placeholder.''
    else if strayHashes != [ ] then
      throw "${name}: git-hashes names ${
        concatStringsSep ", " (map (k: "`${k}`") strayHashes)
      }, which Cargo.lock does not name as a git dependency (the keys are NAME-VERSION)"
    else if twice != [ ] then
      throw "${name}: Cargo.lock names ${
        concatStringsSep ", " (map (p: "${p.name} ${p.version}") twice)
      } both from crates.io and from git; kiln vendors one crate per name and version"
    else if missingChecksum != [ ] then
      throw "${name}: Cargo.lock has no checksum for ${
        concatStringsSep ", " (map (p: "${p.name} ${p.version}") missingChecksum)
      } (an old lock format? run `cargo update --workspace` or `cargo generate-lockfile`)"
    else
      true;

  registryCrates = map (p: {
    inherit (p) name version;
    sha256 = p.checksum;
  }) registryPackages;
  registryVendor = crates.vendor {
    name = "${name}-vendor";
    crates = registryCrates;
    inherit rootfs;
  };
  gitCrates = map (
    p:
    let
      parsed = parseGit p.source;
    in
    {
      inherit (p) name version;
      src = crates.fetchGitCrate {
        inherit (p) name version;
        url = elemAt parsed 0;
        rev = elemAt parsed 4;
        sha256 = gitHashes.${key p};
        registry = registryVendor;
        inherit rootfs;
      };
    }
  ) gitPackages;
  vendor =
    if gitCrates == [ ] then
      registryVendor
    else
      crates.vendor {
        name = "${name}-vendor";
        crates = registryCrates;
        git = gitCrates;
        inherit rootfs;
      };

  # One replacement per git source (the lock's source without `#COMMIT`).
  # cargo matches a source by its URL and its kind of reference.
  gitSources = listToAttrs (
    map (
      p:
      let
        parsed = parseGit p.source;
        kind = elemAt parsed 2;
        value = builtins.replaceStrings [ "%2F" "%2f" ] [ "/" "/" ] (elemAt parsed 3);
      in
      {
        name = elemAt (match "([^#]*)#.*" p.source) 0;
        value = ''
          git = "${elemAt parsed 0}"
          ${if kind == null then "" else "${kind} = \"${value}\"\n"}replace-with = "vendored"
        '';
      }
    ) gitPackages
  );
  cargoConfig = concatStringsSep "" (
    map (source: "[source.\"${source}\"]\n${gitSources.${source}}") (attrNames gitSources)
  );
in
assert checked;
{
  inherit vendor cargoConfig;
  crateDirs = listToAttrs (
    map (c: {
      name = key c;
      value = crates.unpackCrate c;
    }) registryCrates
    ++ map (c: {
      name = key c;
      value = c.src;
    }) gitCrates
  );
}
