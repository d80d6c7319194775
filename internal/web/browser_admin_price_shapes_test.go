package web

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"spectra/internal/browsertest"
	"spectra/internal/errs"
	"spectra/internal/store/storetest"
)

// TestBrowserAdminPriceShapes adds a version with audio rates, a context tier, units and a
// service tier from the console's form in Chromium: the history and the catalog say what
// it prices beyond its flat rates, the form refills with them to supersede it, and a bad
// shape is refused with its code (invalid_shapes, invalid_tier).
func TestBrowserAdminPriceShapes(t *testing.T) {
	e := newCatalogEnv(t, storetest.SQLite)
	base := e.ts.URL
	ctx := operatorSignedIn(t, base)
	do(t, ctx, "open gemini-x", chromedp.Navigate(base+"/admin/prices?model=gemini-x"))
	waitFor(t, ctx, `document.getElementById("p-shapes")`)
	shapes := `{"units": {"web_search_call": "0.035"}, "tiers": [{"above_input_tokens": 200000, "input": "2.50", "output": "15"}], "service_tiers": {"flex": {"input": "0.625", "output": "5"}}}`
	do(t, ctx, "add a shaped version",
		chromedp.SendKeys(chromedp.ID("p-input"), "1.25"),
		chromedp.SendKeys(chromedp.ID("p-output"), "10"),
		chromedp.SendKeys(chromedp.ID("p-ain"), "40"),
		chromedp.SetValue(chromedp.ID("p-shapes"), shapes),
		chromedp.Click(chromedp.ID("add-version")))
	waitFor(t, ctx, `document.getElementById("flash") && document.querySelectorAll("#versions tbody tr").length === 1`)
	cat, err := e.metering.Catalog(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	p, err := cat.At("gemini-x", e.clock.Now())
	if err != nil || p.AudioInput != 40_000_000 || len(p.Tiers) != 1 || p.Tiers[0].AboveInputTokens != 200_000 ||
		p.Units["web_search_call"] != 35_000 || p.ServiceTiers["flex"].Output != 5_000_000 {
		t.Fatalf("stored %+v %v", p, err)
	}
	row := eval[string](t, ctx, `document.querySelector("#versions tbody td.shapes").textContent`)
	for _, want := range []string{"audio in 40.000000", "above 200,000 input tokens", "units: web_search_call", "service tiers: flex"} {
		if !strings.Contains(row, want) {
			t.Fatalf("history row %q lacks %q", row, want)
		}
	}
	// The form is filled with the version in effect, shapes included, to supersede it.
	if v := eval[string](t, ctx, `document.getElementById("p-shapes").value`); !strings.Contains(v, `"above_input_tokens": 200000`) || !strings.Contains(v, `"flex"`) {
		t.Fatalf("form shapes %q", v)
	}
	if v := eval[string](t, ctx, `document.getElementById("p-ain").value`); v != "40.000000" {
		t.Fatalf("form audio input %q", v)
	}
	do(t, ctx, "catalog", chromedp.Navigate(base+"/admin/prices"))
	waitFor(t, ctx, `document.querySelector('#catalog tr[data-model="gemini-x"] [data-shapes]')`)

	// An import whose only change to gemini-x is a tier says so in its diff.
	file := filepath.Join(t.TempDir(), "tiers.json")
	body := `{"models":[{"model":"gemini-x","input":"1.25","output":"10","audio_input":"40","units":{"web_search_call":"0.035"},` +
		`"tiers":[{"above_input_tokens":128000,"input":"2.50","output":"15"}],"service_tiers":{"flex":{"input":"0.625","output":"5"}}}]}`
	if err := os.WriteFile(file, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	do(t, ctx, "import a tier change", chromedp.SetUploadFiles(chromedp.ID("i-file"), []string{file}), chromedp.Click(chromedp.ID("preview-import")))
	waitFor(t, ctx, `document.getElementById("import-diff")`)
	if n := eval[int](t, ctx, `document.querySelectorAll('#diff tr[data-kind="changed"] [data-shapes-changed]').length`); n != 1 {
		t.Fatalf("%d tier changes flagged in the diff, want 1", n)
	}

	browsertest.AllowConsole(ctx, "status of 400 (Bad Request) ("+base+"/admin/prices)") // the bad shapes, meant to be refused
	for _, c := range []struct{ shapes, code string }{
		{`{"tiers": [`, "invalid_shapes"},
		{`{"tier": []}`, "invalid_shapes"},
		{`{"tiers": [{"above_input_tokens": 0, "input": "2"}]}`, "invalid_tier"},
		{`{"units": {"Web": "1"}}`, "invalid_unit"},
		{`{"service_tiers": {"default": {"input": "1"}}}`, "invalid_service_tier"},
	} {
		do(t, ctx, "open", chromedp.Navigate(base+"/admin/prices?model=other-x"))
		waitFor(t, ctx, `document.getElementById("p-shapes")`)
		do(t, ctx, "bad shapes "+c.code,
			chromedp.SendKeys(chromedp.ID("p-input"), "1"),
			chromedp.SendKeys(chromedp.ID("p-output"), "2"),
			chromedp.SetValue(chromedp.ID("p-shapes"), c.shapes),
			chromedp.Click(chromedp.ID("add-version")))
		waitFor(t, ctx, `document.getElementById("version-error")`)
		if code := eval[string](t, ctx, `document.getElementById("version-error").dataset.code`); code != c.code {
			t.Fatalf("%s: %q, want %s", c.shapes, code, c.code)
		}
		// The form keeps what was typed.
		if v := eval[string](t, ctx, `document.getElementById("p-shapes").value`); v != c.shapes {
			t.Fatalf("kept %q", v)
		}
	}
	if cat, err = e.metering.Catalog(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := cat.At("other-x", e.clock.Now()); !errs.Is(err, "unknown_model") {
		t.Fatalf("a refused version was stored: %v", err)
	}
}
