#!/usr/bin/env bash
# Schemathesis against the local server over real HTTP: `app-tokens serve` on a free port, the
# admin token it prints, the OpenAPI document it serves, every phase and every check
# (tests/fuzz/schemathesis.toml). Repeatable: a fixed seed and a time bound.
#   FUZZ_SECONDS   time budget of the run (default 100: `make fuzz`, used by CI)
#   FUZZ_EXAMPLES  examples per operation and phase (default 40)
#   FUZZ_SEED      the seed (default 20261129)
#   FUZZ_PHASES    phases to run (default: all four)
#   FUZZ_LOG       a file to keep the server's log in (its access lines show every request)
# `make fuzz-long` runs 15 minutes with 500 examples. Exits with schemathesis's status, or 1 when some
# operation of the document never answered 2xx (tests/fuzz/every_operation_answered.py).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${VENV:-.venv}/bin"
seconds="${FUZZ_SECONDS:-100}" examples="${FUZZ_EXAMPLES:-40}" seed="${FUZZ_SEED:-20261129}"

. scripts/local-server.sh
cleanup() {
  stop_server || true
  if [ -n "${FUZZ_LOG:-}" ]; then cp "$log" "$FUZZ_LOG"; fi
  rm -rf "$work"
}
trap cleanup EXIT

start_server fuzz || exit 1

echo "fuzz: seed $seed, at most $seconds s and $examples examples per operation and phase"
status=0
# The admin token's id (atok_<id>_<secret>): the hooks never let the run revoke its own credential.
protected=$(echo "$token" | cut -d_ -f2)
FUZZ_PROTECTED_TOKEN_ID="$protected" PYTHONPATH=. "$BIN/st" --config-file tests/fuzz/schemathesis.toml run "$api/openapi.json" \
  --header "Authorization: Bearer $token" \
  --seed "$seed" --max-time "$seconds" --max-examples "$examples" \
  --generation-database none --no-color ${FUZZ_PHASES:+--phases "$FUZZ_PHASES"} \
  --report json --report-json-path "$work/report.json" || status=$?
# A run that never got a 2xx from some operation did not test it (issue 13).
if [ "$status" -eq 0 ]; then
  "$BIN/python" tests/fuzz/every_operation_answered.py docs/openapi.json "$log" || status=$?
fi
if [ "$status" -ne 0 ]; then
  echo "--- server stderr (last 40 lines)" >&2
  tail -n 40 "$log" >&2
  grep -q Traceback "$log" && echo "fuzz: the server logged a traceback" >&2
fi
exit "$status"
