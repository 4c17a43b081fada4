#!/usr/bin/env bash
# libmtdgate.so exports the functions of the public header and nothing else.
#   exports.sh LIBMTDGATE.so include/mtdgate/mtdgate.h
set -euo pipefail
lib=$1 header=$2
fail() { echo "FAIL: $*"; exit 1; }
soname=$(objdump -p "$lib" | awk '$1 == "SONAME" { print $2 }')
[[ $soname =~ ^libmtdgate\.so\.[0-9]+$ ]] || fail "soname is '$soname', not libmtdgate.so.N"
# Declared: a function name followed by '(' on a line of the header that is
# not a comment, a macro or a typedef.
declared=$(grep -v -E '^\s*(\*|/\*|#|typedef)' "$header" |
           grep -o -E '\bmtd_[a-z0-9_]+\(' | tr -d '(' | sort -u)
exported=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVWi]$/ { sub(/@.*/, "", $3); print $3 }' |
           sort -u)
[ -n "$exported" ] || fail "nothing exported"
extra=$(comm -13 <(echo "$declared") <(echo "$exported"))
missing=$(comm -23 <(echo "$declared") <(echo "$exported"))
[ -z "$extra" ] || fail "exported but not in $(basename "$header"): $(echo $extra)"
[ -z "$missing" ] || fail "declared but not exported: $(echo $missing)"
for s in mtd_open mtd_close mtd_evaluate mtd_report; do
  grep -qx "$s" <<<"$exported" || fail "$s is not exported"
done
echo "ok: $soname exports the $(wc -l <<<"$exported") functions of $(basename "$header") and nothing else"
