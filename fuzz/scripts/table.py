#!/usr/bin/env python3
"""Print fuzz/artifacts/campaign.tsv (one line per run, written by campaign.sh) as a markdown
table. Runs from line FIRST_ALL_ON on (1-based, default: none) are marked as having every check
on; earlier ones as having the then-open findings' checks off (fuzz/known-issues)."""
import pathlib
import sys

path = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "fuzz/artifacts/campaign.tsv")
first_all_on = int(sys.argv[2]) if len(sys.argv) > 2 else 10**9
print("| target | sanitizer | executions | exec/s | corpus (files) | time | checks | result |")
print("|---|---|---:|---:|---:|---:|---|---|")
for n, line in enumerate(path.read_text().splitlines(), 1):
    t, san, execs, rate, corp, secs, result = line.split("\t")
    execs = f"{int(execs):,}" if execs.isdigit() else execs
    rate = f"{int(rate):,}" if rate.isdigit() else rate
    mins = f"{int(secs) / 60:.0f} min" if secs.isdigit() else secs
    checks = "all on, fixed core" if n >= first_all_on else "open findings off"
    print(f"| `{t}` | {san} | {execs} | {rate} | {corp} | {mins} | {checks} | {result} |")
