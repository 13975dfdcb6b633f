#!/bin/sh
# Planted-truth figures of docs/detectors.md on several seeds: for each seed a 192x288 `climseg synth`
# archive of STEPS six-hourly steps with Q, U, V on 10 pressure levels, labelled by `climseg label`
# (cyclones + IVT rivers integrated from the levels) and by `climseg label --ar-method tmq` (rivers
# from TMQ alone), scored by synth_truth_score.py against the planted truth.
# Usage: tests/heuristics/synth_truth_seeds.sh [CLIMSEG] [STEPS] [SEEDS...]   (defaults: build/test/bin/climseg 48 1 3 7)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
climseg=${1:-build/test/bin/climseg}
steps=${2:-48}
[ $# -ge 2 ] && shift 2 || set --
seeds=${*:-1 3 7}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for seed in $seeds; do
  "$climseg" --no-progress -q synth --out "$work/synth" --grid 192x288 --steps "$steps" --steps-per-file 8 \
    --hours 6 --seed "$seed" --levels pressure >/dev/null
  "$climseg" --no-progress -q label --in "$work/synth" --out "$work/ivt" >/dev/null
  "$climseg" --no-progress -q label --in "$work/synth" --out "$work/tmq" --detect ar --ar-method tmq >/dev/null
  printf 'seed %s, %s steps: ' "$seed" "$steps"
  /usr/bin/python3 "$here/synth_truth_score.py" "$work/synth" "$work/ivt" "$work/tmq"
  rm -rf "$work/synth" "$work/ivt" "$work/tmq"
done
