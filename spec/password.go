package spec

import (
	"fmt"
	"path"
	"strings"
)

// Where lightkeeper reads its own Tencent Cloud API credentials (see package
// lighthouse): a fleet's passwordFrom must point at none of them, or the API
// secret would become the login password of every server of the fleet.
var (
	// credentialEnvPrefix starts the variables of the Tencent Cloud SDKs
	// (TENCENTCLOUD_SECRET_ID, _SECRET_KEY, _SESSION_TOKEN, …).
	credentialEnvPrefix = "TENCENTCLOUD_"
	// credentialEnvs are other variables of lightkeeper's credential lookup.
	credentialEnvs = []string{"CREDENTIALS_DIRECTORY"}
	// credentialFiles are the systemd credential names lightkeeper reads from
	// $CREDENTIALS_DIRECTORY, wherever that directory is.
	credentialFiles = []string{"tencentcloud-secret-id", "tencentcloud-secret-key", "tencentcloud-session-token"}
	// credentialDirs hold the SDK credentials file and the tccli profiles
	// (~/.tencentcloud/credentials, ~/.tccli/default.credential).
	credentialDirs = []string{".tencentcloud", ".tccli"}
)

// passwordSourceProblem explains a passwordFrom that points at lightkeeper's
// own credential sources, or "".
func passwordSourceProblem(p *PasswordFrom) (field, msg string) {
	const never = "the API secret must never become a server password"
	switch {
	case p == nil:
		return "", ""
	case p.Env != "":
		up := strings.ToUpper(p.Env)
		for _, e := range credentialEnvs {
			if up == e {
				return "spec.login.passwordFrom.env", fmt.Sprintf("%s is where lightkeeper finds its own Tencent Cloud credentials; %s: use a variable of its own, such as WEB_PASSWORD", p.Env, never)
			}
		}
		if strings.HasPrefix(up, credentialEnvPrefix) {
			return "spec.login.passwordFrom.env", fmt.Sprintf("%s is a Tencent Cloud SDK variable (%s*), where lightkeeper reads its own API credentials; %s: use a variable of its own, such as WEB_PASSWORD", p.Env, credentialEnvPrefix, never)
		}
	case p.File != "":
		clean := path.Clean(p.File)
		for _, name := range credentialFiles {
			if path.Base(clean) == name {
				return "spec.login.passwordFrom.file", fmt.Sprintf("%s is the systemd credential %s, which holds lightkeeper's own API credentials; %s: give the password a credential of its own, such as web-password", visible(p.File), name, never)
			}
		}
		for _, dir := range credentialDirs {
			if strings.Contains(clean+"/", "/"+dir+"/") {
				return "spec.login.passwordFrom.file", fmt.Sprintf("%s is in %s/, where the Tencent Cloud SDK and tccli keep API credentials; %s: keep the password in a file of its own", visible(p.File), dir, never)
			}
		}
	}
	return "", ""
}
