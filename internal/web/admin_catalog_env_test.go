package web

import (
	"context"
	"log/slog"
	"testing"

	"spectra/internal/audit"
	"spectra/internal/gateway"
	"spectra/internal/gateway/fakeupstream"
	"spectra/internal/store"
	"spectra/internal/store/storetest"
)

// catalogEnv is a dashboard with the console's Prices, Upstreams and Codes: billing
// (no Stripe), a gateway, the audit log, an operator account and a stand-in upstream
// (OpenAI's API) whose secret is fakeSecret.
type catalogEnv struct {
	*adminEnv
	gw *gateway.Gateway
	up *fakeupstream.Server
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
	ce.adminEnv = newAdminEnvAs(t, db, catalogOpEmail, "Otto Operator", func(e *env, d *Deps, quiet *slog.Logger) {
		gw, err := gateway.New(gateway.Config{Team: e.team, Ledger: e.ledger, Metering: e.metering, Store: e.db, Now: e.clock.Now, Log: quiet})
		if err != nil {
			t.Fatal(err)
		}
		ce.gw = gw
		t.Cleanup(func() { ce.gw.Flush(context.Background()) })
		d.Upstreams = ce.gw
	})
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
