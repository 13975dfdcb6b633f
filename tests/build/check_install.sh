#!/usr/bin/env bash
# `cmake --install` of this build tree into a temporary prefix, then what a site or another project
# does with it (issue 18): the layout (bin, lib, include, lib/cmake/climseg, lib/pkgconfig,
# share/climseg); the installed binary finds its bundled data relative to itself; a ten-line project
# builds against the package with find_package(climseg) and reads the installed sample through
# climseg::readers; the same program builds with pkg-config's flags alone.
#   check_install.sh BUILD_DIR SOURCE_DIR WORK_DIR LIBDIR CXX
set -euo pipefail
build="$1" src="$2" work="$3" libdir="$4" cxx="$5"
prefix="$work/prefix"
fail() { echo "FAIL: $*" >&2; exit 1; }
rm -rf "$work"
mkdir -p "$work"
cmake --install "$build" --prefix "$prefix" >"$work/install.log" 2>&1 || fail "cmake --install: $(tail -5 "$work/install.log")"
for f in bin/climseg "$libdir/libclimseg_readers.a" "$libdir/libclimseg_nn.a" "$libdir/libclimseg_core.a" \
    "$libdir/cmake/climseg/climsegConfig.cmake" "$libdir/cmake/climseg/climsegTargets.cmake" "$libdir/pkgconfig/climseg.pc" \
    include/climseg/core/mpi.hpp include/climseg/readers/netcdf_file.hpp include/climseg/models/nets/network.hpp \
    share/climseg/models/cgnet_synth_96x144.h5 share/climseg/sample/synth.cam.h2.2000-01-01-00000.nc; do
  [ -e "$prefix/$f" ] || fail "not installed: $f"
done
echo "ok: installed layout"

# The installed binary, run from elsewhere, finds share/climseg next to its own folder.
line=$(cd / && env -u CLIMSEG_DATA_DIR "$prefix/bin/climseg" --version | grep '^  data:' || true)
[ "$line" = "  data:             $prefix/share/climseg" ] || fail "the installed binary's data folder: '$line'"
echo "ok: $line"

expected="netCDF-4 96 144"
cmake -S "$src/tests/build/consumer" -B "$work/consumer" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_CXX_COMPILER="$cxx" \
  -DCMAKE_BUILD_TYPE=Debug >"$work/consumer.log" 2>&1 || fail "find_package(climseg): $(grep -A5 'CMake Error' "$work/consumer.log" | head -12)"
cmake --build "$work/consumer" >>"$work/consumer.log" 2>&1 || fail "the consumer did not build: $(tail -15 "$work/consumer.log")"
out=$("$work/consumer/consumer" 2>&1) || fail "the find_package consumer failed: $out"
[ "$out" = "$expected" ] || fail "the find_package consumer printed '$out', not '$expected'"
echo "ok: find_package(climseg) consumer: $out"

# pkg-config alone (no CMake): the same program.
export PKG_CONFIG_PATH="$prefix/$libdir/pkgconfig"
flags=$(pkg-config --cflags --libs climseg) || fail "pkg-config climseg"
# shellcheck disable=SC2086
"$cxx" -std=c++20 "$src/tests/build/consumer/main.cpp" -o "$work/consumer_pc" -DCLIMSEG_DATA="\"$(pkg-config --variable=datadir climseg)\"" \
  $flags >"$work/pc.log" 2>&1 || fail "building with pkg-config's flags: $(tail -15 "$work/pc.log")"
out=$("$work/consumer_pc" 2>&1) || fail "the pkg-config consumer failed: $out"
[ "$out" = "$expected" ] || fail "the pkg-config consumer printed '$out', not '$expected'"
echo "ok: pkg-config consumer: $out"
rm -rf "$work"
