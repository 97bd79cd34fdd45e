#!/bin/sh
# Rebuilds kernels.wasm from kernels.c (Debian: apt-get install -y clang lld). Deterministic for a
# given clang version; the test rebuilds it into a temp folder and compares outputs.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/kernels.wasm}
${CLANG:-clang} --target=wasm32 -O3 -msimd128 -nostdlib -fno-builtin \
  -Wl,--no-entry -Wl,--import-memory -Wl,--export-dynamic -Wl,-z,stack-size=0 -Wl,--strip-all \
  -o "$out" "$here/kernels.c"
