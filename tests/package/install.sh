#!/usr/bin/env bash
# Install into a temporary prefix, move the prefix, and use what it holds
# from another directory: the runner finds its own plugins and rules, names no
# build-tree path, links libmtdgate.so.N; the template vendor builds out of
# tree with pkg-config (mtdgate-sdk) and with the CMake package
# (mtdgate::sdk) and passes the installed 'mtdgate plugin check'; a program
# links libmtdgate with pkg-config (mtdgate) and with mtdgate::mtdgate.
#   install.sh BUILD_DIR SOURCE_DIR C_COMPILER [SANITIZE]
set -euo pipefail
build=$(cd "$1" && pwd -P) src=$(cd "$2" && pwd -P) cc=$3 sanitize=${4:-OFF}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
san=""
[ "$sanitize" = ON ] && san="-fsanitize=address,undefined"

cmake --install "$build" --prefix "$work/prefix" >/dev/null
libdir=$(sed -n 's/^CMAKE_INSTALL_LIBDIR:[A-Z]*=//p' "$build/CMakeCache.txt")
# A prefix given at install time and then moved: nothing may depend on where
# it was built or first installed.
mv "$work/prefix" "$work/moved"
p=$work/moved
m=$p/bin/mtdgate

# --- no build-tree path in anything installed that runs (not checked in a
# sanitizer build, which is never shipped: GCC's UBSan keeps the absolute
# source names of its checks despite -ffile-prefix-map)
for f in "$m" "$p/$libdir"/libmtdgate.so.* "$p/$libdir"/mtdgate/plugins/*.so; do
  [ -f "$f" ] || fail "$f is missing"
  if [ "$sanitize" != ON ] && strings -a "$f" | grep -F -e "$build" -e "$src"; then
    fail "$f names the build or source tree (above)"
  fi
done
# grep reads it all: with -q it can leave before objdump's last write, which
# then dies of SIGPIPE, and pipefail reports that (an ASan binary's headers
# are over 4 KiB: package_install failed so under load)
objdump -p "$m" | grep -E 'NEEDED +libmtdgate\.so\.[0-9]+$' >/dev/null ||
	fail "mtdgate does not link libmtdgate.so.N"
[ -f "$p/$libdir/libmtdgate_sdk.a" ] || fail "the SDK library is not installed"
[ -f "$p/$libdir/libmtdgate_wire.a" ] || fail "the wire layer the SDK links is not installed"
for f in share/man/man1/mtdgate.1 share/man/man1/mtdgate-evaluate.1 \
         share/bash-completion/completions/mtdgate; do
  [ -f "$p/$f" ] || fail "$f is not installed"
done
for h in mtdgate.h plugin.h sdk.h wire.h wire_json.h; do
  [ -f "$p/include/mtdgate/$h" ] || fail "include/mtdgate/$h is not installed"
done

# --- the runner from another directory finds its plugins and rules
mkdir "$work/elsewhere"
cd "$work/elsewhere"
"$m" --version | grep -q '^mtdgate ' || fail "--version"
"$m" init >/dev/null
"$m" plugin list >"$work/plugins.txt"
grep -q '^generic ' "$work/plugins.txt" || fail "the installed runner lists no generic plugin"
grep -q '^lookout ' "$work/plugins.txt" || fail "the installed runner lists no lookout plugin"
"$m" rules check >"$work/rules.txt" || { cat "$work/rules.txt"; fail "rules check"; }
tail -n 1 "$work/rules.txt" | grep -qF "$p/" || fail "the default rules are not the installed ones: $(tail -n 1 "$work/rules.txt")"
"$m" connector add generic >/dev/null || fail "connector add generic (plugin not found?)"

# --- the template vendor, out of tree, with pkg-config
export PKG_CONFIG_PATH=$p/$libdir/pkgconfig
tpl=$src/plugins/template
mkdir "$work/pc"
# shellcheck disable=SC2046
"$cc" -std=c17 -O1 -fPIC -shared -fvisibility=hidden $san -Wl,-z,defs \
  -o "$work/pc/example.so" "$tpl/example.c" $(pkg-config --cflags --libs mtdgate-sdk)
"$m" plugin check "$work/pc/example.so" --fixtures "$tpl/fixtures" >"$work/check.txt" ||
  { cat "$work/check.txt"; fail "plugin check of the pkg-config build"; }

# --- the same with the CMake package
cmake -S "$tpl" -B "$work/cm" -DCMAKE_PREFIX_PATH="$p" -DCMAKE_C_COMPILER="$cc" \
  -DCMAKE_C_FLAGS="$san" -DCMAKE_MODULE_LINKER_FLAGS="$san" >/dev/null
cmake --build "$work/cm" >/dev/null
"$m" plugin check "$work/cm/example.so" --fixtures "$tpl/fixtures" >"$work/check.txt" ||
  { cat "$work/check.txt"; fail "plugin check of the CMake build"; }

# --- an application of libmtdgate, with pkg-config and with the CMake package
mkdir "$work/app"
cat >"$work/app/app.c" <<'C'
#include <mtdgate/mtdgate.h>
#include <stdio.h>
int main(void)
{
	mtd_config cfg = {0};
	mtd_t *h = NULL;
	int rc;
	cfg.db_path = "app.db";
	cfg.rules_dir = ".";
	cfg.plugin_dir = ".";
	rc = mtd_open(&cfg, &h);
	if (rc == 0)
		rc = mtd_init(h, "commercial");
	printf("%s\n", mtd_errname(rc));
	mtd_close(h);
	return rc != 0;
}
C
# shellcheck disable=SC2046
"$cc" -std=c17 $san -o "$work/app/app" "$work/app/app.c" $(pkg-config --cflags --libs mtdgate)
(cd "$work/app" && LD_LIBRARY_PATH=$p/$libdir ./app) | grep -qx MTD_EOK || fail "the pkg-config application"
cat >"$work/app/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.18)
project(app C)
find_package(mtdgate REQUIRED)
add_executable(app app.c)
target_link_libraries(app PRIVATE mtdgate::mtdgate)
CM
cmake -S "$work/app" -B "$work/app/b" -DCMAKE_PREFIX_PATH="$p" -DCMAKE_C_COMPILER="$cc" \
  -DCMAKE_C_FLAGS="$san" -DCMAKE_EXE_LINKER_FLAGS="$san" >/dev/null
cmake --build "$work/app/b" >/dev/null
rm -f "$work/app/app.db"
(cd "$work/app" && b/app) | grep -qx MTD_EOK || fail "the CMake application"
echo "ok: installed into a prefix, moved, used from elsewhere; template built with pkg-config and CMake"
