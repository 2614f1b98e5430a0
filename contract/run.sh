#!/usr/bin/env bash
# The API contract suite. A fresh server (its own SQLite file, the demo seller and its
# catalog) and schemathesis, which reads /api/v1/openapi.json and drives every operation
# in it: examples, coverage, fuzzing and stateful phases, every check, a fixed seed.
#
#   contract/run.sh                 the whole suite, as `make test` runs it
#   contract/run.sh ARGS...         one run with these `schemathesis run` arguments, for
#                                   example `--include-path /api/v1/tasks`
#   STOCKROOM_BIN=target/debug/stockroom contract/run.sh   against a debug build
#
# A failure prints its case id and a curl command that repeats it; the reports (JUnit,
# NDJSON) are in target/contract/report and the server's log in target/contract/server.log.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=${STOCKROOM_BIN:-target/release/stockroom}
port=${CONTRACT_PORT:-3300}
venv=target/contract-venv
dir=target/contract
base="http://127.0.0.1:$port"

if [ ! -x "$bin" ]; then
    echo "No server binary at $bin: run 'make release' first (or set STOCKROOM_BIN)." >&2
    exit 2
fi
if [ ! -x "$venv/bin/schemathesis" ] || [ contract/requirements.txt -nt "$venv/.installed" ]; then
    echo "Installing the contract client into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r contract/requirements.txt
    touch "$venv/.installed"
fi

rm -rf "$dir" && mkdir -p "$dir"
export DATABASE_URL="sqlite://$dir/stockroom.db?mode=rwc"
"$bin" migrate > /dev/null
key=$("$bin" secret-key)
set -m
# The suite tries logins by the hundred from one address and logs the demo seller in
# again after each logout: the login limits' bursts are raised so that its own logins
# get through (their 429 answer is tested by the server's own tests).
export STOCKROOM_LOGIN_BURST_PER_EMAIL=100000 STOCKROOM_LOGIN_BURST_PER_CLIENT=100000
# The API's answers are under test, not the marketplace's pace: a calm, quick sandbox, so
# that a connection test does not queue behind the hundreds of calls the suite's tasks make.
export SANDBOX_TRANSIENT_ERROR_RATE=0 SANDBOX_RATE_LIMIT=1000 SANDBOX_BURST=100 SANDBOX_LATENCY_MS=5
export MARKETPLACE_RATE_LIMIT=500 MARKETPLACE_BURST=50
export STOCKROOM_DEMO=1 STOCKROOM_DEMO_CONNECTIONS=1 STOCKROOM_SECRET_KEY="$key"
export LEPTOS_SITE_ROOT=target/site LEPTOS_SITE_PKG_DIR=pkg LEPTOS_OUTPUT_NAME=stockroom
export LEPTOS_SITE_ADDR="127.0.0.1:$port" RUST_LOG="${RUST_LOG:-warn}"
"$bin" serve > "$dir/server.log" 2>&1 &
server=$!
trap 'kill $server 2> /dev/null || true' EXIT
up=0
for _ in $(seq 150); do
    kill -0 $server 2> /dev/null || { cat "$dir/server.log" >&2; exit 1; }
    # Ours, not a leftover on the port: it must still be running once the probe answers.
    curl -sf "$base/healthz" > /dev/null && kill -0 $server 2> /dev/null && { up=1; break; }
    sleep 0.2
done
if [ $up -ne 1 ]; then
    echo "The server did not come up on $base in 30 s; its log:" >&2
    cat "$dir/server.log" >&2
    exit 1
fi

run() {
    HYPOTHESIS_STORAGE_DIRECTORY="$dir/hypothesis" "$venv/bin/schemathesis" --config-file contract/schemathesis.toml run "$base/api/v1/openapi.json" \
        --report junit,ndjson --report-dir "$dir/report" "$@"
}
status=0
if [ $# -gt 0 ]; then
    run "$@" || status=$?
else
    # Logging out ends the session every other operation runs in, so it runs on its own,
    # first (the demo seller logs in again after each of its cases).
    run --include-path /api/v1/logout --phases examples,coverage,fuzzing || status=$?
    run --exclude-path /api/v1/logout || status=$?
fi

# A panic is a failure even when every answer looked right.
if grep -q "panicked" "$dir/server.log"; then
    echo "The server panicked during the contract run; see $dir/server.log:" >&2
    grep -A3 "panicked" "$dir/server.log" | head -20 >&2 || true
    status=1
fi
if [ $status -ne 0 ]; then
    echo "Reports: $dir/report; the server's log: $dir/server.log" >&2
fi
exit $status
