# Shared by scripts/demo.sh and scripts/test.sh: install what is missing, configure, build.
# shellcheck shell=bash

CLIMSEG_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
JOBS="${JOBS:-$(nproc 2>/dev/null || echo 2)}"

# Debian 12 packages needed to build and run climseg.
BUILD_PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  libopenmpi-dev openmpi-bin
  libnetcdf-mpi-dev libhdf5-openmpi-dev netcdf-bin
  libopenblas-dev libfftw3-dev
  libcli11-dev nlohmann-json3-dev libfmt-dev libpng-dev zlib1g-dev libdeflate-dev libudunits2-dev
  libgtest-dev libbenchmark-dev
  python3-dev pybind11-dev
)
# Extra packages the test suite uses to check outputs with other tools (xarray, cdo), to make the
# real-world variants (nco: ncks, ncatted, ncrename, ncap2 in tests/realworld) and for style.
# gmt-gshhg-low: coastlines on the maps climseg plot draws (optional: maps have none without it).
# python3-pytest, -dask, -zarr: the Python module's tests (tests/python).
TEST_PACKAGES=(python3 python3-xarray python3-netcdf4 python3-pandas python3-pytest python3-dask python3-zarr python3-matplotlib cdo nco
  clang-format gmt-gshhg-low)

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# install_missing PKG...: apt-get installs whichever Debian packages are not installed yet. Nothing
# happens, and no root is needed, when all are there. Not a Debian system (no dpkg-query), or
# CLIMSEG_NO_INSTALL=1 (the dependencies come from modules or Spack): nothing is checked here, and
# CMake's configuration names any dependency it cannot find and how to provide it.
install_missing() {
  if [ "${CLIMSEG_NO_INSTALL:-0}" = 1 ] || ! command -v dpkg-query >/dev/null 2>&1; then
    return 0
  fi
  local missing=()
  for p in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$p")
    fi
  done
  if [ ${#missing[@]} -eq 0 ]; then
    return 0
  fi
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
      echo "climseg: error: missing Debian packages: ${missing[*]}; install them as root" \
        "(apt-get install ${missing[*]}), or provide the dependencies otherwise (modules, Spack) and run with" \
        "CLIMSEG_NO_INSTALL=1 (docs/development.md#dependencies)" >&2
      exit 1
    fi
  fi
  say "installing: ${missing[*]}"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# generator_args BUILD_DIR: -G Ninja for a new build folder when ninja is installed (it schedules the
# whole build as one graph: no per-folder make runs); nothing for an existing folder (it keeps the
# generator it was made with) or when CMAKE_GENERATOR says which one to use.
generator_args() {
  if [ ! -f "$1/CMakeCache.txt" ] && [ -z "${CMAKE_GENERATOR:-}" ] && command -v ninja >/dev/null 2>&1; then
    echo "-GNinja"
  fi
}

# configure_and_build BUILD_DIR CMAKE_ARGS...
configure_and_build() {
  local dir="$1"
  shift
  say "configuring $dir"
  # shellcheck disable=SC2046
  cmake -S "$CLIMSEG_ROOT" -B "$dir" $(generator_args "$dir") "$@" >"$dir.configure.log" 2>&1 || {
    cat "$dir.configure.log" >&2
    echo "climseg: error: cmake configuration failed (log above)" >&2
    exit 1
  }
  say "building $dir with $JOBS jobs"
  cmake --build "$dir" -j "$JOBS"
}

# Open MPI refuses root unless told, and more ranks than cores unless told.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
