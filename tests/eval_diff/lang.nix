# Language forms: let, with, if, assert, lambdas, operators, numbers.
let a = 1; b = a + 1; in b
let a = b; b = 2; in a
let { x = 1; body = x + 1; }
with { a = 1; }; a
with { a = 1; }; with { a = 2; }; a
let a = 3; in with { a = 1; }; a
with { x = 1; }; let y = x; in y
if true then 1 else 2
if false then 1 else 2
assert true; 1
(x: x + 1) 2
(x: y: x * y) 3 4
({ a, b }: a - b) { a = 5; b = 3; }
let f = x: if x == 0 then 0 else x + f (x - 1); in f 100
let fib = n: if n < 2 then n else fib (n - 1) + fib (n - 2); in fib 15
1 + 2 * 3 - 4 / 2
7 / 2
-7 / 2
7 / (-2)
7.0 / 2
1 + 1.5
1.5 + 1
2 * 1.5
9223372036854775807 + 1
-9223372036854775807 - 2
3000000000 * 4000000000
- 5
-(-5)
1 - -1
!true
!false
true && false
true || false
false -> true
true -> false
1 == 1
1 == 1.0
1 != 2
"a" == "a"
[1 2] == [1 2]
[1 2] == [1 3]
{ a = 1; } == { a = 1; }
{ a = 1; } == { a = 2; }
{ a = 1; } == { b = 1; }
null == null
(x: x) == (x: x)
let f = x: x; in [f] == [f]
1 < 2
2 < 1
1 < 1.5
"a" < "b"
"b" < "a"
"" < "a"
[1 2] < [1 3]
[1] < [1 2]
[] < []
1 <= 1
2 >= 1
1 > 2
1.0e10
1.5e-3
0.1 + 0.2
1.0 / 3
100.0
1000000.0
1234567.0
0.000012345
123.456
-1.5
.5
3.0e-5
2.0e+5
builtins.div 7 2
builtins.mul 3 4
builtins.sub 1 2
builtins.add 1.5 2
builtins.bitAnd 12 10
builtins.bitOr 12 10
builtins.bitXor 12 10
builtins.ceil 1.5
builtins.floor 1.5
builtins.ceil (-1.5)
builtins.floor (-1.5)
builtins.lessThan 1 2
__curPos.line
let x = __curPos; in [ x.line x.column ]
let a = { b = 1; }; in a.b
({ __functor = self: x: self.n + x; n = 10; }) 5
let f = { __functor = self: x: y: x + y; }; in f 1 2
builtins.typeOf 1
builtins.typeOf 1.0
builtins.typeOf "s"
builtins.typeOf null
builtins.typeOf true
builtins.typeOf []
builtins.typeOf {}
builtins.typeOf (x: x)
builtins.typeOf builtins.map
builtins.typeOf (builtins.map (x: x))
builtins.typeOf ./.
[ (builtins.isInt 1) (builtins.isInt 1.0) (builtins.isFloat 1.0) (builtins.isString "") (builtins.isBool false) (builtins.isNull null) (builtins.isList []) (builtins.isAttrs {}) (builtins.isFunction (x: x)) (builtins.isFunction builtins.add) (builtins.isPath ./.) ]
builtins.seq 1 2
builtins.deepSeq [1 2] 3
builtins.tryEval 1
builtins.tryEval (throw "x")
builtins.tryEval (assert false; 1)
builtins.tryEval (builtins.tryEval (throw "x"))
(builtins.tryEval <nonexistent-search-path-entry>).success
builtins.nixVersion
builtins.langVersion
builtins.storeDir
builtins.currentSystem
builtins.isFunction builtins.derivation
builtins.genericClosure { startSet = [{ key = 1; }]; operator = x: if x.key < 5 then [{ key = x.key + 1; } { key = x.key; }] else []; }
builtins.genericClosure { startSet = [{ key = "b"; } { key = "a"; } { key = "b"; }]; operator = x: []; }
builtins.addErrorContext "ctx" 5
builtins.trace "msg" 7
map (x: x) [1]
removeAttrs { a = 1; } ["a"]
isNull null
let x = [1]; in [x x]
let x = { a = 1; }; in { inherit x; y = x; }
let x = [1]; in { a = x; b = [x]; }
builtins.placeholder "out"
builtins.placeholder "dev"
# Nix parses - * / and the comparisons as calls of __sub, __mul, __div and
# __lessThan: a binding of those names shadows the operator (with cannot).
let __sub = a: b: 42; in 5 - 3
let __sub = a: b: [a b]; in -7
let __lessThan = a: b: [a b]; in [ (1 < 2) (1 > 2) ]
let __lessThan = a: b: a == 1; in [ (1 <= 2) (1 >= 2) (2 <= 1) (2 >= 1) ]
let __mul = a: b: "m"; __div = a: b: "d"; in [ (2 * 3) (6 / 3) ]
(x: x - 1) 5
({ __sub ? (a: b: 0) }: 9 - 1) { }
with { __sub = a: b: 42; }; 5 - 3
rec { __sub = a: b: 1; x = 5 - 3; }.x
let f = __sub: 10 - 4; in f (a: b: a * b)
let __lessThan = a: b: throw "boom"; in builtins.sort (a: b: a < b) [ 1 ]
# Arithmetic computed ahead of time must stay lazy where it can fail.
let z = 0; s = { x = 1 / z; y = 2; }; in s.y
(rec { a = 1; b = a + 1; __overrides = { a = 5; }; }).b
let n = 7; in [ (n - 1) (n * n) (n / 2) (n < 8) (n - (n / 3) * 3) (n - n * 2) ]
builtins.sort builtins.lessThan [ 3 1.5 2 (-1) 0.5 ]
builtins.sort builtins.lessThan [ "b" "a" "c" "" ]
# derivation: one output is built natively, more by the Nix wrapper; both
# must give the same sets as Nix's.
let d = derivation { name = "x"; builder = "b"; system = "s"; }; in [ (d.out == d) (builtins.length d.all) d.drvAttrs.name d.type d.outputName (builtins.attrNames d) d.outPath d.drvPath (d.all == [ d ]) ]
builtins.functionArgs derivation
let d = derivation { name = "x"; builder = "b"; system = "s"; outputs = [ "out" "dev" ]; }; in [ d.dev.outPath d.outputName (builtins.attrNames d) d.out.outPath d.drvPath ]
let d = derivation { name = "x"; system = "s"; }; in d.name
let d = derivation { name = "x"; builder = "b"; system = "s"; outPath = "mine"; type = "t"; all = 1; }; in [ d.outPath d.type (builtins.length d.all) ]
let d = derivation { name = "x"; builder = "b"; system = "s"; }; e = derivation { name = "y"; builder = "b"; system = "s"; dep = d; }; in [ e.drvPath e.outPath ]
builtins.sort builtins.lessThan [ 3 1 2 (-5) 3 0 ]
builtins.sort builtins.lessThan [ "b" "a" "ab" "" "a" ]
let b = "${builtins.toFile "f" "y"}"; in map builtins.getContext (builtins.sort builtins.lessThan [ "x" (builtins.substring 0 0 b + "x") "w" "x" ])
builtins.sort builtins.lessThan [ 1 2.5 0 ]
