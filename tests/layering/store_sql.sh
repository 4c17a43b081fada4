#!/bin/sh
# The store owns every SQL statement (issue 15, "The engine, legible"): no C
# source of core/ or of the runner outside the store (core/store*.[ch]) holds
# SQL text, prepares or runs a statement of its own, or reads a column by
# number; callers get statements from the store and rows from its typed
# readers. Usage: store_sql.sh SRCDIR
#        store_sql.sh --self-test  (the check refuses a tree that breaks it)
set -u
fail() { echo "store_sql: $*" >&2; exit 1; }

# Files still being moved into the store; each must still offend (a file
# that no longer does leaves this list).
PENDING="
"

# offences FILE...: what in FILE is the store's business (grep -n lines).
offences() {
	grep -nE 'sqlite3_(column_[a-z0-9]+|prepare[a-z0-9_]*|exec)[[:space:]]*\(|"[[:space:]]*(SELECT|INSERT|UPDATE|DELETE|BEGIN|COMMIT|ROLLBACK|CREATE|PRAGMA|WITH|REPLACE|ALTER|DROP|VACUUM|ATTACH|DETACH|SAVEPOINT|RELEASE|FROM|WHERE|ORDER BY|JOIN|VALUES|ON CONFLICT)([[:space:]]|"|$)' "$@" 2>/dev/null
}

# check DIR: 0 when every C source under DIR/core and DIR/tools (not the
# benchmarks, which read a store as a client) is clean or pending.
check() {
	rc=0
	for f in "$1"/core/*.c "$1"/core/*.h "$1"/tools/*.c "$1"/tools/*.h; do
		[ -e "$f" ] || continue
		b=${f#"$1"/}
		case $b in core/store.[ch] | core/store_*.[ch]) continue ;; esac
		pending=0
		for p in $PENDING; do [ "$p" = "$b" ] && pending=1; done
		if bad=$(offences "$f"); then
			if [ $pending = 0 ]; then
				echo "$bad" | sed "s|^|$b:|" >&2
				rc=1
			fi
		elif [ $pending = 1 ]; then
			echo "store_sql: $b is clean now: take it off PENDING in $0" >&2
			rc=1
		fi
	done
	return $rc
}

if [ "${1:-}" = "--self-test" ]; then
	t=$(mktemp -d) || exit 1
	chmod 700 "$t"
	trap 'rm -rf "$t"' EXIT
	mkdir "$t/core" "$t/tools"
	printf 'int f(void) { return 1; }\n' >"$t/core/good.c"
	printf 'static const char *q = "SELECT 1 FROM x";\n' >"$t/core/store_x.c"
	check "$t" 2>/dev/null || fail "self-test: a clean tree refused"
	printf 'int g(sqlite3_stmt *st) { return sqlite3_column_int(st, 0); }\n' >"$t/core/bad.c"
	check "$t" 2>/dev/null && fail "self-test: a column read outside the store passed"
	printf 'static const char *q =\n\t" FROM devices";\n' >"$t/core/bad.c"
	check "$t" 2>/dev/null && fail "self-test: SQL text outside the store passed"
	printf 'int h(sqlite3 *db) { return sqlite3_exec(db, q, 0, 0, 0); }\n' >"$t/tools/bad.c"
	rm "$t/core/bad.c"
	check "$t" 2>/dev/null && fail "self-test: sqlite3_exec in the runner passed"
	echo "store_sql self-test: ok"
	exit 0
fi

[ $# -eq 1 ] || fail "usage: store_sql.sh SRCDIR"
check "$1" || fail "SQL outside the store (above); move it into core/store*.c"
echo "store_sql: ok"
