#!/bin/sh
# Run by dpkg (postrm remove|purge|upgrade|...) and rpm (%postun 0|1) after
# lightkeeper's files are gone: systemd forgets the removed unit.
set -e
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || true
fi
exit 0
