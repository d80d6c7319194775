package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"spectra/internal/store/storetest"
)

// TestAdminPriceListsRefusals: the console's price list forms refuse with the API's codes
// and change nothing (a bad adjustment, a taken name with other terms, a bad version, a
// version that differs from one at the same time, an unknown list to assign), need the
// CSRF token, and a repeat of the form that made a list changes nothing.
func TestAdminPriceListsRefusals(t *testing.T) {
	e := newAdminEnv(t, storetest.SQLite)
	f := e.seedFixture()
	ctx := context.Background()
	op := e.signedIn(opEmail)
	op.get("/admin/price-lists")
	code := func(st int, body string, wantStatus int, want string) {
		t.Helper()
		if st != wantStatus || !strings.Contains(body, `data-code="`+want+`"`) {
			t.Errorf("got %d, want %d %s:\n%.400s", st, wantStatus, want, body)
		}
	}
	st, body := op.post("/admin/price-lists", url.Values{"name": {"gold"}, "adjust_percent": {"-100"}})
	code(st, body, http.StatusBadRequest, "invalid_adjust_percent")
	st, body = op.post("/admin/price-lists", url.Values{"name": {"gold"}, "adjust_percent": {"-10"}, "v_model": {"m"}, "v_input": {"x"}, "v_output": {"1"}})
	code(st, body, http.StatusBadRequest, "invalid_price")
	if ls, _ := e.metering.PriceLists(ctx); len(ls) != 0 {
		t.Fatalf("refused forms made %+v", ls)
	}
	if st, _ := op.post("/admin/price-lists", url.Values{"name": {"gold"}, "adjust_percent": {"-10%"}}); st != http.StatusSeeOther {
		t.Fatalf("make gold: %d", st)
	}
	if st, body := op.get("/admin/price-lists/gold?done=created"); st != http.StatusOK || !strings.Contains(body, `data-adjust="-10"`) {
		t.Fatalf("gold's page: %d\n%.400s", st, body)
	}
	// The same form again: nothing changes; other terms: price_list_exists.
	st, _ = op.post("/admin/price-lists", url.Values{"name": {"gold"}, "adjust_percent": {"-10"}})
	if st != http.StatusSeeOther {
		t.Fatalf("repeat: %d", st)
	}
	st, body = op.post("/admin/price-lists", url.Values{"name": {"gold"}, "adjust_percent": {"-20"}})
	code(st, body, http.StatusConflict, "price_list_exists")
	if l, _ := e.metering.PriceList(ctx, "gold"); l.AdjustBP != -1000 {
		t.Fatalf("gold changed: %+v", l)
	}

	v := url.Values{"model": {"m"}, "input": {"1"}, "output": {"2"}, "effective_from": {"2025-01-01T00:00"}}
	if st, _ := op.post("/admin/price-lists/gold/prices", v); st != http.StatusSeeOther {
		t.Fatalf("add a version: %d", st)
	}
	v.Set("output", "3")
	st, body = op.post("/admin/price-lists/gold/prices", v)
	code(st, body, http.StatusConflict, "price_version_exists")
	st, body = op.post("/admin/price-lists/gold/prices", url.Values{"model": {"m"}, "input": {"1"}})
	code(st, body, http.StatusBadRequest, "missing_price")
	if st, _ := op.post("/admin/price-lists/nobody/prices", url.Values{"model": {"m"}, "input": {"1"}, "output": {"1"}}); st != http.StatusNotFound {
		t.Errorf("a version of an unknown list: %d", st)
	}
	if st, _ := op.get("/admin/price-lists/nobody"); st != http.StatusNotFound {
		t.Errorf("an unknown list's page: %d", st)
	}
	if l, _ := e.metering.PriceList(ctx, "gold"); len(l.Prices) != 1 || l.Prices[0].Output != 2_000_000 {
		t.Fatalf("gold's versions: %+v", l.Prices)
	}

	op.get("/admin/workspaces/" + f.ws)
	st, body = op.post("/admin/workspaces/"+f.ws+"/price-list", url.Values{"price_list": {"silver"}})
	code(st, body, http.StatusNotFound, "price_list_not_found")
	if st, _ := op.post("/admin/workspaces/"+f.ws+"/price-list", url.Values{"price_list": {"gold"}, "csrf": {"forged"}}); st != http.StatusForbidden {
		t.Errorf("a forged assignment: %d", st)
	}
	if ws, _ := e.team.Workspace(ctx, f.ws); ws.PriceList != "" {
		t.Fatalf("a refused assignment: %+v", ws)
	}
	if st, _ := op.post("/admin/workspaces/"+f.ws+"/price-list", url.Values{"price_list": {"gold"}}); st != http.StatusSeeOther {
		t.Fatalf("assign: %d", st)
	}
	if ws, _ := e.team.Workspace(ctx, f.ws); ws.PriceList != "gold" {
		t.Fatalf("assigned: %+v", ws)
	}
}
