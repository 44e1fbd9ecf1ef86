#!/usr/bin/env bash
# After scripts/demo.sh (`make demo`): start the web console on the demo workspace for a moment, log in as
# alice through its login form (CSRF token and cookie, like a browser), then print the URL and that login.
set -euo pipefail

WS="${DEMO_WORKSPACE:-$PWD/demo-workspace}"
PORT="${DEMO_CONSOLE_PORT:-7860}"
USER_NAME="${DEMO_CONSOLE_USER:-alice}"
PASSWORD="${DEMO_CONSOLE_PASSWORD:-demo-alice-password}"
URL="http://127.0.0.1:$PORT"
JAR="$(mktemp)"
LOG="$(mktemp)"
trap 'rm -f "$JAR" "$LOG"; [ -n "${CONSOLE_PID:-}" ] && kill "$CONSOLE_PID" 2>/dev/null || true' EXIT

printf '\n\033[1m== %s\033[0m\n' "15. The web console (stockade webui): start it, log in as $USER_NAME, stop it"
stockade --workspace "$WS" webui --port "$PORT" >"$LOG" 2>&1 &
CONSOLE_PID=$!
for _ in $(seq 60); do
  curl -sf -o /dev/null "$URL/login" && break
  kill -0 "$CONSOLE_PID" 2>/dev/null || { cat "$LOG"; exit 1; }
  sleep 0.5
done
CSRF="$(curl -sf -c "$JAR" "$URL/login" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' | head -1)"
curl -s -b "$JAR" -c "$JAR" -o /dev/null --data-urlencode "csrf=$CSRF" --data-urlencode "name=$USER_NAME" \
  --data-urlencode "password=$PASSWORD" "$URL/login"
if ! curl -sf -b "$JAR" "$URL/jobs" | grep -q "$USER_NAME ("; then
  echo "the console did not accept the login of $USER_NAME" >&2
  exit 1
fi
kill -TERM "$CONSOLE_PID"
wait "$CONSOLE_PID" || true
CONSOLE_PID=
echo "Web console: STOCKADE_HOME=$WS stockade webui --port $PORT"
echo "  then open $URL/ and log in as $USER_NAME / $PASSWORD (checked just now; bob / demo-bob-password approves)"
