#!/usr/bin/env python3
"""Print fuzz/artifacts/campaign.tsv (one line per run, appended by campaign.sh) as the markdown
table of fuzz/README.md: per target its last run, plus what the target found (FOUND, kept by
hand: finding numbers from the README's Findings table)."""
import pathlib
import sys

FOUND = {
    "oauth2_token": "F1, F4, F7",
    "oauth2_error": "F1, F4, F5, F11",
    "callback": "F2, F10, H2",
    "par_sign_in": "F3, F6",
    "driver": "F3, F6",
    "url_form": "F8",
    "http_request": "F9",
    "json_parser": "H1",
}
path = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "fuzz/artifacts/campaign.tsv")
last = {}
for line in path.read_text().splitlines():
    t, san, execs, rate, corp, secs, result = line.split("\t")
    last[t] = (san, execs, rate, corp, secs, result)
print("| target | executions | exec/s | corpus (files) | time | sanitizer | found over all runs | this run |")
print("|---|---:|---:|---:|---:|---|---|---|")
for t in sorted(last):
    san, execs, rate, corp, secs, result = last[t]
    execs = f"{int(execs):,}" if execs.isdigit() else execs
    rate = f"{int(rate):,}" if rate.isdigit() else rate
    mins = f"{int(secs) / 60:.1f} min" if secs.isdigit() else secs
    result = "0 crashes" if result == "ok" else result
    print(f"| `{t}` | {execs} | {rate} | {corp} | {mins} | {san} | {FOUND.get(t, '—')} | {result} |")
