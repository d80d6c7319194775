package billinghttp_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"spectra/internal/billing"
	"spectra/internal/billing/billinghttp"
	"spectra/internal/billing/billingtest"
	"spectra/internal/billing/stripestub"
	"spectra/internal/errs"
	"spectra/internal/httpjson/httpjsontest"
	"spectra/internal/ids"
	"spectra/internal/team"
)

// auth accepts "Bearer operator", and "Bearer <need>:<workspace id>" for a workspace.
var auth = httpjsontest.Auth{Strong: team.ActManageBilling, As: "billing",
	OtherWorkspace: errs.E(errs.NotFound, "workspace_not_found", "no such workspace"),
	Weak:           errs.E(errs.Forbidden, "billing_role_required", "needs the owner, admin or billing role")}

// server is an Env served over HTTP.
type server struct {
	*billingtest.Env
	srv *httptest.Server
}

func each(t *testing.T, opts billingtest.Options, fn func(t *testing.T, s *server)) {
	billingtest.Each(t, opts, func(t *testing.T, e *billingtest.Env) {
		mux := http.NewServeMux()
		billinghttp.Register(mux, e.Service, auth)
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		fn(t, &server{e, srv})
	})
}

type response = httpjsontest.Response

func (s *server) do(t *testing.T, method, path, token, body string, header ...string) response {
	t.Helper()
	return httpjsontest.Do(t, s.srv.URL, method, path, token, body, header...)
}

// want asserts a response's status and, for errors, its code.
var want = httpjsontest.Want

// postEvent posts a Stripe event to the webhook, signed with secret at the clock's time
// (or signedAt when given).
func (s *server) postEvent(t *testing.T, payload []byte, secret string) response {
	t.Helper()
	return s.postSigned(t, payload, stripestub.Sign(payload, secret, s.Clock.Now()))
}

func (s *server) postSigned(t *testing.T, payload []byte, signature string) response {
	t.Helper()
	var header []string
	if signature != "" {
		header = []string{"Stripe-Signature", signature}
	}
	return s.do(t, http.MethodPost, "/webhooks/stripe", "", string(payload), header...)
}

// postAtOnce posts payload once per signature, all concurrently, and returns the
// responses in the signatures' order.
func (s *server) postAtOnce(t *testing.T, payload []byte, sigs []string) []response {
	t.Helper()
	res := make([]response, len(sigs))
	var wg sync.WaitGroup
	for i, sig := range sigs {
		wg.Go(func() { res[i] = s.postSigned(t, payload, sig) })
	}
	wg.Wait()
	return res
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
