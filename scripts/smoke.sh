#!/usr/bin/env bash
# Smoke test over real HTTP: start `app-tokens serve` on a free port, then list, create and revoke
# with curl (and call the example API through the token authorizer), using the admin token the server prints, exactly as the README tells a newcomer to.
# Exits non-zero with the server's log on any unexpected status; always stops the server.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${VENV:-.venv}/bin"
command -v curl >/dev/null || { echo "smoke: curl is needed (apt-get install curl)" >&2; exit 1; }

. scripts/local-server.sh
body="$work/body"
cleanup() {
  stop_server || true
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "smoke: $*" >&2
  echo "--- server stdout" >&2; cat "$out" >&2
  echo "--- server stderr" >&2; tail -n 50 "$log" >&2
  exit 1
}

start_server smoke || fail "the server did not start"
url="$api/v1/orgs/demo/apps/demo-app/tokens"

expect() {  # expect STATUS DESCRIPTION curl-args...
  local want=$1 what=$2 got
  shift 2
  got=$(curl -s --max-time 10 -o "$body" -w '%{http_code}' "$@") || true
  [ "$got" = "$want" ] || fail "$what: expected $want, got $got: $(cat "$body" 2>/dev/null)"
  echo "smoke: $what -> $got"
}
field() {  # field NAME: a top-level field of the last JSON body, or the token's
  "$BIN/python" -c 'import json, sys; b = json.load(open(sys.argv[1])); print(b.get(sys.argv[2]) or b["token"][sys.argv[2]])' "$body" "$1"
}

expect 200 "list" -H "Authorization: Bearer $token" "$url"
expect 201 "create" -X POST -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  -d '{"name": "smoke", "permissions": ["app_tokens:list"]}' "$url"
new_id=$(field token_id)
new_token=$(field plaintext_token)
expect 200 "list with the new token" -H "Authorization: Bearer $new_token" "$url"
expect 200 "the example API behind the authorizer" -H "Authorization: Bearer $new_token" "$api/v1/hello"
expect 403 "a route asking for a permission the token lacks" -H "Authorization: Bearer $new_token" \
  "$api/v1/workspaces/ws-1/hello"
expect 204 "revoke" -X DELETE -H "Authorization: Bearer $token" "$url/$new_id"
expect 401 "the revoked token" -H "Authorization: Bearer $new_token" "$url"
expect 401 "the revoked token, at the authorizer" -H "Authorization: Bearer $new_token" "$api/v1/hello"
expect 401 "no token" "$url"
expect 422 "a bad limit" -H "Authorization: Bearer $token" "$url?limit=0"
expect 404 "an unknown route" "$api/v1/nothing"
expect 200 "the OpenAPI document" "$api/openapi.json"
stop_server || fail "the server did not stop cleanly on SIGTERM (exit $?)"
grep -q '^stopped$' "$out" || fail "the server did not say it stopped"
echo "smoke: stopped cleanly"
echo "smoke: passed"
