#!/usr/bin/env bash
# scripts/test.sh and scripts/demo.sh need no root when the packages are there (issue 18): as an
# unprivileged user (nobody), install_missing with every package of BUILD_PACKAGES and TEST_PACKAGES
# installed does nothing and succeeds; with one missing it stops with one line naming the package
# and the other ways (modules, CLIMSEG_NO_INSTALL=1), without calling apt-get.
#   check_scripts_no_root.sh SOURCE_DIR
set -euo pipefail
src="$1"
# The checks below are of install_missing's own behaviour: a CLIMSEG_NO_INSTALL=1 of the caller (as
# when scripts/test.sh itself ran with it) would turn it off. (su keeps the environment.)
unset CLIMSEG_NO_INSTALL
if [ "$(id -u)" -ne 0 ] || ! command -v dpkg-query >/dev/null || ! id nobody >/dev/null 2>&1; then
  echo "SKIP: needs root (to run as nobody), dpkg-query and a user nobody"
  exit 0
fi
fail() { echo "FAIL: $*" >&2; exit 1; }
as_nobody() { su nobody -s /bin/bash -c "$1" 2>&1; }
# The packages CI's machine has: every one of the lists, else this check says nothing.
all=$(bash -c "source '$src/scripts/common.sh'; echo \${BUILD_PACKAGES[*]} \${TEST_PACKAGES[*]}")
for p in $all; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || { echo "SKIP: $p is not installed"; exit 0; }
done
# apt-get must not run: a PATH whose apt-get and sudo fail loudly.
fake=$(mktemp -d)
trap 'rm -rf "$fake"' EXIT
chmod 755 "$fake"
printf '#!/bin/sh\necho "apt-get ran: $*"; exit 99\n' >"$fake/apt-get"
cp "$fake/apt-get" "$fake/sudo"
chmod 755 "$fake/apt-get" "$fake/sudo"
out=$(as_nobody "PATH='$fake':\$PATH; source '$src/scripts/common.sh'; install_missing \${BUILD_PACKAGES[*]} \${TEST_PACKAGES[*]}; echo rc=\$?")
[ "$out" = "rc=0" ] || fail "with every package installed, as nobody: '$out'"
echo "ok: every package installed: nothing run, rc=0"
rm "$fake/sudo"
out=$(as_nobody "PATH='$fake':\$PATH; source '$src/scripts/common.sh'; install_missing cmake no-such-package-climseg" || true)
echo "$out" | grep -qx "climseg: error: missing Debian packages: no-such-package-climseg; install them as root (apt-get install no-such-package-climseg), or provide the dependencies otherwise (modules, Spack) and run with CLIMSEG_NO_INSTALL=1 (docs/development.md#dependencies)" \
  || fail "one package missing, as nobody: '$out'"
echo "$out" | grep -q "apt-get ran" && fail "apt-get ran: '$out'"
echo "ok: one package missing: $out"
