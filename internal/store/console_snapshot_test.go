package store_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"spectra/internal/console"
	"spectra/internal/metering"
	"spectra/internal/money"
	"spectra/internal/pricing"
	"spectra/internal/store/storetest"
	"spectra/internal/team"
)

// The console's snapshot holds each workspace's spend this month and Activity exactly
// as the live queries compute them; the list sorted by spend orders by the snapshot's
// figures (both ways, with a search, page by page) and says their time; usage after the
// snapshot shows only after the next Refresh, which moves the time on.
func TestConsoleSnapshotMatchesLive(t *testing.T) {
	storetest.EachEnv(t, func(t *testing.T, e *storetest.Env) {
		ctx := context.Background()
		if _, _, err := e.Meter.PutPrice(ctx, pricing.Price{Model: "m1", Input: 1_000_000, EffectiveFrom: storetest.Start.AddDate(0, -3, 0)}); err != nil {
			t.Fatal(err)
		}
		zones := []string{"UTC", "Asia/Tokyo", "America/New_York", "Europe/Berlin"}
		var wss []team.Workspace
		var evs []metering.Event
		for i := range 10 {
			ws, err := e.Team.CreateWorkspace(ctx, team.Workspace{Name: fmt.Sprintf("Shop %d", i), Timezone: zones[i%len(zones)]})
			if err != nil {
				t.Fatal(err)
			}
			e.Grant(t, ws.ID, 100*money.Scale)
			wss = append(wss, ws)
			// Spends 0.1 × ((i*7) % 9), with two workspaces at the same figure (ties
			// ordered by id), one last month only in most zones, and one without usage.
			for j := range (i * 7) % 9 {
				evs = append(evs, metering.Event{ID: fmt.Sprintf("e%d-%d", i, j), WorkspaceID: ws.ID, Model: "m1",
					Timestamp: storetest.Start.Add(-time.Duration(j) * time.Hour), Usage: pricing.Usage{Input: 100_000}})
			}
		}
		evs = append(evs, metering.Event{ID: "tie", WorkspaceID: wss[0].ID, Model: "m1", Timestamp: storetest.Start.Add(-time.Hour), Usage: pricing.Usage{Input: 300_000}},
			metering.Event{ID: "old-tokyo", WorkspaceID: wss[1].ID, Model: "m1", Timestamp: storetest.Start.Add(-16 * time.Hour), Usage: pricing.Usage{Input: 5_000_000}},
			metering.Event{ID: "old-ny", WorkspaceID: wss[2].ID, Model: "m1", Timestamp: storetest.Start.Add(-16 * time.Hour), Usage: pricing.Usage{Input: 5_000_000}})
		if res, err := e.Meter.Ingest(ctx, evs); err != nil || res.Accepted != len(evs) {
			t.Fatal(res, err)
		}
		svc := console.New(e.DB, e.Clock.Now)
		if err := svc.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		sn, err := svc.Snapshot(ctx)
		if err != nil || !sn.At.Equal(storetest.Start) {
			t.Fatalf("snapshot at %v: %v", sn.At, err)
		}
		live, err := svc.LiveWorkspaces(ctx, console.ListQuery{Limit: console.MaxLimit})
		if err != nil || len(live.Rows) != len(wss) {
			t.Fatalf("%+v %v", live, err)
		}
		spends := map[money.Amount]int{}
		for _, r := range live.Rows {
			if got := sn.Spend[r.ID]; got != r.SpendThisMonth {
				t.Errorf("%s: snapshot spend %d, live %d", r.Name, got, r.SpendThisMonth)
			}
			spends[r.SpendThisMonth]++
		}
		if len(spends) < 5 || spends[0] == 0 || spends[300_000] != 2 {
			t.Fatalf("the case needs distinct spends, ties and zeros: %v", spends)
		}
		for _, days := range console.ActivityPeriods {
			a, err := svc.Activity(ctx, days)
			if err != nil {
				t.Fatal(err)
			}
			l, err := svc.LiveActivity(ctx, days)
			if err != nil {
				t.Fatal(err)
			}
			if !a.AsOf.Equal(sn.At) || !l.AsOf.IsZero() {
				t.Errorf("%d days: as of %v (live %v)", days, a.AsOf, l.AsOf)
			}
			l.AsOf = a.AsOf
			if fmt.Sprintf("%+v", a) != fmt.Sprintf("%+v", l) {
				t.Errorf("%d days: snapshot %+v\nlive %+v", days, a, l)
			}
		}
		// The order by spend: the live SQL order, both ways, page by page, and searched.
		for _, desc := range []bool{false, true} {
			for _, search := range []string{"", "shop 1", "Shop"} {
				want, err := svc.LiveWorkspaces(ctx, console.ListQuery{Sort: console.SortSpend, Desc: desc, Search: search, Limit: console.MaxLimit})
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for off := 0; off < want.Total+2; off += 2 {
					p, err := svc.Workspaces(ctx, console.ListQuery{Sort: console.SortSpend, Desc: desc, Search: search, Offset: off, Limit: 2})
					if err != nil || p.Total != want.Total || !p.SpendAsOf.Equal(sn.At) {
						t.Fatalf("desc=%v %q offset %d: %+v %v", desc, search, off, p, err)
					}
					for i, r := range p.Rows {
						got = append(got, r.ID)
						if i > 0 && (desc && r.SpendThisMonth > p.Rows[i-1].SpendThisMonth || !desc && r.SpendThisMonth < p.Rows[i-1].SpendThisMonth) {
							t.Errorf("desc=%v: %+v out of order", desc, p.Rows)
						}
					}
				}
				var wantIDs []string
				for _, r := range want.Rows {
					wantIDs = append(wantIDs, r.ID)
				}
				if !slices.Equal(got, wantIDs) {
					t.Errorf("desc=%v %q: order %v, live %v", desc, search, got, wantIDs)
				}
			}
		}
		// Usage after the snapshot: shown after the next pass, whose time is later.
		if res, err := e.Meter.Ingest(ctx, []metering.Event{{ID: "late", WorkspaceID: wss[8].ID, Model: "m1", Timestamp: storetest.Start, Usage: pricing.Usage{Input: 50_000_000}}}); err != nil || res.Accepted != 1 {
			t.Fatal(res, err)
		}
		before := sn.Spend[wss[8].ID]
		if p, _ := svc.Workspaces(ctx, console.ListQuery{Search: wss[8].ID}); p.Rows[0].SpendThisMonth != before {
			t.Errorf("the page shows the snapshot's spend: %+v", p.Rows[0])
		}
		e.Clock.Advance(time.Minute)
		if err := svc.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		p, err := svc.Workspaces(ctx, console.ListQuery{Sort: console.SortSpend, Desc: true, Limit: 1})
		if err != nil || p.Rows[0].ID != wss[8].ID || p.Rows[0].SpendThisMonth != before+50*money.Scale || !p.SpendAsOf.Equal(storetest.Start.Add(time.Minute)) {
			t.Errorf("after a refresh: %+v %v", p, err)
		}
	})
}

// The list by owner orders by each workspace's first owner (by when they joined), a
// workspace without one first ascending, on both databases (PostgreSQL ranks the owners
// in one pass, SQLite reads each workspace's).
func TestConsoleSortByFirstOwner(t *testing.T) {
	storetest.EachEnv(t, func(t *testing.T, e *storetest.Env) {
		ctx := context.Background()
		acc := team.NewAccounts(e.DB, e.Clock.Now)
		ids := map[string]string{}
		for _, w := range []struct {
			name   string
			owners []string
		}{{"A", []string{"zed@a.test", "aaa@a.test"}}, {"B", []string{"mmm@b.test"}}, {"C", nil}} {
			ws, err := e.Team.CreateWorkspace(ctx, team.Workspace{Name: w.name, Timezone: "UTC"})
			if err != nil {
				t.Fatal(err)
			}
			ids[ws.ID] = w.name
			for _, email := range w.owners {
				e.Clock.Advance(time.Second)
				u, err := acc.CreateUser(ctx, email, "Owner", "correct horse battery", false)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := acc.AddMember(ctx, ws.ID, u.ID, team.RoleOwner); err != nil {
					t.Fatal(err)
				}
			}
		}
		svc := console.New(e.DB, e.Clock.Now)
		for desc, want := range map[bool]string{false: "CBA", true: "ABC"} {
			p, err := svc.Workspaces(ctx, console.ListQuery{Sort: console.SortOwner, Desc: desc})
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			for _, r := range p.Rows {
				got += ids[r.ID]
			}
			if got != want || p.Rows[len(p.Rows)-1].Owner == "aaa@a.test" || p.Rows[0].Owner == "aaa@a.test" {
				t.Errorf("by owner desc=%v: %s, want %s (%+v)", desc, got, want, p.Rows)
			}
		}
	})
}
