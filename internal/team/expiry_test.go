package team

import (
	"encoding/json"
	"testing"
	"time"

	"spectra/internal/errs"
)

// TestKeyLimitsExpiry: expires_at absent leaves the expiry, null removes it, a time sets
// it (UTC, to the microsecond), and text that is not a time is invalid_expires_at.
func TestKeyLimitsExpiry(t *testing.T) {
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	k := APIKey{ExpiresAt: &at}
	for _, c := range []struct {
		body string
		want *time.Time
	}{
		{`{"rpm":1}`, &at},
		{`{"expires_at":null}`, nil},
		{`{"expires_at":"2031-06-01T10:00:00+02:00"}`, ptr(time.Date(2031, 6, 1, 8, 0, 0, 0, time.UTC))},
	} {
		var l KeyLimits
		if err := json.Unmarshal([]byte(c.body), &l); err != nil {
			t.Fatalf("%s: %v", c.body, err)
		}
		got := l.Apply(k).ExpiresAt
		if (got == nil) != (c.want == nil) || (got != nil && !got.Equal(*c.want)) {
			t.Fatalf("%s: expiry %v, want %v", c.body, got, c.want)
		}
	}
	var l KeyLimits
	if err := json.Unmarshal([]byte(`{"expires_at":"soon"}`), &l); !errs.Is(err, "invalid_expires_at") {
		t.Fatalf("not a time: %v", err)
	}
	if err := CheckExpiry(&at, at); !errs.Is(err, "invalid_expires_at") {
		t.Fatalf("an expiry equal to now: %v", err)
	}
	if !k.Expired(at) || k.Expired(at.Add(-time.Microsecond)) {
		t.Fatal("Expired: a key expires at its expiry, not before")
	}
}

func ptr[T any](v T) *T { return &v }
