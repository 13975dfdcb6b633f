#!/usr/bin/env bash
# Rebuilds data/models/cgnet_synth_96x144.h5, the CGNet that scripts/demo.sh predicts with: climseg
# synthesizes a 96x144 archive (seed 1, 6-hourly, 2002), trains ClimateNet's CGNet on it from
# scratch, and exports the weights (no optimizer state). About 7 minutes on 2 cores.
#   scripts/train_sample_model.sh [WORKDIR]    (default build/sample-model; needs build/release)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
climseg="${CLIMSEG:-$CLIMSEG_ROOT/build/release/bin/climseg}"
work="${1:-$CLIMSEG_ROOT/build/sample-model}"
[ -x "$climseg" ] || { echo "scripts/train_sample_model.sh: error: $climseg not built (run scripts/demo.sh first)" >&2; exit 1; }
mkdir -p "$work"
cd "$work"
[ -f train/synth.json ] || "$climseg" --no-progress synth --out train --grid 96x144 --steps 1200 --steps-per-file 120 \
  --hours 6 --seed 1 --start 2002-01-01
rm -rf ckpt
"$climseg" train --data.train train --data.channels TMQ,U850,V850,PSL --data.val_fraction 0.1 \
  --model.type cgnet --loss.type jaccard --optimizer.lr 0.002 \
  --schedule.warmup_steps 50 --epochs 12 --batch_size 4 --max_minutes 6 --validate_every 300 --log_every 50 \
  --checkpoint_dir ckpt
mkdir -p "$CLIMSEG_ROOT/data/models"
"$climseg" export --model ckpt/best.h5 --out "$CLIMSEG_ROOT/data/models/cgnet_synth_96x144.h5"
