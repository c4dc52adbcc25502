#!/usr/bin/env bash
# A private Redis for the test suite: our own redis-server, in our own
# directory, on a free loopback port, with a generated password. It never
# uses or changes anyone else's server, so it works beside a system Redis on
# 6379 and beside other checkouts' test servers.
#
# Sourced by scripts/test:   source scripts/redis.sh && redis_test_up
#   exports FRAMEFORGE_TEST_REDIS_URL (left as is when already set), and
#   stops the server again at exit when redis_test_up was the one that
#   started it.
# Run by hand:               scripts/redis.sh start | stop | url | status
#   "start" leaves the server running; scripts/test then reuses it and
#   leaves it running.
#
# Debian's redis-server is installed when missing (apt, as root or through
# sudo; unattended; without recommended packages).
#
# Settings (environment):
#   FRAMEFORGE_TEST_REDIS_URL  use this server; nothing is installed or started
#   FRAMEFORGE_REDIS_DIR       the server's directory (default .cache/redis in the repo)

redis_test__repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$redis_test__repo/scripts/lib.sh"

redis_test__say() { echo "redis.sh: $*" >&2; }

redis_test__install() {
	ff_apt_install redis.sh redis-server || {
		redis_test__say "or set FRAMEFORGE_TEST_REDIS_URL"
		return 1
	}
}

redis_test__dir() { echo "${FRAMEFORGE_REDIS_DIR:-$redis_test__repo/.cache/redis}"; }


# redis_test__running succeeds when the server of directory $1 answers; it
# sets REDIS_PORT.
redis_test__running() {
	local dir="$1"
	[ -f "$dir/port" ] && [ -f "$dir/password" ] || return 1
	REDIS_PORT="$(cat "$dir/port")"
	[ "$(REDISCLI_AUTH="$(cat "$dir/password")" redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]
}

redis_test__start() {
	local dir="$1" port try
	mkdir -p "$dir"
	chmod 0700 "$dir"
	if [ ! -s "$dir/password" ]; then
		# The password keeps other local users' and checkouts' tests out
		# of this server (everything listens on the same 127.0.0.1).
		head -c 18 /dev/urandom | base64 | tr '+/' '-_' >"$dir/password.tmp"
		chmod 0600 "$dir/password.tmp"
		mv "$dir/password.tmp" "$dir/password"
	fi
	for try in 1 2 3 4 5; do
		port="$(ff_free_port)" || return 1
		# A throwaway server: no snapshots, no append-only file. The
		# password goes in through the config file, not the command line.
		cat >"$dir/redis.conf" <<-EOF
			bind 127.0.0.1
			port $port
			requirepass $(cat "$dir/password")
			dir $dir
			save ""
			appendonly no
			daemonize yes
			pidfile $dir/redis.pid
			logfile $dir/redis.log
		EOF
		chmod 0600 "$dir/redis.conf"
		rm -f "$dir/redis.pid"
		if redis-server "$dir/redis.conf" >/dev/null 2>&1; then
			echo "$port" >"$dir/port"
			local i
			for i in $(seq 1 50); do
				redis_test__running "$dir" && return 0
				sleep 0.1
			done
		fi
		# Lost the race for the port to someone else: try another one.
		grep -q 'Address already in use' "$dir/redis.log" 2>/dev/null || break
	done
	redis_test__say "could not start redis-server in $dir; its log:"
	tail -n 20 "$dir/redis.log" >&2
	return 1
}

# redis_test__ensure starts (and installs) what is missing, and sets
# REDIS_STARTED=1 when it started the server itself.
redis_test__ensure() {
	REDIS_STARTED=
	command -v redis-server >/dev/null && command -v redis-cli >/dev/null || redis_test__install || return 1
	REDIS_DIR="$(redis_test__dir)"
	if ! redis_test__running "$REDIS_DIR"; then
		redis_test__start "$REDIS_DIR" || return 1
		REDIS_STARTED=1
	fi
	REDIS_URL_="$(redis_test__url)"
}

redis_test__url() {
	echo "redis://:$(cat "$REDIS_DIR/password")@127.0.0.1:$(cat "$REDIS_DIR/port")/0"
}

redis_test__stop() {
	local dir
	dir="$(redis_test__dir)"
	redis_test__running "$dir" || return 0
	REDISCLI_AUTH="$(cat "$dir/password")" redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
	rm -f "$dir/port"
}

# redis_test_up is what scripts/test calls (after sourcing this file).
redis_test_up() {
	if [ -n "${FRAMEFORGE_TEST_REDIS_URL:-}" ]; then
		return 0
	fi
	redis_test__ensure || return 1
	export FRAMEFORGE_TEST_REDIS_URL="$REDIS_URL_"
	if [ -n "$REDIS_STARTED" ]; then
		# Stop what we started, so a test run leaves no server behind; an
		# exit trap set before (scripts/postgres.sh's) still runs.
		local prev
		prev="$(trap -p EXIT | sed -E "s/^trap -- '(.*)' EXIT\$/\1/")"
		trap "redis_test__stop${prev:+; $prev}" EXIT
	fi
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -euo pipefail
	case "${1:-}" in
	start)
		redis_test__ensure
		echo "$REDIS_URL_"
		;;
	url)
		REDIS_DIR="$(redis_test__dir)"
		redis_test__running "$REDIS_DIR" || { redis_test__say "not running; use: $0 start"; exit 1; }
		redis_test__url
		;;
	stop)
		command -v redis-cli >/dev/null || exit 0
		redis_test__stop
		;;
	status)
		REDIS_DIR="$(redis_test__dir)"
		if command -v redis-cli >/dev/null && redis_test__running "$REDIS_DIR"; then
			echo "running in $REDIS_DIR on 127.0.0.1:$REDIS_PORT"
		else
			echo "not running ($REDIS_DIR)"
			exit 1
		fi
		;;
	*)
		echo "usage: $0 start | stop | url | status   (or source it and call redis_test_up)" >&2
		exit 2
		;;
	esac
fi
