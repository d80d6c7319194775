package store_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"

	"spectra/internal/notify"
	"spectra/internal/store"
	"spectra/internal/store/storetest"
	"spectra/internal/team"
)

// twoNodes opens the same fresh database twice, as two nodes would: one SQLite file, or
// one PostgreSQL schema, each with its own connection pools.
func twoNodes(t *testing.T, dialect string, c *storetest.Clock) (*store.DB, *store.DB) {
	t.Helper()
	var dsn string
	switch dialect {
	case "sqlite":
		dsn = "sqlite:" + filepath.Join(t.TempDir(), "spectra.db")
	default:
		dsn = storetest.PostgresDSN(t)
	}
	open := func() *store.DB {
		db, err := store.Open(context.Background(), dsn, store.Options{Now: c.Now, MaxConns: 8})
		acctCheck(t, err)
		t.Cleanup(func() { db.Close() })
		_, err = db.Migrate(context.Background())
		acctCheck(t, err)
		return db
	}
	return open(), open()
}

// Two nodes (two connection pools on one database), each running dispatchers and
// senders concurrently, claim every alert once and send every message once.
func TestTwoNodesDispatchAndSendOnce(t *testing.T) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			ctx := context.Background()
			c := storetest.NewClock(coreT0)
			a, b := twoNodes(t, dialect, c)
			e := &hookEnv{coreEnv: &coreEnv{&storetest.Env{DB: a, Clock: c}}, mailer: &recordingMailer{}}
			e.ws = e.Workspace(t, 0)
			u := team.User{ID: "usr_owner", Email: "owner@example.com", CreatedAt: coreT0}
			acctCheck(t, a.CreateUser(ctx, u, ""))
			_, err := a.AddMember(ctx, team.Member{WorkspaceID: e.ws, UserID: u.ID, Role: team.RoleOwner, CreatedAt: coreT0})
			acctCheck(t, err)
			node := func(db *store.DB) *notify.Service {
				return notify.New(notify.Config{Store: db, Mailer: e.mailer, Now: c.Now, Backoff: fixedBackoff,
					Log: slog.New(slog.DiscardHandler), AllowPrivateNetworks: true})
			}
			na, nb := node(a), node(b)
			rc := newReceiver(t)
			_, rc.secret = e.endpoint(t, na, rc.URL, notify.EndpointInput{})
			const alerts = 25
			for range alerts {
				e.alert(t, "balance.low")
			}
			var wg sync.WaitGroup
			var mu sync.Mutex
			claimed := 0
			for i := range 6 {
				n := na
				if i%2 == 1 {
					n = nb
				}
				wg.Go(func() {
					k, err := n.Dispatch(ctx)
					if err != nil {
						t.Error(err)
					}
					mu.Lock()
					claimed += k
					mu.Unlock()
					if _, err := n.SendDue(ctx); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			// A dispatcher that finished early may have left deliveries another queued
			// after its last claim: one more round on each node sends the rest.
			for _, n := range []*notify.Service{na, nb} {
				if _, err := n.SendDue(ctx); err != nil {
					t.Fatal(err)
				}
			}
			if claimed != alerts {
				t.Fatalf("claimed %d alerts, want %d", claimed, alerts)
			}
			seen := map[string]int{}
			for _, h := range rc.got {
				seen[h.Get("webhook-id")]++
			}
			if len(seen) != alerts || rc.count() != alerts {
				t.Fatalf("receiver got %d posts for %d messages, want %d once each", rc.count(), len(seen), alerts)
			}
			if got := len(e.mailer.Sent()); got != alerts {
				t.Fatalf("emails %d, want %d", got, alerts)
			}
			for _, d := range e.deliveries(t, "") {
				if d.Status != "delivered" || d.Attempts != 1 {
					t.Fatalf("delivery %+v", d)
				}
			}
		})
	}
}
