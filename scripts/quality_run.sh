#!/usr/bin/env bash
# Issue 5's training-quality run: a CGNet trained from scratch on a climseg synth archive at 192x288
# for at most 10 minutes of wall time on this node, then scored on held-out synthetic steps (another
# seed, another season) against the planted truth. Prints the per-class IoU.
#   scripts/quality_run.sh [WORKDIR]      (default build/quality; needs a built build/release)
# Extra arguments after the folder go to `climseg train` (e.g. --max_minutes 5 --loss.type jaccard).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
climseg="${CLIMSEG:-$CLIMSEG_ROOT/build/release/bin/climseg}"
work="${1:-$CLIMSEG_ROOT/build/quality}"
shift || true
[ -x "$climseg" ] || { echo "scripts/quality_run.sh: error: $climseg not built (run scripts/demo.sh first)" >&2; exit 1; }
mkdir -p "$work"
cd "$work"

say "synthesizing 320 training steps (seed 11) and 48 held-out steps (seed 12, June 2001) at 192x288"
[ -f train/synth.json ] || "$climseg" --no-progress synth --out train --grid 192x288 --steps 320 --steps-per-file 40 --seed 11
[ -f held/synth.json ] || "$climseg" --no-progress synth --out held --grid 192x288 --steps 48 --steps-per-file 24 \
  --seed 12 --start 2001-06-01

say "training CGNet (ClimateNet's architecture, 4 channels) for at most 10 minutes"
rm -rf ckpt
# Validation (for best.h5) on the last 15% of the training steps; the held-out archive is only scored.
/usr/bin/time -v "$climseg" train --data.train train --data.channels TMQ,U850,V850,PSL --data.val_fraction 0.15 \
  --model.type cgnet --loss.type jaccard --optimizer.lr 0.002 \
  --schedule.warmup_steps 50 --epochs 16 --batch_size 4 --max_minutes 10 --validate_every 200 --log_every 20 \
  --checkpoint_dir ckpt "$@" 2> >(tee train.stderr >&2) | tee train.log
grep -E "Elapsed|Maximum resident" train.stderr || true

say "scores on the held-out steps: last checkpoint"
"$climseg" --no-progress evaluate --model ckpt/last.h5 --in held --json scores_last.json
say "scores on the held-out steps: best checkpoint on validation"
"$climseg" --no-progress evaluate --model ckpt/best.h5 --in held --json scores_best.json
