# Sourced by scripts/load.sh and bench/run.sh: makes sure the load generator
# hey is on PATH, installing Debian's package "hey" (saying so first) when it
# is missing.
if ! command -v hey >/dev/null; then
	sudo=
	if [ "$(id -u)" -ne 0 ]; then
		if ! command -v sudo >/dev/null; then
			echo "$0: needs hey (Debian package \"hey\"); install it, or run as root to let this script install it" >&2
			exit 1
		fi
		sudo="sudo -n"
	fi
	echo "$0: hey is missing: installing Debian's package \"hey\" with apt-get…" >&2
	DEBIAN_FRONTEND=noninteractive $sudo apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq hey >&2
fi
