#!/usr/bin/env bash
# Build the Debian packages, check them with lintian, install them with dpkg
# on this machine, run the sample fleet (samples/fleet) through the installed
# paths from another directory as the system user mtdgate, run the evaluate
# unit (systemctl when systemd runs, else systemd-analyze verify and its
# ExecStart by hand as its user), then purge.
#
#   tools/deb-test.sh [--keep]     (root or sudo; --keep leaves it installed)
#
# Refuses to run when mtdgate is already installed (it would be replaced and
# purged). The packages are built from a copy of the source tree in a
# temporary directory; nothing is written beside it.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$(pwd -P)
keep=0
[ "${1:-}" = "--keep" ] && keep=1
sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo
fail() { echo "deb-test: FAIL: $*" >&2; exit 1; }
say() { printf '== %s\n' "$*"; }

for p in mtdgate libmtdgate0 libmtdgate-dev; do
  if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
    fail "$p is installed already; remove it first (this test installs and purges)"
  fi
done

work=$(mktemp -d)
chmod 0755 "$work" # the mtdgate user reads the sample fleet from here
installed=0
cleanup() {
  if [ "$installed" -eq 1 ] && [ "$keep" -eq 0 ]; then
    $sudo dpkg --purge libmtdgate-dev mtdgate libmtdgate0 >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

say "build: dpkg-buildpackage -b -us -uc"
version=$(dpkg-parsechangelog -l debian/changelog -S Version)
tree=$work/mtdgate-${version%-*}
mkdir "$tree"
# the tracked and new files as they are now, without build trees
git ls-files -z --cached --others --exclude-standard | grep -zv '^build' |
  tar --null -T - -cf - | tar -C "$tree" -xf -
(cd "$tree" && DEB_BUILD_OPTIONS="parallel=$(nproc) ${DEB_BUILD_OPTIONS:-}" \
   dpkg-buildpackage -b -us -uc >"$work/build.log" 2>&1) ||
  { tail -n 40 "$work/build.log"; fail "dpkg-buildpackage"; }
debs=()
for p in mtdgate libmtdgate0 libmtdgate-dev; do
  f=$(ls "$work/${p}_$version"_*.deb 2>/dev/null) || fail "no package $p in: $(ls "$work")"
  debs+=("$f")
done
echo "built: ${debs[*]##*/}"

say "lintian (errors fail)"
lintian --fail-on error "$work"/*.changes ||
  fail "lintian reports errors"

say "install: dpkg -i"
installed=1
$sudo dpkg -i "${debs[@]}" >"$work/install.log" 2>&1 ||
  { cat "$work/install.log"; fail "dpkg -i"; }
m=/usr/bin/mtdgate
getent passwd mtdgate >/dev/null || fail "no system user mtdgate"
[ "$(stat -c '%U %a' /var/lib/mtdgate)" = "mtdgate 750" ] ||
  fail "/var/lib/mtdgate is $(stat -c '%U %a' /var/lib/mtdgate), not mtdgate 750"
dpkg-query -W -f='${Conffiles}\n' mtdgate | grep -q ' /etc/mtdgate/rules/policy.lua ' ||
  fail "/etc/mtdgate/rules/policy.lua is not a conffile"
[ -f /usr/share/bash-completion/completions/mtdgate ] || fail "no bash completion"
man -w mtdgate-evaluate >/dev/null || fail "no man page mtdgate-evaluate(1)"
pkg-config --exists mtdgate-sdk mtdgate || fail "pkg-config does not find mtdgate, mtdgate-sdk"
if strings -a $m /usr/lib/*/libmtdgate.so.* | grep -F -e "$tree" -e "$src"; then
  fail "an installed binary names the build tree"
fi

say "the sample fleet through the installed paths, from another directory, as mtdgate"
cp -r samples/fleet "$work/fleet"
chmod -R a+rX "$work/fleet"
db=/var/lib/mtdgate/mtdgate.db
as_mtdgate() { (cd "$work/fleet" && $sudo runuser -u mtdgate -- "$@"); }
run() { as_mtdgate $m --db $db "$@"; }
S=.
# The demo's steps (tools/demo.sh), with the runner given as "$@".
fleet() {
  "$@" init
  "$@" device import $S/devices.jsonl
  "$@" inventory import $S/inventory.jsonl
  "$@" connector add generic
  "$@" --now 2026-11-18T13:10:00Z ingest generic --normalized $S/day1.jsonl
  "$@" --now 2026-11-18T13:10:00Z connector set generic android=on ios=on windows=on macos=on \
    mam_android=on mam_ios=on
  "$@" --now 2026-11-18T13:10:00Z evaluate
  "$@" --now 2026-11-19T13:10:00Z ingest generic --normalized $S/day2.jsonl
  "$@" --now 2026-11-19T13:10:00Z evaluate
}
fleet run
run plugin list | grep -q '^generic ' || fail "the installed mtdgate lists no generic plugin"
plugin=$(ls /usr/lib/*/mtdgate/plugins/lookout.so)
run plugin check "$plugin" >"$work/check.txt" ||
  { cat "$work/check.txt"; fail "plugin check of the installed $plugin (its installed fixtures)"; }
run rules check >"$work/rules.txt" || { cat "$work/rules.txt"; fail "rules check"; }
tail -n 1 "$work/rules.txt" | grep -q '^rules /etc/mtdgate/rules: ok' ||
  fail "the default rules are not /etc/mtdgate/rules: $(tail -n 1 "$work/rules.txt")"
run report >"$work/report.txt"
run report --json >"$work/report.jsonl"
tail -n 1 "$work/report.txt" | grep -q '^300 devices: ' || fail "report: $(tail -n 1 "$work/report.txt")"
[ "$(stat -c '%U %a' $db)" = "mtdgate 600" ] || fail "the store is $(stat -c '%U %a' $db)"
tail -n 1 "$work/report.txt"
# The same steps with the build tree's runner, when there is one, decide the same.
if [ -x build/bin/mtdgate ]; then
  b() { (cd "$work/fleet" && "$src/build/bin/mtdgate" --db "$work/b.db" "$@"); }
  fleet b >/dev/null
  b report --json | cmp -s - "$work/report.jsonl" ||
    fail "the installed mtdgate decides otherwise than build/bin/mtdgate"
  echo "the installed mtdgate decides as build/bin/mtdgate does (300 devices)"
fi

say "the evaluate unit"
unit=/lib/systemd/system/mtdgate-evaluate.service
[ -f $unit ] && [ -f /lib/systemd/system/mtdgate-evaluate.timer ] || fail "units not installed"
# The hardening, scored by systemd itself (0 = all locked down, 10 = none):
# 0.5 when written; more than 1.5 means a protection was lost.
systemd-analyze security --offline=true --threshold=15 $unit >"$work/security.txt" 2>&1 ||
  { grep '✗' "$work/security.txt"; tail -n 1 "$work/security.txt"; fail "the unit's hardening"; }
tail -n 1 "$work/security.txt"
before=$(run audit show --kind evaluate | grep -c . || true)
state=$(systemctl is-system-running 2>/dev/null || true)
if [ "$state" = running ] || [ "$state" = degraded ]; then
  $sudo systemctl start mtdgate-evaluate.service || fail "systemctl start mtdgate-evaluate"
  systemctl is-enabled mtdgate-evaluate.timer >/dev/null || fail "the timer is not enabled"
else
  echo "systemd is $state here: systemd-analyze verify, then ExecStart by hand as mtdgate"
  SYSTEMD_LOG_LEVEL=err systemd-analyze verify $unit /lib/systemd/system/mtdgate-evaluate.timer ||
    fail "systemd-analyze verify"
  exec_start=$(sed -n 's/^ExecStart=//p' $unit)
  [ "$(sed -n 's/^User=//p' $unit)" = mtdgate ] || fail "the unit does not run as mtdgate"
  (cd /var/lib/mtdgate && $sudo runuser -u mtdgate -- $exec_start) || fail "ExecStart: $exec_start"
fi
after=$(run audit show --kind evaluate | grep -c . || true)
[ "$after" -gt "$before" ] || fail "the unit's evaluate left no audit record ($before -> $after)"
run audit verify >/dev/null || fail "audit verify"

[ "$keep" -eq 1 ] && { echo "deb-test: ok, left installed (--keep)"; exit 0; }
say "purge"
$sudo dpkg --purge libmtdgate-dev mtdgate libmtdgate0 >/dev/null
installed=0
for p in /usr/bin/mtdgate /etc/mtdgate /var/lib/mtdgate /lib/systemd/system/mtdgate-evaluate.timer; do
  [ ! -e $p ] || fail "$p is left after purge"
done
echo "deb-test: ok"
