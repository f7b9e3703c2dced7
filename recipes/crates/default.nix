# Crates from crates.io, pinned by the SHA-256 that Cargo.lock records.
#
#   fetchCrate { name, version, sha256 }  the `.crate` file: a fixed-output
#                                         `builtin:fetchurl` from static.crates.io
#   unpackCrate crate                     its sources (`builtin:unpack-v1`,
#                                         the `<name>-<version>/` top directory
#                                         stripped)
#   vendor { name, crates, rootfs,        a directory in `cargo vendor`'s
#            git ? [ ] }                  layout (`<name>-<version>/` with a
#                                         `.cargo-checksum.json`) for
#                                         `[source.vendored] directory = …`;
#                                         `git` adds fetchGitCrate outputs
#   fetchGitCrate { name, version, url,   one crate of a git repository at a
#     rev, sha256, registry, rootfs }     commit, vendored by cargo (below)
{ }:
let
  fetchCrate =
    { name, version, sha256 }:
    derivation {
      name = "${name}-${version}.crate";
      builder = "builtin:fetchurl";
      system = "builtin";
      url = "https://static.crates.io/crates/${name}/${name}-${version}.crate";
      outputHashMode = "flat";
      outputHashAlgo = "sha256";
      outputHash = sha256;
    };

  unpackCrate =
    crate:
    derivation {
      name = "${crate.name}-${crate.version}";
      builder = "builtin:unpack-v1";
      system = "builtin";
      src = fetchCrate crate;
      format = "crate";
    };

  # A crate of a git dependency, as `cargo vendor` lays it out: its
  # manifest normalised (workspace inheritance resolved) and a
  # `.cargo-checksum.json` listing its files. A fixed-output build, pinned
  # by the SHA-256 of its NAR (`outputHashMode = "recursive"`), whose
  # builder has the network: cargo (the root filesystem's, with libgit2)
  # fetches the repository at the commit and vendors a one-dependency
  # project. The crate's own dependencies resolve offline against
  # `registry` (a vendor directory of the lock's crates.io packages), so
  # nothing but the repository is downloaded; only the crate's directory
  # is kept. Its default features are off: the lock has every crate that
  # its non-optional dependencies need, whatever the features.
  fetchGitCrate =
    {
      name,
      version,
      url,
      rev,
      sha256,
      registry,
      rootfs,
    }:
    derivation {
      name = "${name}-${version}-git";
      system = "x86_64-linux";
      builder = "/bin/sh";
      __kilnRootfs = rootfs;
      crateName = name;
      crateVersion = version;
      inherit url rev registry;
      outputHashMode = "recursive";
      outputHashAlgo = "sha256";
      outputHash = sha256;
      args = [
        "-euc"
        ''
          export PATH=/usr/bin:/bin HOME="$TMPDIR" CARGO_HOME="$TMPDIR/cargo-home"
          export SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt CARGO_HTTP_CAINFO=/etc/ssl/certs/ca-certificates.crt
          export CARGO_TERM_COLOR=never CARGO_NET_RETRY=3
          mkdir -p "$CARGO_HOME" "$TMPDIR/fetch/src"
          printf '[source.crates-io]\nreplace-with = "vendored"\n[source.vendored]\ndirectory = "%s"\n' "$registry" > "$CARGO_HOME/config.toml"
          cd "$TMPDIR/fetch"
          printf '[package]\nname = "kiln-git-fetch"\nversion = "0.0.0"\nedition = "2021"\n[dependencies.%s]\ngit = "%s"\nrev = "%s"\ndefault-features = false\n' \
            "$crateName" "$url" "$rev" > Cargo.toml
          : > src/lib.rs
          /usr/bin/cargo vendor --quiet --respect-source-config --versioned-dirs "$TMPDIR/vendor" > /dev/null
          dir="$TMPDIR/vendor/$crateName-$crateVersion"
          if [ ! -d "$dir" ]; then
            found=$(cd "$TMPDIR/vendor" && ls -d "$crateName"-* 2>/dev/null | tr '\n' ' ')
            echo "$url at $rev has no package $crateName $crateVersion (cargo found: ''${found:-no version of it})" >&2
            exit 1
          fi
          cp -r "$dir" "$out"
        ''
      ];
    };

  # One line per crate: `<dir> <sources> <sha256>`; the builder copies the
  # sources and writes the checksum file cargo wants (an empty file list:
  # cargo then only checks the package's own hash against Cargo.lock). A
  # git crate (`{ name, version, src }`, src a fetchGitCrate) is copied
  # with the checksum file cargo vendor wrote.
  vendor =
    {
      name,
      crates,
      rootfs,
      git ? [ ],
    }:
    derivation (
      {
        inherit name;
        system = "x86_64-linux";
        builder = "/bin/sh";
        __kilnRootfs = rootfs;
        crateList = builtins.concatStringsSep "\n" (
          map (c: "${c.name}-${c.version} ${unpackCrate c} ${c.sha256}") crates
        );
        args = [
          "-euc"
          (
            ''
              export PATH=/usr/bin:/bin
              mkdir -p "$out"
              printf '%s\n' "$crateList" | while read -r dir src sha; do
                cp -r "$src" "$out/$dir"
                chmod -R u+w "$out/$dir"
                printf '{"files":{},"package":"%s"}' "$sha" > "$out/$dir/.cargo-checksum.json"
              done
            ''
            + (
              if git == [ ] then
                ""
              else
                ''
                  printf '%s\n' "$gitList" | while read -r dir src; do
                    cp -r "$src" "$out/$dir"
                    chmod -R u+w "$out/$dir"
                  done
                ''
            )
          )
        ];
      }
      // (
        if git == [ ] then
          { }
        else
          {
            gitList = builtins.concatStringsSep "\n" (map (c: "${c.name}-${c.version} ${c.src}") git);
          }
      )
    );
in
{
  inherit
    fetchCrate
    unpackCrate
    fetchGitCrate
    vendor
    ;
}
