package web

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"spectra/internal/audit"
	"spectra/internal/billing"
	"spectra/internal/console"
	"spectra/internal/gateway"
	"spectra/internal/gateway/fakeupstream"
	"spectra/internal/invoicepdf"
	"spectra/internal/store"
	"spectra/internal/store/storetest"
	"spectra/internal/team"
)

// catalogEnv is a dashboard with the console's Prices, Upstreams and Codes: billing
// (no Stripe), a gateway, the audit log, an operator account and a stand-in upstream
// (OpenAI's API) whose secret is fakeSecret.
type catalogEnv struct {
	*env
	bill  *billing.Service
	audit *audit.Service
	gw    *gateway.Gateway
	up    *fakeupstream.Server
	op    team.User
}

// The console's operator in these tests, and the stand-in upstream's secret.
const (
	catalogOpEmail = "otto@operator.test"
	fakeSecret     = "sk-standin-0123456789abcdef"
)

func newCatalogEnv(t testing.TB, db func(testing.TB, storetest.Options) *store.DB) *catalogEnv {
	t.Helper()
	ce := &catalogEnv{}
	ce.up = fakeupstream.New(fakeupstream.Options{APIKey: fakeSecret, Models: []string{"gpt-4o", "gpt-4o-mini"}})
	t.Cleanup(ce.up.Close)
	ce.env = newEnvWith(t, db, func(e *env, d *Deps) {
		quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
		svc, err := billing.New(billing.Config{RenderPDF: invoicepdf.Render, Currency: "USD", PublicURL: "https://spectra.example.com",
			Seller: billing.Party{Name: "Spectra Operator Ltd", Country: "GB"}, Now: e.clock.Now, Log: quiet},
			e.db, e.ledger, e.team, e.metering)
		if err != nil {
			t.Fatal(err)
		}
		ce.bill, d.Billing = svc, svc
		ce.audit = audit.New(e.db, e.clock.Now)
		d.Audit, d.Console = ce.audit, console.New(e.db, e.clock.Now)
		if ce.gw, err = gateway.New(gateway.Config{Team: e.team, Ledger: e.ledger, Metering: e.metering, Store: e.db, Now: e.clock.Now, Log: quiet}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ce.gw.Flush(context.Background()) })
		d.Upstreams = ce.gw
	})
	op, err := ce.accounts.CreateUser(context.Background(), catalogOpEmail, "Otto Operator", testPassword, true)
	if err != nil {
		t.Fatal(err)
	}
	ce.op = op
	return ce
}

// eachCatalog runs fn on SQLite and PostgreSQL.
func eachCatalog(t *testing.T, fn func(t *testing.T, e *catalogEnv)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, newCatalogEnv(t, storetest.SQLite)) })
	t.Run("postgres", func(t *testing.T) { fn(t, newCatalogEnv(t, storetest.Postgres)) })
}

// auditActions returns the actions of the audit log, newest first.
func (e *catalogEnv) auditActions(t testing.TB) []audit.Entry {
	t.Helper()
	p, err := e.audit.List(context.Background(), audit.Filter{Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	return p.Entries
}
