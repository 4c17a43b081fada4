#!/usr/bin/env bash
# The man pages and the bash completion say what 'mtdgate --help' says:
# every line of the runner's help (main and per command) is in its page,
# groff finds nothing to warn about, and the completion offers every
# command, subcommand and option the help names.
#   docs.sh MTDGATE DOC_DIR
set -euo pipefail
m=$1 doc=$2
fail() { echo "FAIL: $*"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Roff source back to text lines, trimmed.
plain() { sed -e 's/\\-/-/g; s/\\e/\\/g; s/^\\&//; s/^[[:space:]]*//; s/[[:space:]]*$//' "$1"; }
# Help text lines, "usage: " and indentation taken off.
lines() { sed -e 's/^usage: //; s/^[[:space:]]*//; s/[[:space:]]*$//' | grep -v '^$' || true; }
same() { # help-lines-file man-page
  plain "$2" >"$work/page"
  while IFS= read -r l; do
    grep -qxF -- "$l" "$work/page" || fail "$(basename "$2") lacks the help line: $l"
  done <"$1"
}

commands=$("$m" --dump-commands | sed -n 's/^@command //p')
[ -n "$commands" ] || fail "no commands in the dump"
"$m" --help | lines >"$work/help"
same "$work/help" "$doc/mtdgate.1"
for c in $commands; do
  [ -f "$doc/mtdgate-$c.1" ] || fail "no page for $c"
  "$m" "$c" --help | lines >"$work/help"
  same "$work/help" "$doc/mtdgate-$c.1"
  grep -q "^mtdgate\\\\-$c \\\\- " "$doc/mtdgate-$c.1" || fail "mtdgate-$c.1 has no NAME line"
done
for p in "$doc"/*.1; do
  w=$(LC_ALL=C.UTF-8 groff -man -Tutf8 -ww -z "$p" 2>&1) || fail "groff failed on $p"
  [ -z "$w" ] || fail "groff warns on $(basename "$p"): $w"
done

# --- help and --version
cmp -s <("$m" help) <("$m" --help) || fail "'mtdgate help' is not 'mtdgate --help'"
for c in $commands; do
  cmp -s <("$m" help "$c") <("$m" "$c" --help) || fail "'mtdgate help $c' is not '$c --help'"
done
rc=0; "$m" help no-such-command >/dev/null 2>"$work/err" || rc=$?
[ "$rc" -eq 64 ] && grep -q "'no-such-command' is not a command" "$work/err" ||
  fail "'help no-such-command' gave $rc: $(cat "$work/err")"
"$m" --version | grep -Eq '^mtdgate [0-9]+\.[0-9]+\.[0-9]+ \(plugin ABI [0-9]+\.[0-9]+\)$' ||
  fail "--version: $("$m" --version)"
version=$("$m" --version | cut -d' ' -f2)
grep -q "\"mtdgate $version\"" "$doc/mtdgate.1" || fail "mtdgate.1 is not of version $version"

# --- completion: run the function as bash would
complete_words() { # the words typed so far, the last one being completed
  bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _mtdgate
           printf "%s\n" "${COMPREPLY[@]}"' _ "$doc/mtdgate.bash" "$@"
}
got=$(complete_words mtdgate "")
for c in $commands; do grep -qx "$c" <<<"$got" || fail "completion lacks the command $c"; done
[ "$(complete_words mtdgate con)" = connector ] || fail "'mtdgate con' does not complete to connector"
got=$(complete_words mtdgate connector "" | sort | tr '\n' ' ')
[ "$got" = "add list remove set token " ] || fail "connector subcommands: '$got'"
got=$(complete_words mtdgate --db x.db rules "" | sort | tr '\n' ' ')
[ "$got" = "check test " ] || fail "rules subcommands after --db FILE: '$got'"
got=$(complete_words mtdgate --plugin-isolation "" | sort | tr '\n' ' ')
[ "$got" = "auto none process " ] || fail "--plugin-isolation values: '$got'"
[ "$(complete_words mtdgate report --st)" = --state ] || fail "report --st"
[ "$(complete_words mtdgate init --cloud gcc)" = gcc_high ] || fail "init --cloud gcc"
[ "$(complete_words mtdgate help eva)" = evaluate ] || fail "help eva"
got=$(complete_words mtdgate evaluate --)
for o in --dry-run --db --rules --now; do grep -qx -- "$o" <<<"$got" || fail "evaluate -- lacks $o"; done
# every option named in a command's help is offered after that command
for c in $commands; do
  got=$(complete_words mtdgate "$c" --)
  for o in $("$m" "$c" --help | grep -E '^(usage: |       mtdgate |  +\[)' | grep -oE -- '--[a-z][a-z-]*' | sort -u); do
    grep -qx -- "$o" <<<"$got" || fail "completion of '$c --' lacks $o"
  done
done
# every option of a command's table (the dump's @option lines) is offered
# after it, and every subcommand of its @subcommands line
"$m" --dump-commands >"$work/dump"
for c in $commands; do
  got=$(complete_words mtdgate "$c" --)
  for o in $(awk -v c="$c" '/^@command /{cur=$2} /^@option /&&cur==c{print $2}' "$work/dump"); do
    grep -qx -- "$o" <<<"$got" || fail "completion of '$c --' lacks $o (its option table)"
  done
  got=$(complete_words mtdgate "$c" "")
  for w in $(awk -v c="$c" '/^@command /{cur=$2} /^@subcommands /&&cur==c{$1=""; print}' "$work/dump"); do
    grep -qx -- "$w" <<<"$got" || fail "completion of '$c' lacks its subcommand $w"
  done
done
grep -q '^@option --output table|json|csv$' "$work/dump" || fail "no command has --output"
echo "ok: $(wc -w <<<"$commands") commands; man pages and completion agree with --help"
