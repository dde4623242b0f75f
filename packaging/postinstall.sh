#!/bin/sh
# Run by dpkg (postinst configure [OLD-VERSION]) and rpm (%post 1|2) after
# lightkeeper's files are in place. It enables and starts nothing: a
# first install leaves the service off until the operator has written
# /etc/lightkeeper/config.yaml and the credentials, then runs
#   systemctl enable --now lightkeeper
# It makes systemd read the new unit file and, on an upgrade, restarts the
# service if it is running, so the new binary takes over (SIGTERM lets the
# API calls in flight finish; creates are idempotent across the restart).
set -e
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || true
	upgrade=false
	case "$1" in
	configure) [ -n "$2" ] && upgrade=true ;;
	2) upgrade=true ;;
	esac
	if [ "$upgrade" = true ]; then
		systemctl try-restart lightkeeper.service >/dev/null 2>&1 || true
	fi
fi
exit 0
