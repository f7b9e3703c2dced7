# Attribute sets and their builtins.
builtins.attrNames { b = 1; a = 2; c = 3; }
builtins.attrNames {}
builtins.attrNames { "B" = 1; "a" = 2; "_" = 3; "1" = 4; }
builtins.attrValues { b = 1; a = 2; }
builtins.getAttr "a" { a = 1; }
builtins.hasAttr "a" { a = 1; }
builtins.hasAttr "b" { a = 1; }
builtins.removeAttrs { a = 1; b = 2; c = 3; } ["a" "c" "d"]
builtins.removeAttrs {} ["a"]
builtins.intersectAttrs { a = 1; b = 2; } { b = 3; c = 4; }
builtins.listToAttrs [{ name = "a"; value = 1; } { name = "b"; value = 2; }]
builtins.listToAttrs [{ name = "a"; value = 1; } { name = "a"; value = 2; }]
builtins.listToAttrs []
builtins.mapAttrs (n: v: n + toString v) { a = 1; b = 2; }
builtins.catAttrs "a" [{ a = 1; } { b = 2; } { a = 3; }]
builtins.zipAttrsWith (n: vs: vs) [{ a = 1; b = 2; } { a = 3; c = 4; }]
builtins.zipAttrsWith (n: vs: n) []
builtins.functionArgs ({ a, b ? 1 }: a)
builtins.functionArgs (x: x)
builtins.functionArgs ({ ... }: 1)
builtins.functionArgs builtins.map
{ a = 1; } // { b = 2; }
{ a = 1; b = 1; } // { b = 2; }
{ } // { }
{ a.b = 1; a.c = 2; }
{ a = { b = 1; }; a.c = 2; }
{ a.b.c = 1; a.b.d = 2; }
{ ${"x" + "y"} = 1; }
{ ${null} = 1; b = 2; }
{ "a b" = 1; }.${"a b"}
{ a = 1; } ? a
{ a = 1; } ? b
{ a.b = 1; } ? a.b
{ a.b = 1; } ? a.c
1 ? a
{ a = 1; }.b or 5
{ a = 1; }.a or 5
(1).a or 7
{ a = { b = 2; }; }.a.b
rec { a = 1; b = a + 1; }
rec { a = b; b = 2; }.a
let x = 1; in rec { x = 2; y = x; }.y
let x = 1; in { inherit x; }
let x = 1; y = 2; in { inherit x y; z = 3; }
let s = { a = 1; b = 2; }; in { inherit (s) a b; }
let s = { a = 1; }; in rec { inherit (s) a; c = a; }
builtins.attrNames (builtins.mapAttrs (n: v: v) { z = 1; y = 2; })
(rec { __overrides = { a = 2; }; a = 1; b = a; }).b
builtins.length (builtins.attrNames (builtins.listToAttrs (builtins.genList (x: { name = "k${toString x}"; value = x; }) 100)))
{ x = 1; }.x
builtins.unsafeGetAttrPos "z" { a = 1; }
{ "if" = 1; "then" = 2; a-b = 3; "1" = 4; "" = 5; "a'" = 6; }
{ a = { }; b = [ ]; }
let f = { a, b ? a + 1, ... }@args: [a b (builtins.attrNames args)]; in f { a = 1; c = 3; }
let f = { a ? 1 }: a; in [ (f {}) (f { a = 2; }) ]
let f = args@{ a, ... }: args; in f { a = 1; b = 2; }
let f = { x ? y, y ? 1 }: x; in f {}
