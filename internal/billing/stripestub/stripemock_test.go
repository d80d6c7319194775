package stripestub

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/stripe/stripe-go/v82"
)

// requireStripeMock skips the test without stripe-mock, or fails it when
// SPECTRA_REQUIRE_STRIPE_MOCK=1.
func requireStripeMock(t *testing.T) {
	t.Helper()
	if StripeMockPath() != "" {
		return
	}
	if os.Getenv(RequireStripeMockEnv) == "1" {
		t.Fatalf("%s=1 but stripe-mock is not installed", RequireStripeMockEnv)
	}
	t.Skip("stripe-mock is not installed (go install github.com/stripe/stripe-mock@" + StripeMockVersion + ")")
}

// refusals captures what the stand-in reports instead of failing the test.
type refusals struct {
	mu   sync.Mutex
	msgs []string
}

func (r *refusals) errorf(format string, args ...any) {
	r.mu.Lock()
	r.msgs = append(r.msgs, fmt.Sprintf(format, args...))
	r.mu.Unlock()
}

func client(s *Server) *stripe.Client {
	return stripe.NewClient("sk_test_stub", stripe.WithBackends(stripe.NewBackendsWithConfig(&stripe.BackendConfig{URL: stripe.String(s.URL)})))
}

// TestStripeMockChecksRequests: a request Stripe's API description allows passes, and
// one it does not (a parameter Stripe does not have) fails the test that sent it, while
// the stand-in still answers from its own state.
func TestStripeMockChecksRequests(t *testing.T) {
	requireStripeMock(t)
	s := New(t)
	var got refusals
	s.errorf = got.errorf
	ctx := context.Background()

	pi, err := client(s).V1PaymentIntents.Create(ctx, &stripe.PaymentIntentCreateParams{
		Amount: stripe.Int64(500), Currency: stripe.String("usd"), Customer: stripe.String("cus_1"),
		PaymentMethod: stripe.String("pm_1"), Confirm: stripe.Bool(true), OffSession: stripe.Bool(true)})
	if err != nil || pi.Status != stripe.PaymentIntentStatusSucceeded {
		t.Fatalf("valid PaymentIntent: %+v, %v", pi, err)
	}
	if len(got.msgs) != 0 {
		t.Fatalf("stripe-mock refused a valid request: %q", got.msgs)
	}

	p := &stripe.PaymentIntentCreateParams{Amount: stripe.Int64(500), Currency: stripe.String("usd")}
	p.AddExtra("no_such_parameter", "1")
	if _, err := client(s).V1PaymentIntents.Create(ctx, p); err != nil {
		t.Fatalf("the stand-in answers from its own state: %v", err)
	}
	if len(got.msgs) != 1 || !strings.Contains(got.msgs[0], "stripe-mock refuses POST /v1/payment_intents") ||
		!strings.Contains(got.msgs[0], "no_such_parameter") {
		t.Fatalf("refusals = %q, want one for the unknown parameter", got.msgs)
	}
}
