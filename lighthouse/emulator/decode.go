package emulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
)

// decodeParams decodes the request body into v strictly: a parameter the
// action does not define is UnknownParameter, a value of the wrong type is
// InvalidParameter, as the service answers.
func decodeParams(c *call, v any) *apiError {
	body := bytes.TrimSpace(c.body)
	if len(body) == 0 {
		body = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("trailing data after the JSON object")
	}
	if err == nil {
		return nil
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return errf(codeUnknownParameter, "%s: the parameter %s is not recognized", c.action, name)
	}
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		field := typeErr.Field
		if field == "" {
			return errf(codeInvalidParameter, "%s: the request body must be a JSON object", c.action)
		}
		return errf(codeInvalidParameter, "%s: the parameter %s has the wrong type: got a JSON %s, want %s", c.action, field, typeErr.Value, typeErr.Type)
	}
	return errf(codeInvalidParameter, "%s: the request body is not valid JSON: %v", c.action, err)
}

// present reports whether the top-level JSON object of the body has key.
func present(c *call, key string) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(c.body, &m) != nil {
		return false
	}
	_, ok := m[key]
	return ok
}
