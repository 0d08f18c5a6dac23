#!/usr/bin/env bash
# Builds loops.wasm and loops_shared.wasm from loops.c with Debian bookworm's
# clang 14 and lld 14 (apt-get install clang lld wabt). Then it checks that
# each module owns no memory. A module must import the backend's memory and
# nothing else. It must have no data, no start function, no bulk-memory or
# atomic instruction and no use of a global (such as the shadow stack). Both
# modules are checked before either replaces the committed one. The build is deterministic, so
# rebuilding with the same compiler gives the committed bytes
# (test/runtime/fused/simd_build_test.ts).
#
# Usage: build.sh [FOLDER]   (default: the folder of this script)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
output="${1:-$here}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Two variants of one source. The threaded build of the backend has a shared
# memory, which only a module built for atomics may import, and the
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
  check "$name"
}

# Fails, naming the module and the rule it breaks, unless it owns no memory.
check() {
  local name="$1"
  wasm-objdump -h "$work/$name" >"$work/headers.txt"
  wasm-objdump -x "$work/$name" >"$work/sections.txt"
  wasm-objdump -d "$work/$name" >"$work/code.txt"
  local section
  for section in Data DataCount Start; do
    if grep -qE "^ *$section start=" "$work/headers.txt"; then
      echo "build.sh: $name has a $section section; the module must own no memory: make every variable a local or a pointer argument" >&2
      exit 1
    fi
  done
  if grep -qE 'global\.(get|set)|memory\.(fill|init|copy)|data\.drop|atomic' "$work/code.txt"; then
    echo "build.sh: $name uses a global, a bulk-memory or an atomic instruction; the module must own no memory: make every variable a local or a pointer argument" >&2
    grep -nE 'global\.(get|set)|memory\.(fill|init|copy)|data\.drop|atomic' "$work/code.txt" | head -5 >&2
    exit 1
  fi
  local imports
  imports="$(grep -c ' <- ' "$work/sections.txt" || true)"
  if [ "$imports" != 1 ] || ! grep -q 'memory\[0\].*<- env\.memory' "$work/sections.txt"; then
    echo "build.sh: $name must import env.memory and nothing else" >&2
    grep ' <- ' "$work/sections.txt" >&2
    exit 1
  fi
}

build loops_shared.wasm -matomics -mbulk-memory -Wl,--shared-memory \
  -Wl,--max-memory=4294967296
build loops.wasm
for name in loops_shared.wasm loops.wasm; do
  install -m 644 "$work/$name" "$output/$name"
  echo "built $output/$name ($(wc -c <"$output/$name") bytes)"
done
