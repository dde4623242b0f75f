package escape

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestText(t *testing.T) {
	for in, want := range map[string]string{
		"":                          "",
		"web-0":                     "web-0",
		"fleets/web.yaml":           "fleets/web.yaml",
		`C:\fleets`:                 `C:\fleets`,
		"网络-0 ok":                   "网络-0 ok",
		"a\nb":                      `a\nb`,
		"over\rwrite":               `over\rwrite`,
		"tab\there":                 `tab\there`,
		"\x1b[31mred\x1b[0m":        `\x1b[31mred\x1b[0m`,
		"bell\a":                    `bell\a`,
		"del\x7f":                   `del\x7f`,
		"c1\u0085":                  `c1\u0085`,
		"bidi\u202eexe.yaml":        `bidi\u202eexe.yaml`,
		"zero\u200bwidth":           `zero\u200bwidth`,
		"line\u2028sep":             `line\u2028sep`,
		"nbsp\u00a0":                `nbsp\u00a0`,
		"bad\xffbyte":               `bad\xffbyte`,
		"::warning::pwned":          `:\x3awarning:\x3apwned`,
		"x ##[error]pwned":          `x #\x23[error]pwned`,
		"10:30 a:b":                 "10:30 a:b",
		"# heading #1 [x]":          "# heading #1 [x]",
		"\ufffd is a real rune":     "\ufffd is a real rune",
		"ends with a colon:":        "ends with a colon:",
		"fe80::1":                   `fe80:\x3a1`,
		"###[":                      `##\x23[`,
		":::":                       `:\x3a:`,
		"a\x00b":                    `a\x00b`,
		"emoji 🙂 and ✓":             "emoji 🙂 and ✓",
		"tag\U000e0041 (tag latin)": `tag\U000e0041 (tag latin)`,
	} {
		if got := Text(in); got != want {
			t.Errorf("Text(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzText: whatever the input, the output holds no character a terminal
// or a CI log acts on, no workflow-command marker, and escaping it again
// changes nothing; and text that needs no escape is kept as it is.
func FuzzText(f *testing.F) {
	for _, s := range []string{"web-0", "a\nb\r\x1b[2J", "::error::x", "##[warning]y", "\u202e", "\xff\xfe", "网"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := Text(s)
		if !utf8.ValidString(got) {
			t.Fatalf("Text(%q) = %q is not UTF-8", s, got)
		}
		for _, r := range got {
			if r != ' ' && !unicode.IsPrint(r) {
				t.Fatalf("Text(%q) = %q holds %U", s, got, r)
			}
		}
		if strings.Contains(got, "::") || strings.Contains(got, "##[") {
			t.Fatalf("Text(%q) = %q holds a workflow-command marker", s, got)
		}
		if again := Text(got); again != got {
			t.Fatalf("Text is not idempotent: %q -> %q -> %q", s, got, again)
		}
		if clean(s) && got != s {
			t.Fatalf("clean text %q changed to %q", s, got)
		}
	})
}
