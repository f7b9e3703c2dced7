# String builtins and string syntax; one expression per line.
builtins.substring 0 3 "hello"
builtins.substring 3 100 "hello"
builtins.substring 10 2 "hello"
builtins.substring 1 (-1) "hello"
builtins.substring 0 0 ""
builtins.stringLength "hello"
builtins.stringLength ""
builtins.stringLength "héllo"
builtins.replaceStrings ["a"] ["b"] "banana"
builtins.replaceStrings ["an" "a"] ["AN" "A"] "banana"
builtins.replaceStrings [""] ["-"] "abc"
builtins.replaceStrings ["" "b"] ["-" "B"] "abc"
builtins.replaceStrings [] [] "abc"
builtins.replaceStrings ["aa"] ["b"] "aaaaa"
builtins.concatStringsSep ", " ["a" "b" "c"]
builtins.concatStringsSep ", " []
builtins.concatStringsSep "" ["a" "b"]
builtins.toString 1
builtins.toString 1.5
builtins.toString (-3)
builtins.toString true
builtins.toString false
builtins.toString null
builtins.toString [1 2 "a" [] [3] null true]
builtins.toString "x"
builtins.toString { outPath = "/foo"; }
builtins.toString { __toString = self: "custom"; }
builtins.baseNameOf "/a/b/c"
builtins.baseNameOf "/a/b/c/"
builtins.baseNameOf "c"
builtins.baseNameOf ""
builtins.baseNameOf "/"
builtins.dirOf "/a/b/c"
builtins.dirOf "a"
builtins.dirOf "/a"
builtins.dirOf "/"
builtins.dirOf "a/b/"
"a${"b"}c"
"${toString 1}${toString 2}"
"tab\there\nnewline \"quoted\" back\\slash"
"dollar \${not} interpolated"
"$${x}"
''$${x}''
"a$"
''a$''
''''
''  ''
''
  a
    b
  c
  ''
''
    one
  two
  ''
''  first line ${"x"}
    second''
''''$ and ''' and ''\n and ''\t''
''a'b''
''
  ${"x"}
  y
  ''
"\u"
''\n''
builtins.toJSON "${"a"}\t\u0001"
builtins.stringLength "${builtins.toString 12345}"
builtins.concatStringsSep "/" (builtins.genList toString 5)
"x" + "y"
"x" + toString 1
builtins.substring 0 2 (builtins.toString 3.14159)
builtins.toString 0.1
builtins.toString 123456789.5
builtins.toString (-0.0)
