# Sourced by smoke.sh, fuzz.sh and client-check.sh: one `app-tokens serve` on a free port, with the
# embedded table and a demo admin token, started and stopped the same way for each.
#   start_server NAME   starts it and waits up to 60 s for its banner; sets $api and $token (the
#                       banner's API_URL and ADMIN_TOKEN); on failure prints the log, returns 1
#   stop_server         TERM, up to 10 s to exit, then KILL; returns the server's exit status
# $work is a scratch directory (the caller removes it), $out and $log the server's stdout and stderr.
work=$(mktemp -d)
out="$work/stdout" log="$work/stderr"
server=""

start_server() {
  local name=$1
  # No endpoint, key or table from the caller's shell: the embedded server and a demo admin token.
  env -u AWS_ENDPOINT_URL -u AWS_ENDPOINT_URL_DYNAMODB -u TOKEN_HASH_KEY -u TABLE_NAME \
    "$BIN/app-tokens" serve --port 0 >"$out" 2>"$log" &
  server=$!
  for _ in $(seq 1 240); do  # a healthy start takes two or three seconds; 60 s for a loaded machine
    grep -q '^Ctrl-C stops' "$out" && break
    kill -0 "$server" 2>/dev/null || { echo "$name: the server exited while starting" >&2; tail -n 40 "$log" >&2; return 1; }
    sleep 0.25
  done
  api=$(sed -n 's/^API_URL=//p' "$out")
  token=$(sed -n 's/^ADMIN_TOKEN=//p' "$out")
  if [ -z "$api" ] || [ -z "$token" ]; then
    echo "$name: the server did not start within 60 s (no API_URL or ADMIN_TOKEN line)" >&2
    tail -n 40 "$log" >&2
    return 1
  fi
}

stop_server() {
  [ -n "$server" ] || return 0
  kill -TERM "$server" 2>/dev/null || true
  for _ in $(seq 1 40); do kill -0 "$server" 2>/dev/null || break; sleep 0.25; done
  kill -KILL "$server" 2>/dev/null || true
  local code=0
  wait "$server" 2>/dev/null || code=$?
  server=""  # reaped: its pid may now belong to another process
  return "$code"
}
