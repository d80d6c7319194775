package money

import (
	"encoding/json"
	"errors"
	"math"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want Amount
	}{
		{"12.5", 12_500_000},
		{"0", 0},
		{"0.000001", 1},
		{"-0.000001", -1},
		{"+3", 3_000_000},
		{".5", 500_000},
		{"007.25", 7_250_000},
		{"9223372036854.775807", math.MaxInt64},
		{"-9223372036854.775807", -math.MaxInt64},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("Parse(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		in   string
		want error
	}{
		{"", ErrEmpty},
		{"-", ErrSyntax},
		{".", ErrSyntax},
		{"1.", ErrSyntax},
		{"1e5", ErrSyntax},
		{" 1", ErrSyntax},
		{"1,000", ErrSyntax},
		{"--1", ErrSyntax},
		{"0x10", ErrSyntax},
		{"1.0000001", ErrPrecision},
		{"9223372036854.775808", ErrOverflow},
		{"99999999999999", ErrOverflow},
		{"100000000000000000000000", ErrOverflow},
	}
	for _, tt := range tests {
		_, err := Parse(tt.in)
		if !errors.Is(err, tt.want) {
			t.Errorf("Parse(%q) error = %v; want %v", tt.in, err, tt.want)
		}
	}
	if _, err := ParseNonNegative("-1"); !errors.Is(err, ErrNegative) {
		t.Errorf("ParseNonNegative(-1) = %v", err)
	}
	if _, err := ParsePositive("0"); !errors.Is(err, ErrNotPositive) {
		t.Errorf("ParsePositive(0) = %v", err)
	}
	if a, err := ParseNonNegative("0"); err != nil || a != 0 {
		t.Errorf("ParseNonNegative(0) = %v, %v", a, err)
	}
}

func TestString(t *testing.T) {
	tests := map[Amount]string{
		12_500_000:    "12.500000",
		0:             "0.000000",
		-1:            "-0.000001",
		math.MaxInt64: "9223372036854.775807",
		math.MinInt64: "-9223372036854.775808",
	}
	for a, want := range tests {
		if got := a.String(); got != want {
			t.Errorf("%d.String() = %q; want %q", int64(a), got, want)
		}
	}
}

func TestJSON(t *testing.T) {
	var v struct {
		A Amount `json:"a"`
	}
	if err := json.Unmarshal([]byte(`{"a":"1.25"}`), &v); err != nil || v.A != 1_250_000 {
		t.Fatalf("unmarshal: %v %d", err, v.A)
	}
	b, _ := json.Marshal(v)
	if string(b) != `{"a":"1.250000"}` {
		t.Fatalf("marshal: %s", b)
	}
	if err := json.Unmarshal([]byte(`{"a":1.25}`), &v); err == nil {
		t.Fatal("a JSON number must not be accepted as an amount")
	}
}

func TestAdd(t *testing.T) {
	if s, err := Add(1, 2); err != nil || s != 3 {
		t.Fatal(s, err)
	}
	if _, err := Add(Max, 1); !errors.Is(err, ErrOverflow) {
		t.Fatal(err)
	}
	if _, err := Add(math.MinInt64, -1); !errors.Is(err, ErrOverflow) {
		t.Fatal(err)
	}
}

// FuzzParse checks that every accepted string round-trips through String and that
// String's output always parses back to the same amount.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"12.5", "-0.000001", "+3", ".5", "1e5", "9223372036854.775807", "", "1."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := Parse(s)
		if err != nil {
			return
		}
		back, err := Parse(a.String())
		if err != nil || back != a {
			t.Fatalf("Parse(%q)=%d; String=%q parses to %d, %v", s, a, a.String(), back, err)
		}
	})
}

func FuzzFormat(f *testing.F) {
	f.Add(int64(0))
	f.Add(int64(math.MaxInt64))
	f.Add(int64(-123456789))
	f.Fuzz(func(t *testing.T, v int64) {
		if v == math.MinInt64 {
			return
		}
		got, err := Parse(Amount(v).String())
		if err != nil || got != Amount(v) {
			t.Fatalf("%d -> %q -> %d, %v", v, Amount(v).String(), got, err)
		}
	})
}
