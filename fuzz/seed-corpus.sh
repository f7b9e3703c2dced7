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
