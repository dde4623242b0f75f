// Package examples holds a working fleet repository (fleets/), a daemon
// configuration (daemon/config.yaml), one for a local daemon against the
// emulator (daemon/local.yaml, run by scripts/daemon-demo.sh) with its
// systemd drop-in (daemon/emulator.conf), a CI workflow and the
// configurations of a three-host daemon (ha/). Its tests prove that every example fleet is
// valid and that the built-in emulator would sell each of its instances,
// so the README's examples stay true. The daemon configuration is built in,
// for `lightkeeper daemon --example-config`.
package examples

import _ "embed"

// DaemonConfig is daemon/config.yaml: a configuration of `lightkeeper
// daemon` that shows every key, commented.
//
//go:embed daemon/config.yaml
var DaemonConfig []byte
