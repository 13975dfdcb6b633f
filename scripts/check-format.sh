#!/usr/bin/env bash
# Fails when any tracked C++ source is not clang-formatted (used by ctest's lint test).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
files=$(git ls-files '*.cpp' '*.hpp' '*.h' '*.cc' 2>/dev/null || find src readers models apps tests -name '*.[ch]pp')
[ -n "$files" ] || exit 0
# shellcheck disable=SC2086
clang-format --dry-run -Werror $files
