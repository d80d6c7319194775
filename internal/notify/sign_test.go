package notify_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"spectra/internal/notify"
)

// The official Standard Webhooks library verifies what Sign produces, and refuses a
// tampered body, another secret, another id and another timestamp.
func TestSignVerifiesWithStandardWebhooks(t *testing.T) {
	secret := notify.NewSecret()
	other := notify.NewSecret()
	at := time.Now().Truncate(time.Second)
	body, err := notify.MessageBody(notify.EventBalanceLow, at.Add(-time.Minute), json.RawMessage(`{"workspace_id":"ws_1","available":{"amount":"1.000000","currency":"USD"}}`))
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	if err := notify.SetHeaders(h, secret, "alt_123", at, body); err != nil {
		t.Fatal(err)
	}
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(body, h); err != nil {
		t.Fatalf("official library refuses our signature: %v", err)
	}
	// The library's own signature is byte-for-byte ours.
	theirs, _ := wh.Sign("alt_123", at, body)
	if theirs != h.Get(notify.HeaderSignature) {
		t.Fatalf("signature %q, library %q", h.Get(notify.HeaderSignature), theirs)
	}
	tampered := []byte(strings.Replace(string(body), "1.000000", "9.000000", 1))
	if err := wh.Verify(tampered, h); err == nil {
		t.Fatal("a tampered body verified")
	}
	wrong, _ := standardwebhooks.NewWebhook(other)
	if err := wrong.Verify(body, h); err == nil {
		t.Fatal("another secret verified")
	}
	h2 := h.Clone()
	h2.Set(notify.HeaderID, "alt_124")
	if err := wh.Verify(body, h2); err == nil {
		t.Fatal("another message id verified")
	}
	h3 := h.Clone()
	h3.Set(notify.HeaderTimestamp, "1")
	if err := wh.VerifyIgnoringTimestamp(body, h3); err == nil {
		t.Fatal("another timestamp verified")
	}
}

func TestNewSecret(t *testing.T) {
	a, b := notify.NewSecret(), notify.NewSecret()
	if a == b || !strings.HasPrefix(a, "whsec_") {
		t.Fatalf("secrets %q %q", a, b)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(a, "whsec_"))
	if err != nil || len(key) < 24 {
		t.Fatalf("key %d bytes, %v", len(key), err)
	}
	if _, err := notify.Sign("nope", "id", time.Now(), nil); err == nil {
		t.Fatal("a secret without whsec_ signed")
	}
}

func TestMessageBody(t *testing.T) {
	at := time.Date(2025, 3, 1, 12, 30, 0, 0, time.FixedZone("x", 3600))
	b, err := notify.MessageBody(notify.EventBudgetThreshold, at, json.RawMessage(`{"threshold":80}`))
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"type":"budget.threshold","timestamp":"2025-03-01T11:30:00Z","data":{"threshold":80}}` {
		t.Fatalf("body %s", b)
	}
	if _, err := notify.MessageBody("x", at, json.RawMessage(`{`)); err == nil {
		t.Fatal("invalid data accepted")
	}
}

func TestBackoff(t *testing.T) {
	for n, want := range notify.Schedule {
		for range 20 {
			got := notify.Backoff(n + 1)
			if got < want*9/10 || got > want*11/10 {
				t.Fatalf("Backoff(%d) = %v, want %v ± 10%%", n+1, got, want)
			}
		}
	}
	if got := notify.Backoff(100); got < 24*time.Hour*9/10 {
		t.Fatalf("Backoff past the schedule = %v", got)
	}
}

func TestValidateURL(t *testing.T) {
	for _, u := range []string{"https://example.com/hook", "http://127.0.0.1:8080/x?y=1"} {
		if err := notify.ValidateURL(u); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
	for _, u := range []string{"", "ftp://example.com", "example.com/hook", "https://", "https://u:p@example.com/", "https://example.com/#x", "https://example.com/" + strings.Repeat("a", 2100)} {
		if err := notify.ValidateURL(u); err == nil {
			t.Errorf("%q accepted", u)
		}
	}
}
