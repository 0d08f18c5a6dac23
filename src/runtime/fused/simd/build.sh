#!/usr/bin/env bash
# Builds loops.wasm and loops_shared.wasm from loops.c with Debian bookworm's clang 14 and lld 14
# (apt-get install clang lld wabt), then checks that the module owns no
# memory: it must import the backend's memory and have no data, no globals
# in use and no other imports. The build is deterministic, so rebuilding
# with the same compiler gives the committed bytes (test/runtime/fused).
#
# Usage: build.sh [FOLDER]   (default: the folder of this script)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
output="${1:-$here}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Two variants of one source: the threaded build of the backend has a shared
# memory, which only a module built for atomics may import; the
# single-threaded build has an ordinary one.
build() {
  local name="$1"
  shift
  clang --target=wasm32 -O3 -msimd128 -ffreestanding -fno-builtin -nostdlib \
    -Wall -Werror "$@" \
    -Wl,--no-entry -Wl,--import-memory -Wl,--strip-all \
    -Wl,--export=bn_prelu_scratch_bytes -Wl,--export=bn_prelu_forward \
    -Wl,--export=bn_prelu_backward -Wl,--export=depthwise_scratch_bytes \
    -Wl,--export=depthwise_filter_gradient \
    -Wl,--export=pointwise_filter_gradient \
    -Wl,--export=depthwise_input_gradient \
    -o "$work/$name" "$here/loops.c"
  check "$work/$name"
  cp "$work/$name" "$output/$name"
  echo "built $output/$name ($(wc -c <"$output/$name") bytes)"
}

check() {
  local module="$1"
  wasm-objdump -x "$module" >"$work/sections.txt"
  wasm-objdump -d "$module" >"$work/code.txt"
  if grep -q '^ *Data\[' "$work/sections.txt"; then
    echo "build.sh: $module has a data section; the module must own no memory" >&2
    exit 1
  fi
  if grep -q 'global\.\(get\|set\)' "$work/code.txt"; then
    echo "build.sh: $module reads or writes a global (the shadow stack?); the module must own no memory" >&2
    exit 1
  fi
  local imports
  imports="$(grep -c ' <- ' "$work/sections.txt" || true)"
  if [ "$imports" != 1 ] || ! grep -q 'memory\[0\].*<- env\.memory' "$work/sections.txt"; then
    echo "build.sh: $module must import env.memory and nothing else" >&2
    grep ' <- ' "$work/sections.txt" >&2
    exit 1
  fi
}

build loops_shared.wasm -matomics -mbulk-memory -Wl,--shared-memory \
  -Wl,--max-memory=4294967296
build loops.wasm
