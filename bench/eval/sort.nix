# (c) sorting 100,000 integers (a linear congruential sequence)
let
  xs = builtins.genList (i: (i * 1103515245 + 12345) - ((i * 1103515245 + 12345) / 2147483648) * 2147483648) 100000;
in builtins.length (builtins.sort builtins.lessThan xs)
