#!/usr/bin/env bash
# Installs what is missing, builds with warnings as errors and assertions on, runs the whole suite.
#   scripts/test.sh               RelWithDebInfo + assertions, in build/test
#   scripts/test.sh --sanitize    AddressSanitizer + UndefinedBehaviorSanitizer, in build/sanitize
#   scripts/test.sh --ci          what CI runs: the suite, then a fuzz smoke (200 inputs per target
#                                 from seed 1, and every past finding, under ASan + UBSan)
#   scripts/test.sh -- -L unit    anything after -- goes to ctest
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

sanitize=0
ci=0
ctest_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --sanitize) sanitize=1 ;;
    --ci) ci=1 ;;
    -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --) shift; ctest_args=("$@"); break ;;
    *) echo "scripts/test.sh: error: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done

if [ "$ci" = 1 ]; then
  # Each stage stops the run on failure (set -e). The whole suite under the sanitizers is not part of
  # CI: its build and run (about 15 minutes here and on CI's cores) would take CI to the edge of its
  # 30 minutes; it runs before each landing instead (docs/reliability.md#sanitizers-in-ci).
  "$0"
  exec "$CLIMSEG_ROOT/scripts/fuzz.sh" --runs 200
fi

install_missing "${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}"
mkdir -p "$CLIMSEG_ROOT/build"
if [ "$sanitize" = 1 ]; then
  dir="$CLIMSEG_ROOT/build/sanitize"
  # -O1 -g1: the optimisation level ASan recommends, and line tables only (smaller objects, faster
  # links); the reports still name file and line.
  configure_and_build "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCLIMSEG_WERROR=ON -DCLIMSEG_ASSERTS=ON -DCLIMSEG_NATIVE=OFF \
    -DCLIMSEG_SANITIZE=address,undefined "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1" \
    "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O1 -g1"
  # Open MPI and HDF5 keep some allocations until exit: report only leaks of our own code.
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:detect_odr_violation=0"
  export LSAN_OPTIONS="suppressions=$CLIMSEG_ROOT/tests/lsan.supp:print_suppressions=0"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
  # The kill -9 tests loop a third as often under the sanitizers (each run is several times
  # slower); every check still runs.
  export CLIMSEG_SANITIZED=1
else
  dir="$CLIMSEG_ROOT/build/test"
  # -DCLIMSEG_PYTHON=ON: the Python module and its tests (label python); not in the sanitizer build
  # (an instrumented extension cannot load into python3).
  # -g1: line tables only (failures and backtraces still name file and line); full debug info took
  # 25-45% longer to compile (climseg_training's unity source: 27.5-28.5 s against 19.5-23.3 s).
  # Configure your own RelWithDebInfo build for a debugger's variables.
  configure_and_build "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCLIMSEG_WERROR=ON -DCLIMSEG_ASSERTS=ON -DCLIMSEG_NATIVE=OFF \
    -DCLIMSEG_PYTHON=ON "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG" "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG"
fi
say "running the test suite"
cd "$dir"
ctest --output-on-failure -j "$JOBS" --timeout 600 "${ctest_args[@]}"
