#!/usr/bin/env bash
# The generated-client check (issue 13): openapi-python-client, pinned in its own virtualenv
# (.client-venv, from tests/client/requirements.txt), generates a client from docs/openapi.json and
# must print no warning; the client is installed into that virtualenv; then
# tests/client/drive_generated_client.py, run by that virtualenv's interpreter (it never imports the
# project), drives every operation and every reachable documented status through the generated
# client against `app-tokens serve --port 0`, each answer parsed into its typed model with no
# unknown property. Always stops the server.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${VENV:-.venv}/bin"
CLIENT_VENV="${CLIENT_VENV:-.client-venv}"
requirements=tests/client/requirements.txt
stamp="$CLIENT_VENV/.installed"

if [ ! -f "$stamp" ] || ! cmp -s "$requirements" "$stamp"; then
  rm -rf "$CLIENT_VENV"
  python3 -m venv "$CLIENT_VENV"
  "$CLIENT_VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps --requirement "$requirements"
  "$CLIENT_VENV/bin/python" -m pip check
  cp "$requirements" "$stamp"
fi

. scripts/local-server.sh
cleanup() {
  stop_server || true
  rm -rf "$work"
}
trap cleanup EXIT

# The generator runs ruff on what it wrote (its post hooks): the virtualenv's own ruff, on PATH.
generated="$work/app-tokens-client"
status=0
PATH="$PWD/$CLIENT_VENV/bin:$PATH" "$CLIENT_VENV/bin/openapi-python-client" generate \
  --path docs/openapi.json --meta setup --output-path "$generated" --fail-on-warning \
  >"$work/generate.log" 2>&1 || status=$?
cat "$work/generate.log"
if [ "$status" -ne 0 ] || grep -qi 'warning' "$work/generate.log"; then
  echo "client-check: openapi-python-client failed or warned (exit $status)" >&2
  exit 1
fi
"$CLIENT_VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps \
  --no-build-isolation --force-reinstall "$generated"

start_server client-check || exit 1

status=0
API_URL="$api" ADMIN_TOKEN="$token" "$CLIENT_VENV/bin/python" tests/client/drive_generated_client.py \
  docs/openapi.json || status=$?
if [ "$status" -ne 0 ]; then
  echo "--- server stderr (last 40 lines)" >&2
  tail -n 40 "$log" >&2
fi
exit "$status"
