package billinghttp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"spectra/internal/billing"
	"spectra/internal/billing/billinghttp"
	"spectra/internal/billing/billingtest"
	"spectra/internal/billing/stripestub"
	"spectra/internal/errs"
	"spectra/internal/ids"
)

// fakeAuth accepts "Bearer operator", and "Bearer <need>:<workspace id>" for a workspace.
type fakeAuth struct{}

func (fakeAuth) RequireOperator(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Header.Get("Authorization") {
		case "Bearer operator":
			next.ServeHTTP(w, r)
		case "":
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":{"code":"unauthorized","message":"sign in"}}`)
		default:
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, `{"error":{"code":"operator_required","message":"operator only"}}`)
		}
	})
}

func (fakeAuth) Workspace(r *http.Request, workspaceID, need string) error {
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	switch {
	case tok == "operator":
		return nil
	case tok == "":
		return errs.E(errs.Unauthorized, "unauthorized", "sign in")
	}
	have, ws, _ := strings.Cut(tok, ":")
	if ws != workspaceID {
		return errs.E(errs.NotFound, "workspace_not_found", "no such workspace")
	}
	if need == billinghttp.NeedBilling && have != "billing" {
		return errs.E(errs.Forbidden, "billing_role_required", "needs the owner, admin or billing role")
	}
	return nil
}

// server is an Env served over HTTP.
type server struct {
	*billingtest.Env
	srv *httptest.Server
}

func each(t *testing.T, opts billingtest.Options, fn func(t *testing.T, s *server)) {
	billingtest.Each(t, opts, func(t *testing.T, e *billingtest.Env) {
		mux := http.NewServeMux()
		billinghttp.Register(mux, e.Service, fakeAuth{})
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		fn(t, &server{e, srv})
	})
}

type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a map.
func (r response) JSON(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("body %q: %v", r.Body, err)
	}
	return m
}

// Code is the error code of an error body, or "".
func (r response) Code() string {
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	json.Unmarshal(r.Body, &e)
	return e.Error.Code
}

func (s *server) do(t *testing.T, method, path, token, body string, header ...string) response {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, s.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{res.StatusCode, res.Header, b}
}

// want asserts a response's status and, for errors, its code.
func want(t *testing.T, r response, status int, code string) {
	t.Helper()
	if r.Status != status || r.Code() != code {
		t.Fatalf("got %d %s, want %d %q", r.Status, r.Body, status, code)
	}
}

// postEvent posts a Stripe event to the webhook, signed with secret at the clock's time
// (or signedAt when given).
func (s *server) postEvent(t *testing.T, payload []byte, secret string) response {
	t.Helper()
	return s.postSigned(t, payload, stripestub.Sign(payload, secret, s.Clock.Now()))
}

func (s *server) postSigned(t *testing.T, payload []byte, signature string) response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.srv.URL+"/webhooks/stripe", bytes.NewReader(payload))
	req.Header.Set("Content-Type", "application/json")
	if signature != "" {
		req.Header.Set("Stripe-Signature", signature)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{res.StatusCode, res.Header, b}
}

func event(typ string, object any) []byte { return stripestub.Event("evt_"+ids.Random(8), typ, object) }

// receipts returns a workspace's receipts.
func (s *server) receipts(t *testing.T, ws string) []billing.Invoice {
	t.Helper()
	list, err := s.Service.Invoices(context.Background(), billing.InvoiceFilter{WorkspaceID: ws, Kind: billing.KindReceipt})
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// nextNumber records a payment and returns its receipt's number: it shows how many
// documents were issued before.
func (s *server) nextNumber(t *testing.T, ws string) string {
	t.Helper()
	p, _, err := s.Service.RecordManualPayment(context.Background(), ws, billing.ManualPayment{Amount: billingtest.Amount("1"), Reference: "probe-" + ids.Random(4)})
	if err != nil {
		t.Fatal(err)
	}
	return p.ReceiptNumber
}
