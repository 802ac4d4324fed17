#!/usr/bin/env python3
"""Print fuzz/artifacts/campaign.tsv as the README's markdown table (last run per target and
sanitizer wins; earlier runs that stopped on a harness bug are summed into 'executions')."""
import pathlib
import sys

FINDINGS = {
    "oauth2_token": "F1, F4, F7 (harness: 1)",
    "oauth2_error": "F1, F4, F5",
    "callback": "F2",
    "par_sign_in": "F3, F6",
    "driver": "F3, F6",
    "url_form": "F8",
    "http_request": "F9",
}
rows = {}
order = []
path = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "fuzz/artifacts/campaign.tsv")
for line in path.read_text().splitlines():
    t, san, execs, rate, corp, secs, result = line.split("\t")
    key = (t, san)
    if key not in rows:
        order.append(key)
        rows[key] = dict(execs=0, secs=0, runs=0)
    r = rows[key]
    r["runs"] += 1
    if execs.isdigit():
        r["execs"] += int(execs)
        r["secs"] += int(secs)
    r.update(rate=rate, corp=corp, result=result)
print("| target | sanitizer | executions | exec/s | corpus (files) | time | findings | last run |")
print("|---|---|---:|---:|---:|---:|---|---|")
for key in order:
    t, san = key
    r = rows[key]
    mins = f"{r['secs'] / 60:.0f} min"
    print(f"| `{t}` | {san} | {r['execs']:,} | {r['rate']} | {r['corp']} | {mins} | {FINDINGS.get(t, '—')} | {r['result']} |")
