# Shell helpers shared by the scripts that set up what the tests and the
# benchmarks need (postgres.sh, redis.sh, need-hey.sh). Sourced, not run.

# ff_apt_install WHO PACKAGE… installs Debian packages unattended and without
# their recommended packages, as root or through passwordless sudo, saying so
# first (WHO names the script in its messages). It waits for another apt
# that holds the lock instead of failing.
ff_apt_install() {
	local who="$1" sudo=
	shift
	if [ "$(id -u)" -ne 0 ]; then
		if ! command -v sudo >/dev/null; then
			echo "$who: installing $* needs root or sudo" >&2
			return 1
		fi
		sudo="sudo -n"
	fi
	echo "$who: installing Debian's $* with apt-get" >&2
	DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=600 update -q >&2 &&
		DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "$@" >&2
}

# ff_free_port prints a loopback port nobody is listening on. Another process
# may take it before the caller binds it; the caller retries then.
ff_free_port() {
	local port i
	for i in $(seq 1 50); do
		port=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$port"
			return 0
		fi
	done
	return 1
}
