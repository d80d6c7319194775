// Package money holds Spectra's one amount type: a signed int64 count of micro-units
// (1 unit of the deployment's currency = 1,000,000 micro-units), with exact parsing,
// formatting and the one rounding rule. No float touches an Amount.
package money

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// Scale is the number of micro-units in one unit of currency.
const Scale = 1_000_000

// Decimals is the number of decimal places an Amount carries.
const Decimals = 6

// Amount is an exact amount of money in micro-units.
type Amount int64

// Max is the largest representable amount.
const Max = Amount(math.MaxInt64)

// Parse errors. Every error Parse returns wraps exactly one of them.
var (
	ErrEmpty       = errors.New("amount is empty")
	ErrSyntax      = errors.New("amount is not a decimal number")
	ErrPrecision   = errors.New("amount has more than 6 decimal places")
	ErrOverflow    = errors.New("amount is too large")
	ErrNegative    = errors.New("amount must not be negative")
	ErrNotPositive = errors.New("amount must be greater than zero")
)

// Parse reads a decimal string such as "12.5", "-0.000001" or "+3" into an Amount.
// It accepts an optional sign, digits, and at most 6 decimals; nothing else
// (no exponent, no spaces, no thousands separators).
func Parse(s string) (Amount, error) {
	if s == "" {
		return 0, ErrEmpty
	}
	neg := false
	rest := s
	switch rest[0] {
	case '-':
		neg, rest = true, rest[1:]
	case '+':
		rest = rest[1:]
	}
	whole, frac, hasDot := strings.Cut(rest, ".")
	if whole == "" && frac == "" {
		return 0, fmt.Errorf("%w: %q", ErrSyntax, s)
	}
	if hasDot && frac == "" {
		return 0, fmt.Errorf("%w: %q", ErrSyntax, s)
	}
	if !digits(whole) || !digits(frac) {
		return 0, fmt.Errorf("%w: %q", ErrSyntax, s)
	}
	if len(frac) > Decimals {
		return 0, fmt.Errorf("%w: %q", ErrPrecision, s)
	}
	whole = strings.TrimLeft(whole, "0")
	if len(whole) > 13 { // math.MaxInt64/Scale has 13 digits
		return 0, fmt.Errorf("%w: %q", ErrOverflow, s)
	}
	var v uint64
	for i := 0; i < len(whole); i++ {
		v = v*10 + uint64(whole[i]-'0')
	}
	if v > math.MaxInt64/Scale {
		return 0, fmt.Errorf("%w: %q", ErrOverflow, s)
	}
	v *= Scale
	var f uint64
	for i := 0; i < Decimals; i++ {
		f *= 10
		if i < len(frac) {
			f += uint64(frac[i] - '0')
		}
	}
	if v > math.MaxInt64-f {
		return 0, fmt.Errorf("%w: %q", ErrOverflow, s)
	}
	v += f
	if neg {
		return -Amount(v), nil
	}
	return Amount(v), nil
}

// ParseNonNegative is Parse that also refuses amounts below zero.
func ParseNonNegative(s string) (Amount, error) {
	a, err := Parse(s)
	if err != nil {
		return 0, err
	}
	if a < 0 {
		return 0, fmt.Errorf("%w: %q", ErrNegative, s)
	}
	return a, nil
}

// ParsePositive is Parse that also refuses zero and amounts below zero.
func ParsePositive(s string) (Amount, error) {
	a, err := Parse(s)
	if err != nil {
		return 0, err
	}
	if a <= 0 {
		return 0, fmt.Errorf("%w: %q", ErrNotPositive, s)
	}
	return a, nil
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// String formats the amount with exactly 6 decimals, e.g. "12.500000" or "-0.000001".
func (a Amount) String() string {
	var u uint64
	sign := ""
	if a < 0 {
		sign = "-"
		u = uint64(-(a + 1)) + 1 // safe for math.MinInt64
	} else {
		u = uint64(a)
	}
	return fmt.Sprintf("%s%d.%06d", sign, u/Scale, u%Scale)
}

// MarshalText encodes the amount as its decimal string, so JSON carries "12.500000".
func (a Amount) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText parses a decimal string with Parse.
func (a *Amount) UnmarshalText(b []byte) error {
	v, err := Parse(string(b))
	if err != nil {
		return err
	}
	*a = v
	return nil
}

// Add returns a+b, or ErrOverflow when the sum does not fit.
func Add(a, b Amount) (Amount, error) {
	s := a + b
	if (b > 0 && s < a) || (b < 0 && s > a) {
		return 0, ErrOverflow
	}
	return s, nil
}
