package web

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"spectra/internal/audit"
	"spectra/internal/billing"
	"spectra/internal/console"
	"spectra/internal/invoicepdf"
	"spectra/internal/store"
	"spectra/internal/store/storetest"
	"spectra/internal/team"
)

// adminEnv is a dashboard with the operator's console: billing (no Stripe), the audit
// log and the console's figures, and an operator account.
type adminEnv struct {
	*env
	bill  *billing.Service
	audit *audit.Service
	op    team.User
}

// opEmail is the operator account's email in the console's tests.
const opEmail = "olga@operator.test"

func newAdminEnv(t testing.TB, db func(testing.TB, storetest.Options) *store.DB) *adminEnv {
	t.Helper()
	return newAdminEnvAs(t, db, opEmail, "Olga Operator", nil)
}

// newAdminEnvAs is newAdminEnv with the operator account email and name; more, unless
// nil, then adds to the dashboard's dependencies, given the quiet logger billing logs to.
func newAdminEnvAs(t testing.TB, db func(testing.TB, storetest.Options) *store.DB, email, name string,
	more func(e *env, d *Deps, log *slog.Logger)) *adminEnv {
	t.Helper()
	ae := &adminEnv{}
	ae.env = newEnvWith(t, db, func(e *env, d *Deps) {
		quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
		svc, err := billing.New(billing.Config{RenderPDF: invoicepdf.Render, Currency: "USD", PublicURL: "https://spectra.example.com",
			Seller: billing.Party{Name: "Spectra Operator Ltd", Country: "GB"}, Now: e.clock.Now, Log: quiet},
			e.db, e.ledger, e.team, e.metering)
		if err != nil {
			t.Fatal(err)
		}
		ae.bill, d.Billing = svc, svc
		ae.audit = audit.New(e.db, e.clock.Now)
		d.Audit, d.Console = ae.audit, console.New(e.db, e.clock.Now)
		if more != nil {
			more(e, d, quiet)
		}
	})
	op, err := ae.accounts.CreateUser(context.Background(), email, name, testPassword, true)
	if err != nil {
		t.Fatal(err)
	}
	ae.op = op
	return ae
}

// eachAdmin runs fn on SQLite and PostgreSQL.
func eachAdmin(t *testing.T, fn func(t *testing.T, e *adminEnv)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, newAdminEnv(t, storetest.SQLite)) })
	t.Run("postgres", func(t *testing.T) { fn(t, newAdminEnv(t, storetest.Postgres)) })
}

// entries returns the audit log, newest first.
func (e *adminEnv) entries(t testing.TB, f audit.Filter) []audit.Entry {
	t.Helper()
	f.Limit = 200
	p, err := e.audit.List(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	return p.Entries
}

// billingFilter selects a workspace's documents.
func billingFilter(ws string) billing.InvoiceFilter {
	return billing.InvoiceFilter{WorkspaceID: ws, Limit: 50}
}
