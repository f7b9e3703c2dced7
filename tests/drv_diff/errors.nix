# Derivations both tools must reject (same prelude as cases.nix).
derivation { builder = "/bin/sh"; system = "x"; }
derivation { name = "x"; system = "x"; }
derivation { name = "x"; builder = "/bin/sh"; }
mk { name = "bad.drv"; }
mk { name = "bad/name"; }
mk { outputs = [ "out" "out" ]; }
mk { outputs = [ "drv" ]; }
mk { outputs = [ ]; }
mk { outputHashMode = "bogus"; }
mk { outputHash = "sha256-47DEQpj8HBSa+/TXW8Vtp2Z1FZqnQXpVtqCz9i8Z3gA="; outputs = [ "out" "dev" ]; }
mk { outputHash = "nothex"; outputHashAlgo = "sha256"; }
mk { outputHash = ""; }
mk { name = mk { }; }
mk { x = { }; }
mk { x = (a: a); }
mk { args = "not a list"; }
mk { __structuredAttrs = true; f = (a: a); }
mk { __ignoreNulls = "yes"; }
mk { x = throw "boom"; }
mk { file = builtins.toFile "t" "${(mk { }).drvPath}"; }
42
