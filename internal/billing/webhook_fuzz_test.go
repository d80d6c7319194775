package billing

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v82"
	"github.com/stripe/stripe-go/v82/webhook"
)

// FuzzStripeWebhook fuzzes the Stripe webhook's verification and event parsing with a
// payload, a Stripe-Signature header built around a genuine signature (or none), and
// the signature's age. verifyEvent must accept exactly the calls an independent model
// accepts: a header whose pairs all split as stripe-go splits them, with exactly one
// t=, a v1 signature of "<t>.<payload>" with the secret, t within the tolerance of
// now either way, and a payload that is an event. An accepted event's object is then
// decoded as applyEvent decodes it. Its seeds run under plain `go test`.
func FuzzStripeWebhook(f *testing.F) {
	now := time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC)
	fresh := strconv.FormatInt(now.Unix(), 10)
	event := []byte(`{"id":"evt_1","object":"event","type":"checkout.session.completed","api_version":"2025-03-31.basil",` +
		`"data":{"object":{"id":"cs_1","object":"checkout.session","amount_total":5000,"currency":"usd","payment_status":"paid",` +
		`"client_reference_id":"ws_1","metadata":{"workspace_id":"ws_1"},"customer":"cus_1","payment_intent":"pi_1"}}}`)
	intent := []byte(`{"id":"evt_2","object":"event","type":"payment_intent.succeeded","data":{"object":{"id":"pi_1",` +
		`"object":"payment_intent","amount":500,"currency":"usd","payment_method":{"id":"pm_1"},"customer":"cus_1",` +
		`"metadata":{"spectra_purpose":"auto_recharge","workspace_id":"ws_1","spectra_charge":"chg_1"}}}}`)
	for _, s := range []struct {
		payload        []byte
		prefix, suffix string
		age            int64
		sign           bool
	}{
		{event, "", "", 0, true},
		{intent, "", "", 30, true},
		{event, "t=" + fresh + ",", "", 3600, true}, // the replay of issue 11: a fresh t= before an old signature
		{event, "", ",t=" + fresh, 3600, true},
		{event, "", ",v1=00", 0, true},
		{event, "", ",v0=abc,x=y", -299, true},
		{event, "t=1=2,", "", 0, true},
		{event, "", "", 301, true},
		{event, "", "", -301, true},
		{[]byte(`{"id":1}`), "", "", 0, true},
		{[]byte(`not json`), "", "", 0, true},
		{event, "t=" + fresh + ",v1=" + strings.Repeat("ab", 32), "", 0, false},
		{event, "", "", 0, false},
		{event, ",,,", "", 0, true},
	} {
		f.Add(s.payload, s.prefix, s.suffix, s.age, s.sign)
	}
	const secret = "whsec_fuzz"
	const tolerance = 5 * time.Minute
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	f.Fuzz(func(t *testing.T, payload []byte, prefix, suffix string, age int64, sign bool) {
		header := prefix + suffix
		if sign {
			at := now.Add(-time.Duration(age%(2*86400)) * time.Second)
			header = prefix + "t=" + strconv.FormatInt(at.Unix(), 10) + ",v1=" +
				hex.EncodeToString(webhook.ComputeSignature(at, payload, secret)) + suffix
		}
		ev, err := verifyEvent(payload, header, secret, now, tolerance, log)
		want := modelAccepts(payload, header, secret, now.Unix(), int64(tolerance/time.Second))
		if (err == nil) != want {
			t.Fatalf("verifyEvent(%q, %q) = %v; the model accepts: %v", payload, header, err, want)
		}
		if err != nil {
			for _, e := range []error{ErrInvalidSignature, ErrSignatureTimestamp, ErrSignatureTooOld, ErrInvalidPayload} {
				if errors.Is(err, e) {
					return
				}
			}
			t.Fatalf("refused with an error of no known code: %v", err)
		}
		// Accepted: decode the object as applyEvent does; it must not panic.
		if ev.Data != nil {
			var sess stripe.CheckoutSession
			_ = json.Unmarshal(ev.Data.Raw, &sess)
			var pi stripe.PaymentIntent
			_ = json.Unmarshal(ev.Data.Raw, &pi)
			_ = sessionWorkspace(&sess)
			_, _ = customerID(sess.Customer), paymentIntentID(sess.PaymentIntent)
			_, _ = paymentMethodID(pi.PaymentMethod), customerID(pi.Customer)
		}
	})
}

// modelAccepts says, independently of verifyEvent, whether a webhook call is authentic
// and fresh: every comma-separated pair of the header is key=value (as stripe-go
// requires), exactly one key is t and its value is an integer n with
// |now - n| <= tolerance (in seconds), one v1 value is the hex HMAC of "<n>.<payload>",
// and the payload is a JSON event.
func modelAccepts(payload []byte, header, secret string, now, tolerance int64) bool {
	if header == "" {
		return false
	}
	var ts []int64
	var sigs []string
	for _, pair := range strings.Split(header, ",") {
		kv := strings.Split(pair, "=")
		if len(kv) != 2 {
			return false
		}
		switch kv[0] {
		case "t":
			n, err := strconv.ParseInt(kv[1], 10, 64)
			if err != nil {
				return false
			}
			ts = append(ts, n)
		case "v1":
			sigs = append(sigs, kv[1])
		}
	}
	if len(ts) != 1 || ts[0] < now-tolerance || ts[0] > now+tolerance {
		return false
	}
	want := hex.EncodeToString(webhook.ComputeSignature(time.Unix(ts[0], 0), payload, secret))
	signed := false
	for _, s := range sigs {
		if strings.EqualFold(s, want) {
			if _, err := hex.DecodeString(s); err == nil {
				signed = true
			}
		}
	}
	var ev stripe.Event
	return signed && json.Unmarshal(payload, &ev) == nil
}
