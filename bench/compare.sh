# Sourced by bench/run.sh (uses its tmp, pids, start_ff, wait_up, RESULTS,
# DURATION): FrameForge beside the bare handler (bench/echo) and, when
# PY_BACKEND names its folder, the old Python/FastAPI backend, under the same
# load; start-up to the first 200; the job path. Figures go to $RESULTS.
#
# The Python backend is never fetched or committed here: PY_BACKEND is the
# path of a checkout's backend/ folder (git archive of nickverneck/FrameForge).
# It runs on Debian's python3-fastapi/uvicorn/multipart (installed when
# missing: PyPI may not be reachable) with bench/pyshim providing the few
# pydantic-settings names it imports; docs/performance.md lists the deviations.

P_CMP_FF=$((PORT_BASE + 400)) P_CMP_ECHO=$((PORT_BASE + 401)) P_CMP_PY=$((PORT_BASE + 402)) P_CMP_PY2=$((PORT_BASE + 403)) P_START=$((PORT_BASE + 410))
PYTHON=${PYTHON:-/usr/bin/python3}
PY_WORKERS2=${PY_WORKERS2:-1} # also run the backend with uvicorn --workers 2

# tree PID: the pid and all its descendants (uvicorn --workers forks).
tree() {
	local p=$1 c
	echo "$p"
	for c in $(pgrep -P "$p" 2>/dev/null); do tree "$c"; done
}
# cpu_ticks PID…: utime+stime of the processes, in clock ticks.
cpu_ticks() { local p t=0 v; for p in "$@"; do v=$(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0); t=$((t + v)); done; echo "$t"; }
# rss_kib PID…: the sum of their resident sets (shared pages of forked
# workers count once per process, as ps shows them).
rss_kib() { local p t=0 v; for p in "$@"; do v=$(awk '/^VmRSS/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0); t=$((t + ${v:-0})); done; echo "$t"; }

result() { printf '%s\t%s\t%s\t%s\t%s\n' "$@" >>"$RESULTS/compare.tsv"; } # server scenario c metric value

# point SERVER PID SCENARIO C URL [BODY]: warm up for a second, then DURATION
# of load; records req/s, p50/p95/p99 (ms, from every request's time in
# hey's CSV), CPU µs per answered request, answers and how many were 200.
point() {
	local server=$1 pid=$2 scenario=$3 c=$4 url=$5 body=${6:-} args pids_ t0 t1 out=$tmp/hey-$1.csv
	args=(-c "$c" -t 120)
	[ -n "$body" ] && args+=(-m POST -T "$cmp_ct" -D "$body")
	hey -z 1s "${args[@]}" "$url" >/dev/null 2>&1 || true
	mapfile -t pids_ < <(tree "$pid")
	t0=$(cpu_ticks "${pids_[@]}")
	hey -z "$DURATION" -o csv "${args[@]}" "$url" >"$out"
	t1=$(cpu_ticks "${pids_[@]}")
	local rps p50 p95 p99 ok n
	# columns: response-time, …, status-code (7), offset (8), in seconds
	read -r rps p50 p95 p99 ok n < <(awk -F, 'NR > 1 {print $1, $7, $8}' "$out" | sort -g -k1,1 | awk '
		function q(p,  i) { i = int(p / 100 * NR + 0.999999); if (i < 1) i = 1; return t[i] * 1000 }
		{ t[NR] = $1; if ($2 == 200) ok++; e = $3 + $1; if (e > end) end = e }
		END { if (NR == 0) { print 0, "", "", "", 0, 0; exit }
		      printf "%.1f %.2f %.2f %.2f %d %d\n", ok / end, q(50), q(95), q(99), ok, NR }')
	[ "$ok" != "$n" ] && echo "  $server $scenario c=$c: $((n - ok)) of $n answers were not 200" >&2
	result "$server" "$scenario" "$c" rps "$rps"
	result "$server" "$scenario" "$c" p50 "$p50"
	result "$server" "$scenario" "$c" p95 "$p95"
	result "$server" "$scenario" "$c" p99 "$p99"
	result "$server" "$scenario" "$c" cpu_us "$(awk -v a="$t0" -v b="$t1" -v n="$ok" -v hz="$(getconf CLK_TCK)" 'BEGIN{ if (n > 0) printf "%.1f", (b - a) / hz / n * 1e6; else print "" }')"
	result "$server" "$scenario" "$c" ok "$ok"
	result "$server" "$scenario" "$c" answers "$n"
	echo "  $server $scenario c=$c: $rps req/s, p99 $p99 ms" >&2
}

run_compare() {
	echo "side by side: FrameForge, bare handler$([ -n "${PY_BACKEND:-}" ] && echo ", Python backend")…" >&2
	: >"$RESULTS/compare.tsv"
	rm -f "$RESULTS"/rss-*.tsv
	# The same photo-like JPEG for everyone, under the field each accepts:
	# "image" (what the web clients send) for FrameForge and the bare
	# handler, "images" for the Python backend, which refuses "image" (422).
	for sz in 1500000:e15 8000000:e8; do
		for f in image images; do
			cmp_ct=$(go run ./bench/mkbody -bytes "${sz%%:*}" -field "$f" -o "$tmp/${sz##*:}-$f.bin" 2>>"$tmp/mkbody.txt")
		done
	done
	local servers=(frameforge echo) py=""
	start_ff $P_CMP_FF DATA_DIR="$tmp/data-compare"
	local ff=$ff_pid
	"$tmp/echo" -addr "127.0.0.1:$P_CMP_ECHO" >/dev/null 2>&1 &
	local echo_pid=$!
	pids+=($echo_pid)
	declare -A pid=([frameforge]=$ff [echo]=$echo_pid) port=([frameforge]=$P_CMP_FF [echo]=$P_CMP_ECHO) field=([frameforge]=image [echo]=image)
	if [ -n "${PY_BACKEND:-}" ] && [ -f "$PY_BACKEND/app/main.py" ]; then
		if ! "$PYTHON" -c 'import fastapi, uvicorn, multipart, pydantic' 2>/dev/null; then
			echo "installing Debian's python3-fastapi, python3-uvicorn, python3-multipart (PyPI is not needed)…" >&2
			apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends python3-fastapi python3-uvicorn python3-multipart >/dev/null
		fi
		mkdir -p "$tmp/pycwd" # no .env of the backend's is read: no keys, development fallback
		local shim
		shim=$(cd bench/pyshim && pwd)
		start_py() { # port workers → py_pid
			(cd "$tmp/pycwd" && exec env -i PATH="$PATH" PYTHONPATH="$shim" PYTHONDONTWRITEBYTECODE=1 "$PYTHON" -m uvicorn --app-dir "$PY_BACKEND" \
				app.main:app --host 127.0.0.1 --port "$1" --workers "$2" >>"$tmp/py-$1.log" 2>&1) &
			py_pid=$!
			pids+=($py_pid)
		}
		start_py $P_CMP_PY 1
		pid[python]=$py_pid port[python]=$P_CMP_PY field[python]=images
		servers+=(python)
		if [ "$PY_WORKERS2" = 1 ]; then
			start_py $P_CMP_PY2 2
			pid[python-2w]=$py_pid port[python-2w]=$P_CMP_PY2 field[python-2w]=images
			servers+=(python-2w)
		fi
	else
		echo "  PY_BACKEND not set (or not a backend folder): the Python columns are skipped" >&2
	fi
	local s
	for s in "${servers[@]}"; do wait_up "http://127.0.0.1:${port[$s]}/api/health"; done
	sleep 1
	# RSS of each server over the whole run, every 0.25 s; marks.tsv says
	# when each load point started.
	local t_start samplers=()
	t_start=$(date +%s.%N)
	: >"$RESULTS/marks.tsv"
	for s in "${servers[@]}"; do
		(while kill -0 "${pid[$s]}" 2>/dev/null; do
			mapfile -t ps_ < <(tree "${pid[$s]}")
			printf '%s\t%s\n' "$(awk -v a="$t_start" -v b="$(date +%s.%N)" 'BEGIN{printf "%.2f", b - a}')" "$(rss_kib "${ps_[@]}")"
			sleep 0.25
		done >"$RESULTS/rss-$s.tsv") &
		samplers+=($!)
		pids+=($!)
	done
	mark() { printf '%s\t%s\n' "$(awk -v a="$t_start" -v b="$(date +%s.%N)" 'BEGIN{printf "%.2f", b - a}')" "$1" >>"$RESULTS/marks.tsv"; }
	for s in "${servers[@]}"; do
		mapfile -t ps_ < <(tree "${pid[$s]}")
		result "$s" idle 0 rss_kib "$(rss_kib "${ps_[@]}")"
	done
	# Each load point runs on every server back to back, so they see the
	# same machine.
	local c
	for c in 1 16 64; do
		mark "health c=$c"
		for s in "${servers[@]}"; do point "$s" "${pid[$s]}" health "$c" "http://127.0.0.1:${port[$s]}/api/health"; done
	done
	mark "providers c=16"
	for s in "${servers[@]}"; do
		[ "$s" = echo ] && continue # the bare handler has no provider list
		point "$s" "${pid[$s]}" providers 16 "http://127.0.0.1:${port[$s]}/api/providers"
	done
	for c in 1 8 32; do
		mark "edit 1.5 MB c=$c"
		for s in "${servers[@]}"; do point "$s" "${pid[$s]}" edit1.5 "$c" "http://127.0.0.1:${port[$s]}/api/edit" "$tmp/e15-${field[$s]}.bin"; done
	done
	mark "edit 8 MB c=8"
	for s in "${servers[@]}"; do point "$s" "${pid[$s]}" edit8 8 "http://127.0.0.1:${port[$s]}/api/edit" "$tmp/e8-${field[$s]}.bin"; done
	mark "idle"
	sleep "${IDLE_AFTER:-10}"
	for s in "${servers[@]}"; do
		mapfile -t ps_ < <(tree "${pid[$s]}")
		result "$s" after 0 rss_kib "$(rss_kib "${ps_[@]}")"
		result "$s" peak 0 rss_kib "$(awk 'm < $2 {m = $2} END {print m}' "$RESULTS/rss-$s.tsv")"
	done
	for s in "${servers[@]}"; do
		kill $(tree "${pid[$s]}") 2>/dev/null || true
	done
	kill "${samplers[@]}" 2>/dev/null || true
	printf 'date\t%s\nnproc\t%s\nloadavg\t%s\nduration\t%s\nbody_1.5\t%s\nbody_8\t%s\npython\t%s\n' \
		"$(date -u +%Y-%m-%dT%H:%MZ)" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)" "$DURATION" \
		"$(stat -c %s "$tmp/e15-image.bin")" "$(stat -c %s "$tmp/e8-image.bin")" \
		"$([ -n "${PY_BACKEND:-}" ] && "$PYTHON" -c 'import fastapi, pydantic, uvicorn, sys; print("Python", sys.version.split()[0], "FastAPI", fastapi.__version__, "pydantic", pydantic.VERSION, "uvicorn", uvicorn.__version__)')" \
		>"$RESULTS/compare-env.tsv"
}

run_startup() {
	local n=${STARTUP_RUNS:-11}
	echo "start-up: exec to first 200, $n runs, a fresh DATA_DIR (new SQLite, migrations) each…" >&2
	"$tmp/firstok" -n "$n" -url "http://127.0.0.1:$P_START/api/health" -- \
		env -i PATH="$PATH" SERVER_PORT=$P_START "$tmp/frameforge" | tee "$RESULTS/startup-frameforge.txt" | tail -1 >&2
	# A restart: one kept directory, so the database is there and the
	# migrations find nothing to do (a first, uncounted run creates it).
	echo "start-up: the same, restarting on an existing DATA_DIR…" >&2
	"$tmp/firstok" -n 1 -dir "$tmp/restart" -url "http://127.0.0.1:$P_START/api/health" -- \
		env -i PATH="$PATH" SERVER_PORT=$P_START "$tmp/frameforge" >/dev/null
	"$tmp/firstok" -n "$n" -dir "$tmp/restart" -url "http://127.0.0.1:$P_START/api/health" -- \
		env -i PATH="$PATH" SERVER_PORT=$P_START "$tmp/frameforge" | tee "$RESULTS/startup-restart.txt" | tail -1 >&2
	if [ -n "${PY_BACKEND:-}" ] && [ -f "$PY_BACKEND/app/main.py" ]; then
		"$tmp/firstok" -n "${PY_STARTUP_RUNS:-5}" -url "http://127.0.0.1:$P_START/api/health" -- \
			env -i PATH="$PATH" PYTHONDONTWRITEBYTECODE=1 PYTHONPATH="$(cd bench/pyshim && pwd)" "$PYTHON" -m uvicorn --app-dir "$PY_BACKEND" \
			app.main:app --host 127.0.0.1 --port $P_START | tee "$RESULTS/startup-python.txt" | tail -1 >&2
	fi
	echo "loadavg $(cut -d' ' -f1-3 /proc/loadavg)" >>"$RESULTS/startup-frameforge.txt"
}

run_jobs() {
	echo "job path: Go benchmarks on SQLite, and on PostgreSQL (and 1 against 3 replicas with Redis) when scripts/postgres.sh and scripts/redis.sh start theirs…" >&2
	local pgurl="" redisurl=""
	if scripts/postgres.sh start >/dev/null 2>&1; then
		pgurl=$(scripts/postgres.sh url)
	else
		echo "  PostgreSQL did not start: its figures are skipped" >&2
	fi
	if [ -n "$pgurl" ] && scripts/redis.sh start >/dev/null 2>&1; then
		redisurl=$(scripts/redis.sh url)
	fi
	{
		echo "loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
		# A failing benchmark is reported in the block, not fatal to the run.
		FRAMEFORGE_TEST_DATABASE_URL=$pgurl go test -run '^$' -bench 'JobRoundTrip|EditRoundTrip|JobThroughput' \
			-benchtime "${JOB_N:-200}x" -count "${JOB_COUNT:-1}" ./internal/server/ 2>&1 || true
		go test -run '^$' -bench 'QueuedJobMemory' -benchtime 1000x ./internal/server/ 2>&1 || true
		# Real processes: 1 and then 3 replicas on PostgreSQL, Redis and an
		# S3 fake, 300 jobs from 16 clients (docs/scaling.md).
		if [ -n "$redisurl" ]; then
			FRAMEFORGE_SCALE_FIGURES=1 FRAMEFORGE_TEST_DATABASE_URL=$pgurl FRAMEFORGE_TEST_REDIS_URL=$redisurl \
				go test -count=1 -run TestScaleFigures -v ./cmd/frameforge 2>&1 || true
		fi
	} | tee "$RESULTS/jobs.txt" | grep -E '^Benchmark|queued|replica\(s\)' >&2 || true
	[ -n "$redisurl" ] && scripts/redis.sh stop >/dev/null 2>&1 || true
	[ -n "$pgurl" ] && scripts/postgres.sh stop >/dev/null 2>&1 || true
}
