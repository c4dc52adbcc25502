# Sourced by scripts/load.sh and bench/run.sh: makes sure the load generator
# hey is on PATH, installing Debian's package "hey" (saying so first) when it
# is missing.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
if ! command -v hey >/dev/null; then
	echo "$0: hey is missing (Debian package \"hey\")" >&2
	ff_apt_install "$0" hey || exit 1
fi
