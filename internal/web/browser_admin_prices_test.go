package web

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"spectra/internal/browsertest"
	"spectra/internal/store/storetest"
)

// TestBrowserAdminPrices drives the console's Prices page in Chromium: served models
// without a price flagged, a bad import file refused, the shared list prices imported
// (the diff shown, nothing written until confirmed), a version added that supersedes
// one, and its history.
func TestBrowserAdminPrices(t *testing.T) {
	screenshotsDir(t)
	e := newCatalogEnv(t, storetest.SQLite)
	if _, _, err := e.gw.PutUpstream(context.Background(), gatewayUpstream("standin", e.up.URL, "gpt-4o", "gpt-4o-mini", "house-model")); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"models":[{"model":"x","input":"1","output":"1","discount":"5"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	good, err := filepath.Abs("../pricing/testdata/model-prices.json")
	if err != nil {
		t.Fatal(err)
	}
	base := e.ts.URL
	ctx := operatorSignedIn(t, base)
	do(t, ctx, "open prices", chromedp.Navigate(base+"/admin/prices"))
	waitFor(t, ctx, `document.getElementById("unpriced")`)
	if n := eval[int](t, ctx, `document.querySelectorAll("[data-unpriced]").length`); n != 3 {
		t.Fatalf("%d unpriced flagged, want 3", n)
	}

	browsertest.AllowConsole(ctx, "status of 400 (Bad Request) ("+base+"/admin/prices/import)") // the bad file, meant to be refused
	do(t, ctx, "bad file", chromedp.SetUploadFiles(chromedp.ID("i-file"), []string{bad}), chromedp.Click(chromedp.ID("preview-import")))
	waitFor(t, ctx, `document.getElementById("import-error")`)
	if code := eval[string](t, ctx, `document.getElementById("import-error").dataset.code`); code != "unknown_field" {
		t.Fatalf("bad file: %q", code)
	}

	do(t, ctx, "good file", chromedp.SetUploadFiles(chromedp.ID("i-file"), []string{good}), chromedp.Click(chromedp.ID("preview-import")))
	waitFor(t, ctx, `document.getElementById("import-diff")`)
	if n := eval[int](t, ctx, `document.querySelectorAll('#diff tr[data-kind="new"]').length`); n != 12 {
		t.Fatalf("%d new models in the diff, want 12", n)
	}
	if catalogSize(t, e) != 0 {
		t.Fatal("the preview wrote prices")
	}
	browsertest.Screenshot(ctx, t, "admin-prices-import-desktop.png", browsertest.DesktopWidth)
	browsertest.Screenshot(ctx, t, "admin-prices-import-phone.png", browsertest.PhoneWidth)
	do(t, ctx, "confirm", chromedp.Click(chromedp.ID("confirm-import")))
	waitFor(t, ctx, `document.getElementById("flash") && document.querySelectorAll("#catalog tbody tr").length === 12`)
	if n := catalogSize(t, e); n != 12 {
		t.Fatalf("%d versions after the import", n)
	}
	if n := eval[int](t, ctx, `document.querySelectorAll("[data-unpriced]").length`); n != 1 {
		t.Fatalf("%d unpriced after the import, want 1 (house-model)", n)
	}

	// A new version of gpt-4o, from its history's form (filled with the current prices),
	// a minute later (two versions of a model cannot share their effective time).
	e.clock.Set(testNow.Add(time.Minute))
	do(t, ctx, "open gpt-4o", chromedp.Click(chromedp.CSS(`#catalog a[href="/admin/prices?model=gpt-4o"]`)))
	waitFor(t, ctx, `document.getElementById("versions") && document.getElementById("p-input").value === "2.500000"`)
	do(t, ctx, "add version",
		chromedp.Evaluate[chromedp.Void](`document.getElementById("p-output").value = ""`),
		chromedp.SendKeys(chromedp.ID("p-output"), "9.00"),
		chromedp.Click(chromedp.ID("add-version")))
	waitFor(t, ctx, `document.getElementById("flash") && document.querySelectorAll("#versions tbody tr").length === 2`)
	states := eval[string](t, ctx, `[...document.querySelectorAll("#versions tbody tr")].map(r => r.dataset.state).join(",")`)
	if states != "in effect,superseded" {
		t.Fatalf("history states %q", states)
	}
	browsertest.AllowConsole(ctx, "status of 400 (Bad Request) ("+base+"/admin/prices)") // "nine", meant to be refused
	do(t, ctx, "refused version",
		chromedp.Evaluate[chromedp.Void](`document.getElementById("p-output").value = "nine"`),
		chromedp.Click(chromedp.ID("add-version")))
	waitFor(t, ctx, `document.getElementById("version-error")`)
	if code := eval[string](t, ctx, `document.getElementById("version-error").dataset.code`); code != "invalid_price" {
		t.Fatalf("refusal %q", code)
	}
	do(t, ctx, "back", chromedp.Navigate(base+"/admin/prices?model=gpt-4o"))
	waitFor(t, ctx, `document.getElementById("versions")`)
	browsertest.Screenshot(ctx, t, "admin-prices-desktop.png", browsertest.DesktopWidth)
	browsertest.Screenshot(ctx, t, "admin-prices-phone.png", browsertest.PhoneWidth)
}
