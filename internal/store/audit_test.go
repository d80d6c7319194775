package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"spectra/internal/audit"
	"spectra/internal/console"
	"spectra/internal/metering"
	"spectra/internal/money"
	"spectra/internal/pricing"
	"spectra/internal/store/storetest"
	"spectra/internal/team"
)

// The audit log appends, lists newest first by each filter with a cursor, records an
// action with an idempotency key once, and refuses UPDATE and DELETE on both databases.
func TestAuditLogAppendOnly(t *testing.T) {
	storetest.EachEnv(t, func(t *testing.T, e *storetest.Env) {
		ctx := context.Background()
		svc := audit.New(e.DB, e.Clock.Now)
		for i := range 5 {
			actor := "op@a.test"
			if i%2 == 1 {
				actor = "admin-token"
			}
			if _, created, err := svc.Record(ctx, audit.Entry{Actor: actor, Action: "grant", WorkspaceID: fmt.Sprintf("ws%d", i%2),
				Before: map[string]string{"balance": "0"}, After: map[string]string{"balance": fmt.Sprint(i)}, IdempotencyKey: fmt.Sprintf("k%d", i)}); err != nil || !created {
				t.Fatal(created, err)
			}
			e.Clock.Advance(time.Second)
		}
		again, created, err := svc.Record(ctx, audit.Entry{Actor: "op@a.test", Action: "grant", IdempotencyKey: "k2", After: map[string]string{"balance": "other"}})
		if err != nil || created || again.After["balance"] != "2" || again.ID == 0 {
			t.Fatalf("replay: %+v %v %v", again, created, err)
		}
		if _, created, _ := svc.Record(ctx, audit.Entry{Actor: "op@a.test", Action: "workspace.update", IdempotencyKey: "k2"}); !created {
			t.Fatal("the same key of another action is another entry")
		}
		p, err := svc.List(ctx, audit.Filter{Limit: 2})
		if err != nil || len(p.Entries) != 2 || p.Entries[0].Action != "workspace.update" || p.NextCursor == 0 {
			t.Fatalf("page 1: %+v %v", p, err)
		}
		var all []audit.Entry
		for cur := int64(0); ; {
			p, err := svc.List(ctx, audit.Filter{Action: "grant", Limit: 2, BeforeID: cur})
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, p.Entries...)
			if cur = p.NextCursor; cur == 0 {
				break
			}
		}
		if len(all) != 5 || all[0].After["balance"] != "4" || all[4].After["balance"] != "0" || all[4].Before["balance"] != "0" {
			t.Fatalf("grants by cursor: %+v", all)
		}
		if p, _ := svc.List(ctx, audit.Filter{Actor: "admin-token"}); len(p.Entries) != 2 {
			t.Fatalf("by actor: %+v", p)
		}
		if p, _ := svc.List(ctx, audit.Filter{WorkspaceID: "ws0"}); len(p.Entries) != 3 || !p.Entries[0].At.Equal(storetest.Start.Add(4*time.Second)) {
			t.Fatalf("by workspace: %+v", p)
		}
		if _, err := svc.List(ctx, audit.Filter{Limit: 201}); err == nil {
			t.Fatal("a limit over 200 is refused")
		}
		if _, _, err := svc.Record(ctx, audit.Entry{Action: "grant"}); err == nil {
			t.Fatal("an entry without actor is refused")
		}
		for _, q := range []string{`UPDATE audit_log SET actor = 'x'`, `DELETE FROM audit_log`} {
			if _, err := e.DB.RawExec(ctx, q); err == nil {
				t.Errorf("%s: the database let it through", q)
			}
		}
		if p, _ := svc.List(ctx, audit.Filter{Limit: 200}); len(p.Entries) != 6 {
			t.Fatalf("after refused changes: %d entries", len(p.Entries))
		}
	})
}

// The console's list computes balance, held, spend this month (in each workspace's own
// month), last activity and owner in SQL, searches by name, id and owner email, sorts
// by every column both ways and pages; Activity sums the deployment by day.
func TestConsoleWorkspacesAndActivity(t *testing.T) {
	storetest.EachEnv(t, func(t *testing.T, e *storetest.Env) {
		ctx := context.Background()
		acc := team.NewAccounts(e.DB, e.Clock.Now)
		if _, _, err := e.Meter.PutPrice(ctx, pricing.Price{Model: "m1", Input: 1_000_000, EffectiveFrom: storetest.Start.AddDate(0, -3, 0)}); err != nil {
			t.Fatal(err)
		}
		var wss []team.Workspace
		for i, tz := range []string{"UTC", "Asia/Tokyo", "America/New_York"} {
			ws, err := e.Team.CreateWorkspace(ctx, team.Workspace{Name: fmt.Sprintf("Shop %c", 'C'-i), Timezone: tz})
			if err != nil {
				t.Fatal(err)
			}
			u, err := acc.CreateUser(ctx, fmt.Sprintf("owner%d@x%d.test", i, i), "Owner", "correct horse battery", false)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := acc.AddMember(ctx, ws.ID, u.ID, team.RoleOwner); err != nil {
				t.Fatal(err)
			}
			e.Grant(t, ws.ID, money.Amount(i+1)*money.Scale)
			wss = append(wss, ws)
		}
		// Start is 1 March 12:00 UTC: in New York it is still 1 March, in Tokyo 1 March
		// 21:00. An event on 28 February 20:00 UTC is last month in UTC and New York,
		// and this month (1 March 05:00) in Tokyo.
		var evs []metering.Event
		for i, ws := range wss {
			evs = append(evs,
				metering.Event{ID: fmt.Sprintf("a%d", i), WorkspaceID: ws.ID, Model: "m1", Timestamp: storetest.Start.Add(-16 * time.Hour), Usage: pricing.Usage{Input: 1_000_000}},
				metering.Event{ID: fmt.Sprintf("b%d", i), WorkspaceID: ws.ID, Model: "m1", Timestamp: storetest.Start.Add(-time.Hour), Usage: pricing.Usage{Input: int64(i+1) * 100_000}})
		}
		if res, err := e.Meter.Ingest(ctx, evs); err != nil || res.Accepted != len(evs) {
			t.Fatal(res, err)
		}
		svc := console.New(e.DB, e.Clock.Now)
		p, err := svc.Workspaces(ctx, console.ListQuery{})
		if err != nil || p.Total != 3 || len(p.Rows) != 3 {
			t.Fatalf("%+v %v", p, err)
		}
		byName := map[string]console.WorkspaceRow{}
		for _, r := range p.Rows {
			byName[r.Name] = r
		}
		if p.Rows[0].Name != "Shop A" || p.Rows[2].Name != "Shop C" {
			t.Fatalf("by name: %+v", p.Rows)
		}
		// Shop C (UTC): 0.10 this month; Shop B (Tokyo): 1 + 0.20; Shop A (New York): 0.30.
		for name, want := range map[string]money.Amount{"Shop C": 100_000, "Shop B": 1_200_000, "Shop A": 300_000} {
			if got := byName[name].SpendThisMonth; got != want {
				t.Errorf("%s spend this month = %d, want %d", name, got, want)
			}
		}
		c := byName["Shop C"]
		if c.Balance != money.Scale-1_100_000 || c.Owner != "owner0@x0.test" || !c.LastActivity.Equal(storetest.Start.Add(-time.Hour)) {
			t.Errorf("Shop C: %+v", c)
		}
		for _, sort := range console.Sorts {
			for _, desc := range []bool{false, true} {
				var ids []string
				for off := 0; off < 3; off++ {
					p, err := svc.Workspaces(ctx, console.ListQuery{Sort: sort, Desc: desc, Offset: off, Limit: 1})
					if err != nil || len(p.Rows) != 1 || p.Total != 3 {
						t.Fatalf("%s %v %d: %+v %v", sort, desc, off, p, err)
					}
					ids = append(ids, p.Rows[0].ID)
				}
				if ids[0] == ids[1] || ids[1] == ids[2] || ids[0] == ids[2] {
					t.Errorf("%s desc=%v pages repeat: %v", sort, desc, ids)
				}
			}
		}
		if p, _ := svc.Workspaces(ctx, console.ListQuery{Sort: console.SortSpend, Desc: true, Limit: 1}); p.Rows[0].Name != "Shop B" {
			t.Errorf("top spend: %+v", p.Rows)
		}
		if p, _ := svc.Workspaces(ctx, console.ListQuery{Sort: console.SortBalance}); p.Rows[0].Name != "Shop C" {
			t.Errorf("lowest balance: %+v", p.Rows)
		}
		for q, want := range map[string]string{"shop b": "Shop B", "OWNER2@": "Shop A", wss[0].ID: "Shop C"} {
			if p, err := svc.Workspaces(ctx, console.ListQuery{Search: q}); err != nil || p.Total != 1 || p.Rows[0].Name != want {
				t.Errorf("search %q: %+v %v", q, p, err)
			}
		}
		if p, _ := svc.Workspaces(ctx, console.ListQuery{Search: "%"}); p.Total != 0 {
			t.Errorf("%% is a character, not a wildcard: %+v", p)
		}
		if _, err := svc.Workspaces(ctx, console.ListQuery{Sort: "secret"}); err == nil {
			t.Error("an unknown sort is refused")
		}
		a, err := svc.Activity(ctx, 7)
		if err != nil {
			t.Fatal(err)
		}
		if a.Spend != 3_600_000 || a.Requests != 6 || len(a.Days) != 7 || a.Days[6].Date != "2025-03-01" {
			t.Fatalf("activity: %+v", a)
		}
		if a.Outstanding != 6*money.Scale-3_600_000 || a.Wallets != 3 || len(a.TopModels) != 1 || a.TopModels[0].Spend != 3_600_000 {
			t.Fatalf("activity totals: %+v", a)
		}
		if len(a.TopWorkspaces) != 3 || a.TopWorkspaces[0].Label != "Shop A" {
			t.Fatalf("top workspaces: %+v", a.TopWorkspaces)
		}
	})
}
