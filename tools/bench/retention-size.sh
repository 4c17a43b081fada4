#!/usr/bin/env bash
# The store's size under simulated operation, and what audit prune keeps it at
# (README, "Exports and retention"). Not a test: a measurement to run by hand.
#
#   tools/bench/retention-size.sh DEVICES DAYS KEEP [BUILD_DIR]
#
# A fleetgen fleet of DEVICES devices; DAYS simulated days (time compressed with
# --now), each: three normalized threat reports a device (levels drawn: 92% secured,
# 5% low, 2% medium, 1% high), one ingest, one evaluate; after each day the store's
# used bytes (pages in use) and file size. Then audit prune of everything but the
# last KEEP days, and the sizes again (in use, file, and after VACUUM of a copy).
set -euo pipefail
devices=${1:?devices} days=${2:?days} keep=${3:?keep} build=${4:-build}
root=$(cd "$(dirname "$0")/../.." && pwd)
M="$root/$build/bin/mtdgate"
dir=$(mktemp -d "${TMPDIR:-/tmp}/retention.XXXXXX")
trap 'rm -rf "$dir"' EXIT
db="$dir/m.db"
t0=1709251200 # 2024-03-01T00:00:00Z
"$root/$build/bin/fleetgen" --devices "$devices" "$dir" >/dev/null
m() { "$M" --db "$db" --now "$1" "${@:2}"; }
used() {
  python3 - "$db" <<'PY'
import sqlite3, sys, os
c = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
ps, pc, fl = (c.execute(f"PRAGMA {p}").fetchone()[0] for p in ("page_size", "page_count", "freelist_count"))
ml = c.execute("SELECT coalesce(sum(length(entries)),0) FROM message_log").fetchone()[0]
print(f"{(pc - fl) * ps} {os.path.getsize(sys.argv[1])} {ml}")
PY
}
m $t0 init >/dev/null
m $t0 device import "$dir/devices.jsonl" >/dev/null
m $t0 connector add generic >/dev/null
echo "{\"type\":\"provision\",\"at\":$t0}" | m $t0 ingest generic --normalized - >/dev/null
m $t0 connector set generic android=on ios=on windows=on macos=on >/dev/null
cut "$dir/devices.jsonl" -d'"' -f4 > "$dir/ids"
echo "day used_bytes file_bytes message_log_bytes"
for day in $(seq 1 "$days"); do
  start=$((t0 + (day - 1) * 86400))
  python3 - "$dir/ids" "$start" "$day" > "$dir/day.jsonl" <<'PY'
import random, sys
ids = open(sys.argv[1]).read().split()
start, day = int(sys.argv[2]), int(sys.argv[3])
random.seed(day)
w = sys.stdout.write
for k in range(3):
    for i, d in enumerate(ids):
        r = random.random()
        lv = "secured" if r < .92 else "low" if r < .97 else "medium" if r < .99 else "high"
        w('{"type":"threat","device":"%s","level":"%s","at":%d,"threats":[]}\n'
          % (d, lv, start + k * 28800 + i % 28000))
PY
  end=$((start + 86399))
  m $end ingest generic --normalized "$dir/day.jsonl" >/dev/null
  m $end evaluate >/dev/null
  echo "$day $(used)"
done
before=$((t0 + (days - keep) * 86400))
now=$((t0 + days * 86400))
m $now audit prune --before $before --archive "$dir/archive.db"
m $now audit verify | head -1
echo "after prune (kept $keep days): $(used) archive_bytes $(stat -c %s "$dir/archive.db")"
cp "$db" "$dir/v.db"
python3 -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('VACUUM'); c.close()" "$dir/v.db"
echo "vacuumed copy: $(stat -c %s "$dir/v.db") bytes"
