// Package stripestub is a stand-in for the part of Stripe's API that Spectra calls
// (Checkout sessions and PaymentIntents), served by net/http/httptest, plus helpers that
// build Stripe-signed webhook payloads with stripe-go's own test helper. Point
// billing.Config.StripeAPIURL at Server.URL.
//
// The stand-in keeps what Stripe's own stripe-mock cannot: state (a session paid, a card
// declined, an idempotent replay) and webhooks. Every request it receives is also sent to
// stripe-mock, which checks it against Stripe's published API description; a request
// stripe-mock refuses fails the test. Without stripe-mock installed the requests go
// unchecked, unless SPECTRA_REQUIRE_STRIPE_MOCK=1, which makes that a failure (CI).
package stripestub

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v82"
	"github.com/stripe/stripe-go/v82/webhook"
)

// Request is one call the stand-in received.
type Request struct {
	Method         string
	Path           string
	Form           url.Values // the form-encoded body stripe-go sent
	IdempotencyKey string
	Authorization  string
}

// Server is the stand-in. Its zero behaviour: sessions are created open and unpaid;
// PaymentIntents succeed at once.
type Server struct {
	*httptest.Server

	mu       sync.Mutex
	requests []Request
	sessions map[string]map[string]any
	replies  map[string]reply // Idempotency-Key → first reply, as Stripe does
	n        int

	// DeclineMessage, when set, makes PaymentIntent creation fail as a declined card
	// (HTTP 402, card_error) with this message.
	DeclineMessage string
	// IntentStatus, when set, is the status new PaymentIntents get (e.g. "processing").
	IntentStatus string

	checked bool                 // requests are sent to stripe-mock too
	errorf  func(string, ...any) // reports a request stripe-mock refused: the test's Errorf
}

type reply struct {
	status int
	body   []byte
}

// New starts a stand-in, closed when the test ends. It fails the test when stripe-mock
// is missing and SPECTRA_REQUIRE_STRIPE_MOCK=1.
func New(t testing.TB) *Server {
	s := &Server{sessions: map[string]map[string]any{}, replies: map[string]reply{}, errorf: t.Errorf}
	switch {
	case mockPath() != "":
		s.checked = true
	case os.Getenv(RequireStripeMockEnv) == "1":
		t.Fatalf("%s=1 but stripe-mock is not installed (go install github.com/stripe/stripe-mock@%s)", RequireStripeMockEnv, StripeMockVersion)
	default:
		t.Log("stripe-mock is not installed: the Stripe requests of this test are not checked against Stripe's API description")
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// Requests returns the calls received so far whose path starts with prefix.
func (s *Server) Requests(prefix string) []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Request
	for _, r := range s.requests {
		if strings.HasPrefix(r.Path, prefix) {
			out = append(out, r)
		}
	}
	return out
}

// SetDecline changes DeclineMessage while the server runs.
func (s *Server) SetDecline(msg string) {
	s.mu.Lock()
	s.DeclineMessage = msg
	s.mu.Unlock()
}

// CompleteSession marks a Checkout session paid by customer with a PaymentIntent, as
// Stripe does when the buyer pays; it returns the session object.
func (s *Server) CompleteSession(id, customer string) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.sessions[id]
	if sess == nil {
		return nil
	}
	sess["status"], sess["payment_status"], sess["customer"] = "complete", "paid", customer
	sess["payment_intent"] = "pi_" + strings.TrimPrefix(id, "cs_")
	return clone(sess)
}

// Session returns a Checkout session object as created.
func (s *Server) Session(id string) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return clone(s.sessions[id])
}

func clone(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	b, _ := json.Marshal(m)
	var out map[string]any
	json.Unmarshal(b, &out)
	return out
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	if s.checked {
		s.checkWithStripeMock(r, body)
	}
	r.ParseForm()
	req := Request{Method: r.Method, Path: r.URL.Path, Form: r.PostForm, IdempotencyKey: r.Header.Get("Idempotency-Key"),
		Authorization: r.Header.Get("Authorization")}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, req)
	if req.IdempotencyKey != "" {
		if rep, ok := s.replies[req.IdempotencyKey]; ok {
			write(w, rep)
			return
		}
	}
	var rep reply
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/v1/checkout/sessions":
		rep = s.createSession(req.Form)
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v1/checkout/sessions/"):
		sess := s.sessions[strings.TrimPrefix(r.URL.Path, "/v1/checkout/sessions/")]
		if sess == nil {
			rep = errorReply(404, "invalid_request_error", "resource_missing", "No such checkout.session")
		} else {
			rep = jsonReply(200, sess)
		}
	case r.Method == http.MethodPost && r.URL.Path == "/v1/payment_intents":
		rep = s.createIntent(req.Form)
	default:
		rep = errorReply(404, "invalid_request_error", "resource_missing", "Unrecognized request URL")
	}
	if req.IdempotencyKey != "" {
		s.replies[req.IdempotencyKey] = rep
	}
	write(w, rep)
}

// checkWithStripeMock sends the request to stripe-mock and fails the test when
// stripe-mock refuses it.
func (s *Server) checkWithStripeMock(r *http.Request, body []byte) {
	base, err := StripeMockURL()
	if err != nil {
		s.errorf("stripestub: %v", err)
		return
	}
	refused, err := check(base, r, body)
	switch {
	case err != nil:
		s.errorf("stripestub: send %s %s to stripe-mock: %v", r.Method, r.URL.Path, err)
	case refused != "":
		s.errorf("stripe-mock refuses %s %s (%s): %s", r.Method, r.URL.Path, body, refused)
	}
}

func (s *Server) createSession(f url.Values) reply {
	s.n++
	id := fmt.Sprintf("cs_test_%06d", s.n)
	unit, _ := strconv.ParseInt(f.Get("line_items[0][price_data][unit_amount]"), 10, 64)
	qty, _ := strconv.ParseInt(f.Get("line_items[0][quantity]"), 10, 64)
	sess := map[string]any{
		"id": id, "object": "checkout.session", "mode": f.Get("mode"), "client_reference_id": f.Get("client_reference_id"),
		"amount_total": unit * qty, "currency": f.Get("line_items[0][price_data][currency]"), "metadata": prefixed(f, "metadata"),
		"payment_status": "unpaid", "status": "open", "success_url": f.Get("success_url"), "cancel_url": f.Get("cancel_url"),
		"url": "https://checkout.stripe.test/c/pay/" + id, "customer": nilIfEmpty(f.Get("customer")),
	}
	s.sessions[id] = sess
	return jsonReply(200, sess)
}

func (s *Server) createIntent(f url.Values) reply {
	s.n++
	id := fmt.Sprintf("pi_test_%06d", s.n)
	amount, _ := strconv.ParseInt(f.Get("amount"), 10, 64)
	pi := map[string]any{
		"id": id, "object": "payment_intent", "amount": amount, "amount_received": amount, "currency": f.Get("currency"),
		"customer": f.Get("customer"), "payment_method": f.Get("payment_method"), "metadata": prefixed(f, "metadata"), "status": "succeeded",
	}
	if s.DeclineMessage != "" {
		pi["status"], pi["amount_received"] = "requires_payment_method", 0
		return jsonReply(402, map[string]any{"error": map[string]any{"type": "card_error", "code": "card_declined",
			"decline_code": "insufficient_funds", "message": s.DeclineMessage, "payment_intent": pi}})
	}
	if s.IntentStatus != "" {
		pi["status"] = s.IntentStatus
		if s.IntentStatus != "succeeded" {
			pi["amount_received"] = 0
		}
	}
	return jsonReply(200, pi)
}

// prefixed collects form fields "name[key]" into a map.
func prefixed(f url.Values, name string) map[string]string {
	out := map[string]string{}
	for k, v := range f {
		if key, ok := strings.CutPrefix(k, name+"["); ok && strings.HasSuffix(key, "]") && !strings.Contains(key, "[") {
			out[strings.TrimSuffix(key, "]")] = v[0]
		}
	}
	return out
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func jsonReply(status int, v any) reply {
	b, _ := json.Marshal(v)
	return reply{status, b}
}

func errorReply(status int, typ, code, msg string) reply {
	return jsonReply(status, map[string]any{"error": map[string]any{"type": typ, "code": code, "message": msg}})
}

func write(w http.ResponseWriter, r reply) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Request-Id", "req_stub")
	w.WriteHeader(r.status)
	w.Write(r.body)
}

// Event returns the JSON payload of a Stripe event of type typ carrying object.
func Event(id, typ string, object any) []byte {
	b, err := json.Marshal(map[string]any{
		"id": id, "object": "event", "api_version": stripe.APIVersion, "created": 1767225600, "livemode": false,
		"pending_webhooks": 1, "type": typ, "data": map[string]any{"object": object},
	})
	if err != nil {
		panic(err)
	}
	return b
}

// Sign returns the Stripe-Signature header for payload signed with secret at time at,
// made by stripe-go's webhook.GenerateTestSignedPayload.
func Sign(payload []byte, secret string, at time.Time) string {
	return webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: secret, Timestamp: at}).Header
}

// CheckoutSession returns a Checkout session object as a webhook carries it.
func CheckoutSession(id, workspaceID string, amountMinor int64, currency, paymentStatus string) map[string]any {
	return map[string]any{
		"id": id, "object": "checkout.session", "mode": "payment", "client_reference_id": workspaceID,
		"amount_total": amountMinor, "currency": currency, "payment_status": paymentStatus, "status": "complete",
		"customer": "cus_" + workspaceID, "payment_intent": "pi_" + strings.TrimPrefix(id, "cs_"),
		"metadata": map[string]string{"workspace_id": workspaceID, "spectra_purpose": "checkout"},
	}
}

// PaymentIntent returns a PaymentIntent object as a webhook carries it; metadata is
// what Spectra put on it (workspace_id, spectra_purpose, spectra_charge).
func PaymentIntent(id string, amountMinor int64, currency, status string, metadata map[string]string) map[string]any {
	received := amountMinor
	if status != "succeeded" {
		received = 0
	}
	return map[string]any{
		"id": id, "object": "payment_intent", "amount": amountMinor, "amount_received": received, "currency": currency,
		"status": status, "customer": "cus_" + metadata["workspace_id"], "payment_method": "pm_card_" + metadata["workspace_id"],
		"metadata": metadata,
	}
}
