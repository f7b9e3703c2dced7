# (d) repeated recursive attrset merging
let
  recursiveMerge = a: b:
    a // builtins.mapAttrs (k: v:
      if builtins.isAttrs v && a ? ${k} && builtins.isAttrs a.${k}
      then recursiveMerge a.${k} v
      else v) b;
  layer = i: {
    "k${toString (i - (i / 50) * 50)}" = { v = i; inner = { "x${toString (i - (i / 10) * 10)}" = i; }; };
    common = { count = i; "c${toString (i - (i / 20) * 20)}" = { deep = i; }; };
  };
  merged = builtins.foldl' (acc: i: recursiveMerge acc (layer i)) { } (builtins.genList (i: i) 3000);
in builtins.length (builtins.attrNames merged) + merged.common.count
