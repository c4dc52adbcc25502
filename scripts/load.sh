#!/usr/bin/env bash
# Load script: holds FrameForge at its edit concurrency limit against a slow
# fake Gemini (cmd/fakeupstream) and prints throughput, latency percentiles
# and peak RSS. Run on purpose, not by CI. Loopback only.
#
#   scripts/load.sh                      # 16 slots, 64 clients, 1 s model time
#   LIMIT=32 CLIENTS=128 DELAY=2s scripts/load.sh
#   PORT=28000 FAKE_PORT=29100 scripts/load.sh   # other loopback ports
#
# Needs hey (a load generator, Debian package "hey"): when it is missing the
# script says so and installs it with apt-get (root or sudo, Debian's package
# registry).
set -euo pipefail
cd "$(dirname "$0")/.."

LIMIT=${LIMIT:-16}        # MAX_CONCURRENT_EDITS
CLIENTS=${CLIENTS:-64}    # concurrent clients (> LIMIT, so edits queue)
REQUESTS=${REQUESTS:-640} # total edits
DELAY=${DELAY:-1s}        # time the fake model takes per edit
MP=${MP:-1.5}             # megapixels of the uploaded photo
PORT=${PORT:-18000}        # FrameForge's loopback port
FAKE_PORT=${FAKE_PORT:-18100} # the fake Gemini's loopback port

source "$(dirname "$0")/need-hey.sh"

tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT

go build -o "$tmp/frameforge" ./cmd/frameforge
go build -o "$tmp/fakeupstream" ./cmd/fakeupstream
ct=$(go run ./bench/mkbody -mp "$MP" -o "$tmp/body.bin")

key=AIzaFAKE-geminitest-0123456789abcdefghij
"$tmp/fakeupstream" -addr "127.0.0.1:$FAKE_PORT" -delay "$DELAY" -key "$key" >"$tmp/fake.log" 2>&1 &
pids+=($!)
(cd "$tmp" && exec env -i PATH="$PATH" SERVER_PORT="$PORT" GEMINI_BASE_URL="http://127.0.0.1:$FAKE_PORT/" GOOGLE_API_KEY="$key" \
	MAX_CONCURRENT_EDITS="$LIMIT" EDIT_QUEUE_SIZE="$CLIENTS" EDIT_QUEUE_TIMEOUT=10m \
	RATE_LIMIT_EDIT=off RATE_LIMIT_DEFAULT=off LOG_LEVEL=warn ./frameforge >"$tmp/server.log" 2>&1) &
server_pid=$!
pids+=($server_pid)
base="http://127.0.0.1:$PORT"
for _ in $(seq 100); do curl -fsS "$base/api/ready" >/dev/null 2>&1 && break; sleep 0.1; done
kill -0 "$server_pid" 2>/dev/null || { echo "frameforge did not start:"; cat "$tmp/server.log"; exit 1; }

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$server_pid/status"; }
idle_before=$(rss_kb)
peak=0
( while kill -0 "$server_pid" 2>/dev/null; do r=$(rss_kb); [ "${r:-0}" -gt "$peak" ] && peak=$r && echo "$peak" >"$tmp/peak"; sleep 0.05; done ) &
pids+=($!)

echo "== $REQUESTS edits, $CLIENTS clients, $LIMIT slots, model time $DELAY, upload $(stat -c %s "$tmp/body.bin") bytes"
echo "   ideal throughput at the limit: $(awk -v l="$LIMIT" -v d="${DELAY%s}" 'BEGIN{printf "%.1f", l/d}') edits/s"
hey -n "$REQUESTS" -c "$CLIENTS" -m POST -T "$ct" -D "$tmp/body.bin" -t 600 "$base/api/edit" | tee "$tmp/hey.txt" |
	grep -E "Requests/sec|Total:|Slowest|Fastest|Average|10%|50%|90%|95%|99%|\[[0-9]+\]"
sleep 1
idle_after=$(rss_kb)
echo "== server"
echo "   RSS idle before: $((idle_before / 1024)) MiB, peak under load: $(($(cat "$tmp/peak" 2>/dev/null || echo 0) / 1024)) MiB, idle after: $((idle_after / 1024)) MiB"
curl -fsS "$base/metrics" | grep -E '^(frameforge_edits_in_flight|frameforge_edits_queued|go_goroutines|frameforge_provider_calls_total)' | sed 's/^/   /'
