#!/usr/bin/env bash
# Smoke test over real HTTP: start `app-tokens serve` on a free port, then list, create and revoke
# with curl (and call the example API through the token authorizer), using the admin token the server prints, exactly as the README tells a newcomer to.
# Exits non-zero with the server's log on any unexpected status; always stops the server.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${VENV:-.venv}/bin"
command -v curl >/dev/null || { echo "smoke: curl is needed (apt-get install curl)" >&2; exit 1; }

work=$(mktemp -d)
out="$work/stdout" log="$work/stderr" body="$work/body"
# No endpoint, key or table from the caller's shell: the embedded server and a demo admin token.
env -u AWS_ENDPOINT_URL -u AWS_ENDPOINT_URL_DYNAMODB -u TOKEN_HASH_KEY -u TABLE_NAME \
  "$BIN/app-tokens" serve --port 0 >"$out" 2>"$log" &
server=$!
stop() {  # TERM, up to 10 s to exit, then KILL; returns the server's exit status
  [ -n "$server" ] || return 0
  kill -TERM "$server" 2>/dev/null || true
  for _ in $(seq 1 40); do kill -0 "$server" 2>/dev/null || break; sleep 0.25; done
  kill -KILL "$server" 2>/dev/null || true
  local code=0
  wait "$server" 2>/dev/null || code=$?
  server=""  # reaped: its pid may now belong to another process
  return "$code"
}
cleanup() {
  stop || true
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "smoke: $*" >&2
  echo "--- server stdout" >&2; cat "$out" >&2
  echo "--- server stderr" >&2; tail -n 50 "$log" >&2
  exit 1
}

for _ in $(seq 1 240); do  # up to 60 s for a loaded machine; a healthy start takes two or three
  grep -q '^Ctrl-C stops' "$out" && break
  kill -0 "$server" 2>/dev/null || fail "the server exited while starting"
  sleep 0.25
done
grep -q '^Ctrl-C stops' "$out" || fail "the server did not start within 60 s"
api=$(sed -n 's/^API_URL=//p' "$out")
token=$(sed -n 's/^ADMIN_TOKEN=//p' "$out")
[ -n "$api" ] && [ -n "$token" ] || fail "no API_URL or ADMIN_TOKEN line in the banner"
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
stop || fail "the server did not stop cleanly on SIGTERM (exit $?)"
grep -q '^stopped$' "$out" || fail "the server did not say it stopped"
echo "smoke: stopped cleanly"
echo "smoke: passed"
