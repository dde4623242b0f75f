#!/bin/sh
# Run by dpkg (prerm remove|upgrade|...) and rpm (%preun 0|1) before
# lightkeeper's files go. On a removal (not an upgrade) it stops the
# service and removes its enablement links, which would otherwise point at
# a unit that no longer exists. The state in /var/lib/lightkeeper (or
# /var/lib/private/lightkeeper) is kept: it records what was bought.
set -e
case "$1" in
remove | 0)
	if [ -d /run/systemd/system ]; then
		systemctl stop lightkeeper.service >/dev/null 2>&1 || true
	fi
	if command -v systemctl >/dev/null 2>&1; then
		systemctl disable lightkeeper.service >/dev/null 2>&1 || true
	fi
	;;
esac
exit 0
