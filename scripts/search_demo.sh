#!/usr/bin/env bash
# Reproduces the hyper-parameter search demonstration of docs/search.md ("Fourth run"), about 20-30 min
# on 2 cores:
#   1. a 96x144 `climseg synth` archive (320 steps) and its normalization statistics;
#   2. a successive-halving search of 16 trials (network, learning rate, loss, class weights) on
#      2 ranks in groups of 1, rungs of 80/320/1280 steps (3200 optimizer steps in all);
#   3. the default configuration (CGNet, jaccard, lr 1e-3) trained on the same total budget: 3200 steps
#      on one rank, and for the search's wall time on both ranks;
#   4. one line per contender: validation event mean IoU, steps, wall time.
#   scripts/search_demo.sh [OUT_DIR]     (default build/search-demo; needs build/release)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
case "${1:-}" in -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
climseg="${CLIMSEG:-$CLIMSEG_ROOT/build/release/bin/climseg}"
[ -x "$climseg" ] || { echo "scripts/search_demo.sh: error: $climseg not built (run scripts/demo.sh first)" >&2; exit 1; }
out="${1:-$CLIMSEG_ROOT/build/search-demo}"
mkdir -p "$out"
cd "$out"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1

say "1/4 archive and statistics"
[ -d archive ] || "$climseg" --no-progress synth --out archive --grid 96x144 --steps 320 --steps-per-file 16 --seed 1
[ -f stats.json ] || "$climseg" --no-progress stats --in 'archive/*.nc' --out stats.json --vars TMQ,U850,V850,PSL
for e in 20 50 200; do
  cat > "train$e.json" <<EOF
{"data": {"train": ["archive/*.nc"], "val_fraction": 0.2, "stats": "stats.json"},
 "epochs": $e, "batch_size": 4, "seed": 1, "log_every": 50}
EOF
done
cat > search.json <<'EOF'
{
  "train": "train20.json",
  "space": {
    "model.type": {"choices": ["cgnet", "unet"]},
    "optimizer.lr": {"log_uniform": [3e-4, 1e-2]},
    "loss.type": {"choices": ["jaccard", "dice", "cross_entropy"]},
    "loss.class_weights": {"choices": ["none", "frequency^-0.125"]}
  },
  "strategy": {"kind": "successive_halving", "trials": 16, "min_steps": 80, "max_steps": 1280, "eta": 4, "seed": 4},
  "metric": {"class": "events", "weighting": "pixels"},
  "group_size": 1,
  "out_dir": "run"
}
EOF

say "2/4 search: mpirun -n 2 climseg --threads 1 search --config search.json"
t0=$(date +%s)
mpirun -n 2 --bind-to none "$climseg" --no-progress --threads 1 search --config search.json > search.out
search_s=$(( $(date +%s) - t0 ))

say "3/4 the default configuration on the search's 3200 steps (1 rank), then for its ${search_s} s (2 ranks)"
rm -rf default-steps default-wall
t0=$(date +%s)
"$climseg" --no-progress --threads 1 train --config train50.json --max_steps 3200 --checkpoint_dir default-steps \
  > default-steps.out
steps_s=$(( $(date +%s) - t0 ))
minutes=$(python3 -c "print(round($search_s / 60, 2))")
t0=$(date +%s)
mpirun -n 2 --bind-to none "$climseg" --no-progress --threads 1 train --config train200.json \
  --max_minutes "$minutes" --validate_every 320 --checkpoint_dir default-wall > default-wall.out
wall_s=$(( $(date +%s) - t0 ))

say "4/4 results (validation event mean IoU)"
python3 - "$search_s" "$steps_s" "$wall_s" <<'EOF'
import json, sys
search_s, steps_s, wall_s = map(int, sys.argv[1:])
best = json.loads(open("search.out").read().strip().splitlines()[-1])["best"]
def last_val(path):
    rows = [json.loads(l) for l in open(path) if "val_event_mean_iou" in l]
    return rows[-1]["val_event_mean_iou"], rows[-1]["step"]
print(f"search best trial {best['trial']} {best['values']}: {best['final_metric']:.3f} "
      f"at {best['steps']} steps (search: 3200 steps in all, {search_s} s)")
iou, step = last_val("default-steps/metrics.jsonl")
print(f"default, same steps (1 rank, batch 4):  {iou:.3f} at {step} steps ({steps_s} s)")
iou, step = last_val("default-wall/metrics.jsonl")
print(f"default, same wall time (2 ranks, batch 8): {iou:.3f} at {step} steps ({wall_s} s)")
EOF
