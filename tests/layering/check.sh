#!/bin/sh
# The core never stands on the plugin SDK (STYLE.md "Lessons from our own
# code"; issue 14 "Layering"): no source of core/ (or of the runner) includes
# mtdgate/sdk.h or names an mtd_sdk_ function, the core's library neither
# defines nor needs an mtd_sdk_ symbol, and wire.h includes only C standard
# headers. Usage: check.sh SRCDIR LIBMTDGATE.a RUNNER
#        check.sh --self-test  (the checks refuse a tree that breaks them)
set -u
fail() { echo "layering: $*" >&2; exit 1; }

# sources_clean DIR...: 0 when no C source in DIR includes the SDK or names it.
sources_clean() {
	bad=$(grep -rnE '#[[:space:]]*include[[:space:]]*[<"](mtdgate/)?(sdk\.h|mp_write\.h)[>"]|\bmtd_sdk_[a-z_]+|\bMTD_SDK_[A-Z_]+' \
		--include='*.c' --include='*.h' "$@" 2>/dev/null)
	[ -z "$bad" ] && return 0
	echo "$bad" >&2
	return 1
}

# wire_header_clean FILE: 0 when FILE includes only <std*.h> and nothing of the SDK.
wire_header_clean() {
	bad=$(grep -nE '^[[:space:]]*#[[:space:]]*include' "$1" | grep -vE '<std(arg|def|int|bool)\.h>')
	[ -z "$bad" ] && return 0
	echo "$bad" >&2
	return 1
}

if [ "${1:-}" = "--self-test" ]; then
	t=$(mktemp -d) || exit 1
	chmod 700 "$t"
	trap 'rm -rf "$t"' EXIT
	mkdir "$t/core"
	printf '#include "mtdgate/wire.h"\nint f(void) { return mtd_level_name(1)[0]; }\n' >"$t/core/good.c"
	sources_clean "$t/core" 2>/dev/null || fail "self-test: a clean core refused"
	printf '#include "mtdgate/sdk.h"\n' >"$t/core/bad.c"
	sources_clean "$t/core" 2>/dev/null && fail "self-test: an include of sdk.h passed"
	printf 'int g(void) { return mtd_sdk_get_id(0, 0, 0, 0, 0, 0); }\n' >"$t/core/bad.c"
	sources_clean "$t/core" 2>/dev/null && fail "self-test: a call of mtd_sdk_get_id passed"
	printf '#include <stdint.h>\n#include <jansson.h>\n' >"$t/wire.h"
	wire_header_clean "$t/wire.h" 2>/dev/null && fail "self-test: jansson in wire.h passed"
	printf '#include <stdint.h>\n#include <stddef.h>\n' >"$t/wire.h"
	wire_header_clean "$t/wire.h" 2>/dev/null || fail "self-test: a clean wire.h refused"
	echo "layering self-test: ok"
	exit 0
fi

[ $# -eq 3 ] || fail "usage: check.sh SRCDIR LIBMTDGATE.a RUNNER"
src=$1 lib=$2 runner=$3
sources_clean "$src/core" || fail "core/ stands on the plugin SDK (above)"
# the runner: mtdgate.c, serve.c, cli.c, output.c, every cmd_*.c and their headers
sources_clean "$src"/tools/mtdgate.c "$src"/tools/serve.c "$src"/tools/cli.[ch] \
	"$src"/tools/cmd_*.c "$src"/tools/output.[ch] ||
	fail "the runner stands on the plugin SDK (above)"
wire_header_clean "$src/plugins/include/mtdgate/wire.h" ||
	fail "wire.h includes more than C standard headers (above)"
# What was linked, not only what was written: no SDK object in the core's
# archive, no SDK symbol needed by it or by the runner.
syms=$(nm -A "$lib" "$runner" 2>/dev/null | grep -E ' [TtUDdBbRr] mtd_sdk_') &&
	{ echo "$syms" >&2; fail "mtd_sdk_ symbols in the core or the runner (above)"; }
nm "$lib" >/dev/null 2>&1 || fail "cannot read $lib"
nm "$lib" | grep -q ' T mtd_store_open' || fail "$lib: not the core's archive"
echo "layering: ok"
