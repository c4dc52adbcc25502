#!/usr/bin/env bash
# Performance run: builds FrameForge, the bare echo baseline and the fake
# providers, drives them (and, when PY_BACKEND names its folder, the old
# Python/FastAPI backend) with hey over loopback, measures start-up and the
# job path, runs the Go benchmarks, and regenerates the generated blocks and
# charts of docs/performance.md from the figures (bench/report).
# Run on purpose (takes about fifteen minutes), not by CI. Quote medians:
# the machine is shared and noisy.
#
#   PY_BACKEND=/path/to/FrameForge/backend bench/run.sh    # everything
#   PARTS="compare startup" bench/run.sh                   # some parts
#   DURATION=5s …                                          # per load point (10s)
#
# Parts: compare (FrameForge, bare handler, Python side by side), startup,
# jobs (SQLite and PostgreSQL), load, mem, go (the edit-path table). Each part
# writes its figures under $RESULTS (docs/perf/data); the report is made from
# whatever is there, so a partial run updates only its own figures.
#   PORT_BASE=29000 bench/run.sh                          # other loopback ports
#
# Needs hey (a load generator, Debian package "hey"): when it is missing the
# script says so and installs it with apt-get (root or sudo, Debian's package
# registry); likewise Debian's python3-fastapi & co. for the Python part.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
MP=${MP:-4.5}       # 4.5 MP photo-like JPEG ≈ 2 MB
INFLIGHT=${INFLIGHT:-200}
SLOW=${SLOW:-5s}
# Loopback ports: the server, the echo baseline, the fake providers (two) and
# the memory runs' servers (two), all from PORT_BASE.
PORT_BASE=${PORT_BASE:-19000}
P_FF=$PORT_BASE P_MEM=$((PORT_BASE + 1)) P_FAKE=$((PORT_BASE + 100)) P_ECHO=$((PORT_BASE + 200))

source "$(dirname "$0")/../scripts/need-hey.sh"

tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT

echo "building…" >&2
go build -o "$tmp/frameforge" ./cmd/frameforge
go build -o "$tmp/echo" ./bench/echo
go build -o "$tmp/fakeupstream" ./cmd/fakeupstream
go build -o "$tmp/firstok" ./bench/firstok
ct=$(go run ./bench/mkbody -mp "$MP" -o "$tmp/body.bin" 2>"$tmp/mkbody.txt")
img_bytes=$(grep -o 'JPEG of [0-9]*' "$tmp/mkbody.txt" | awk '{print $3}')
key=AIzaFAKE-geminitest-0123456789abcdefghij

start_ff() { # port, extra env…; sets ff_pid (not run in a subshell, so cleanup sees the pid)
	local port=$1
	shift
	(cd "$tmp" && exec env -i PATH="$PATH" SERVER_PORT="$port" RATE_LIMIT_EDIT=off RATE_LIMIT_DEFAULT=off \
		LOG_FORMAT=json "$@" ${FF_ENV:-} ./frameforge >>"$tmp/ff-$port.log" 2>&1) &
	ff_pid=$!
	pids+=($ff_pid)
}
wait_up() { for _ in $(seq 100); do curl -fsS "$1" >/dev/null 2>&1 && return; sleep 0.1; done; echo "not up: $1" >&2; cat "$tmp"/ff-*.log >&2; exit 1; }


# load URL CONCURRENCY [upload] → "rps p99_ms"
load() {
	local args=(-z "$DURATION" -c "$2")
	[ "${3:-}" = upload ] && args+=(-m POST -T "$ct" -D "$tmp/body.bin")
	hey "${args[@]}" "$1" >"$tmp/hey.txt"
	local rps p99 bad
	rps=$(awk '/Requests\/sec/ {print $2}' "$tmp/hey.txt")
	p99=$(awk '/99% in/ {print $3 * 1000}' "$tmp/hey.txt")
	bad=$(grep -E '^\s+\[[0-9]+\]' "$tmp/hey.txt" | grep -v '\[200\]' || true)
	[ -n "$bad" ] && echo "non-200 answers from $1: $bad" >&2
	echo "$rps $p99"
}

rows=()
row() { rows+=("$(printf '%s|%s|%s|%s|%s' "$@")"); }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b == 0) print "-"; else printf "%.2f", a / b }'; }
verdict() { awk -v v="$1" -v op="$2" -v t="$3" 'BEGIN{ ok = (op == ">=") ? v >= t : v <= t; print ok ? "pass" : "FAIL" }'; }

PARTS=${PARTS:-compare startup jobs load mem go} # run only some parts: PARTS=mem bench/run.sh
has() { [[ " $PARTS " == *" $1 "* ]]; }
RESULTS=${RESULTS:-docs/perf/data}
mkdir -p "$RESULTS"
source bench/compare.sh

has compare && run_compare
has startup && run_startup
has jobs && run_jobs

if has load; then
	start_ff $P_FF
	"$tmp/echo" -addr "127.0.0.1:$P_ECHO" >/dev/null 2>&1 &
	pids+=($!)
	wait_up "http://127.0.0.1:$P_FF/api/health"
	wait_up "http://127.0.0.1:$P_ECHO/api/health"
fi
has load && for c in 1 32; do
	echo "fallback edit vs echo, concurrency $c…" >&2
	load "http://127.0.0.1:$P_FF/api/edit" "$c" upload >/dev/null # warm-up
	read -r ff_rps ff_p99 < <(load "http://127.0.0.1:$P_FF/api/edit" "$c" upload)
	read -r ec_rps ec_p99 < <(load "http://127.0.0.1:$P_ECHO/api/edit" "$c" upload)
	r=$(ratio "$ff_rps" "$ec_rps")
	row "1. edit req/s, 2 MB, c=$c" "$ff_rps" "$ec_rps" "$r" ">= 0.8 $(verdict "$r" ">=" 0.8)"
	r=$(ratio "$ff_p99" "$ec_p99")
	row "1. edit p99 ms, 2 MB, c=$c" "$ff_p99" "$ec_p99" "$r" "<= 1.5 $(verdict "$r" "<=" 1.5)"
done

if has load; then
	echo "health, concurrency 64…" >&2
	read -r ff_rps _ < <(load "http://127.0.0.1:$P_FF/api/health" 64)
	read -r ec_rps _ < <(load "http://127.0.0.1:$P_ECHO/api/health" 64)
	row "5. /api/health req/s, c=64" "$ff_rps" "$ec_rps" "$(ratio "$ff_rps" "$ec_rps")" "report"
fi
has load && kill "$ff_pid" 2>/dev/null || true

# memtest PROVIDER PORT FAKE_PORT: INFLIGHT edits at once against a slow fake
# of that provider; the load runs twice, so growth shows as a difference
# between the two "after" figures (pooled keep-alive connections are not growth).
memtest() {
	local which=$1 port=$2 fport=$3 fkey env
	fkey=$key
	[ "$which" = fal ] && fkey="bench-id:bench-secret"
	# The fake answers a picture as big as the upload, as a real model does.
	"$tmp/fakeupstream" -provider "$which" -addr "127.0.0.1:$fport" -delay "$SLOW" -key "$fkey" \
		-answer-bytes "$img_bytes" >/dev/null 2>&1 &
	pids+=($!)
	if [ "$which" = fal ]; then
		env=(FAL_QUEUE_URL="http://127.0.0.1:$fport" FAL_REST_URL="http://127.0.0.1:$fport" FAL_KEY="$fkey")
		target="http://127.0.0.1:$port/api/edit?provider=fal:fal-ai/nano-banana/edit"
	else
		env=(GEMINI_BASE_URL="http://127.0.0.1:$fport/" GOOGLE_API_KEY="$fkey")
		target="http://127.0.0.1:$port/api/edit"
	fi
	start_ff "$port" "${env[@]}" MAX_CONCURRENT_EDITS="$INFLIGHT" EDIT_QUEUE_SIZE=0 LOG_LEVEL=warn
	mem_pid=$ff_pid
	wait_up "http://127.0.0.1:$port/api/ready"
	rss() { awk '/^VmRSS/ {printf "%d\n", $2 * 1024}' "/proc/$mem_pid/status"; }
	gor() { curl -fsS "http://127.0.0.1:$port/metrics" | awk '/^go_goroutines/ {print $2}'; }
	# Settled count: the least of six samples over three seconds, so
	# connections still closing after the load are not counted as growth.
	settled() {
		local m="" g
		for _ in 1 2 3 4 5 6; do
			g=$(gor)
			{ [ -z "$m" ] || [ "$g" -lt "$m" ]; } && m=$g
			sleep 0.5
		done
		echo "$m"
	}
	curl -fsS -o /dev/null -H "Content-Type: $ct" --data-binary @"$tmp/body.bin" "$target"
	local idle0 peak gor1 gor2 idle1
	idle0=$(rss)
	rm -f "$tmp/peak"
	(p=0; while kill -0 "$mem_pid" 2>/dev/null; do r=$(rss); [ "$r" -gt "$p" ] && p=$r && echo "$p" >"$tmp/peak"; sleep 0.02; done) &
	local sampler=$!
	for round in 1 2; do
		hey -n "$INFLIGHT" -c "$INFLIGHT" -m POST -T "$ct" -D "$tmp/body.bin" -t 120 "$target" >"$tmp/mem.txt"
		grep -qE '\[200\]\s+'"$INFLIGHT"' responses' "$tmp/mem.txt" ||
			{ echo "memory run ($which): not all edits answered 200:" >&2; grep -E '\[[0-9]+\]' "$tmp/mem.txt" >&2; }
		[ "$round" = 1 ] && gor1=$(settled) || gor2=$(settled)
	done
	kill "$sampler" 2>/dev/null || true
	sleep 10 # the runtime returns freed memory to the OS in the background
	idle1=$(rss)
	peak=$(cat "$tmp/peak")
	local inflight=$((INFLIGHT * img_bytes)) limit
	limit=$(awk -v b="$inflight" 'BEGIN{printf "%d", 1.5 * b + 64 * 1048576}')
	row "4. $which: peak RSS MiB, $INFLIGHT × 2 MB" "$(mib "$peak")" "$(mib "$limit") (1.5×$(mib "$inflight")+64)" "$(ratio "$peak" "$limit")" "<= 1.0 $(verdict "$(ratio "$peak" "$limit")" "<=" 1.0)"
	row "4. $which: RSS MiB idle, 10 s after vs before" "$(mib "$idle1")" "$(mib "$idle0")" "$(ratio "$idle1" "$idle0")" "report"
	row "4. $which: goroutines after load 2 vs load 1" "$gor2" "$gor1" "$(ratio "$gor2" "$gor1")" "no growth $(verdict "$gor2" "<=" "$gor1")"
	kill "$mem_pid" 2>/dev/null || true
}
mib() { awk -v b="$1" 'BEGIN{printf "%.0f", b / 1048576}'; }
if has mem; then
	echo "memory: $INFLIGHT edits in flight against a ${SLOW} fake, gemini and fal…" >&2
	memtest gemini $P_MEM $P_FAKE
	memtest fal $((P_MEM + 1)) $((P_FAKE + 1))
fi

# median FILE NAME FIELD-LABEL: the median over -count runs of the value that
# stands before FIELD-LABEL ("ns/op", "B/op", "x-input") on NAME's lines.
median() {
	awk -v n="$2" -v f="$3" '$1 ~ "^"n"(-[0-9]+)?$" {for (i = 2; i < NF; i++) if ($(i + 1) == f) print $i}' "$1" |
		sort -g | awk '{v[NR] = $1} END {if (NR) print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}
if has go; then
	echo "Go benchmarks (medians of 3–5 runs)…" >&2
	go test -run '^$' -bench 'EditGemini12MP|EditFal12MP' -benchtime 30x -count 3 ./internal/server/ >"$tmp/gobench.txt" 2>&1
	for b in Gemini Fal; do
		x=$(median "$tmp/gobench.txt" "BenchmarkEdit${b}12MP" x-input)
		bop=$(awk -v v="$(median "$tmp/gobench.txt" "BenchmarkEdit${b}12MP" B/op)" 'BEGIN{printf "%.1f MB", v / 1e6}')
		row "2. bytes allocated / edit, $b, 12 MP" "$bop" "input" "$(printf '%.2f' "$x")×" "<= 6× $(verdict "$x" "<=" 6)"
	done
	# Five interleaved runs: each run times Prepare and its references close
	# together, and the ratio is taken within a run (the machine's load moves
	# between runs); the table shows the median run.
	: >"$tmp/ratios.txt"
	for i in 1 2 3 4 5; do
		go test -run '^$' -bench 'PrepareFastPath12MP|PrepareRotate12MP$|PrepareRotateScale12MP|Decode12MP|EncodeOutput' \
			-benchtime 3x ./internal/imaging/ >"$tmp/imgbench.txt" 2>&1
		ms() { awk -v v="$(median "$tmp/imgbench.txt" "$1" ns/op)" 'BEGIN{printf "%.1f", v / 1e6}'; }
		echo "$(ms BenchmarkPrepareFastPath12MP) $(ms BenchmarkPrepareRotate12MP) $(ms BenchmarkPrepareRotateScale12MP) \
$(ms BenchmarkDecode12MP) $(ms 'BenchmarkEncodeOutput/3000x4000') $(ms 'BenchmarkEncodeOutput/2304x3072')" >>"$tmp/ratios.txt"
	done
	# columns: fast rot rs dec enc_full enc_scaled; pick the run with the median ratio
	pick() { # COLUMN-OF-PREPARE COLUMN-OF-ENCODE → "prepare reference ratio"
		awk -v p="$1" -v e="$2" '{printf "%s %.1f %.3f\n", $p, $4 + $e, $p / ($4 + $e)}' "$tmp/ratios.txt" | sort -k3 -g | sed -n 3p
	}
	fast=$(awk '{print $1}' "$tmp/ratios.txt" | sort -g | sed -n 3p)
	row "3. prepare 12 MP, strip only (ms)" "$fast" "-" "-" "report"
	read -r rot ref r < <(pick 2 5)
	row "3. prepare 12 MP, rotate (ms)" "$rot" "$ref (decode+encode)" "$(printf '%.2f' "$r")" "<= 1.0 $(verdict "$r" "<=" 1.0)"
	read -r rs ref r < <(pick 3 6)
	row "3. prepare 12 MP, rotate+scale (ms)" "$rs" "$ref (decode+encode)" "$(printf '%.2f' "$r")" "<= 1.0 $(verdict "$r" "<=" 1.0)"
	echo "image preparation runs (fast rotate rotate+scale decode encode-full encode-scaled, ms):" >&2
	cat "$tmp/ratios.txt" >&2
fi

if [ ${#rows[@]} -gt 0 ]; then
	{
		echo "FrameForge edit path — $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), image $img_bytes bytes, load points ${DURATION}"
		printf '%-44s | %-12s | %-24s | %-6s | %s\n' figure FrameForge baseline ratio "target"
		printf '%s\n' "--------------------------------------------------------------------------------------------------------------"
		for r in "${rows[@]}"; do
			IFS='|' read -r a b c d e <<<"$r"
			printf '%-44s | %-12s | %-24s | %-6s | %s\n' "$a" "$b" "$c" "$d" "$e"
		done
	} | tee "$RESULTS/editpath.txt"
fi
echo "writing docs/performance.md's generated blocks and docs/perf/*.svg…" >&2
(cd bench/report && go run . -data "../../$RESULTS" -doc ../../docs/performance.md -charts ../../docs/perf)
