# Derivations: one expression per line (indented lines continue it). Each
# is evaluated by `kiln instantiate` and by `nix-instantiate` 2.8 with this
# prelude in scope:
#   mk = attrs: derivation ({ name = "t"; builder = "/bin/sh";
#                             system = "x86_64-linux"; } // attrs);
#   src = the directory tests/fixtures/drv-src;
# and the printed .drv paths must be identical (a .drv path is the hash of
# the file's bytes and references, so equal paths mean equal files).
mk { }
mk { name = "hello-2.12.1"; args = [ "-c" "echo hello > $out" ]; }
mk { outputs = [ "out" "dev" "doc" ]; }
mk { outputs = [ "lib" "out" ]; }
(mk { outputs = [ "out" "dev" ]; }).dev
mk { x = 1; y = 2.5; z = true; w = false; n = null; l = [ 1 "a" [ 2 3 ] null true ]; }
mk { n = null; m = 3; __ignoreNulls = true; }
mk { text = "quote\" backslash\\ newline\n tab\t cr\r dollar$ unicode é ∀"; }
mk { text = ''
    an indented
      string with ${"interpolation"}
  ''; }
mk { big = 9223372036854775807; neg = -42; f = 0.1; e = 1.0e30; }
mk { outputHash = "sha256-47DEQpj8HBSa+/TXW8Vtp2Z1FZqnQXpVtqCz9i8Z3gA="; builder = "builtin:fetchurl"; system = "builtin"; url = "http://example.org/x"; }
mk { outputHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"; outputHashAlgo = "sha256"; }
mk { outputHash = "0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73"; outputHashAlgo = "sha256"; outputHashMode = "recursive"; }
mk { outputHash = "d41d8cd98f00b204e9800998ecf8427e"; outputHashAlgo = "md5"; }
mk { outputHash = "da39a3ee5e6b4b0d3255bfef95601890afd80709"; outputHashAlgo = "sha1"; outputHashMode = "recursive"; }
mk { outputHash = "sha512-z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg=="; }
mk { outputHash = "sha256:0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73"; outputHashMode = "flat"; }
mk { outputHash = ""; outputHashAlgo = "sha256"; }
mk { outputHash = "47DEQpj8HBSa+/TXW8Vtp2Z1FZqnQXpVtqCz9i8Z3gA="; outputHashAlgo = "sha256"; outputs = [ "out" ]; }
mk { __structuredAttrs = true; }
mk { __structuredAttrs = true; outputs = [ "out" "bin" ]; nested = { a = [ 1 2 { b = null; } ]; f = 1.5; s = "x\ny"; }; }
mk { __structuredAttrs = true; dep = mk { name = "dep"; }; src = src + "/hello.txt"; }
mk { __structuredAttrs = true; outputHash = "sha256-47DEQpj8HBSa+/TXW8Vtp2Z1FZqnQXpVtqCz9i8Z3gA="; outputHashMode = "recursive"; }
mk { __structuredAttrs = false; x = "y"; }
mk { dep = mk { name = "dep"; }; }
mk { dep = (mk { name = "dep"; outputs = [ "out" "dev" ]; }).dev; }
mk { deps = [ (mk { name = "a"; }) (mk { name = "b"; }) ]; }
mk { dep = "${mk { name = "dep"; }}/bin/tool"; }
mk { drv = (mk { name = "dep"; }).drvPath; }
mk { drv = builtins.unsafeDiscardOutputDependency (mk { name = "dep"; }).drvPath; }
mk { drv = builtins.unsafeDiscardStringContext (mk { name = "dep"; }).outPath; }
let a = mk { name = "a"; }; b = mk { name = "b"; dep = a; }; c = mk { name = "c"; x = b.drvPath; }; in mk { name = "d"; deps = [ b c ]; }
let f = mk { name = "fetched"; outputHash = "sha256-47DEQpj8HBSa+/TXW8Vtp2Z1FZqnQXpVtqCz9i8Z3gA="; }; in mk { src = f; }
let f = mk { name = "fetched"; outputHash = "sha256-47DEQpj8HBSa+/TXW8Vtp2Z1FZqnQXpVtqCz9i8Z3gA="; marker = "one"; }; in mk { src = f; }
let f = mk { name = "fetched"; outputHash = "sha256-47DEQpj8HBSa+/TXW8Vtp2Z1FZqnQXpVtqCz9i8Z3gA="; marker = "two"; }; in mk { src = f; }
mk { src = src; }
mk { src = src + "/hello.txt"; script = src + "/run.sh"; }
mk { src = "${src}/sub/nested.txt"; }
mk { src = builtins.path { path = src; name = "renamed"; }; }
mk { src = builtins.path { path = src; filter = p: t: baseNameOf p != "run.sh"; }; }
mk { src = builtins.filterSource (p: t: t != "symlink") src; }
mk { src = builtins.path { path = src + "/hello.txt"; recursive = false; }; }
mk { file = builtins.toFile "greeting" "hello"; }
mk { file = builtins.toFile "script.sh" "exec ${src}/run.sh"; }
mk { file = builtins.toFile "ref" "${builtins.unsafeDiscardOutputDependency (mk { name = "dep"; }).drvPath}"; }
mk { args = [ "-c" src "${src}/run.sh" 1 true null [ "x" "y" ] ]; }
mk { builder = src + "/run.sh"; }
mk { builder = "${mk { name = "shell"; }}/bin/sh"; }
mk { out = "ignored"; outputs = [ "out" ]; }
mk { prefix = builtins.placeholder "out"; dev = builtins.placeholder "dev"; outputs = [ "out" "dev" ]; }
mk { withToString = { __toString = self: "custom"; }; withOutPath = { outPath = "/some/path"; }; }
mk { name = "name-with.dots_and+plus?=-1.0"; }
mk { system = "aarch64-linux"; platformArgs = [ "--target" "aarch64" ]; }
mk { __kilnRootfs = mk { name = "rootfs"; }; }
[ (mk { name = "one"; }) (mk { name = "two"; }) ]
{ a = mk { name = "a"; }; b = mk { name = "b"; }; notADrv = 1; nested = { c = mk { name = "c"; }; }; }
{ nested = { recurseForDerivations = true; c = mk { name = "c"; }; d = mk { name = "d"; }; }; }
let d = mk { name = "shared"; }; in [ d d ]
let d = mk { outputs = [ "out" "dev" ]; }; in [ d.out d.dev d.all ]
