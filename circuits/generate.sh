#!/usr/bin/env bash
# Regenerates the Bristol Fashion files of this directory with `garbled gen`.
# Run from the repository root: circuits/generate.sh
# The test `shipped_circuits_match_the_generator` fails if a file here differs from what the
# generator writes, so rerun this after changing the builder.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
gen=target/release/garbled
$gen gen aes128 -o circuits/aes128.txt
$gen gen sha256 -o circuits/sha256.txt
for bits in 32 64; do
  for name in add sub mul lt le slt sle eq compare; do
    $gen gen "$name" --bits "$bits" -o "circuits/${name}${bits}.txt"
  done
done
