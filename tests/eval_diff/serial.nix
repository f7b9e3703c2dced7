# toJSON, fromJSON, fromTOML, toXML, hashes, versions, regexes, context.
builtins.toJSON { a = 1; b = [ true false null ]; c = "s\n\"q\""; d = 1.5; e = {}; f = []; }
builtins.toJSON 1.0e20
builtins.toJSON (1.0 / 3)
builtins.toJSON "\t\r\\"
builtins.toJSON { outPath = "/x"; a = 1; }
builtins.toJSON { __toString = s: "ts"; }
builtins.toJSON [ (-1) 0 9223372036854775807 ]
builtins.fromJSON "[1, 2.5, \"x\", null, true, {\"a\": [] }]"
builtins.fromJSON "{\"b\": 1, \"a\": 2}"
builtins.fromJSON "\"\\u00e9\\n\""
builtins.fromJSON "1e3"
builtins.fromJSON "  42  "
builtins.fromJSON "{}"
builtins.fromJSON "-0"
builtins.fromJSON "0.1"
builtins.fromTOML "a = 1\nb = \"x\"\n[c]\nd = [1, 2]\ne = 1.5\nf = true"
builtins.fromTOML "[[p]]\nn = 1\n[[p]]\nn = 2"
builtins.fromTOML "x.y.z = 1"
builtins.fromTOML ""
builtins.fromTOML "s = '''\nmulti\nline'''"
builtins.toXML { a = 1; b = "x"; c = [ null true 1.5 ]; }
builtins.toXML ({ a, b ? 1, ... }@args: a)
builtins.toXML (x: x)
builtins.toXML []
builtins.toXML "a<b>&\"'\n"
builtins.hashString "md5" "hello"
builtins.hashString "sha1" "hello"
builtins.hashString "sha256" "hello"
builtins.hashString "sha512" "hello"
builtins.hashString "sha256" ""
builtins.splitVersion "1.2.3"
builtins.splitVersion "1.2a-pre3"
builtins.splitVersion ""
builtins.splitVersion "..-1"
builtins.compareVersions "1.0" "2.3"
builtins.compareVersions "2.1" "2.3"
builtins.compareVersions "2.3" "2.3"
builtins.compareVersions "2.5" "2.3"
builtins.compareVersions "3.1" "2.3"
builtins.compareVersions "2.3.1" "2.3"
builtins.compareVersions "2.3.1" "2.3a"
builtins.compareVersions "2.3pre1" "2.3"
builtins.compareVersions "2.3pre3" "2.3pre12"
builtins.compareVersions "2.3a" "2.3c"
builtins.compareVersions "2.3pre1" "2.3c"
builtins.compareVersions "2.3pre1" "2.3q"
builtins.compareVersions "1.0-rc1" "1.0"
builtins.parseDrvName "nix-0.12pre12876"
builtins.parseDrvName "a-b-c-1.0"
builtins.parseDrvName "foo"
builtins.parseDrvName "foo-bar"
builtins.parseDrvName "foo-1"
builtins.match "ab" "abc"
builtins.match "abc" "abc"
builtins.match "a(b)(c)" "abc"
builtins.match "a(x)?b" "ab"
builtins.match "[[:alpha:]]+" "abc"
builtins.match "[[:digit:]]+" "abc"
builtins.match ".*\\.nix" "foo.nix"
builtins.match "(.*)-([0-9.]+)" "hello-2.10"
builtins.match "[a-c]*" "abcabc"
builtins.match " *([^ ]+) *" "  word  "
builtins.split "(a)b" "xabyabz"
builtins.split "," "a,b,c"
builtins.split "x" "abc"
builtins.split "([[:upper:]]+)" "  FOO   "
builtins.split "(a)|b" "abc"
builtins.getContext "plain"
builtins.hasContext "plain"
builtins.hasContext "${builtins.toFile "f" "x"}"
builtins.getContext "${builtins.toFile "f" "x"}"
builtins.toFile "hello.txt" "hello world"
builtins.toFile "ref" "${builtins.toFile "inner" "i"}"
builtins.unsafeDiscardStringContext "${builtins.toFile "f" "x"}"
builtins.hasContext (builtins.unsafeDiscardStringContext "${builtins.toFile "f" "x"}")
builtins.appendContext "x" { "/nix/store/00000000000000000000000000000000-a" = { path = true; }; }
builtins.getContext (builtins.appendContext "x" { "/nix/store/00000000000000000000000000000000-a.drv" = { outputs = [ "out" "dev" ]; allOutputs = true; }; })
builtins.substring 0 5 (builtins.toFile "f" "x")
builtins.hasContext (builtins.substring 0 5 (builtins.toFile "f" "x"))
builtins.attrNames (builtins.getContext (builtins.concatStringsSep " " [ (builtins.toFile "a" "1") (builtins.toFile "b" "2") ]))
builtins.stringLength (builtins.toFile "f" "x")
