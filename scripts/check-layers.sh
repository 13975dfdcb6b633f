#!/usr/bin/env bash
# The layering of the code, checked from the sources alone (ctest's lint.layers; no build needed).
# Fails, naming file and line, when
#   - a library's file includes a header of a layer it may not use (the table below, which follows
#     the libraries' link graph and docs/architecture.md#layers), or includes with "..";
#   - `MPI_` appears outside src/core and src/parallel;
#   - a NetCDF call (`nc_name(`) or <netcdf.h> appears outside readers/ and src/core;
#   - `popen(` appears outside apps/ and scripts/.
# Usage: scripts/check-layers.sh [ROOT]   (ROOT: a source tree, default this repository)
#        scripts/check-layers.sh --self-test   (plants one violation of each kind; must fail on each)
set -uo pipefail

# What each folder may include, besides itself. A folder of src, readers, models or apps that is not
# listed here fails the check: add the new library to this table and to docs/architecture.md.
declare -A ALLOWED=(
  [core]=""
  [geo]="core"
  [nn]="core"
  [parallel]="core nn"
  [analysis]="core geo"
  [readers]="core geo"
  [models/nets]="core nn"
  [models/heuristics]="core geo analysis"
  [models/synth]="core geo readers"
  [models/training]="core geo nn parallel readers models/nets"
  [models/search]="core geo nn parallel analysis readers models/nets models/training"
  [models/bench]="core geo nn parallel analysis readers models/nets models/heuristics models/synth models/training models/pipelines"
  [models/pipelines]="core geo nn parallel analysis readers models/nets models/heuristics models/synth models/training models/search"
  [apps]="core geo nn parallel analysis readers models/nets models/heuristics models/synth models/training models/search models/bench models/pipelines"
)

# Known exceptions still being moved by their owners (issue 17). Each line: "kind path" (kinds nc,
# popen, mpi) or "include path header". Empty this list as they land; an entry whose file no longer
# has the violation fails the check (stale entry).
ALLOW_LIST=()

# Layer of a path relative to the root: src/nn/kernels/x.cpp -> nn, models/nets/a.hpp -> models/nets.
# (Both set REPLY: no subshell per file.)
layer_of_file() {
  local r
  REPLY=
  case "$1" in
    src/*) r=${1#src/} && REPLY=${r%%/*} ;;
    models/*) r=${1#models/} && REPLY=models/${r%%/*} ;;
    readers/*) REPLY=readers ;;
    apps/*) REPLY=apps ;;
  esac
}

# Layer named by an #include "..." path, or nothing for a same-folder include ("conv_impl.hpp").
layer_of_include() {
  local r
  REPLY=
  case "$1" in
    models/*) r=${1#models/} && REPLY=models/${r%%/*} ;;
    core/* | geo/* | nn/* | parallel/* | analysis/* | readers/* | apps/*) REPLY=${1%%/*} ;;
  esac
}

run_check() {
  local root=$1 bad=0
  cd "$root" || return 2
  local files
  files=$(find src readers models apps -type f \( -name '*.cpp' -o -name '*.hpp' -o -name '*.h' -o -name '*.cc' \) \
    2>/dev/null | sort)

  # 1. Every file belongs to a layer of the table, and includes only what it may.
  local f line inc from to
  declare -A unknown=()
  while IFS= read -r f; do
    [ -n "$f" ] || continue
    layer_of_file "$f" && from=$REPLY
    [ -n "${ALLOWED[$from]+x}" ] || unknown[$from]=$f
  done <<< "$files"
  for from in "${!unknown[@]}"; do
    echo "${unknown[$from]}: folder '$from' is not in scripts/check-layers.sh's layer table (add it there and to docs/architecture.md)"
    bad=1
  done
  while IFS=: read -r f line inc; do
    [ -n "$f" ] || continue
    layer_of_file "$f" && from=$REPLY
    [ -n "${ALLOWED[$from]+x}" ] || continue
    inc=${inc#*\"}
    inc=${inc%%\"*}
    if [[ "$inc" == *..* ]]; then
      echo "$f:$line: #include \"$inc\" climbs out of its folder; include by the layer's path instead"
      bad=1
      continue
    fi
    layer_of_include "$inc" && to=$REPLY
    [ -z "$to" ] || [ "$to" = "$from" ] && continue
    local listed=0 entry
    for entry in "${ALLOW_LIST[@]}"; do [ "$entry" = "include $f $inc" ] && listed=1; done
    if [ $listed = 0 ] && [[ " ${ALLOWED[$from]} " != *" $to "* ]]; then
      echo "$f:$line: $from may not include $to (\"$inc\"); $from may use: ${ALLOWED[$from]:-external libraries only}"
      bad=1
    fi
  done < <(echo "$files" | xargs -r grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' /dev/null)

  # 2. Calls that belong to one layer.
  grep_rule() {  # kind, regex, folders allowed (space-separated prefixes), message
    local kind=$1 regex=$2 allowed=$3 what=$4 hit file ok p
    while IFS= read -r hit; do
      [ -n "$hit" ] || continue
      file=${hit%%:*}
      ok=0
      for p in $allowed; do [[ "$file" == "$p"* ]] && ok=1; done
      for p in "${ALLOW_LIST[@]}"; do [ "$p" = "$kind $file" ] && ok=1; done
      if [ $ok = 0 ]; then
        echo "$hit"
        echo "  ^ $what"
        bad=1
      fi
    done < <(echo "$files" | xargs -r grep -nE "$regex" /dev/null)
  }
  grep_rule mpi 'MPI_' "src/core/ src/parallel/" "MPI belongs in src/core and src/parallel (use Comm / OwnedComm)"
  grep_rule nc '(^|[^A-Za-z0-9_])nc_[a-z0-9_]+[[:space:]]*\(|#[[:space:]]*include[[:space:]]*<netcdf' \
    "readers/ src/core/" "NetCDF calls belong in readers/ and src/core"
  grep_rule popen '(^|[^A-Za-z0-9_])popen[[:space:]]*\(' "apps/" "starting other programs (popen) belongs in apps/ or scripts/"

  # 3. Stale allow-list entries (the owner moved the code: delete the entry).
  local entry kind file regex
  for entry in "${ALLOW_LIST[@]}"; do
    kind=${entry%% *}
    file=${entry#* }
    case $kind in
      include)
        regex="#[[:space:]]*include[[:space:]]*\"${file#* }\""
        file=${file%% *}
        ;;
      nc) regex='(^|[^A-Za-z0-9_])nc_[a-z0-9_]+[[:space:]]*\(|#[[:space:]]*include[[:space:]]*<netcdf' ;;
      popen) regex='(^|[^A-Za-z0-9_])popen[[:space:]]*\(' ;;
      *) regex='MPI_' ;;
    esac
    if [ ! -f "$file" ] || ! grep -qE "$regex" "$file"; then
      echo "scripts/check-layers.sh: allow-list entry '$entry' is stale (no such violation left): delete it"
      bad=1
    fi
  done
  return $bad
}

self_test() {
  local here tmp fails=0 plant
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' RETURN
  mkdir -p "$tmp/tree"
  (cd "$here" && { git ls-files -z src readers models apps 2>/dev/null || find src readers models apps -type f -print0; } |
    xargs -0 cp --parents -t "$tmp/tree")
  if ! (run_check "$tmp/tree" > "$tmp/out"); then
    echo "self-test: the check fails on the tree as committed:"
    cat "$tmp/out"
    return 1
  fi
  for plant in \
    'src/core/bad.cpp:#include "nn/graph.hpp"' \
    'readers/bad.cpp:#include "models/nets/network.hpp"' \
    'src/geo/bad.cpp:#include "../nn/graph.hpp"' \
    'models/heuristics/bad.cpp:int f() { return MPI_Barrier(c); }' \
    'src/analysis/bad.cpp:int g() { return nc_open(p, 0, &id); }' \
    'src/nn/bad.cpp:void h() { popen("python3", "r"); }' \
    'src/newlib/bad.cpp:int x;'; do
    mkdir -p "$tmp/tree/$(dirname "${plant%%:*}")"
    echo "${plant#*:}" > "$tmp/tree/${plant%%:*}"
    if (run_check "$tmp/tree" > "$tmp/out"); then
      echo "self-test: the check passed with ${plant%%:*} planted: ${plant#*:}"
      fails=1
    elif ! grep -q "${plant%%:*}" "$tmp/out"; then
      echo "self-test: the check failed but did not name ${plant%%:*}:"
      cat "$tmp/out"
      fails=1
    fi
    rm -f "$tmp/tree/${plant%%:*}"
  done
  [ $fails = 0 ] && echo "self-test: every planted violation was caught"
  return $fails
}

if [ "${1:-}" = "--self-test" ]; then
  self_test
  exit $?
fi
root=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
if run_check "$root"; then
  echo "layers: ok"
else
  exit 1
fi
