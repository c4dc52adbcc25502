#!/usr/bin/env bash
# Runs the staging page's end-to-end test (staging.test.mjs) in headless
# Chromium. Installs what is missing first: Debian's chromium package (apt,
# as root or through sudo), Node.js when absent, and the pinned npm packages
# (npm ci). Works unattended (CI=true, no stdin). Go must be on PATH: the test
# builds the real server binaries.
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

if [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
	apt_install chromium
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	apt_install nodejs npm
fi
if [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
	echo "web/e2e/run.sh: playwright-core needs Node.js 20 or newer; found $(node --version)" >&2
	exit 1
fi
if [ ! -d node_modules/playwright-core ] || [ ! -d node_modules/@axe-core/playwright ]; then
	npm ci --no-audit --no-fund --loglevel=error
fi
exec node --test staging.test.mjs
