// Package text is Spectra's one rule for text that comes from outside: every name, note,
// reference, id, label, cursor and query parameter is checked by it before it reaches a
// service's rules or a database, so both databases see the same text (PostgreSQL's text
// columns refuse a NUL byte, SQLite's take it; either way it is no text a person wrote).
//
// The rule:
//   - the value is valid UTF-8;
//   - a single-line value (ids, names, labels, codes, references, query parameters)
//     holds no control character at all: none of U+0000–U+001F, U+007F–U+009F, nor the
//     line and paragraph separators U+2028 and U+2029;
//   - free text (notes, reasons) may also hold tab, line feed and carriage return;
//   - the value is at most a given number of bytes (each field names its own bound).
//
// A value that breaks it is refused with kind Invalid and the code invalid_text (a 400 on
// every transport); its message names the field and what is wrong, never the value.
// Fields keep their own codes for being empty, too long or badly formed otherwise.
//
// The package imports only internal/errs.
package text

import (
	"unicode"
	"unicode/utf8"

	"spectra/internal/errs"
)

// Code is the error code of a value that breaks the rule.
const Code = "invalid_text"

// Default bounds, in bytes, for fields that have none of their own.
const (
	MaxLine = 1024     // a single-line value
	MaxFree = 64 << 10 // free text
)

// Line checks a single-line value of field: valid UTF-8, no control characters and at
// most max bytes (MaxLine when max <= 0). It returns nil or an invalid_text error.
func Line(field, s string, max int) error {
	return check(field, s, max, MaxLine, false)
}

// Free checks free text of field: as Line, but tab, line feed and carriage return are
// allowed, and the bound is MaxFree when max <= 0.
func Free(field, s string, max int) error {
	return check(field, s, max, MaxFree, true)
}

// Valid checks s under the rule without a length bound (for fields whose own check
// bounds their length with a code of its own): free allows tab, line feed and carriage
// return.
func Valid(field, s string, free bool) error {
	if p := Problem(s, free); p != "" {
		return errs.E(errs.Invalid, Code, "%s %s", field, p)
	}
	return nil
}

func check(field, s string, max, def int, free bool) error {
	if max <= 0 {
		max = def
	}
	if len(s) > max {
		return errs.E(errs.Invalid, Code, "%s is longer than %d bytes", field, max)
	}
	if p := Problem(s, free); p != "" {
		return errs.E(errs.Invalid, Code, "%s %s", field, p)
	}
	return nil
}

// Problem says what is wrong with s under the rule ("is not valid UTF-8", "holds a NUL
// byte", "holds a control character"), or "" when nothing is. free allows tab, line feed
// and carriage return. It does not check length.
func Problem(s string, free bool) string {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == 0:
				return "holds a NUL byte"
			case free && (c == '\t' || c == '\n' || c == '\r'):
			case c < 0x20 || c == 0x7f:
				return "holds a control character"
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n <= 1 {
			return "is not valid UTF-8"
		}
		if Control(r) {
			return "holds a control character"
		}
		i += n
	}
	return ""
}

// Control reports whether r is a control character under the rule for single-line
// values: C0, DEL, C1, and the line and paragraph separators.
func Control(r rune) bool {
	return r < 0x20 || (r >= 0x7f && r <= 0x9f) || r == 0x2028 || r == 0x2029
}

// Visible reports whether s holds at least one character that shows: a graphic
// character that is not a space (so neither spaces alone nor invisible format
// characters such as U+200B count).
func Visible(s string) bool {
	for _, r := range s {
		if r != utf8.RuneError && unicode.IsGraphic(r) && !unicode.IsSpace(r) {
			return true
		}
	}
	return false
}
