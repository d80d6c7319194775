package text_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"spectra/internal/errs"
	"spectra/internal/text"
)

func TestLine(t *testing.T) {
	for _, tt := range []struct {
		s    string
		max  int
		want string // error code, or ""
	}{
		{"Acme Inc.", 0, ""},
		{"Zoë 👩‍💻 プロジェクト", 0, ""},
		{"", 0, ""},
		{"a\x00b", 0, "invalid_text"},
		{"\x00", 0, "invalid_text"},
		{"a\tb", 0, "invalid_text"},
		{"a\nb", 0, "invalid_text"},
		{"a\rb", 0, "invalid_text"},
		{"\x1b[31mred", 0, "invalid_text"},
		{"del\x7f", 0, "invalid_text"},
		{"c1\u0085", 0, "invalid_text"},
		{"ls\u2028", 0, "invalid_text"},
		{"ps\u2029", 0, "invalid_text"},
		{"bad\xff", 0, "invalid_text"},
		{"\xc3", 0, "invalid_text"},
		{"\xed\xa0\x80", 0, "invalid_text"}, // a UTF-16 surrogate is not UTF-8
		{strings.Repeat("x", text.MaxLine), 0, ""},
		{strings.Repeat("x", text.MaxLine+1), 0, "invalid_text"},
		{"abcd", 4, ""},
		{"abcde", 4, "invalid_text"},
	} {
		err := text.Line("name", tt.s, tt.max)
		if got := codeOf(err); got != tt.want {
			t.Errorf("Line(%q, %d) = %v, want %q", tt.s, tt.max, err, tt.want)
		}
		if err != nil && (errs.KindOf(err) != errs.Invalid || !strings.HasPrefix(err.(*errs.Error).Message, "name ")) {
			t.Errorf("Line(%q): %v: want kind invalid and a message naming the field", tt.s, err)
		}
	}
}

func TestFree(t *testing.T) {
	for _, tt := range []struct {
		s    string
		want string
	}{
		{"line one\r\nline two\tand a tab", ""},
		{"a\x00b", "invalid_text"},
		{"bell\a", "invalid_text"},
		{"bad\xff", "invalid_text"},
		{"ls\u2028", "invalid_text"},
		{strings.Repeat("x", text.MaxFree+1), "invalid_text"},
	} {
		if got := codeOf(text.Free("note", tt.s, 0)); got != tt.want {
			t.Errorf("Free(%.20q) = %q, want %q", tt.s, got, tt.want)
		}
	}
	if err := text.Valid("url", strings.Repeat("x", 10*text.MaxFree), false); err != nil {
		t.Errorf("Valid bounds no length: %v", err)
	}
}

func TestVisible(t *testing.T) {
	for s, want := range map[string]bool{
		"a": true, " a ": true, "é": true, "👍": true,
		"": false, "   ": false, "\t\n": false, "\u00a0\u3000": false, "\u200b": false, "\u200b\u200d": false,
	} {
		if got := text.Visible(s); got != want {
			t.Errorf("Visible(%q) = %v, want %v", s, got, want)
		}
	}
}

func codeOf(err error) string {
	if err == nil {
		return ""
	}
	return errs.CodeOf(err)
}

// FuzzRule checks the rule against a plain restatement of it: Problem refuses exactly the
// strings that are not UTF-8 or hold a control character (tab, line feed and carriage
// return allowed in free text), and Line and Free agree with it and with the bound.
func FuzzRule(f *testing.F) {
	for _, s := range []string{"", "Acme", "a\x00b", "a\tb\r\n", "\x1b", "\u0085", "\u2028", "\xff", "\xc3", "\xed\xa0\x80",
		"Zoë 👩‍💻", "\u200b", "\x7f", "\uFFFD", "\xef\xbf\xbd"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, free bool) {
		want := utf8.ValidString(s)
		for _, r := range s {
			if free && (r == '\t' || r == '\n' || r == '\r') {
				continue
			}
			if r < 0x20 || (r >= 0x7f && r <= 0x9f) || r == 0x2028 || r == 0x2029 {
				want = false
			}
		}
		if got := text.Problem(s, free) == ""; got != want {
			t.Fatalf("Problem(%q, %v) = %q; want ok=%v", s, free, text.Problem(s, free), want)
		}
		check := text.Line
		if free {
			check = text.Free
		}
		for _, max := range []int{1, len(s), len(s) + 1} {
			err := check("f", s, max)
			if ok := want && len(s) <= max; (err == nil) != ok {
				t.Fatalf("check(%q, max %d) = %v; want ok=%v", s, max, err, ok)
			}
			if err != nil && errs.CodeOf(err) != text.Code {
				t.Fatalf("code %q", errs.CodeOf(err))
			}
		}
		if text.Visible(s) && strings.TrimSpace(s) == "" {
			t.Fatalf("Visible(%q) but it is only spaces", s)
		}
	})
}
