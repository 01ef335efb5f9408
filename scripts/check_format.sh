#!/usr/bin/env bash
# Fails when a tracked C++ file does not follow .clang-format (generated and vendored
# protos excepted). Fix with: clang-format -i FILE
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bad=()
while IFS= read -r f; do
  clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done < <(git ls-files '*.cc' '*.h' | grep -v '^proto/')
if [ "${#bad[@]}" -gt 0 ]; then
  echo "format: these files do not follow .clang-format (run clang-format -i on them):"
  printf '  %s\n' "${bad[@]}"
  exit 1
fi
echo "format: ok"
