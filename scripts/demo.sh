#!/usr/bin/env bash
# Installs what is missing, builds climseg (Release) and runs the main job on the bundled sample.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

install_missing "${BUILD_PACKAGES[@]}"
mkdir -p "$CLIMSEG_ROOT/build"
configure_and_build "$CLIMSEG_ROOT/build/release" -DCMAKE_BUILD_TYPE=Release -DCLIMSEG_BUILD_TESTS=OFF
climseg="$CLIMSEG_ROOT/build/release/bin/climseg"

say "climseg inspect on the bundled sample"
"$climseg" inspect "$CLIMSEG_ROOT/data/sample/synth.cam.h2.2000-01-01-00000.nc"
