#!/bin/sh
# kiln's RUSTC_WRAPPER for planning per-crate builds (recipes/rust/plan.nix).
#
# cargo runs `$RUSTC_WRAPPER rustc ARGS…` for every compilation. This
# wrapper records each one exactly as cargo made it (working directory,
# arguments, environment) under $KILN_PLAN_DIR/calls/compile.*, and writes
# empty files where rustc would have written the unit's outputs, so that
# cargo goes on to the next unit at once: the whole plan of a build takes
# seconds. A compiled build script becomes a stub that records how cargo
# runs it (calls/run.*: program, working directory, environment) and prints
# nothing. Queries (`-vV`, `--print …`, reading stdin) go to the real rustc.
set -eu
rustc=$1
shift
compile=
for arg in "$@"; do
  case $arg in
    - | --print | --print=* | -vV | -V | --version) exec "$rustc" "$@" ;;
    --crate-name | --crate-name=*) compile=1 ;;
  esac
done
[ -n "$compile" ] || exec "$rustc" "$@"

record=$(mktemp -d "$KILN_PLAN_DIR/calls/compile.XXXXXXXX")
printf '%s\n' "$PWD" > "$record/cwd"
printf '%s\0' "$@" > "$record/args"
env -0 > "$record/env"

name= out= extra= types= previous=
for arg in "$@"; do
  case $previous in
    --crate-name) name=$arg ;;
    --out-dir) out=$arg ;;
    --crate-type) types="$types $arg" ;;
    -C) case $arg in extra-filename=*) extra=${arg#extra-filename=} ;; esac ;;
  esac
  case $arg in
    --crate-name=*) name=${arg#--crate-name=} ;;
    --out-dir=*) out=${arg#--out-dir=} ;;
    --crate-type=*) types="$types ${arg#--crate-type=}" ;;
    -Cextra-filename=*) extra=${arg#-Cextra-filename=} ;;
  esac
  previous=$arg
done
if [ -z "$name" ] || [ -z "$out" ]; then
  echo "kiln plan: a compilation without --crate-name or --out-dir: $*" >&2
  exit 1
fi
mkdir -p "$out"
: > "$out/$name$extra.d"
for type in $(printf '%s' "$types" | tr ',' ' '); do
  case $type in
    lib | rlib)
      : > "$out/lib$name$extra.rlib"
      : > "$out/lib$name$extra.rmeta"
      ;;
    proc-macro | dylib | cdylib) : > "$out/lib$name$extra.so" ;;
    staticlib) : > "$out/lib$name$extra.a" ;;
    bin)
      cat > "$out/$name$extra" <<EOF
#!/bin/sh
record=\$(mktemp -d "$KILN_PLAN_DIR/calls/run.XXXXXXXX")
printf '%s\n' "\$0" > "\$record/program"
printf '%s\n' "\$PWD" > "\$record/cwd"
env -0 > "\$record/env"
EOF
      chmod +x "$out/$name$extra"
      ;;
    *)
      echo "kiln plan: unknown crate type \`$type\` of $name" >&2
      exit 1
      ;;
  esac
done
