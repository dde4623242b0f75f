#!/usr/bin/env bash
# Installs the headless browser that the daemon's status-page test drives
# (daemon/browser_test.go): Debian's chromium-headless-shell, or chromium
# where that package does not exist. Needs root and Debian's package lists.
set -euo pipefail
if command -v chromium-headless-shell >/dev/null 2>&1 || command -v chromium >/dev/null 2>&1; then
	echo "install-browser: a browser is already installed"
	exit 0
fi
apt-get update
if apt-cache show chromium-headless-shell >/dev/null 2>&1; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium-headless-shell
else
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium
fi
