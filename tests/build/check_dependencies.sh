#!/usr/bin/env bash
# Dependency discovery as HPC sites provide it (cmake/Dependencies.cmake, issue 18), on this Debian
# machine: Debian's locations are turned off (CLIMSEG_DEBIAN_HINTS=OFF) and the libraries are shown
# under other prefixes, made of links to Debian's files, as a module or Spack would install them:
#   1. NetCDF through -DnetCDF_DIR (a copy of its CMake package), HDF5 through -DHDF5_ROOT;
#   2. NetCDF through nc-config only (its CMake package hidden), HDF5 through h5pcc on PATH;
#   3. a NetCDF that is nowhere (-DnetCDF_DIR=bogus): configuration stops with one message naming it
#      and how to provide it.
# Each configures tests/build/deps (Dependencies.cmake alone) and checks where things were found.
#   check_dependencies.sh SOURCE_DIR WORK_DIR
set -euo pipefail
src="$1/tests/build/deps"
work="$2"
arch=$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
deb=/usr/lib/$arch
if [ ! -f "$deb/cmake/netCDF_mpi/netCDFConfig.cmake" ] || [ ! -d "$deb/hdf5/openmpi" ]; then
  echo "SKIP: Debian's libnetcdf-mpi-dev and libhdf5-openmpi-dev are not installed (the prefixes are made from them)"
  exit 0
fi
rm -rf "$work"
mkdir -p "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }

# A NetCDF prefix: include/, lib/$arch/libnetcdf_mpi.so*, its CMake package copied (not linked: the
# package resolves its prefix from its own real path), bin/nc-config.
nc="$work/netcdf"
mkdir -p "$nc/lib/$arch/cmake/netCDF" "$nc/bin"
ln -s "$deb/netcdf/mpi/include" "$nc/include"
for f in "$deb"/libnetcdf_mpi.so*; do ln -s "$f" "$nc/lib/$arch/"; done
cp "$deb"/cmake/netCDF_mpi/*.cmake "$nc/lib/$arch/cmake/netCDF/"
cat >"$nc/bin/nc-config" <<NC
#!/bin/sh
# Stands in for a site's nc-config (this machine's NetCDF has none): what it prints for a parallel build.
case "\$1" in
  --has-parallel) echo yes ;;
  --includedir) echo "$nc/include" ;;
  --libs) echo "-L$nc/lib/$arch -lnetcdf_mpi" ;;
  *) exit 1 ;;
esac
NC
chmod +x "$nc/bin/nc-config"
# An HDF5 prefix (the Open MPI build), no compiler wrapper in it.
h5="$work/hdf5"
mkdir -p "$h5"
ln -s /usr/include/hdf5/openmpi "$h5/include"
ln -s "$deb/hdf5/openmpi" "$h5/lib"

configure() {  # configure NAME ARGS...: configure tests/build/deps into $work/NAME, output in $work/NAME.log
  local name="$1"
  shift
  cmake -S "$src" -B "$work/$name" -DCLIMSEG_DEBIAN_HINTS=OFF "$@" >"$work/$name.log" 2>&1
}
found() { sed -n "s/^$2=//p" "$work/$1/found.txt"; }
expect_under() {  # expect_under CASE KEY PREFIX
  local v
  v=$(found "$1" "$2")
  case "$v" in
    "$3"*) echo "ok: case $1: $2 = $v" ;;
    *) fail "case $1: $2 is '$v', not under $3 (log: $work/$1.log)" ;;
  esac
}

# 1. netCDF_DIR and HDF5_ROOT; h5pcc kept off PATH so that only HDF5_ROOT can find HDF5.
configure 1 -DnetCDF_DIR="$nc/lib/$arch/cmake/netCDF" -DHDF5_ROOT="$h5" || fail "case 1 did not configure: $(tail -5 "$work/1.log")"
expect_under 1 netcdf_from "CMake package $nc/"
expect_under 1 netcdf_include "$nc/include"
expect_under 1 netcdf_libs "$nc/lib"
expect_under 1 hdf5_include "$h5/include"
expect_under 1 hdf5_libs "$h5/lib"

# 2. nc-config only: the CMake package is hidden, nc-config is on PATH; HDF5 through the h5pcc on PATH.
PATH="$nc/bin:$PATH" configure 2 -DCMAKE_DISABLE_FIND_PACKAGE_netCDF=ON || fail "case 2 did not configure: $(tail -5 "$work/2.log")"
expect_under 2 netcdf_from "$nc/bin/nc-config"
expect_under 2 netcdf_include "$nc/include"
expect_under 2 netcdf_libs "-L$nc/lib"
found 2 hdf5_from | grep -q "parallel: TRUE" || fail "case 2: HDF5 through h5pcc is not the parallel build: $(found 2 hdf5_from)"
echo "ok: case 2: hdf5_from = $(found 2 hdf5_from)"

# 3. nowhere: one message naming parallel NetCDF and the ways to provide it.
if configure 3 -DnetCDF_DIR="$work/bogus"; then fail "case 3 configured with a bogus netCDF_DIR"; fi
grep -q "climseg: parallel NetCDF-C (netcdf_par.h and a library built with MPI) not found. Provide it with one of: Debian/Ubuntu: apt-get install libnetcdf-mpi-dev; a module: module load cray-netcdf-hdf5parallel.*-DnetCDF_DIR=<prefix>/lib/cmake/netCDF, or -DCLIMSEG_NC_CONFIG=<prefix>/bin/nc-config" \
  <(tr -d '\n' <"$work/3.log" | tr -s ' ') || fail "case 3: the message is not there: $(tail -8 "$work/3.log")"
echo "ok: case 3: $(tr -d '\n' <"$work/3.log" | tr -s ' ' | grep -o 'climseg: parallel NetCDF-C.*/bin/nc-config.')"
rm -rf "$work"
