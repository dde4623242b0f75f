package spec

import (
	"fmt"
	"path"
	"strings"
)

// CheckExclude reports whether pattern is a valid exclude glob (see
// Options.Exclude), so that a command can refuse a bad one as a usage error
// before reading anything.
func CheckExclude(pattern string) error {
	if pattern == "" {
		return fmt.Errorf("empty exclude pattern")
	}
	if strings.HasPrefix(pattern, "/") {
		return fmt.Errorf("exclude pattern %q is absolute; patterns match paths relative to the directory walked, such as ci/** or **/testdata", pattern)
	}
	for _, seg := range strings.Split(pattern, "/") {
		if seg == "**" {
			continue
		}
		if strings.Contains(seg, "**") {
			return fmt.Errorf("exclude pattern %q: ** must be a whole path element, such as a/**/b", pattern)
		}
		if _, err := path.Match(seg, ""); err != nil {
			return fmt.Errorf("exclude pattern %q: %w", pattern, err)
		}
	}
	return nil
}

// Excluded reports whether rel, a slash-separated path relative to the
// directory walked, matches one of patterns (see Options.Exclude; check
// each with CheckExclude first). It is the one matcher of every command's
// --exclude and of the daemon's exclude.
func Excluded(patterns []string, rel string) bool {
	if len(patterns) == 0 {
		return false
	}
	parts := strings.Split(rel, "/")
	for _, p := range patterns {
		if matchSegments(strings.Split(p, "/"), parts) {
			return true
		}
	}
	return false
}

// matchSegments matches path elements against glob elements: "**" stands
// for any number of elements (none included), anything else is matched as
// path.Match matches one element.
func matchSegments(pat, name []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			for i := 0; i <= len(name); i++ {
				if matchSegments(pat[1:], name[i:]) {
					return true
				}
			}
			return false
		}
		if len(name) == 0 {
			return false
		}
		if ok, err := path.Match(pat[0], name[0]); err != nil || !ok {
			return false
		}
		pat, name = pat[1:], name[1:]
	}
	return len(name) == 0
}
