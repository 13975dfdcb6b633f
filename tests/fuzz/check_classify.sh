#!/usr/bin/env bash
# scripts/fuzz.sh --classify: the CI fuzz smoke sets aside only a crash inside nc_open called from
# NcFile's constructor (HDF5 parsing a damaged file's metadata, docs/reliability.md); the same
# library crash reached from any other climseg call, a crash in climseg's own code and a report
# without a stack stay findings.
#   check_classify.sh SOURCE_DIR
set -euo pipefail
src="$1"
log="$src/tests/fuzz/logs/nc_open_dense_links.log"  # a real report: CI's smoke of 2026-12-07
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
classify() { CLIMSEG_NO_INSTALL=1 "$src/scripts/fuzz.sh" --classify "$1" >/dev/null; }

sed "s|@ROOT@|$src|g" "$log" >"$tmp/known.log"
classify "$tmp/known.log" || fail "the crash inside nc_open (NcFile::NcFile) was not recognised"

# The same stack from another climseg caller: a finding.
sed 's/climseg::io::NcFile::NcFile(std::filesystem::__cxx11::path const&)/climseg::io::read_slab(int, int)/' \
  "$tmp/known.log" >"$tmp/other_caller.log"
grep -q 'read_slab' "$tmp/other_caller.log" || fail "test edit did not apply"
if classify "$tmp/other_caller.log"; then fail "a crash under read_slab was set aside"; fi

# A crash in climseg's own code above nc_open's frame: a finding.
awk -v root="$src" '/#2 /{print "    #2 0x1 in climseg::io::decode(float*) " root "/readers/cf_file.cpp:10:3"; next} {print}' \
  "$tmp/known.log" >"$tmp/ours.log"
grep -q 'climseg::io::decode' "$tmp/ours.log" || fail "test edit did not apply"
if classify "$tmp/ours.log"; then fail "a crash in climseg's code was set aside"; fi

# nc_open absent (the same frames, another library entry point): a finding.
sed 's/ in nc_open / in nc_get_vara_float /' "$tmp/known.log" >"$tmp/no_open.log"
if classify "$tmp/no_open.log"; then fail "a crash outside nc_open was set aside"; fi

# No sanitizer report at all (an escaped exception): a finding.
printf 'fuzz: escaped exception (not climseg::Error): bad_alloc\n' >"$tmp/exception.log"
if classify "$tmp/exception.log"; then fail "an escaped exception was set aside"; fi
echo "PASS: 1 known crash recognised, 4 findings kept"
