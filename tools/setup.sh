#!/usr/bin/env bash
# Install what is missing (Debian 12 packages), then configure and build.
#
#   tools/setup.sh [--sanitize] [--build-dir DIR] [--no-build]
#
# --sanitize builds everything, plugins included, with ASan+UBSan into
# build-asan/ (or --build-dir). Needs root or sudo only when packages are
# missing.
set -euo pipefail
cd "$(dirname "$0")/.."

sanitize=OFF
build_dir=""
do_build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --sanitize) sanitize=ON ;;
    --build-dir) build_dir="$2"; shift ;;
    --no-build) do_build=0 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown option $1" >&2; exit 64 ;;
  esac
  shift
done
[ -n "$build_dir" ] || { [ "$sanitize" = ON ] && build_dir=build-asan || build_dir=build; }

packages=(gcc make cmake pkg-config liblua5.4-dev libsqlite3-dev libmsgpack-dev
          libcmocka-dev libjansson-dev nettle-dev libseccomp-dev
          libmicrohttpd-dev nginx-light curl openssl  # serve and its tests
          libcurl4-openssl-dev                     # pull: the host does every request
          sqlite3                                  # scenario_export reads exports with it
          binutils groff-base man-db               # tests/package: nm, strings, groff
          dpkg-dev debhelper lintian adduser)      # tools/deb-test.sh
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

[ "$do_build" -eq 1 ] || exit 0
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMTD_SANITIZE="$sanitize" >/dev/null
cmake --build "$build_dir" -j"$(nproc)" >/dev/null
echo "setup: built into $build_dir/ (mtdgate is $build_dir/bin/mtdgate)"
