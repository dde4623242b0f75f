package lighthouse

import (
	"fmt"
	"log/slog"
)

// redacted stands in for a login password in printed and logged values.
const redacted = "REDACTED"

// loginNoMethods is LoginConfiguration without its methods, so that
// printing a redacted copy does not call Format again.
type loginNoMethods LoginConfiguration

func (lc LoginConfiguration) redacted() loginNoMethods {
	p := loginNoMethods(lc)
	if p.Password != "" {
		p.Password = redacted
	}
	return p
}

// Format prints the login configuration with every fmt verb as fmt would,
// except that a password shows as REDACTED: requests are printed in
// errors and debug output, and a password must never reach them. The JSON
// form, which is what is sent, keeps the password.
func (lc LoginConfiguration) Format(f fmt.State, verb rune) {
	p := lc.redacted()
	if verb == 'v' && f.Flag('#') {
		fmt.Fprintf(f, "lighthouse.LoginConfiguration%+v", p)
		return
	}
	fmt.Fprintf(f, fmt.FormatString(f, verb), p)
}

// LogValue makes slog show the login configuration with its password
// REDACTED, whatever the handler.
func (lc LoginConfiguration) LogValue() slog.Value {
	p := lc.redacted()
	return slog.GroupValue(
		slog.String("AutoGeneratePassword", p.AutoGeneratePassword),
		slog.String("Password", p.Password),
		slog.Any("KeyIds", p.KeyIds),
	)
}

// LogValue makes slog show the request as fmt's %+v does, with the login
// password REDACTED (a JSON handler would otherwise encode it whole).
func (r CreateInstancesRequest) LogValue() slog.Value {
	type noMethods CreateInstancesRequest
	return slog.StringValue(fmt.Sprintf("%+v", noMethods(r)))
}

// String describes the client without its secrets: the endpoint and the
// redacted credential.
func (c Client) String() string {
	return "lighthouse.Client{Endpoint: " + c.endpoint + ", Credential: " + c.cred.String() + "}"
}

// Format makes every fmt verb print String, so that a Client printed with
// %+v or %#v, alone or inside another struct, shows no secret.
func (c Client) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		fmt.Fprintf(f, "%q", c.String())
		return
	}
	f.Write([]byte(c.String()))
}

// LogValue makes slog print String.
func (c Client) LogValue() slog.Value { return slog.StringValue(c.String()) }
