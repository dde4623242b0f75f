package emulator

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"strings"
)

// configNoMethods is Config without its methods, for printing a redacted
// copy without calling Format again.
type configNoMethods Config

// redacted returns a copy of c whose Credentials map every SecretId to
// "REDACTED".
func (c Config) redacted() configNoMethods {
	p := configNoMethods(c)
	if c.Credentials != nil {
		p.Credentials = make(map[string]string, len(c.Credentials))
		for id := range c.Credentials {
			p.Credentials[id] = "REDACTED"
		}
	}
	return p
}

// Format prints the config as fmt would with each SecretKey shown as
// REDACTED: the emulator may be given real credentials (lightkeeper
// emulator reads the client's environment), and a config printed into a
// log or an error must not carry them.
func (c Config) Format(f fmt.State, verb rune) {
	p := c.redacted()
	if verb == 'v' && f.Flag('#') {
		fmt.Fprintf(f, "emulator.Config%+v", p)
		return
	}
	fmt.Fprintf(f, fmt.FormatString(f, verb), p)
}

// LogValue makes slog print the config with its SecretKeys REDACTED.
func (c Config) LogValue() slog.Value { return slog.StringValue(fmt.Sprintf("%+v", c)) }

// MarshalJSON encodes the config with its SecretKeys REDACTED.
func (c Config) MarshalJSON() ([]byte, error) { return json.Marshal(c.redacted()) }

// String describes the server without its secrets: the SecretIds it
// accepts.
func (s *Server) String() string {
	ids := make([]string, 0, len(s.cfg.Credentials))
	for id := range s.cfg.Credentials {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return "emulator.Server{SecretIds: [" + strings.Join(ids, " ") + "]}"
}

// Format makes every fmt verb print String, so that a Server printed with
// %+v or %#v, alone or inside another struct, shows no SecretKey.
func (s *Server) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		fmt.Fprintf(f, "%q", s.String())
		return
	}
	f.Write([]byte(s.String()))
}

// LogValue makes slog print String.
func (s *Server) LogValue() slog.Value { return slog.StringValue(s.String()) }
