package web

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"spectra/internal/browsertest"
	"spectra/internal/demo"
	"spectra/internal/httpjson/httpjsontest"
	"spectra/internal/money"
	"spectra/internal/pricing"
	"spectra/internal/requestlog"
	"spectra/internal/requestlog/requestloghttp"
	"spectra/internal/team"
)

// TestBrowserMostExpensiveRequest sorts the request log by cost in Chromium, opens the
// first request, sees the arithmetic of its cost, and checks that cost, and that it is
// the most expensive, against the JSON API; the back button returns to the sorted log.
func TestBrowserMostExpensiveRequest(t *testing.T) {
	screenshotsDir(t)
	w := newBrowserWorld(t)
	base := w.e.ts.URL
	ws := "/w/" + w.demo.WorkspaceID + "/"
	log := requestlog.NewService(w.e.metering, w.e.db, w.e.budget)
	w.e.srv.reqlog = log // the dashboard's request log over the store, as serve wires it
	mux := http.NewServeMux()
	requestloghttp.Register(mux, log, w.e.team,
		httpjsontest.Auth{Strong: team.ActOperate}, "USD", slog.New(slog.NewTextHandler(io.Discard, nil)))
	api := httptest.NewServer(mux)
	defer api.Close()
	apiGet := func(path string, v any) {
		t.Helper()
		r := httpjsontest.Do(t, api.URL, "GET", "/api/v1/workspaces/"+w.demo.WorkspaceID+"/requests"+path, "operator", "")
		httpjsontest.Want(t, r, 200, "")
		if err := json.Unmarshal(r.Body, v); err != nil {
			t.Fatal(err)
		}
	}

	ctx, cancel := browsertest.New(t)
	defer cancel()
	signInBrowser(t, ctx, base, demo.OwnerEmail, demo.DefaultPassword)
	waitFor(t, ctx, `location.pathname === "`+ws+`"`)
	do(t, ctx, "open the request log", chromedp.Navigate(base+ws+"requests"), chromedp.WaitVisible(chromedp.ID("r-sort")))
	do(t, ctx, "sort by cost",
		chromedp.SetValue(chromedp.ID("r-sort"), "cost"),
		chromedp.Click(chromedp.CSS(`form.filters button[type=submit]`)))
	waitFor(t, ctx, `location.search.includes("sort=cost") && document.querySelector("table.log tbody tr a[data-request-id]")`)
	first := eval[string](t, ctx, `document.querySelector("table.log tbody tr a[data-request-id]").dataset.requestId`)
	costs := eval[[]string](t, ctx, `[...document.querySelectorAll("table.log tbody td[data-cost]")].map(td => td.dataset.cost)`)
	for i := 1; i < len(costs); i++ {
		a, _ := money.Parse(costs[i-1])
		b, _ := money.Parse(costs[i])
		if a < b {
			t.Fatalf("sorted by cost, row %d (%s) is below row %d (%s)", i-1, costs[i-1], i, costs[i])
		}
	}
	var top struct {
		Data []struct{ ID, Cost string } `json:"data"`
	}
	apiGet("?sort=cost&limit=1", &top)
	if len(top.Data) != 1 || top.Data[0].ID != first || top.Data[0].Cost != costs[0] {
		t.Fatalf("the page's most expensive is %s (%s); the API's %+v", first, costs[0], top.Data)
	}

	do(t, ctx, "open the most expensive request", chromedp.Click(chromedp.CSS(`table.log tbody tr a[data-request-id]`)))
	waitFor(t, ctx, `location.pathname === "`+ws+`requests/`+url.PathEscape(first)+`" && document.querySelector("#arithmetic [data-arith-total]")`)
	page := eval[map[string]string](t, ctx, `({cost: document.querySelector("[data-cost]").dataset.cost,
		total: document.querySelector("[data-arith-total]").dataset.arithTotal,
		costExact: document.querySelector("[data-cost-exact]").dataset.costExact,
		charged: document.querySelector("[data-charged]").dataset.charged,
		list: document.querySelector("[data-price-list]").dataset.priceList,
		tier: document.querySelector("[data-service-tier]").dataset.serviceTier,
		context: document.querySelector("[data-context-tier]").dataset.contextTier,
		exact: document.querySelector("[data-tokens-exact]").innerText,
		lines: String(document.querySelectorAll("#arithmetic tr[data-kind]").length),
		text: document.querySelector("#arithmetic").innerText})`)
	var d struct {
		ID         string
		Cost       string
		CostExact  string `json:"cost_exact"`
		PriceList  string `json:"price_list"`
		Arithmetic struct {
			TokensExact string `json:"tokens_exact"`
			Exact       string
			ServiceTier string `json:"service_tier"`
			ContextTier int64  `json:"context_tier_above_input_tokens"`
			Lines       []struct{ Kind string }
		}
		Transfer *struct{ ID int64 }
	}
	apiGet("/"+url.PathEscape(first), &d)
	if tr := eval[string](t, ctx, `document.querySelector("[data-transfer]").innerText`); d.Transfer == nil || !strings.HasPrefix(tr, "#"+itoa64(d.Transfer.ID)+" ") {
		t.Errorf("the page's transfer %q, the API's %+v", tr, d.Transfer)
	}
	if page["cost"] != d.Cost || page["charged"] != d.Cost || page["total"] != d.CostExact || page["costExact"] != d.CostExact || d.Arithmetic.Exact != d.CostExact ||
		page["exact"] != d.Arithmetic.TokensExact || page["lines"] != itoa64(int64(len(d.Arithmetic.Lines))) || d.PriceList != "" || page["list"] != "catalog" ||
		page["tier"] != d.Arithmetic.ServiceTier || page["context"] != itoa64(d.Arithmetic.ContextTier) {
		t.Fatalf("the page shows %v; the API %+v", page, d)
	}
	// The charge is the exact cost rounded down or up (the wallet's carry decides which).
	exact, err := pricing.ParseExact(d.CostExact)
	if err != nil {
		t.Fatal(err)
	}
	if charged, _ := money.Parse(d.Cost); charged != exact.Micro && charged != exact.Ceil() {
		t.Fatalf("charged %s for an exact cost of %s", d.Cost, d.CostExact)
	}
	if len(d.Arithmetic.Lines) == 0 || d.Transfer == nil {
		t.Fatalf("no arithmetic or no transfer: %+v", d)
	}
	browsertest.Screenshot(ctx, t, "request-detail-desktop.png", browsertest.DesktopWidth)
	browsertest.Screenshot(ctx, t, "request-detail-phone.png", browsertest.PhoneWidth)
	do(t, ctx, "back", chromedp.NavigateBack())
	waitFor(t, ctx, `location.pathname === "`+ws+`requests" && location.search.includes("sort=cost") && document.querySelector("#r-sort").value === "cost"`)
	browsertest.Screenshot(ctx, t, "requests-by-cost-desktop.png", browsertest.DesktopWidth)
}
