package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"spectra/internal/errs"
	"spectra/internal/ids"
	"spectra/internal/ledger"
	"spectra/internal/metering"
	"spectra/internal/money"
	"spectra/internal/store"
	"spectra/internal/team"
)

// Start is where an Env's clock starts: 1 March 2025, 12:00 UTC.
var Start = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// Env is one fresh store with the core services (ledger, metering, team) wired to one
// test clock: the environment the domain packages' tests share.
type Env struct {
	DB     *store.DB
	Clock  *Clock
	Ledger *ledger.Service
	Meter  *metering.Service
	Team   *team.Service
}

// NewEnv wires the core services over db on clock c (db must read time from c.Now).
func NewEnv(db *store.DB, c *Clock) *Env {
	return &Env{DB: db, Clock: c, Ledger: ledger.NewService(db, c.Now), Meter: metering.NewService(db, db, c.Now),
		Team: team.NewService(db, c.Now)}
}

// EachAt runs fn as a subtest on SQLite and on PostgreSQL, each on a fresh store that
// reads time from the test clock c, which reads start when the subtest begins: the
// environment every test package builds its own services on.
func EachAt(t *testing.T, start time.Time, fn func(t *testing.T, db *store.DB, c *Clock)) {
	c := NewClock(start)
	Each(t, Options{Now: c.Now}, func(t *testing.T, db *store.DB) {
		c.Set(start) // each store starts at the same time
		fn(t, db, c)
	})
}

// EachEnv runs fn as a subtest on SQLite and on PostgreSQL, each with a fresh Env whose
// clock reads Start.
func EachEnv(t *testing.T, fn func(t *testing.T, e *Env)) {
	EachAt(t, Start, func(t *testing.T, db *store.DB, c *Clock) { fn(t, NewEnv(db, c)) })
}

// Fataler is what the Env helpers need of a test: a *testing.T, a *testing.B or a
// property test's *rapid.T.
type Fataler interface {
	Helper()
	Fatal(args ...any)
}

// Workspace creates a UTC workspace with the given overdraft limit and returns its id.
func (e *Env) Workspace(t Fataler, limit money.Amount) string {
	t.Helper()
	id := ids.New("ws")
	if err := e.DB.CreateWorkspace(context.Background(), team.Workspace{ID: id, Name: "test", Timezone: "UTC", OverdraftLimit: limit, CreatedAt: e.Clock.Now()}); err != nil {
		t.Fatal(err)
	}
	return id
}

// Grant credits ws with amount (a fresh grant).
func (e *Env) Grant(t Fataler, ws string, amount money.Amount) {
	t.Helper()
	if _, _, err := e.Ledger.Grant(context.Background(), ws, amount, ids.New("g"), ""); err != nil {
		t.Fatal(err)
	}
}

// Balance returns ws's balance.
func (e *Env) Balance(t Fataler, ws string) ledger.Balance {
	t.Helper()
	b, err := e.Ledger.Balance(context.Background(), ws)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Verify fails the test when the store's own recomputation finds a difference.
func (e *Env) Verify(t Fataler) {
	t.Helper()
	rep, err := e.DB.Verify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatal(fmt.Sprintf("verify: %+v", rep))
	}
}

// WantCode fails the test unless err carries the error code code.
func WantCode(t testing.TB, err error, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error; want %s", code)
	}
	if got := errs.CodeOf(err); got != code {
		t.Fatalf("got %v; want %s", err, code)
	}
}
