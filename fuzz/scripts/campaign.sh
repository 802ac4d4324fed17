#!/usr/bin/env bash
# Long fuzz campaign: one target at a time, one process (the machine is shared; no -jobs), each until
# RUNS executions or MAX_SECONDS, whichever comes first. Appends one line per target to
# fuzz/artifacts/campaign.tsv: target sanitizer executions exec/s corpus seconds result.
#
#   fuzz/scripts/campaign.sh [TARGET[:SANITIZER] ...]
#
# RUNS (default 10000000), MAX_SECONDS (default 1800), SANITIZER (default address).
# Known, not yet fixed findings are skipped as fuzz/known-issues says (see README.md).
set -euo pipefail
FUZZ="$(cd "$(dirname "$0")/.." && pwd)"
cd "$FUZZ"
export RUSTC_BOOTSTRAP=1
RUNS="${RUNS:-10000000}"
MAX_SECONDS="${MAX_SECONDS:-1800}"
if [ -z "${SSOFLOW_FUZZ_SKIP+x}" ] && [ -f known-issues ]; then
  SSOFLOW_FUZZ_SKIP="$(grep -v '^\s*#' known-issues | awk '{print $1}' | grep . | paste -sd, - || true)"
fi
export SSOFLOW_FUZZ_SKIP="${SSOFLOW_FUZZ_SKIP:-}"
HOST="$(rustc -vV | sed -n 's/^host: //p')"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo fuzz list)
mkdir -p artifacts
for spec in "${targets[@]}"; do
  t="${spec%%:*}"
  san="${SANITIZER:-address}"
  [ "$spec" != "$t" ] && san="${spec#*:}"
  td=target
  [ "$san" = address ] || td="target/sanitizer-$san"
  bin="$td/$HOST/release/$t"
  if ! cargo fuzz build -O -a -s "$san" --target-dir "$td" "$t" >"artifacts/build-$t.log" 2>&1; then
    # The crates are shared with people editing them: fuzz the last good build if there is one.
    if [ -x "$bin" ]; then
      echo "warning: build of $t failed (see artifacts/build-$t.log); fuzzing the previous build" >&2
    else
      printf '%s	%s	-	-	-	0	build failed\n' "$t" "$san" | tee -a artifacts/campaign.tsv
      continue
    fi
  fi
  corpus="corpus/$t"
  mkdir -p "$corpus" "artifacts/$t"
  cp -n "seeds/$t"/* "$corpus"/ 2>/dev/null || true
  dict=dict/json.dict
  case "$t" in http_response | http_request | chunked | embedded_driver) dict=dict/http.dict ;; esac
  log="artifacts/$t/campaign-$san.log"
  start=$(date +%s)
  result=ok
  "$bin" "$corpus" -dict="$dict" -runs="$RUNS" -max_total_time="$MAX_SECONDS" \
    -print_final_stats=1 -artifact_prefix="artifacts/$t/" -timeout=10 -rss_limit_mb=4096 \
    >"$log" 2>&1 || result=crash
  secs=$(($(date +%s) - start))
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
  rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)"
  corp="$(ls "$corpus" | wc -l)"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$san" "${execs:-?}" "${rate:-?}" "$corp" "$secs" "$result" | tee -a artifacts/campaign.tsv
done
