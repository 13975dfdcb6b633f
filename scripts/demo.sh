#!/usr/bin/env bash
# Installs what is missing, builds climseg (Release) and runs the main job end to end:
#   inspect the bundled sample → synthesize a small CAM5-like archive with planted storms and rivers
#   → label it with the physics detectors → predict with the CGNet bundled in data/models (trained
#   by climseg itself: scripts/train_sample_model.sh) → score the prediction against the planted
#   truth (per-class IoU) → follow the predicted events in time → draw a map.
#   scripts/demo.sh            everything above, outputs in build/demo
#   scripts/demo.sh --train    also train a CGNet from scratch for two minutes and score it too
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

train=0
while [ $# -gt 0 ]; do
  case "$1" in
    --train) train=1 ;;
    -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "scripts/demo.sh: error: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done

install_missing "${BUILD_PACKAGES[@]}"
mkdir -p "$CLIMSEG_ROOT/build"
configure_and_build "$CLIMSEG_ROOT/build/release" -DCMAKE_BUILD_TYPE=Release -DCLIMSEG_BUILD_TESTS=OFF -DCLIMSEG_PYTHON=ON
climseg="$CLIMSEG_ROOT/build/release/bin/climseg"
model="$CLIMSEG_ROOT/data/models/cgnet_synth_96x144.h5"
out="$CLIMSEG_ROOT/build/demo"
rm -rf "$out"
mkdir -p "$out"

say "1/7 inspect the bundled sample (data/sample)"
"$climseg" inspect "$CLIMSEG_ROOT/data/sample/synth.cam.h2.2000-01-01-00000.nc"

say "2/7 synthesize a 96x144 archive: 8 days, 6-hourly, planted cyclones and rivers (truth in LABELS)"
# Seed 7: not the archive the bundled model was trained on (seed 1 at a different date).
"$climseg" synth --out "$out/archive" --grid 96x144 --steps 32 --steps-per-file 16 --hours 6 --seed 7 \
  --start 2003-08-01

say "3/7 label it with the physics detectors (TECA cyclone criteria, TMQ/IVT rivers)"
"$climseg" label --in "$out/archive" --out "$out/labels"

say "4/7 predict with the bundled CGNet ($(basename "$model"))"
"$climseg" predict --model "$model" --in "$out/archive" --out "$out/pred" --probabilities

say "5/7 score the prediction against the planted truth"
"$climseg" evaluate --model "$model" --in "$out/archive" --json "$out/scores.json"

if [ "$train" = 1 ]; then
  say "5b/7 train a CGNet from scratch for two minutes on a fresh archive, then score it the same way"
  "$climseg" synth --out "$out/train" --grid 96x144 --steps 96 --steps-per-file 48 --hours 6 --seed 3 \
    --start 2002-01-01
  "$climseg" train --data.train "$out/train" --data.val "$out/archive" --checkpoint_dir "$out/trained" \
    --loss.type jaccard --optimizer.lr 0.003 --epochs 40 --batch_size 4 --max_minutes 2
  "$climseg" evaluate --model "$out/trained/last.h5" --in "$out/archive"
fi

say "6/7 follow the predicted events through time"
"$climseg" events --in "$out/pred" --labels-var class_mask --out "$out/events" --field PSL --field-in "$out/archive" \
  --peak min --distance-classes 1

say "7/7 draw the last step: TMQ with the predicted outlines and the detected cyclone tracks"
"$climseg" plot --in "$out/archive" --var TMQ --steps 31 --labels "$out/pred" --labels-var class_mask \
  --tracks "$out/labels/tc_tracks.csv" --out "$out/tmq_prediction.png"

if /usr/bin/python3 -c "import xarray" 2>/dev/null; then
  say "and in Python: the same prediction from an xarray Dataset (docs/python.md, docs/examples/notebook.py)"
  PYTHONPATH="$CLIMSEG_ROOT/build/release/python" /usr/bin/python3 "$CLIMSEG_ROOT/docs/examples/notebook.py" \
    --archive "$out/archive" --model "$model" --out "$out/python"
fi

say "done: outputs in ${out#"$CLIMSEG_ROOT"/} (scores.json, pred/, labels/, events/, tmq_prediction.png)"
