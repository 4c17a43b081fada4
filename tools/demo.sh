#!/usr/bin/env bash
# The main job on the bundled sample fleet (samples/fleet): install what is
# missing, build, then run a tenant of 300 devices end to end and print the
# report. The store is out/demo.db; run it again to start over.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
m() { build/bin/mtdgate --db out/demo.db "$@"; }
say() { printf '\n== %s\n' "$*"; }
mkdir -p out
rm -f out/demo.db out/demo.db-wal out/demo.db-shm
S=samples/fleet

say "a new store, the fleet and its iOS app inventory"
m init
m device import $S/devices.jsonl
m inventory import $S/inventory.jsonl

say "connector: added, provisioned by the partner, switched on for every platform"
m connector add generic
m --now 2026-11-18T13:10:00Z ingest generic --normalized $S/day1.jsonl
m --now 2026-11-18T13:10:00Z connector set generic android=on ios=on windows=on macos=on mam_android=on mam_ios=on
m --now 2026-11-18T13:10:00Z connector list

say "day 1: threat reports in, every device evaluated"
m --now 2026-11-18T13:10:00Z evaluate

say "day 2: newer reports remediate some devices; what would change?"
m --now 2026-11-19T13:10:00Z ingest generic --normalized $S/day2.jsonl
m --now 2026-11-19T13:10:00Z evaluate --dry-run | tail -n 4
m --now 2026-11-19T13:10:00Z evaluate

say "noncompliant devices (the full report is in out/report.txt and out/report.jsonl)"
m report > out/report.txt
m report --json > out/report.jsonl
m report --state noncompliant

say "an unenrolled device whose apps are blocked, and the whole fleet"
m report --device dev-000010 | head -n 3
tail -n 1 out/report.txt
