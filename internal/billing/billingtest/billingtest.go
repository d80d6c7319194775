// Package billingtest builds a billing service for tests: a fresh store (SQLite and
// PostgreSQL through storetest), the core services on a settable clock, a Stripe
// stand-in (stripestub) and a captured log.
package billingtest

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"spectra/internal/billing"
	"spectra/internal/billing/stripestub"
	"spectra/internal/ids"
	"spectra/internal/invoicepdf"
	"spectra/internal/ledger"
	"spectra/internal/metering"
	"spectra/internal/money"
	"spectra/internal/pricing"
	"spectra/internal/store"
	"spectra/internal/store/storetest"
	"spectra/internal/team"
)

// Start is the clock's first reading: mid-March 2026, UTC.
var Start = time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC)

// Secrets the environment configures.
const (
	SecretKey     = "sk_test_spectra"
	WebhookSecret = "whsec_test_spectra"
)

// Logs is a concurrency-safe buffer of JSON log lines.
type Logs struct{ storetest.Buffer }

// Lines returns the logged lines that contain every one of parts.
func (l *Logs) Lines(parts ...string) []string {
	var out []string
	for line := range strings.SplitSeq(l.String(), "\n") {
		ok := line != ""
		for _, p := range parts {
			ok = ok && strings.Contains(line, p)
		}
		if ok {
			out = append(out, line)
		}
	}
	return out
}

// Env is one store with the services billing needs.
type Env struct {
	DB      *store.DB
	Clock   *storetest.Clock
	Logs    *Logs
	Stripe  *stripestub.Server
	Config  billing.Config
	Ledger  *ledger.Service
	Teams   *team.Service
	Meter   *metering.Service
	Service *billing.Service
}

// Options tune an Env.
type Options struct {
	// NoStripe leaves the Stripe secrets unset.
	NoStripe bool
	// Configure edits the billing configuration before the service is built.
	Configure func(*billing.Config)
}

// Each runs fn on SQLite and on PostgreSQL, each with a fresh Env.
func Each(t *testing.T, opts Options, fn func(t *testing.T, e *Env)) {
	storetest.EachAt(t, Start, func(t *testing.T, db *store.DB, c *storetest.Clock) { fn(t, New(t, db, c, opts)) })
}

// New builds an Env on db, whose clock must be c.
func New(t testing.TB, db *store.DB, c *storetest.Clock, opts Options) *Env {
	t.Helper()
	e := &Env{DB: db, Clock: c, Logs: &Logs{}, Stripe: stripestub.New(t)}
	e.Ledger = ledger.NewService(db, c.Now)
	e.Teams = team.NewService(db, c.Now)
	e.Meter = metering.NewService(db, db, c.Now)
	e.Config = billing.Config{
		Currency:  "USD",
		PublicURL: "https://spectra.example.com",
		Seller: billing.Party{Name: "Spectra Operator Ltd", Line1: "1 Example Street", City: "London", PostalCode: "EC1A 1AA",
			Country: "GB", TaxID: "GB123456789", Email: "billing@operator.example"},
		Now:       c.Now,
		RenderPDF: invoicepdf.Render,
		Log:       slog.New(slog.NewJSONHandler(e.Logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if !opts.NoStripe {
		e.Config.StripeSecretKey, e.Config.StripeWebhookSecret, e.Config.StripeAPIURL = SecretKey, WebhookSecret, e.Stripe.URL
	}
	if opts.Configure != nil {
		opts.Configure(&e.Config)
	}
	svc, err := billing.New(e.Config, db, e.Ledger, e.Teams, e.Meter)
	if err != nil {
		t.Fatal(err)
	}
	e.Service = svc
	return e
}

// Workspace creates a workspace in time zone tz ("" for UTC).
func (e *Env) Workspace(t testing.TB, name, tz string) team.Workspace {
	t.Helper()
	ws, err := e.Teams.CreateWorkspace(context.Background(), team.Workspace{Name: name, Timezone: tz})
	if err != nil {
		t.Fatal(err)
	}
	return ws
}

// Balance returns a workspace's wallet.
func (e *Env) Balance(t testing.TB, workspaceID string) ledger.Balance {
	t.Helper()
	b, err := e.Ledger.Balance(context.Background(), workspaceID)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Spend debits a workspace's wallet by amount through real metered usage: one event of
// model "billingtest-spend", priced at one micro-unit per input token.
func (e *Env) Spend(t testing.TB, workspaceID string, amount money.Amount) {
	t.Helper()
	from := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, _, err := e.Meter.PutPrice(context.Background(), pricing.Price{Model: "billingtest-spend", Input: money.Scale, CachedInput: money.Scale,
		EffectiveFrom: from, CreatedAt: from}); err != nil {
		t.Fatal(err)
	}
	res, err := e.Meter.Ingest(context.Background(), []metering.Event{{ID: ids.New("spend"), WorkspaceID: workspaceID,
		Model: "billingtest-spend", Timestamp: e.Clock.Now(), Usage: pricing.Usage{Input: int64(amount)}}})
	if err != nil || res.Accepted != 1 || res.Events[0].Cost != amount {
		t.Fatalf("spend %s: %+v %v", amount, res, err)
	}
}

// Price sets a model's prices (per million tokens) from a time on.
func (e *Env) Price(t testing.TB, model, input, output string, from time.Time) {
	t.Helper()
	p := pricing.Price{Model: model, Input: must(money.Parse(input)), CachedInput: must(money.Parse(input)),
		Output: must(money.Parse(output)), EffectiveFrom: from, CreatedAt: from}
	if _, _, err := e.Meter.PutPrice(context.Background(), p); err != nil {
		t.Fatal(err)
	}
}

func must(a money.Amount, err error) money.Amount {
	if err != nil {
		panic(err)
	}
	return a
}

// Amount parses a decimal amount or panics.
func Amount(s string) money.Amount { return must(money.Parse(s)) }

// Verify fails the test when `spectra verify`'s checks or billing's own find a problem:
// balances equal their entries, and every document agrees with the ledger.
func (e *Env) Verify(t testing.TB) {
	t.Helper()
	ctx := context.Background()
	rep, err := e.DB.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	checks, err := e.DB.VerifyBilling(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range append(rep.Checks, checks...) {
		if len(c.Problems) > 0 {
			t.Errorf("verify %q: %v", c.Name, c.Problems)
		}
	}
}
