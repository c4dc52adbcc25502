#!/usr/bin/env bash
# Runs the staging page's end-to-end test (staging.test.mjs) in headless
# Chromium. Installs what is missing first, each with a line saying so:
#   - Debian's chromium, without its recommended packages (a desktop's worth:
#     udev, upower, printing, mesa; headless needs none of them), plus
#     fonts-liberation so pages render text the same everywhere;
#   - Node.js and npm from Debian when absent;
#   - Node.js 20 when the one found is older (Debian 12 ships 18, and
#     playwright-core needs 20): the npm registry's node-linux-<arch>@20
#     package (the official build), into .node/ here, used by this script only;
#   - the pinned npm packages (npm ci).
# apt needs root or sudo. Works unattended (CI=true, no stdin). Go must be on
# PATH: the test builds the real server binaries.
set -euo pipefail
cd "$(dirname "$0")"

export DEBIAN_FRONTEND=noninteractive
apt_updated=
apt_install() {
	local sudo=
	if [ "$(id -u)" -ne 0 ]; then
		if ! command -v sudo >/dev/null; then
			echo "web/e2e/run.sh: installing $* needs root or sudo" >&2
			exit 1
		fi
		sudo="sudo -n"
	fi
	if [ -z "$apt_updated" ]; then
		$sudo apt-get update -q
		apt_updated=1
	fi
	$sudo apt-get install -y -q "$@"
}

say() { echo "web/e2e/run.sh: $*" >&2; }

if [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
	say "installing Debian's chromium (headless browser for the test)"
	apt_install --no-install-recommends chromium fonts-liberation
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	say "installing Debian's nodejs and npm"
	apt_install --no-install-recommends nodejs npm
fi
node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if [ "$(node_major node)" -lt 20 ]; then
	case "$(uname -m)" in
	x86_64) arch=x64 ;;
	aarch64 | arm64) arch=arm64 ;;
	*) say "Node.js $(node --version) is older than the 20 playwright-core needs; install Node.js 20 or newer"; exit 1 ;;
	esac
	node20="$PWD/.node/node_modules/node-linux-$arch/bin"
	if [ "$(node_major "$node20/node")" -lt 20 ]; then
		say "Node.js $(node --version) is older than the 20 playwright-core needs (Debian 12 ships 18):" \
			"installing node-linux-$arch@20 from the npm registry into web/e2e/.node (for this test only)"
		npm install --prefix .node --no-save --no-audit --no-fund --loglevel=error "node-linux-$arch@20"
	fi
	export PATH="$node20:$PATH"
fi
if [ ! -d node_modules/playwright-core ] || [ ! -d node_modules/@axe-core/playwright ]; then
	say "installing the pinned npm packages (npm ci)"
	npm ci --no-audit --no-fund --loglevel=error
fi
exec node --test staging.test.mjs
