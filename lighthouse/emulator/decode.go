package emulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
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
	if bytes.Equal(body, []byte("null")) {
		// encoding/json would decode null as an empty request.
		return errf(codeInvalidParameter, "%s: the request body must be a JSON object, got null", c.action)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("trailing data after the JSON object")
	}
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) && typeErr.Value == "string" {
		// The service accepts numbers and booleans sent as strings, as in
		// the documented example {"InstanceChargePrepaid":{"Period":"1"}}.
		if fixed, ok := coerceStrings(body, reflect.TypeOf(v)); ok {
			dec = json.NewDecoder(bytes.NewReader(fixed))
			dec.DisallowUnknownFields()
			err = dec.Decode(v)
		}
	}
	if err == nil {
		// encoding/json matches keys case-insensitively and keeps the last
		// of duplicated keys; the API defines exact names.
		path, dup, bad := checkKeys(json.NewDecoder(bytes.NewReader(body)), reflect.TypeOf(v), "")
		switch {
		case bad && dup:
			return errf(codeInvalidParameter, "%s: the parameter %s is given more than once", c.action, path)
		case bad:
			return errf(codeUnknownParameter, "%s: the parameter %s is not recognized (parameter names are case-sensitive)", c.action, path)
		}
		return nil
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return errf(codeUnknownParameter, "%s: the parameter %s is not recognized", c.action, name)
	}
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

// coerceStrings rewrites body so that strings holding numbers or booleans
// become JSON numbers or booleans where the target type t wants them.
func coerceStrings(body []byte, t reflect.Type) ([]byte, bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return nil, false
	}
	out, err := json.Marshal(coerce(v, t))
	return out, err == nil
}

func coerce(v any, t reflect.Type) any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return v
		}
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" {
				name = f.Name
			}
			if x, ok := m[name]; ok {
				m[name] = coerce(x, f.Type)
			}
		}
		return m
	case reflect.Slice:
		xs, ok := v.([]any)
		if !ok {
			return v
		}
		for i := range xs {
			xs[i] = coerce(xs[i], t.Elem())
		}
		return xs
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		if s, ok := v.(string); ok {
			if _, err := strconv.ParseFloat(s, 64); err == nil {
				return json.Number(s)
			}
		}
	case reflect.Bool:
		if s, ok := v.(string); ok {
			if b, err := strconv.ParseBool(s); err == nil {
				return b
			}
		}
	}
	return v
}

// checkKeys walks the JSON value read by dec against the Go type t (nil:
// anything goes) and reports the first object key that is not exactly the
// JSON name of a field of t, or that repeats a key of the same object, as
// a dotted path. The value was already decoded into t, so it is valid JSON.
func checkKeys(dec *json.Decoder, t reflect.Type, path string) (bad string, dup, found bool) {
	tok, err := dec.Token()
	if err != nil {
		return "", false, false
	}
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch tok {
	case json.Delim('{'):
		var fields map[string]reflect.Type
		if t != nil && t.Kind() == reflect.Struct {
			fields = map[string]reflect.Type{}
			jsonFields(t, fields)
		}
		seen := map[string]bool{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return "", false, false
			}
			key, _ := kt.(string)
			kpath := key
			if path != "" {
				kpath = path + "." + key
			}
			if seen[key] {
				return kpath, true, true
			}
			seen[key] = true
			var ft reflect.Type
			if fields != nil {
				var ok bool
				if ft, ok = fields[key]; !ok {
					return kpath, false, true
				}
			}
			if bad, dup, found := checkKeys(dec, ft, kpath); found {
				return bad, dup, found
			}
		}
		dec.Token() // '}'
	case json.Delim('['):
		var et reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			et = t.Elem()
		}
		for i := 0; dec.More(); i++ {
			if bad, dup, found := checkKeys(dec, et, fmt.Sprintf("%s[%d]", path, i)); found {
				return bad, dup, found
			}
		}
		dec.Token() // ']'
	}
	return "", false, false
}

// jsonFields maps the JSON names of t's fields to their types, including
// those of embedded structs without a name of their own.
func jsonFields(t reflect.Type, out map[string]reflect.Type) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if name == "" && f.Anonymous {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				jsonFields(ft, out)
				continue
			}
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
}
