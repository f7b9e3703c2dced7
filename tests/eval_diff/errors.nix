# Expressions that must fail (each evaluated on its own).
throw "boom"
abort "stop"
assert 1 == 2; 3
1 + "a"
"a" + 1
{ a = 1; }.b
(1).a
1 2
undefined-variable-here
let x = x; in x
builtins.head []
builtins.tail []
builtins.elemAt [1] 5
builtins.elemAt [1] (-1)
1 / 0
1.0 / 0
builtins.substring (-1) 1 "a"
({ a }: a) {}
({ a }: a) { a = 1; b = 2; }
({ a }: a) 1
if 1 then 2 else 3
!1
1 < "a"
{} < {}
(x: x) < (x: x)
builtins.genList (x: x) (-1)
builtins.fromJSON "{"
builtins.fromJSON "[1,]"
builtins.toJSON (x: x)
builtins.replaceStrings ["a"] [] "a"
builtins.getAttr "x" {}
builtins.listToAttrs [{ name = "a"; }]
"${{}}"
"${1}"
"${x: x}"
builtins.concatStringsSep "," [1]
builtins.hashString "sha3" "x"
builtins.match "(" "x"
let a = { b = a.c; c = a.b; }; in a.b
{ a = 1; a = 2; }
{ a.b = 1; a = 2; }
let a = 1; a = 2; in a
({ a, a }: a)
with 1; x
builtins.foldl' (a: b: a + b) 0 [1 "x"]
builtins.deepSeq [ (throw "deep") ] 1
builtins.seq (throw "s") 1
builtins.toFile "bad" "${builtins.placeholder "out"}${derivation { name = "x"; builder = "/b"; system = "s"; }}"
builtins.storePath "/not/in/store"
let f = x: f x; in f 1
builtins.fromTOML "a = "
[ (throw "in list") ]
{ x = throw "in set"; }
1e10
builtins.toString 1e-7
derivation 1
(derivation { name = "x"; system = "s"; }).outPath
