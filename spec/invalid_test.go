package spec

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
)

// invalidCases is the corpus of testdata/invalid: every entry must fail to
// load with exactly these errors, in this order. The path is relative to
// testdata/invalid and is shown as is in the messages.
var invalidCases = []struct {
	path string
	opts Options
	want []string
}{
	{path: "alias-bomb.yaml", want: []string{
		`alias-bomb.yaml:16:12: fleet "bomb": aliases expand to too many nodes (an alias bomb?); write the values out`,
	}},
	{path: "alias-unknown.yaml", want: []string{
		`alias-unknown.yaml:4:120: YAML syntax error: unknown anchor 'nope' referenced; define it with &nope before this alias`,
	}},
	{path: "api-version.yaml", want: []string{
		`api-version.yaml:1:13: fleet "web": apiVersion: must be "lightkeeper/v1", got "lightkeeper/v2"`,
	}},
	{path: "auto-voucher-yes.yaml", want: []string{
		`auto-voucher-yes.yaml:12:16: fleet "web": spec.autoVoucher: must be true or false, got a string; YAML 1.2 reads yes as a string: write true`,
	}},
	{path: "blueprint-bad.yaml", want: []string{
		`blueprint-bad.yaml:9:16: fleet "web": spec.blueprintId: must be a blueprint id: lhbp- followed by 8 lowercase letters or digits, got "ubuntu-22.04"`,
	}},
	{path: "bundle-bad.yaml", want: []string{
		`bundle-bad.yaml:8:13: fleet "web": spec.bundleId: must be a bundle id such as bundle_gen_03 or bundle2022_gen_02, got "gen-03"`,
	}},
	{path: "charge-missing.yaml", want: []string{
		`charge-missing.yaml:6:3: fleet "web": spec: missing required key "charge"`,
	}},
	{path: "container-conflicts.yaml", want: []string{
		`container-conflicts.yaml:20:17: fleet "web": spec.containers[0].envs[1].key: duplicate environment variable "TZ", first set at line 19`,
		`container-conflicts.yaml:22:22: fleet "web": spec.containers[1].containerName: container name "edge" is also used by spec.containers[0]; container names must be unique on an instance`,
		`container-conflicts.yaml:24:22: fleet "web": spec.containers[1].publishPorts[0].hostPort: host port 80/tcp is already published by spec.containers[0].publishPorts[0]; use another hostPort`,
		`container-conflicts.yaml:27:22: fleet "web": spec.containers[1].publishPorts[3].hostPort: host port 8080/tcp is already published on 127.0.0.1 by spec.containers[0].publishPorts[1]; use another hostPort`,
	}},
	{path: "container-fields.yaml", want: []string{
		`container-fields.yaml:14:22: fleet "web": spec.containers[0].containerName: must start with a letter or digit and hold at least 2 of letters, digits, '_', '.' and '-' (Docker's rule), got "my box"`,
		`container-fields.yaml:16:53: fleet "web": spec.containers[0].publishPorts[0].ip: must be an IPv4 or IPv6 address such as 0.0.0.0, got "localhost"`,
		`container-fields.yaml:18:27: fleet "web": spec.containers[0].volumes[0].containerPath: must be an absolute path, such as /data, got "etc/nginx"`,
		`container-fields.yaml:18:48: fleet "web": spec.containers[0].volumes[0].hostPath: must be an absolute path, such as /srv/data (Docker reads a relative one as a named volume), got "srv/nginx"`,
		`container-fields.yaml:20:17: fleet "web": spec.containers[0].envs[0].key: must not contain '=' or be empty, got "A=B"`,
		`container-fields.yaml:22:22: fleet "web": spec.containers[1].containerName: must start with a letter or digit and hold at least 2 of letters, digits, '_', '.' and '-' (Docker's rule), got "b"`,
	}},
	{path: "container-missing-image.yaml", want: []string{
		`container-missing-image.yaml:13:7: fleet "web": spec.containers[0]: missing required key "containerImage"`,
		`container-missing-image.yaml:15:11: fleet "web": spec.containers[0].envs[0]: missing required key "value"`,
	}},
	{path: "container-port.yaml", want: []string{
		`container-port.yaml:15:22: fleet "web": spec.containers[0].publishPorts[0].hostPort: must be <= 65535`,
		`container-port.yaml:15:58: fleet "web": spec.containers[0].publishPorts[0].protocol: must be one of "tcp", "udp", "sctp", got "http"`,
		`container-port.yaml:16:22: fleet "web": spec.containers[0].restartPolicy: must be no, on-failure, on-failure:N or always, got "sometimes"`,
	}},
	{path: "control-char.yaml", want: []string{
		`control-char.yaml:7:11: control character U+0001 is not allowed in YAML`,
	}},
	{path: "count-bigint.yaml", want: []string{
		`count-bigint.yaml:7:10: fleet "web": spec.count: must be <= 1000`,
	}},
	{path: "control-escapes.yaml", want: []string{
		`control-escapes.yaml:11:17: fleet "web": spec.instanceName: "web-\t{slot}" holds the control character U+0009; this value is one line: remove it (only a container's command and environment values may hold line breaks)`,
		`control-escapes.yaml:13:26: fleet "web": spec.login.passwordFrom.file: "/run/pw\nx" holds the control character U+000A; this value is one line: remove it (only a container's command and environment values may hold line breaks)`,
		`control-escapes.yaml:15:23: fleet "web": spec.containers[0].containerImage: "nginx\n:latest" holds the control character U+000A; this value is one line: remove it (only a container's command and environment values may hold line breaks)`,
		`control-escapes.yaml:16:22: fleet "web": spec.containers[0].containerName: "edge\a" holds the control character U+0007; remove it`,
		`control-escapes.yaml:18:17: fleet "web": spec.containers[0].envs[0].key: "A\u0085" holds the control character U+0085; remove it`,
		`control-escapes.yaml:18:35: fleet "web": spec.containers[0].envs[0].value: "x\x00y" holds U+0000 (NUL), which no value may hold; remove it`,
		`control-escapes.yaml:21:27: fleet "web": spec.containers[0].volumes[0].containerPath: "/data\x01" holds the control character U+0001; remove it`,
	}},
	{path: "count-explicit-str.yaml", want: []string{
		`count-explicit-str.yaml:7:10: fleet "web": spec.count: must be an integer, got a string; the !!str tag keeps it text: write it without the tag: 3`,
	}},
	{path: "count-tiny-float.yaml", want: []string{
		`count-tiny-float.yaml:7:10: fleet "web": spec.count: 1e-400 is not an integer (it is too small for a float, which reads it as 0); write a whole number without a decimal point or exponent`,
	}},
	{path: "count-written-float.yaml", want: []string{
		`count-written-float.yaml:7:10: fleet "web": spec.count: 3.0 is written as a float; write the integer without a decimal point or exponent: 3`,
		`count-written-float.yaml:13:33: fleet "web": spec.containers[0].publishPorts[0].hostPort: 8e1 is written as a float; write the integer without a decimal point or exponent: 80`,
	}},
	{path: "container-image-bad.yaml", want: []string{
		`container-image-bad.yaml:12:23: fleet "web": spec.containers[0].containerImage: "nginx 1.27" is not an image reference: it holds a space; write [registry/]name[:tag][@digest], such as nginx:1.27`,
		`container-image-bad.yaml:13:23: fleet "web": spec.containers[1].containerImage: "\u0020" is not an image reference; write [registry/]name[:tag][@digest], such as nginx:1.27`,
		`container-image-bad.yaml:14:23: fleet "web": spec.containers[2].containerImage: "NGINX:latest": Docker wants the repository name in lowercase; write "nginx:latest"`,
		`container-image-bad.yaml:15:23: fleet "web": spec.containers[3].containerImage: "nginx:" has an empty tag; write a tag after ':' (nginx:1.27) or leave the ':' out (the tag is then latest)`,
		`container-image-bad.yaml:16:23: fleet "web": spec.containers[4].containerImage: "ghcr.io/Acme/app:v1": Docker wants the repository name in lowercase; write "ghcr.io/acme/app:v1"`,
		`container-image-bad.yaml:17:23: fleet "web": spec.containers[5].containerImage: "nginx@sha256:abc" has a malformed digest; after '@' write the algorithm and its hex digits, such as sha256: and 64 hex digits, or leave the digest out`,
		`container-image-bad.yaml:18:23: fleet "web": spec.containers[6].containerImage: "nginx:1.27\u0020" is not an image reference: it holds a space; write [registry/]name[:tag][@digest], such as nginx:1.27`,
	}},
	{path: "container-volume-duplicate.yaml", want: []string{
		`container-volume-duplicate.yaml:16:27: fleet "web": spec.containers[0].volumes[2].containerPath: "/data/" is already a mount point of this container (volumes[0]); Docker refuses a duplicate mount point: mount each container path once`,
	}},
	{path: "restart-policy-huge.yaml", want: []string{
		`restart-policy-huge.yaml:13:22: fleet "web": spec.containers[0].restartPolicy: on-failure:99999999999 retries more often than Docker can count; N must be at most 2147483647`,
	}},
	{path: "password-from-credentials.yaml", want: []string{
		`password-from-credentials.yaml:12:25: fleet "a": spec.login.passwordFrom.env: TENCENTCLOUD_SECRET_KEY is a Tencent Cloud SDK variable (TENCENTCLOUD_*), where lightkeeper reads its own API credentials; the API secret must never become a server password: use a variable of its own, such as WEB_PASSWORD`,
		`password-from-credentials.yaml:25:25: fleet "b": spec.login.passwordFrom.env: TENCENTCLOUD_SECRET_ID is a Tencent Cloud SDK variable (TENCENTCLOUD_*), where lightkeeper reads its own API credentials; the API secret must never become a server password: use a variable of its own, such as WEB_PASSWORD`,
		`password-from-credentials.yaml:38:26: fleet "c": spec.login.passwordFrom.file: "/root/.tencentcloud/credentials" is in .tencentcloud/, where the Tencent Cloud SDK and tccli keep API credentials; the API secret must never become a server password: keep the password in a file of its own`,
		`password-from-credentials.yaml:51:26: fleet "d": spec.login.passwordFrom.file: "/run/credentials/lightkeeper.service/tencentcloud-secret-key" is the systemd credential tencentcloud-secret-key, which holds lightkeeper's own API credentials; the API secret must never become a server password: give the password a credential of its own, such as web-password`,
		`password-from-credentials.yaml:64:26: fleet "e": spec.login.passwordFrom.file: "/home/ops/.tccli/default.credential" is in .tccli/, where the Tencent Cloud SDK and tccli keep API credentials; the API secret must never become a server password: keep the password in a file of its own`,
	}},
	{path: "count-float.yaml", want: []string{
		`count-float.yaml:7:10: fleet "web": spec.count: must be an integer, got a number`,
	}},
	{path: "count-huge.yaml", want: []string{
		`count-huge.yaml:7:10: fleet "web": spec.count: must be <= 1000`,
	}},
	{path: "count-octal.yaml", want: []string{
		`count-octal.yaml:7:10: fleet "web": spec.count: 010 is ambiguous: YAML 1.1 reads a leading 0 as octal (8), YAML 1.2 as decimal (10); write 10 (or "010" for a string)`,
	}},
	{path: "count-underscore.yaml", want: []string{
		`count-underscore.yaml:7:10: fleet "web": spec.count: 1_000 is not a YAML 1.2 integer; write it without '_': 1000`,
	}},
	{path: "count-binary.yaml", want: []string{
		`count-binary.yaml:7:10: fleet "web": spec.count: 0b11 is not a YAML 1.2 integer; write it in decimal: 3`,
	}},
	{path: "count-exp-huge.yaml", want: []string{
		`count-exp-huge.yaml:7:10: fleet "web": spec.count: must be <= 1000`,
	}},
	{path: "count-inf.yaml", want: []string{
		`count-inf.yaml:7:10: fleet "web": spec.count: .inf is not a finite number; write a number`,
	}},
	{path: "renew-before.yaml", want: []string{
		`renew-before.yaml:10:36: fleet "web": spec.charge.renewBefore: must be a duration in days or hours such as 7d, 36h or 2d12h, got "7 days"`,
		`renew-before.yaml:21:36: fleet "long": spec.charge.renewBefore: 30d is not shorter than spec.charge.period (1 month, at least 28 days): a renewal would leave the instance inside the window and it would be renewed again; use a shorter window such as 7d`,
		`renew-before.yaml:34:18: fleet "fiveyears": spec.charge.renewBefore: renewals are sold for 1 to 12, 24 or 36 months, and spec.charge.period is 60: set a period RenewInstances takes, or remove renewBefore`,
		`renew-before.yaml:45:36: fleet "zero": spec.charge.renewBefore: must be more than 0 (omit it to never renew), got "0d"`,
		`renew-before.yaml:57:12: fleet "paused": spec.suspend: must be true or false, got a string; YAML 1.2 reads yes as a string: write true`,
	}},
	{path: "period-octal.yaml", want: []string{
		`period-octal.yaml:11:20: fleet "web": spec.charge.period: 012 is ambiguous: YAML 1.1 reads a leading 0 as octal (10), YAML 1.2 as decimal (12); write 12 (or "012" for a string)`,
	}},
	{path: "count-negative.yaml", want: []string{
		`count-negative.yaml:7:10: fleet "web": spec.count: must be >= 0`,
	}},
	{path: "count-null.yaml", want: []string{
		`count-null.yaml:7:9: fleet "web": spec.count: must be an integer, got empty (null)`,
	}},
	{path: "count-string.yaml", want: []string{
		`count-string.yaml:7:10: fleet "web": spec.count: must be an integer, got a string; write it without quotes: 3`,
	}},
	{path: "duplicate-key.yaml", want: []string{
		`duplicate-key.yaml:8:3: fleet "web": spec: duplicate key "count"; first at line 7`,
	}},
	{path: "duplicate-names", want: []string{
		`duplicate-names/b.yaml:4:9: fleet "web": metadata.name: duplicate fleet name, first defined at duplicate-names/a.yaml:4:9; fleet names must be unique in the repository`,
	}},
	{path: "duplicate-names-one-file.yaml", want: []string{
		`duplicate-names-one-file.yaml:16:9: fleet "web": metadata.name: duplicate fleet name, first defined at duplicate-names-one-file.yaml:4:9; fleet names must be unique in the repository`,
	}},
	{path: "empty.yaml", want: []string{
		`empty.yaml:1:1: file has no YAML documents; add a fleet or delete the file`,
	}},
	{path: "instance-name-collision", want: []string{
		`instance-name-collision/b.yaml:11:17: fleet "web-one": spec.instanceName: can render the same instance name as fleet "web" (instance-name-collision/a.yaml:11:17) in region ap-guangzhou: "web-10" is slot 0 of "web-1{slot}" here and slot 10 of "web-{slot}" there; the name is a slot's identity, so change the text before or after {slot} in one of them by a character that is not a digit`,
		`instance-name-collision/b.yaml:23:17: fleet "b": spec.instanceName: can render the same instance name as fleet "a" (instance-name-collision/a.yaml:16:9) in region ap-guangzhou: "a-10" is slot 0 of "a-1{slot}" here and slot 10 of "a-{slot}" there; the name is a slot's identity, so change the text before or after {slot} in one of them by a character that is not a digit`,
		`instance-name-collision/b.yaml:70:17: fleet "db2": spec.instanceName: can render the same instance name as fleet "db" (instance-name-collision/a.yaml:34:17) in region ap-guangzhou: both render "{slot}.db" ("0.db" is slot 0 of each); the name is a slot's identity, so give one of them another template`,
	}},
	{path: "instance-name-no-slot.yaml", want: []string{
		`instance-name-no-slot.yaml:11:17: fleet "web": spec.instanceName: must hold {slot} exactly once, such as "{fleet}-{slot}" (the instance name is the slot's identity), got "web"`,
	}},
	{path: "instance-name-two-slots.yaml", want: []string{
		`instance-name-two-slots.yaml:11:17: fleet "web": spec.instanceName: must hold {slot} exactly once, such as "{fleet}-{slot}" (the instance name is the slot's identity), got "{slot}-{fleet}-{slot}"`,
	}},
	{path: "instance-name-placeholder.yaml", want: []string{
		`instance-name-placeholder.yaml:12:17: fleet "web": spec.instanceName: unknown placeholder {region}; placeholders are {fleet} and {slot}`,
	}},
	{path: "instance-name-too-long.yaml", want: []string{
		`instance-name-too-long.yaml:12:17: fleet "storefront-production-frontend-webserver": spec.instanceName: renders to 63 characters for slot 999 ("storefront-production-frontend-webserver-guangzhou-instance-999"), at most 60; shorten the template or the fleet name`,
	}},
	{path: "instance-name-unclosed.yaml", want: []string{
		`instance-name-unclosed.yaml:12:17: fleet "web": spec.instanceName: unclosed '{' in "{slot}-{fleet"; placeholders are {fleet} and {slot}`,
	}},
	{path: "invalid-utf8.yaml", want: []string{
		`invalid-utf8.yaml:8:24: invalid UTF-8; save the file as UTF-8`,
	}},
	{path: "keyids-bad.yaml", want: []string{
		`keyids-bad.yaml:13:29: fleet "web": spec.login.keyIds[1]: must be a key pair id: lhkp- followed by 8 lowercase letters or digits, got "my-key"`,
	}},
	{path: "keyids-too-many.yaml", want: []string{
		`keyids-too-many.yaml:13:13: fleet "web": spec.login.keyIds: must have at most 5 items, got 6`,
	}},
	{path: "kind.yaml", want: []string{
		`kind.yaml:2:7: fleet "web": kind: must be "Fleet", got "Deployment"`,
	}},
	{path: "login-both.yaml", want: []string{
		`login-both.yaml:13:5: fleet "web": spec.login: must have exactly one of keyIds or passwordFrom`,
	}},
	{path: "login-empty.yaml", want: []string{
		`login-empty.yaml:12:10: fleet "web": spec.login: must have exactly one of keyIds or passwordFrom`,
	}},
	{path: "many-errors.yaml", want: []string{
		`many-errors.yaml:7:10: fleet "web": spec.count: must be >= 0`,
		`many-errors.yaml:11:20: fleet "web": spec.charge.period: must be 1 to 12, 24, 36, 48 or 60 (months)`,
		`many-errors.yaml:11:34: fleet "web": spec.charge.renewFlag: must be one of "NOTIFY_AND_MANUAL_RENEW", "NOTIFY_AND_AUTO_RENEW", "DISABLE_NOTIFY_AND_MANUAL_RENEW", got "NEVER"`,
		`many-errors.yaml:13:16: fleet "web": spec.autoVoucher: must be true or false, got a number`,
	}},
	{path: "merge-key.yaml", want: []string{
		`merge-key.yaml:1:1: fleet "web": unknown key "x-defaults"; known keys: apiVersion, kind, metadata, spec`,
		`merge-key.yaml:8:3: fleet "web": spec: merge keys (<<) are not supported; write the keys out`,
	}},
	{path: "missing-header.yaml", want: []string{
		`missing-header.yaml:1:1: fleet "web": missing required key "apiVersion"`,
		`missing-header.yaml:1:1: fleet "web": missing required key "kind"`,
	}},
	{path: "name-missing.yaml", want: []string{
		`name-missing.yaml:3:11: metadata: missing required key "name"`,
	}},
	{path: "name-number.yaml", want: []string{
		`name-number.yaml:4:9: metadata.name: must be a string, got a number; quoted, "123" would still be refused: it must be lowercase letters, digits and '-', start with a letter and not end with '-'`,
	}},
	{path: "name-too-long.yaml", want: []string{
		`name-too-long.yaml:4:9: fleet "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa": metadata.name: must be lowercase letters, digits and '-', start with a letter and not end with '-'`,
	}},
	{path: "name-trailing-dash.yaml", want: []string{
		`name-trailing-dash.yaml:4:9: fleet "web-": metadata.name: must be lowercase letters, digits and '-', start with a letter and not end with '-', got "web-"`,
	}},
	{path: "name-uppercase.yaml", want: []string{
		`name-uppercase.yaml:4:9: fleet "Web": metadata.name: must be lowercase letters, digits and '-', start with a letter and not end with '-', got "Web"`,
	}},
	{path: "no-fleets", want: []string{
		`no-fleets: no fleet files (*.yaml, *.yml) in this directory; point lightkeeper at the directory that holds the fleet specs`,
	}},
	{path: "not-a-fleet.yaml", want: []string{
		`not-a-fleet.yaml:2:1: not a lightkeeper fleet (apiVersion apps/v1, kind Deployment); a fleet has apiVersion lightkeeper/v1 and kind Fleet: leave this file out with --exclude, or point lightkeeper at the directory that holds the fleet specs`,
		`not-a-fleet.yaml:12:1: not a lightkeeper fleet (no apiVersion or kind; keys services, volumes); a fleet has apiVersion lightkeeper/v1 and kind Fleet: leave this file out with --exclude, or point lightkeeper at the directory that holds the fleet specs`,
		`not-a-fleet.yaml:24:10: fleet "web": spec.count: must be >= 0`,
	}},
	{path: "not-fleets", want: []string{
		`not-fleets: no lightkeeper fleets here: 3 YAML documents, all something else (the first, not-fleets/compose.yml:1: no apiVersion or kind; keys services); point lightkeeper at the directory that holds the fleet specs, or leave the others out with --exclude`,
	}},
	{path: "exclude", opts: Options{Exclude: []string{"ci/**", "**/broken"}}, want: []string{
		`exclude/fleets/db.yaml:7:10: fleet "db": spec.count: must be >= 0`,
	}},
	{path: "not-a-mapping.yaml", want: []string{
		`not-a-mapping.yaml:1:1: must be a mapping, got a list`,
	}},
	{path: "only-comments.yaml", want: []string{
		`only-comments.yaml:1:1: file has no YAML documents; add a fleet or delete the file`,
	}},
	{path: "password-env-bad.yaml", want: []string{
		`password-env-bad.yaml:13:25: fleet "web": spec.login.passwordFrom.env: must be an environment variable name: letters, digits and '_', not starting with a digit, got "1PASSWORD"`,
	}},
	{path: "password-file-relative.yaml", want: []string{
		`password-file-relative.yaml:13:26: fleet "web": spec.login.passwordFrom.file: must be an absolute path on the lightkeeper host, such as /run/credentials/lightkeeper.service/web-password, got "secrets/web-password"`,
	}},
	{path: "password-from-both.yaml", want: []string{
		`password-from-both.yaml:13:19: fleet "web": spec.login.passwordFrom: must have exactly one of env or file`,
	}},
	{path: "period-invalid.yaml", want: []string{
		`period-invalid.yaml:11:20: fleet "web": spec.charge.period: must be 1 to 12, 24, 36, 48 or 60 (months)`,
	}},
	{path: "period-string.yaml", want: []string{
		`period-string.yaml:11:20: fleet "web": spec.charge.period: must be an integer, got a string; write it without quotes: 1`,
	}},
	{path: "period-too-long.yaml", want: []string{
		`period-too-long.yaml:11:20: fleet "web": spec.charge.period: must be 1 to 12, 24, 36, 48 or 60 (months)`,
	}},
	{path: "period-zero.yaml", want: []string{
		`period-zero.yaml:11:20: fleet "web": spec.charge.period: must be 1 to 12, 24, 36, 48 or 60 (months)`,
	}},
	{path: "plain-password.yaml", want: []string{
		`plain-password.yaml:13:5: fleet "web": spec.login: unknown key "password": a plain password must not be in git; use passwordFrom: {env: NAME} or passwordFrom: {file: PATH}`,
	}},
	{path: "region-bad.yaml", want: []string{
		`region-bad.yaml:6:11: fleet "web": spec.region: must be a region id such as ap-guangzhou, got "guangzhou"`,
	}},
	{path: "region-typo.yaml", want: []string{
		`region-typo.yaml:6:11: fleet "web": spec.region: unknown Lighthouse region "ap-guangzou"; did you mean "ap-guangzhou"? (a region newer than this build: validate --region-allow ap-guangzou)`,
	}},
	{path: "region-unknown.yaml", want: []string{
		`region-unknown.yaml:6:11: fleet "web": spec.region: unknown Lighthouse region "mars-olympus"; known: ap-bangkok, ap-beijing, ap-chengdu, ap-chongqing, ap-guangzhou, ap-hongkong, ap-jakarta, ap-mumbai, ap-nanjing, ap-seoul, ap-shanghai, ap-singapore, ap-tokyo, eu-frankfurt, eu-moscow, na-ashburn, na-siliconvalley, na-toronto, sa-saopaulo (a region newer than this build: validate --region-allow mars-olympus)`,
	}},
	{path: "renew-flag.yaml", want: []string{
		`renew-flag.yaml:11:34: fleet "web": spec.charge.renewFlag: must be one of "NOTIFY_AND_MANUAL_RENEW", "NOTIFY_AND_AUTO_RENEW", "DISABLE_NOTIFY_AND_MANUAL_RENEW", got "AUTO"`,
	}},
	{path: "scale-down.yaml", want: []string{
		`scale-down.yaml:12:14: fleet "web": spec.scaleDown: must be one of "report", "isolate", got "delete"`,
	}},
	{path: "update-strategy.yaml", want: []string{
		`update-strategy.yaml:12:15: fleet "web": spec.update.strategy: must be one of "report", "inPlace", "replace", got "rolling"`,
	}},
	{path: "update-surge-in-place.yaml", want: []string{
		`update-surge-in-place.yaml:14:15: fleet "web": spec.update.maxSurge: applies to strategy replace only: inPlace changes each instance where it is and adds none; remove maxSurge, or use strategy: replace`,
	}},
	{path: "update-both-zero.yaml", want: []string{
		`update-both-zero.yaml:13:21: fleet "web": spec.update.maxUnavailable: maxUnavailable and maxSurge are both 0, so no instance could ever be changed; allow one out of service at a time (maxUnavailable: 1), or one above count while it is replaced (strategy: replace, maxSurge: 1)`,
	}},
	{path: "update-amounts.yaml", want: []string{
		`update-amounts.yaml:13:21: fleet "web": spec.update.maxUnavailable: must be a number of instances (0 or more) or a percentage of count such as "25%", got "30"`,
		`update-amounts.yaml:14:15: fleet "web": spec.update.maxSurge: must be a number of instances (0 or more) or a percentage of count such as "25%"`,
		`update-amounts.yaml:15:15: fleet "web": spec.update.minReady: must be a string, got a number; quoted, "60" would still be refused: it must be a duration such as 30s, 5m or 1h30m`,
	}},
	{path: "update-limits.yaml", want: []string{
		`update-limits.yaml:13:21: fleet "web": spec.update.maxUnavailable: must be a number of instances (0 or more) or a percentage of count such as "25%", got "150%"`,
		`update-limits.yaml:15:5: fleet "web": spec.update: unknown key "maxUnavaliable"; did you mean "maxUnavailable"?`,
	}},
	{path: "update-min-ready.yaml", want: []string{
		`update-min-ready.yaml:14:15: fleet "web": spec.update.minReady: 48h0m0s is longer than 24h; a rollout of a few batches would take days (write it in seconds or minutes, such as 60s)`,
	}},
	{path: "syntax-error.yaml", want: []string{
		`syntax-error.yaml:10:3: YAML syntax error: did not find expected ',' or ']'`,
	}},
	{path: "syntax-indent.yaml", want: []string{
		`syntax-indent.yaml:8:4: YAML syntax error: mapping values are not allowed in this context`,
	}},
	{path: "tabs.yaml", want: []string{
		`tabs.yaml:7:1: tab character in indentation; indent YAML with spaces`,
	}},
	{path: "tags-cloud-rules.yaml", want: []string{
		`tags-cloud-rules.yaml:13:5: fleet "web": spec.tags: tag key "qcloud:app" uses the prefix "qcloud", which Tencent Cloud reserves (as it does "tencent" and "project"); rename the key`,
		`tags-cloud-rules.yaml:14:5: fleet "web": spec.tags: tag key "Project" uses the prefix "project", which Tencent Cloud reserves (as it does "qcloud" and "tencent"); rename the key`,
		`tags-cloud-rules.yaml:15:5: fleet "web": spec.tags: tag key "team#1" has the character '#'; tags take letters, digits, spaces and + - = . _ : / @`,
		`tags-cloud-rules.yaml:16:12: fleet "web": spec.tags.owner: tag value "a,b" has the character ','; tags take letters, digits, spaces and + - = . _ : / @`,
	}},
	{path: "tags-reserved.yaml", want: []string{
		`tags-reserved.yaml:14:5: fleet "web": spec.tags: tag key "lightkeeper-fleet" uses the reserved prefix "lightkeeper-"; lightkeeper sets those tags itself, rename the key`,
	}},
	{path: "tags-key-length.yaml", want: []string{
		`tags-key-length.yaml:12:5: fleet "web": spec.tags."": a key must not be empty`,
		`tags-key-length.yaml:13:5: fleet "web": spec.tags.kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk: key must be at most 127 characters, got 130`,
	}},
	{path: "hint-values.yaml", want: []string{
		`hint-values.yaml:8:13: fleet "web": spec.bundleId: must be a bundle id such as bundle_gen_03 or bundle2022_gen_02, got "bundle_gen_03\u0020"`,
		`hint-values.yaml:10:34: fleet "web": spec.charge.renewFlag: must be a string, got true or false; write one of "NOTIFY_AND_MANUAL_RENEW", "NOTIFY_AND_AUTO_RENEW", "DISABLE_NOTIFY_AND_MANUAL_RENEW"`,
		`hint-values.yaml:11:14: fleet "web": spec.scaleDown: must be a string, got a number; write one of "report", "isolate"`,
		`hint-values.yaml:12:16: fleet "web": spec.autoVoucher: must be true or false, got a string; write it without quotes: true`,
	}},
	{path: "spec-password.yaml", want: []string{
		`spec-password.yaml:11:3: fleet "web": spec: unknown key "password": a plain password must not be in git; under login, use passwordFrom: {env: NAME} or passwordFrom: {file: PATH}`,
	}},
	{path: "tags-too-many.yaml", want: []string{
		`tags-too-many.yaml:13:5: fleet "web": spec.tags: 9 tags, at most 8: an instance takes 10 tags and lightkeeper uses 2 (lightkeeper-fleet, lightkeeper-slot)`,
	}},
	{path: "tags-value-number.yaml", want: []string{
		`tags-value-number.yaml:13:18: fleet "web": spec.tags.cost-center: must be a string, got a number; quote it to keep it text: "4711"`,
	}},
	{path: "too-large.yaml", opts: Options{MaxFileSize: 512}, want: []string{
		`too-large.yaml:1:1: file is larger than 512 bytes; split it into smaller files`,
	}},
	{path: "total-count", want: []string{
		`total-count/b.yaml:7:10: fleet "b": spec.count: brings the total count of all fleets to 1200, above the repository-wide limit of 1000; lower the counts or raise the limit (--max-total-count of validate and reconcile, limits.maxTotalCount of the daemon)`,
	}},
	{path: "typo-container-image.yaml", want: []string{
		`typo-container-image.yaml:13:7: fleet "web": spec.containers[0]: missing required key "containerImage"`,
		`typo-container-image.yaml:13:7: fleet "web": spec.containers[0]: unknown key "containerImg"; did you mean "containerImage"?`,
	}},
	{path: "typo-count.yaml", want: []string{
		`typo-count.yaml:6:3: fleet "web": spec: missing required key "count"`,
		`typo-count.yaml:7:3: fleet "web": spec: unknown key "cuont"; did you mean "count"?`,
	}},
	{path: "typo-metadata.yaml", want: []string{
		`typo-metadata.yaml:1:1: missing required key "metadata"`,
		`typo-metadata.yaml:3:1: unknown key "metdata"; did you mean "metadata"?`,
	}},
	{path: "unknown-key.yaml", want: []string{
		`unknown-key.yaml:12:3: fleet "web": spec: unknown key "color"`,
	}},
	{path: "yaml-directive-1.2.yaml", want: []string{
		`yaml-directive-1.2.yaml:9:10: fleet "web": spec.count: must be >= 0`,
	}},
	{path: "bom-before-separator.yaml", want: []string{
		`bom-before-separator.yaml:19:10: fleet "web2": spec.count: must be >= 0`,
	}},
	{path: "zone-duplicate.yaml", want: []string{
		`zone-duplicate.yaml:10:27: fleet "web": spec.zones[1]: duplicate of item 0`,
	}},
	{path: "zone-malformed.yaml", want: []string{
		`zone-malformed.yaml:10:11: fleet "web": spec.zones[0]: must be a zone id such as ap-guangzhou-3, got "guangzhou3"`,
	}},
	{path: "zone-outside-region.yaml", want: []string{
		`zone-outside-region.yaml:10:27: fleet "web": spec.zones[1]: zone "ap-shanghai-2" is not in region ap-guangzhou; use a zone of ap-guangzhou, named ap-guangzhou-N (DescribeZones lists them)`,
	}},
	{path: "zone-prefix-only.yaml", want: []string{
		`zone-prefix-only.yaml:10:11: fleet "web": spec.zones[0]: must be a zone id such as ap-guangzhou-3, got "ap-guangzhou-east-3"`,
	}},
	{path: "zones-empty.yaml", want: []string{
		`zones-empty.yaml:10:10: fleet "web": spec.zones: must not be empty`,
	}},
}

func TestLoadInvalid(t *testing.T) {
	fsys := os.DirFS("testdata/invalid")
	for _, tc := range invalidCases {
		t.Run(tc.path, func(t *testing.T) {
			fleets, err := LoadInputs([]Input{{FS: fsys, Path: tc.path}}, tc.opts)
			if err == nil {
				t.Fatalf("loaded %d fleets, want errors", len(fleets))
			}
			if fleets != nil {
				t.Errorf("got fleets %v along with errors", fleets)
			}
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error is %T, want Errors: %v", err, err)
			}
			var got []string
			for _, e := range errs {
				got = append(got, e.Error())
				if e.Line == 0 && tc.path != "no-fleets" && tc.path != "not-fleets" {
					t.Errorf("error without a line: %v", e)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// TestInvalidCorpusCovered keeps the table and testdata/invalid in step.
func TestInvalidCorpusCovered(t *testing.T) {
	ents, err := os.ReadDir("testdata/invalid")
	if err != nil {
		t.Fatal(err)
	}
	inTable := map[string]bool{}
	for _, tc := range invalidCases {
		inTable[tc.path] = true
	}
	for _, e := range ents {
		if !inTable[e.Name()] {
			t.Errorf("testdata/invalid/%s has no entry in invalidCases", e.Name())
		}
	}
	if len(invalidCases) < 40 {
		t.Errorf("%d invalid cases, want at least 40", len(invalidCases))
	}
}
