#!/usr/bin/env bash
# Re-assembles asm/wasm32/switch.S into the prebuilt archive that build.rs
# links for wasm32 targets, so users need no clang.
#
#   asm/wasm32/rebuild.sh          rebuild libgosched_switch.a in place
#   asm/wasm32/rebuild.sh --check  rebuild into a temporary file and fail
#                                  unless it is byte-identical to the committed one
#
# Needs clang (Debian's clang 14 works) and llvm-ar; CLANG / LLVM_AR override.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
clang="${CLANG:-clang}"
ar="${LLVM_AR:-llvm-ar}"
out="$here/libgosched_switch.a"
[[ "${1:-}" == --check ]] && out="$(mktemp -d)/libgosched_switch.a"
obj="$(mktemp -d)/switch.o"
"$clang" --target=wasm32 -c "$here/switch.S" -o "$obj"
rm -f "$out"
# llvm-ar writes deterministic archives (zero timestamps and ids) by default.
(cd "$(dirname "$obj")" && "$ar" crsD "$out" switch.o)
if [[ "${1:-}" == --check ]]; then
    cmp "$out" "$here/libgosched_switch.a"
    echo "asm/wasm32/libgosched_switch.a is up to date"
else
    echo "wrote $out"
fi
