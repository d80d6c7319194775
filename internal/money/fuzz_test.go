package money

import (
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"strings"
	"testing"
)

// decimal reports whether s is in the grammar Parse accepts: an optional sign, then
// digits with an optional fraction, or a bare fraction (".5"); a dot must be followed
// by a digit. (No regexp: its instrumented code would make every byte look new to the
// fuzzer's coverage, and minimising would stall.)
func decimal(s string) bool {
	if s != "" && (s[0] == '+' || s[0] == '-') {
		s = s[1:]
	}
	digitsBefore, dots, digitsAfter := 0, 0, 0
	for _, c := range []byte(s) {
		switch {
		case c == '.':
			dots++
		case c >= '0' && c <= '9' && dots == 0:
			digitsBefore++
		case c >= '0' && c <= '9':
			digitsAfter++
		default:
			return false
		}
	}
	if dots > 1 {
		return false
	}
	if dots == 1 {
		return digitsAfter > 0
	}
	return digitsBefore > 0
}

// FuzzMoneyParse checks Parse against an independent model built on math/big: the
// same strings are accepted, to the same exact value, and each refusal has the error
// the model expects (syntax, then precision, then overflow). For accepted amounts it
// also checks ParseNonNegative, ParsePositive, the String round trip and JSON. Its
// seeds run under plain `go test`.
func FuzzMoneyParse(f *testing.F) {
	for _, s := range []string{"0", "12.5", "-0.000001", "+3", ".5", "-.5", "5.", ".", "+", "-", "", "1e5", " 1", "1,000",
		"0.0000001", "9223372036854.775807", "9223372036854.775808", "-9223372036854.775807", "-9223372036854.775808",
		"00000000000000000009223372036854.775807", "99999999999999", "1.2.3", "١٢", "0x10", "+-1", "--1", "1_000",
		"12.500000", "12.5000000", "-0", "+0.000000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := Parse(s)
		want, wantErr := model(s)
		if wantErr != nil {
			if err == nil || !errors.Is(err, wantErr) {
				t.Fatalf("Parse(%q) = %d, %v; want error %v", s, a, err, wantErr)
			}
			var u Amount
			if u.UnmarshalText([]byte(s)) == nil {
				t.Fatalf("UnmarshalText(%q) accepted what Parse refuses", s)
			}
			return
		}
		if err != nil || a != want {
			t.Fatalf("Parse(%q) = %d, %v; want %d", s, a, err, want)
		}
		// The exact decimal string round-trips, through text and JSON.
		back, err := Parse(a.String())
		if err != nil || back != a || !strings.Contains(a.String(), ".") || len(a.String()[strings.Index(a.String(), ".")+1:]) != Decimals {
			t.Fatalf("%q: String %q parses to %d, %v", s, a.String(), back, err)
		}
		b, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		var j Amount
		if err := json.Unmarshal(b, &j); err != nil || j != a {
			t.Fatalf("%q: JSON %s gives %d, %v", s, b, j, err)
		}
		// The sign-checking variants agree with the value.
		if _, err := ParseNonNegative(s); (err == nil) != (a >= 0) || (err != nil && !errors.Is(err, ErrNegative)) {
			t.Fatalf("ParseNonNegative(%q) = %v for %d", s, err, a)
		}
		if _, err := ParsePositive(s); (err == nil) != (a > 0) || (err != nil && !errors.Is(err, ErrNotPositive)) {
			t.Fatalf("ParsePositive(%q) = %v for %d", s, err, a)
		}
	})
}

// model parses s the slow, obviously right way.
func model(s string) (Amount, error) {
	if s == "" {
		return 0, ErrEmpty
	}
	if !decimal(s) {
		return 0, ErrSyntax
	}
	if _, frac, ok := strings.Cut(s, "."); ok && len(frac) > Decimals {
		return 0, ErrPrecision
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		panic("big.Rat refuses " + s)
	}
	r.Mul(r, big.NewRat(Scale, 1))
	if !r.IsInt() {
		panic("not whole after scaling: " + s)
	}
	v := r.Num()
	if v.CmpAbs(big.NewInt(math.MaxInt64)) > 0 {
		return 0, ErrOverflow
	}
	return Amount(v.Int64()), nil
}
