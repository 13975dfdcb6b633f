#!/usr/bin/env bash
# Runs every benchmark quoted in docs/benchmarks.md and keeps their JSON lines in build/bench/.
#   scripts/bench.sh [KIND...]     kinds: io ops train predict allreduce label synth (default: all)
# Needs build/release (scripts/demo.sh builds it) and, for the PyTorch peers, python3-torch.
# Run it on a quiet machine: every figure is also compared with a peer run in the same process or
# script, so ratios survive some noise, absolute times do not.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
climseg="${CLIMSEG:-$CLIMSEG_ROOT/build/release/bin/climseg}"
[ -x "$climseg" ] || { echo "scripts/bench.sh: error: $climseg not built (run scripts/demo.sh first)" >&2; exit 1; }
out="$CLIMSEG_ROOT/build/bench"
mkdir -p "$out"
kinds=("$@")
[ ${#kinds[@]} -gt 0 ] || kinds=(io ops train predict allreduce label synth)
run() {  # run NAME ARGS...: one benchmark, JSON lines to build/bench/NAME.jsonl
  local name="$1"
  shift
  say "$name: climseg $*"
  "$climseg" --no-progress "$@" | tee "$out/$name.jsonl"
}
for k in "${kinds[@]}"; do
  case "$k" in
    io) run io bench io ;;
    ops) run ops bench ops --peer ;;
    train)
      run train_192x288 bench train --model cgnet --grid 192x288 --batch 4 --steps 5 --peer
      run train_768x1152 bench train --model cgnet --grid 768x1152 --batch 1 --steps 3 --peer ;;
    predict) run predict_768x1152 bench predict --model cgnet --grid 768x1152 --batch 1 --steps 3 --peer ;;
    allreduce)
      say "allreduce: mpirun -np 2 climseg bench train --ranks-report (CGNet 192x288, batch 2 per rank)"
      mpirun -np 2 --bind-to none "$climseg" --no-progress bench train --model cgnet --grid 192x288 --batch 2 \
        --steps 8 --ranks-report | tee "$out/train_ranks_report.jsonl"
      say "allreduce: mpirun -np 2 climseg bench allreduce"
      mpirun -np 2 --bind-to none "$climseg" --no-progress bench allreduce | tee "$out/allreduce.jsonl" ;;
    label) run label bench label ;;
    synth) run synth bench synth ;;
    *) echo "scripts/bench.sh: error: unknown benchmark '$k' (io ops train predict allreduce label synth)" >&2; exit 2 ;;
  esac
done
say "JSON lines in ${out#"$CLIMSEG_ROOT"/}/"
