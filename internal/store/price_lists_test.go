package store_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"spectra/internal/metering"
	"spectra/internal/money"
	"spectra/internal/pricing"
	"spectra/internal/store/storetest"
	"spectra/internal/team"
)

var listFrom = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// richVersion is a list version with every shape a version may have.
func richVersion(model string, from time.Time) pricing.Price {
	return pricing.Price{Model: model, Input: 2_000_000, CachedInput: 500_000, CacheWrite: 2_500_000, Output: 8_000_000, Request: 10,
		AudioInput: 40_000_000, ImageOutput: 30_000_000, MaxOutputTokens: 4096,
		Units:         map[string]money.Amount{"web_search_call": 10_000, "image_1024x1024_high": 167_000},
		Tiers:         []pricing.Tier{{AboveInputTokens: 200_000, Rates: pricing.Rates{Input: 4_000_000, Output: 12_000_000}}},
		ServiceTiers:  map[string]pricing.ServiceTier{"flex": {Rates: pricing.Rates{Input: 1_000_000, Output: 4_000_000}}},
		EffectiveFrom: from, CreatedAt: coreT0}
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestPriceListsRoundTrip: a list, its adjustment and its versions (tiers, units,
// service tiers, modalities) read back as stored; a second create under the name writes
// nothing and returns the stored list; versions are immutable (the same again is no
// change, a different one price_version_exists); an unknown list is price_list_not_found.
func TestPriceListsRoundTrip(t *testing.T) {
	coreEach(t, func(t *testing.T, e *coreEnv) {
		ctx := context.Background()
		l := pricing.PriceList{Name: "enterprise-2026", AdjustBP: -1500, CreatedAt: coreT0,
			Prices: []pricing.Price{richVersion("gpt-x", listFrom)}}
		stored, created, err := e.DB.CreatePriceList(ctx, l)
		if err != nil || !created {
			t.Fatalf("create: %v %v", created, err)
		}
		got, err := e.DB.PriceList(ctx, "enterprise-2026")
		if err != nil {
			t.Fatal(err)
		}
		if jsonOf(t, got) != jsonOf(t, l) || jsonOf(t, stored) != jsonOf(t, l) {
			t.Fatalf("read back\n%s\nwant\n%s", jsonOf(t, got), jsonOf(t, l))
		}
		// Another list under the name: nothing written, the stored one returned.
		other := pricing.PriceList{Name: "enterprise-2026", AdjustBP: 500, CreatedAt: coreT0.Add(time.Hour), Prices: []pricing.Price{}}
		again, created, err := e.DB.CreatePriceList(ctx, other)
		if err != nil || created || again.AdjustBP != -1500 || len(again.Prices) != 1 {
			t.Fatalf("second create: %+v %v %v", again, created, err)
		}

		later := richVersion("gpt-x", listFrom.AddDate(0, 6, 0))
		later.Input = 1_500_000
		later.CreatedAt = coreT0.Add(time.Minute)
		if created, err := e.DB.AddPriceListVersion(ctx, "enterprise-2026", later); err != nil || !created {
			t.Fatalf("add version: %v %v", created, err)
		}
		if created, err := e.DB.AddPriceListVersion(ctx, "enterprise-2026", later); err != nil || created {
			t.Fatalf("the same version again: %v %v", created, err)
		}
		changed := later
		changed.Output++
		_, err = e.DB.AddPriceListVersion(ctx, "enterprise-2026", changed)
		storetest.WantCode(t, err, "price_version_exists")
		_, err = e.DB.AddPriceListVersion(ctx, "nobody", later)
		storetest.WantCode(t, err, "price_list_not_found")
		_, err = e.DB.PriceList(ctx, "nobody")
		storetest.WantCode(t, err, "price_list_not_found")

		if _, _, err := e.DB.CreatePriceList(ctx, pricing.PriceList{Name: "a-list", CreatedAt: coreT0}); err != nil {
			t.Fatal(err)
		}
		all, err := e.DB.PriceLists(ctx)
		if err != nil || len(all) != 2 || all[0].Name != "a-list" || all[1].Name != "enterprise-2026" || len(all[0].Prices) != 0 || len(all[1].Prices) != 2 {
			t.Fatalf("lists: %+v %v", all, err)
		}
		if !all[1].Prices[1].EffectiveFrom.Equal(later.EffectiveFrom) || all[1].Prices[1].Input != 1_500_000 || !all[1].Prices[1].CreatedAt.Equal(later.CreatedAt) {
			t.Fatalf("the later version: %+v", all[1].Prices[1])
		}
	})
}

// catalogVersion is the store's catalog version now.
func catalogVersion(t *testing.T, e *coreEnv) int64 {
	t.Helper()
	c, err := e.DB.Catalog(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c.Version
}

// TestPriceListAssignment: a workspace is assigned a list, reads it back, is listed on
// it, and returns to the catalog; an unknown list is price_list_not_found and changes
// nothing. Every write of a list, a version or an assignment moves the catalog's version
// (a repeat that writes nothing does not), and the catalog prices the workspace by its list.
func TestPriceListAssignment(t *testing.T) {
	coreEach(t, func(t *testing.T, e *coreEnv) {
		ctx := context.Background()
		e.addPrice(t, "m", 8_000_000) // input 2, output 8 per 1M
		ws := e.Workspace(t, 0)
		other := e.Workspace(t, 0)
		v0 := catalogVersion(t, e)

		l := pricing.PriceList{Name: "gold", AdjustBP: -2500, CreatedAt: coreT0}
		if _, _, err := e.DB.CreatePriceList(ctx, l); err != nil {
			t.Fatal(err)
		}
		v1 := catalogVersion(t, e)
		if v1 == v0 {
			t.Fatal("creating a list left the catalog's version")
		}
		if _, created, _ := e.DB.CreatePriceList(ctx, l); created || catalogVersion(t, e) != v1 {
			t.Fatal("a repeated create moved the version")
		}

		assign := func(id, name string) error {
			return e.DB.UpdateWorkspace(ctx, id, team.WorkspaceUpdate{PriceList: team.SetName(name)})
		}
		storetest.WantCode(t, assign(ws, "silver"), "price_list_not_found")
		if w, _ := e.DB.Workspace(ctx, ws); w.PriceList != "" || catalogVersion(t, e) != v1 {
			t.Fatalf("a refused assignment changed %+v", w)
		}
		storetest.WantCode(t, assign("ws_nobody", "gold"), "workspace_not_found")

		if err := assign(ws, "gold"); err != nil {
			t.Fatal(err)
		}
		v2 := catalogVersion(t, e)
		if v2 == v1 {
			t.Fatal("an assignment left the catalog's version")
		}
		if w, err := e.DB.Workspace(ctx, ws); err != nil || w.PriceList != "gold" {
			t.Fatalf("workspace: %+v %v", w, err)
		}
		if err := assign(ws, "gold"); err != nil || catalogVersion(t, e) != v2 {
			t.Fatalf("the same assignment again: %v, version moved", err)
		}
		if ids, err := e.DB.PriceListWorkspaces(ctx, "gold"); err != nil || len(ids) != 1 || ids[0] != ws {
			t.Fatalf("workspaces on gold: %v %v", ids, err)
		}

		cat, err := e.DB.Catalog(ctx)
		if err != nil {
			t.Fatal(err)
		}
		p, list, err := cat.ForWorkspace(ws, "m", coreT0)
		if err != nil || list != "gold" || p.Output != 6_000_000 || p.Input != 1_500_000 {
			t.Fatalf("gold price: %+v %q %v", p, list, err)
		}
		if p, list, err := cat.ForWorkspace(other, "m", coreT0); err != nil || list != "" || p.Output != 8_000_000 {
			t.Fatalf("catalog price: %+v %q %v", p, list, err)
		}

		own := pricing.Price{Model: "m", Input: 1_000_000, Output: 3_000_000, EffectiveFrom: listFrom, CreatedAt: coreT0}
		if _, err := e.DB.AddPriceListVersion(ctx, "gold", own); err != nil {
			t.Fatal(err)
		}
		v3 := catalogVersion(t, e)
		if v3 == v2 {
			t.Fatal("adding a list version left the catalog's version")
		}
		if _, err := e.DB.AddPriceListVersion(ctx, "gold", own); err != nil || catalogVersion(t, e) != v3 {
			t.Fatalf("a repeated version: %v, or the version moved", err)
		}
		cat, _ = e.DB.Catalog(ctx)
		if p, list, err := cat.ForWorkspace(ws, "m", coreT0); err != nil || list != "gold" || p.Output != 3_000_000 {
			t.Fatalf("the list's own version: %+v %q %v", p, list, err)
		}

		if err := assign(ws, ""); err != nil {
			t.Fatal(err)
		}
		if catalogVersion(t, e) == v3 {
			t.Fatal("an unassignment left the catalog's version")
		}
		if w, _ := e.DB.Workspace(ctx, ws); w.PriceList != "" {
			t.Fatalf("unassigned: %+v", w)
		}
		cat, _ = e.DB.Catalog(ctx)
		if p, list, _ := cat.ForWorkspace(ws, "m", coreT0); list != "" || p.Output != 8_000_000 {
			t.Fatalf("back on the catalog: %+v %q", p, list)
		}
	})
}

// TestPriceListStaleCatalogRefused: events priced with the catalog as it was before a
// list write or an assignment are refused by ApplyEvents (catalog_changed), applying
// nothing; metering.Service reprices them with the new catalog.
func TestPriceListStaleCatalogRefused(t *testing.T) {
	coreEach(t, func(t *testing.T, e *coreEnv) {
		ctx := context.Background()
		e.addPrice(t, "m", 8_000_000)
		ws := e.Workspace(t, 0)
		e.Grant(t, ws, 100_000_000)
		ev := func(id string) metering.Event {
			return metering.Event{ID: id, WorkspaceID: ws, Model: "m", Timestamp: coreT0, Usage: pricing.Usage{Output: 1_000_000}}
		}
		writes := []func() error{
			func() error {
				_, _, err := e.DB.CreatePriceList(ctx, pricing.PriceList{Name: "half", AdjustBP: -5000, CreatedAt: coreT0})
				return err
			},
			func() error {
				return e.DB.UpdateWorkspace(ctx, ws, team.WorkspaceUpdate{PriceList: team.SetName("half")})
			},
			func() error {
				_, err := e.DB.AddPriceListVersion(ctx, "half", pricing.Price{Model: "m", Output: 2_000_000, EffectiveFrom: listFrom, CreatedAt: coreT0})
				return err
			},
			func() error { return e.DB.UpdateWorkspace(ctx, ws, team.WorkspaceUpdate{PriceList: team.SetName("")}) },
		}
		for i, write := range writes {
			before := catalogVersion(t, e)
			if err := write(); err != nil {
				t.Fatal(err)
			}
			e1 := ev("stale-" + string(rune('a'+i)))
			e1.Cost, e1.CostExact = 1, pricing.ExactOf(1)
			_, err := e.DB.ApplyEvents(ctx, before, []metering.Event{e1})
			storetest.WantCode(t, err, "catalog_changed")
		}
		if b := e.Balance(t, ws); b.Balance != 100_000_000 {
			t.Fatalf("a refused batch moved the balance: %+v", b)
		}
	})
}

// TestPriceListAssignmentPricesLaterEvents: through metering.Service over the store, an
// event ingested after a workspace is assigned a list costs the list's price, one
// ingested before keeps the catalog's cost, and a return to the catalog prices the next
// at the catalog again; the service's cached catalog is refused by the store after the
// change (catalog_changed) and repriced, with no call to Invalidate.
func TestPriceListAssignmentPricesLaterEvents(t *testing.T) {
	coreEach(t, func(t *testing.T, e *coreEnv) {
		ctx := context.Background()
		e.addPrice(t, "m", 8_000_000) // output 8 per 1M
		ws := e.Workspace(t, 0)
		e.Grant(t, ws, 100_000_000)
		ingest := func(id string) metering.Event {
			t.Helper()
			res, err := e.Meter.Ingest(ctx, []metering.Event{{ID: id, WorkspaceID: ws, Model: "m", Timestamp: e.Clock.Now(), Usage: pricing.Usage{Output: 1_000_000}}})
			if err != nil || res.Accepted != 1 {
				t.Fatalf("ingest %s: %+v %v", id, res, err)
			}
			got, err := e.Meter.Event(ctx, ws, id)
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
		before := ingest("before")
		if before.Cost != 8_000_000 || before.PriceList != "" {
			t.Fatalf("on the catalog: %+v", before)
		}
		// The service has cached the catalog; the list and the assignment are written
		// behind its back (as another node would), so its next ingest is refused and repriced.
		if _, _, err := e.DB.CreatePriceList(ctx, pricing.PriceList{Name: "gold", AdjustBP: -2500, CreatedAt: e.Clock.Now()}); err != nil {
			t.Fatal(err)
		}
		if err := e.DB.UpdateWorkspace(ctx, ws, team.WorkspaceUpdate{PriceList: team.SetName("gold")}); err != nil {
			t.Fatal(err)
		}
		e.Clock.Advance(time.Minute)
		after := ingest("after")
		if after.Cost != 6_000_000 || after.PriceList != "gold" {
			t.Fatalf("on gold: cost %s list %q", after.Cost, after.PriceList)
		}
		if again, _ := e.Meter.Event(ctx, ws, "before"); again.Cost != 8_000_000 {
			t.Fatalf("the earlier event was repriced: %+v", again)
		}
		if err := e.DB.UpdateWorkspace(ctx, ws, team.WorkspaceUpdate{PriceList: team.SetName("")}); err != nil {
			t.Fatal(err)
		}
		e.Clock.Advance(time.Minute)
		if back := ingest("back"); back.Cost != 8_000_000 || back.PriceList != "" {
			t.Fatalf("back on the catalog: %+v", back)
		}
		if b := e.Balance(t, ws); b.Balance != 100_000_000-22_000_000 {
			t.Fatalf("balance %s, want 78", b.Balance)
		}
		e.Verify(t)
	})
}

// TestPriceListCreateRace: two nodes making the same list at once make it once (the
// other gets it back as a repeat); two making different lists under one name leave one
// list, and the other is price_list_exists.
func TestPriceListCreateRace(t *testing.T) {
	coreEach(t, func(t *testing.T, e *coreEnv) {
		ctx := context.Background()
		other := metering.NewService(e.DB, e.DB, e.Clock.Now) // a second node
		run := func(a, b pricing.PriceList) (createdA, createdB bool, errA, errB error) {
			done := make(chan struct{})
			go func() {
				defer close(done)
				_, createdB, errB = other.CreatePriceList(ctx, b)
			}()
			_, createdA, errA = e.Meter.CreatePriceList(ctx, a)
			<-done
			return
		}
		same := pricing.PriceList{Name: "same", AdjustBP: -1000}
		ca, cb, errA, errB := run(same, same)
		if errA != nil || errB != nil || ca == cb {
			t.Fatalf("same list twice: %v %v created %v %v", errA, errB, ca, cb)
		}
		ca, cb, errA, errB = run(pricing.PriceList{Name: "clash", AdjustBP: -1000}, pricing.PriceList{Name: "clash", AdjustBP: 500})
		if (errA == nil) == (errB == nil) || !(ca || cb) {
			t.Fatalf("two lists under one name: %v %v created %v %v", errA, errB, ca, cb)
		}
		if errA != nil {
			storetest.WantCode(t, errA, "price_list_exists")
		} else {
			storetest.WantCode(t, errB, "price_list_exists")
		}
		if ls, err := e.DB.PriceLists(ctx); err != nil || len(ls) != 2 {
			t.Fatalf("lists: %+v %v", ls, err)
		}
	})
}
