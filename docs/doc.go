// Package docs holds lightkeeper's documentation as Markdown files, one
// topic per file, and no code. Its tests keep the documentation honest:
// every relative link and anchor resolves, the README's runnable quick
// starts run against the emulator, and every command-line flag, exit code,
// daemon config key and daemon metric is documented where a reader looks
// for it.
package docs
