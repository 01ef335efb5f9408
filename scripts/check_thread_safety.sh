#!/usr/bin/env bash
# Checks the lock annotations (ABSL_GUARDED_BY, ABSL_EXCLUSIVE_LOCKS_REQUIRED, ...)
# with clang's -Wthread-safety analysis: a syntax-only clang pass over the library
# sources of the annotated parts, with the flags of an existing build.
#   scripts/check_thread_safety.sh [BUILD_DIR]     (default: build)
# Needs BUILD_DIR/compile_commands.json (CMake writes it at configure time) and the
# generated headers of that build. JOBS (default 2) files are checked at a time.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${1:-build}"
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR="$ROOT/$BUILD_DIR" ;; esac
# The parts whose locks are annotated.
PARTS=(src/core src/kafka)
CLANG="${CLANG:-clang++}"

if [ ! -f "$BUILD_DIR/compile_commands.json" ]; then
  echo "thread-safety: $BUILD_DIR/compile_commands.json is missing; build first (scripts/build.sh)"
  exit 1
fi

# One line per library source (tests excluded: they hold no annotated state): the
# directory, then the compile command rewritten for clang: the compiler, -o and -c
# dropped, GCC's warning flags replaced by the thread-safety analysis.
commands="$(python3 - "$ROOT" "$BUILD_DIR/compile_commands.json" "$CLANG" "${PARTS[@]}" <<'EOF'
import json, shlex, sys
root, db, clang, parts = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
for e in json.load(open(db)):
    f = e["file"]
    rel = f[len(root) + 1:] if f.startswith(root + "/") else f
    if not any(rel.startswith(p + "/") for p in parts) or rel.endswith("_test.cc"):
        continue
    args = e["arguments"] if "arguments" in e else shlex.split(e["command"])
    while args and ("ccache" in args[0] or args[0].endswith("/env")):
        args = args[1:]
    out, skip = [clang], False
    for a in args[1:]:
        if skip:
            skip = False
            continue
        if a in ("-o", "-MF", "-MT", "-MQ"):
            skip = True
            continue
        if a in ("-c", "-MD", "-MMD") or a == f or a.startswith("-W"):
            continue
        out.append(a)
    out += ["-fsyntax-only", "-Wthread-safety", "-Werror", f]
    print(e["directory"] + "\t" + shlex.join(out))
EOF
)"
if [ -z "$commands" ]; then
  echo "thread-safety: no sources of ${PARTS[*]} in $BUILD_DIR/compile_commands.json"
  exit 1
fi
count="$(printf '%s\n' "$commands" | wc -l)"
# xargs runs each command; a failing one makes xargs (and so this script) fail.
printf '%s\n' "$commands" |
  xargs -d '\n' -P "${JOBS:-2}" -I{} bash -c 'IFS=$'"'"'\t'"'"' read -r dir cmd <<< "$1"; cd "$dir" && eval "$cmd"' _ {}
echo "thread-safety: ok ($count files of ${PARTS[*]})"
