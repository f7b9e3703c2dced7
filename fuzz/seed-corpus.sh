#!/usr/bin/env bash
# Seeds fuzz/corpus/<target> (gitignored) from the committed NAR fixtures:
# the known-good NARs written by the real Nix and the malformed corpus.
set -euo pipefail
cd "$(dirname "$0")"
fixtures=../store/tests/fixtures/nar
mkdir -p corpus/nar_read
cp "$fixtures"/good/*.nar "$fixtures"/bad/*.nar corpus/nar_read/
echo "seeded corpus/nar_read with $(ls corpus/nar_read | wc -l) files"
mkdir -p corpus/aterm_parse
cp ../store/tests/fixtures/drv/*.drv corpus/aterm_parse/
echo "seeded corpus/aterm_parse with $(ls corpus/aterm_parse | wc -l) files"
# The evaluator: Nix's own language tests (when the conformance suite is
# next to the repository) and kiln's differential expressions.
mkdir -p corpus/eval
conformance=../../shared/conformance/nix-lang
if [ -d "$conformance" ]; then
  find "$conformance" -name '*.nix' -size -8k -exec cp {} corpus/eval/ \; 2>/dev/null || true
fi
n=0
for f in ../tests/eval_diff/*.nix ../tests/drv_diff/*.nix; do
  while IFS= read -r line; do
    case "$line" in '#'*|'') continue ;; esac
    n=$((n + 1))
    printf '%s\n' "$line" > "corpus/eval/line-$n.nix"
  done < "$f"
done
echo "seeded corpus/eval with $(ls corpus/eval | wc -l) files"
