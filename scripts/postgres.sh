#!/usr/bin/env bash
# A private PostgreSQL for the test suite: our own cluster in our own
# directory, on a free loopback port, with our own database and a generated
# password. It never uses or changes anyone else's server or database, so it
# works beside a system PostgreSQL on 5432 and beside other checkouts' test
# clusters.
#
# Sourced by scripts/test:   source scripts/postgres.sh && pg_test_up
#   exports FRAMEFORGE_TEST_DATABASE_URL (left as is when already set), and
#   stops the cluster again at exit when pg_test_up was the one that started it.
# Run by hand:               scripts/postgres.sh start | stop | url | status
#   "start" leaves the cluster running; scripts/test then reuses it and leaves
#   it running, which saves the ~1 s start on each run while developing.
#
# Debian's postgresql is installed when missing (apt, as root or through
# sudo; unattended). PostgreSQL refuses to run as root, so as root the cluster
# belongs to the postgres user and commands run through runuser.
#
# Settings (environment):
#   FRAMEFORGE_TEST_DATABASE_URL  use this database; nothing is installed or started
#   FRAMEFORGE_PG_DIR             the cluster's directory (default .cache/pg in the repo)

pg_test__repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$pg_test__repo/scripts/lib.sh"

pg_test__say() { echo "postgres.sh: $*" >&2; }

pg_test__install() {
	ff_apt_install postgres.sh postgresql || {
		pg_test__say "or set FRAMEFORGE_TEST_DATABASE_URL"
		return 1
	}
}

# pg_test__bindir prints the newest Debian PostgreSQL bin directory.
pg_test__bindir() {
	local d
	d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
	[ -n "$d" ] && [ -x "$d/initdb" ] && echo "$d"
}

# pg_test__as runs a command as the cluster's owner: postgres when we are
# root, ourselves otherwise. It runs from /, since postgres may not be allowed
# into the current directory and initdb and pg_ctl refuse to start there.
pg_test__as() {
	if [ "$(id -u)" -eq 0 ]; then
		(cd / && runuser -u postgres -- "$@")
	else
		"$@"
	fi
}

# pg_test__dir chooses the cluster's directory. As root the postgres user
# must be able to reach it; a checkout under /root is not, so then it moves
# to a directory of its own under TMPDIR, named after the checkout.
pg_test__dir() {
	if [ -n "${FRAMEFORGE_PG_DIR:-}" ]; then
		echo "$FRAMEFORGE_PG_DIR"
		return
	fi
	local dir="$pg_test__repo/.cache/pg"
	if [ "$(id -u)" -eq 0 ]; then
		mkdir -p "$pg_test__repo/.cache"
		if ! runuser -u postgres -- test -x "$pg_test__repo/.cache"; then
			dir="${TMPDIR:-/tmp}/frameforge-pg-$(printf %s "$pg_test__repo" | cksum | cut -d' ' -f1)"
		fi
	fi
	echo "$dir"
}

# pg_test__port prints the port of the cluster running in $1, or fails.
pg_test__port() {
	pg_test__as "$PG_BIN/pg_ctl" -D "$1/data" status >/dev/null 2>&1 || return 1
	sed -n 4p "$1/data/postmaster.pid"
}


pg_test__init() {
	local dir="$1"
	[ -f "$dir/data/PG_VERSION" ] && return 0
	pg_test__say "initialising a cluster in $dir"
	mkdir -p "$dir"
	chmod 0700 "$dir"
	if [ "$(id -u)" -eq 0 ]; then chown postgres: "$dir"; fi
	rm -rf "$dir/data"
	# The password keeps other local users' and checkouts' tests out of
	# this cluster (everything listens on the same 127.0.0.1).
	head -c 18 /dev/urandom | base64 | tr '+/' '-_' >"$dir/password.tmp"
	chmod 0600 "$dir/password.tmp"
	if [ "$(id -u)" -eq 0 ]; then chown postgres: "$dir/password.tmp"; fi
	pg_test__as "$PG_BIN/initdb" -D "$dir/data" -U frameforge --pwfile="$dir/password.tmp" \
		--auth=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || {
		cat "$dir/initdb.log" >&2
		return 1
	}
	# A test database needs no durability: skipping fsync makes schema
	# creation and every commit much faster. No unix socket: its path could
	# exceed the 107-byte limit, and TCP on loopback is all the tests use.
	pg_test__as tee -a "$dir/data/postgresql.conf" >/dev/null <<-'EOF'

		# scripts/postgres.sh: a private, throwaway test cluster
		listen_addresses = '127.0.0.1'
		unix_socket_directories = ''
		fsync = off
		synchronous_commit = off
		full_page_writes = off
		max_connections = 200
	EOF
	mv "$dir/password.tmp" "$dir/password"
}

pg_test__start() {
	local dir="$1" port try
	for try in 1 2 3 4 5; do
		port="$(ff_free_port)" || return 1
		if pg_test__as "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -o "-p $port" -w -t 30 start >/dev/null; then
			return 0
		fi
		# Lost the race for the port to someone else: try another one.
		grep -q 'could not bind\|could not create any TCP/IP sockets' "$dir/server.log" || break
	done
	pg_test__say "could not start the cluster in $dir; its log:"
	tail -n 20 "$dir/server.log" >&2
	return 1
}

# pg_test__ensure starts (and creates, and installs) what is missing, creates
# the database frameforge_test, and sets PG_STARTED=1 when it started the
# server itself.
pg_test__ensure() {
	PG_STARTED=
	PG_BIN="$(pg_test__bindir)" || { pg_test__install && PG_BIN="$(pg_test__bindir)"; } || {
		pg_test__say "no PostgreSQL under /usr/lib/postgresql/*/bin"
		return 1
	}
	PG_DIR="$(pg_test__dir)"
	pg_test__init "$PG_DIR" || return 1
	if ! PG_PORT="$(pg_test__port "$PG_DIR")"; then
		pg_test__start "$PG_DIR" || return 1
		PG_STARTED=1
		PG_PORT="$(pg_test__port "$PG_DIR")" || return 1
	fi
	local admin
	admin="$(pg_test__url postgres)"
	if [ -z "$("$PG_BIN/psql" "$admin" -XAtqc "SELECT 1 FROM pg_database WHERE datname = 'frameforge_test'")" ]; then
		"$PG_BIN/psql" "$admin" -Xqc 'CREATE DATABASE frameforge_test' >/dev/null || return 1
	fi
	PG_URL="$(pg_test__url frameforge_test)"
}

# pg_test__url prints the URL of database $1 in the running cluster.
pg_test__url() {
	echo "postgres://frameforge:$(cat "$PG_DIR/password")@127.0.0.1:$PG_PORT/$1?sslmode=disable"
}

pg_test__stop() {
	[ -f "$PG_DIR/data/postmaster.pid" ] || return 0
	pg_test__as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null
}

# pg_test_up is what scripts/test calls (after sourcing this file).
pg_test_up() {
	if [ -n "${FRAMEFORGE_TEST_DATABASE_URL:-}" ]; then
		return 0
	fi
	pg_test__ensure || return 1
	export FRAMEFORGE_TEST_DATABASE_URL="$PG_URL"
	if [ -n "$PG_STARTED" ]; then
		# Stop what we started, so a test run leaves no server behind
		# (starting an initialised cluster takes about a second).
		trap 'pg_test__stop' EXIT
	fi
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -euo pipefail
	case "${1:-}" in
	start)
		pg_test__ensure
		echo "$PG_URL"
		;;
	url)
		PG_BIN="$(pg_test__bindir)" || { pg_test__say "not installed; use: $0 start"; exit 1; }
		PG_DIR="$(pg_test__dir)"
		PG_PORT="$(pg_test__port "$PG_DIR")" || { pg_test__say "not running; use: $0 start"; exit 1; }
		pg_test__url frameforge_test
		;;
	stop)
		PG_BIN="$(pg_test__bindir)" || exit 0
		PG_DIR="$(pg_test__dir)"
		pg_test__stop
		;;
	status)
		PG_BIN="$(pg_test__bindir)" || { echo "not installed"; exit 1; }
		PG_DIR="$(pg_test__dir)"
		if port="$(pg_test__port "$PG_DIR")"; then
			echo "running in $PG_DIR on 127.0.0.1:$port"
		else
			echo "not running ($PG_DIR)"
			exit 1
		fi
		;;
	*)
		echo "usage: $0 start | stop | url | status   (or source it and call pg_test_up)" >&2
		exit 2
		;;
	esac
fi
