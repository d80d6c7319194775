package web

import (
	"context"
	"strings"
	"testing"
	"time"

	"spectra/internal/metering"
	"spectra/internal/pricing"
)

// The console's spend this month and Activity are the snapshot's and the pages say how
// old: the time it was read, and its age once a minute or more. The list sorted by
// spend follows the snapshot's figures both ways; usage recorded after the snapshot
// does not reorder it (the page says its time instead of pretending to be live).
func TestAdminSnapshotAge(t *testing.T) {
	eachAdmin(t, func(t *testing.T, e *adminEnv) {
		ctx := context.Background()
		f := e.seedFixture()
		op := e.signedIn(opEmail)
		// Globex far above Acme this month.
		if res, err := e.metering.Ingest(ctx, []metering.Event{{ID: "big-globex", WorkspaceID: f.other, Model: "gpt-test", Timestamp: e.clock.Now(),
			Usage: pricing.Usage{Input: 100_000_000}}}); err != nil || res.Accepted != 1 {
			t.Fatal(res, err)
		}
		read := e.clock.Now().UTC().Format("15:04:05") + " UTC"
		order := func(url string) (acme, globex int, body string) {
			t.Helper()
			st, body := op.get(url)
			if st != 200 {
				t.Fatalf("%s: %d", url, st)
			}
			return strings.Index(body, `data-ws="`+f.ws+`"`), strings.Index(body, `data-ws="`+f.other+`"`), body
		}
		acme, globex, body := order("/admin/workspaces?sort=spend&desc=1")
		if acme < 0 || globex < 0 || globex > acme {
			t.Errorf("by spend, descending: Globex (%d) before Acme (%d)", globex, acme)
		}
		if !strings.Contains(body, `id="spend-as-of"`) || !strings.Contains(body, ">"+read+"</time>") {
			t.Errorf("the list does not say when its spend was read (%s):\n%s", read, body)
		}
		if acme, globex, _ := order("/admin/workspaces?sort=spend"); globex < acme {
			t.Errorf("by spend, ascending: Acme (%d) before Globex (%d)", acme, globex)
		}
		if st, body := op.get("/admin/activity?days=7"); st != 200 || !strings.Contains(body, `id="as-of"`) || !strings.Contains(body, ">"+read+"</time>") {
			t.Errorf("Activity does not say when it was read (%s): %d\n%s", read, st, body)
		}
		// Later usage, no new pass: the figures and their time stay, with their age.
		if res, err := e.metering.Ingest(ctx, []metering.Event{{ID: "bigger-acme", WorkspaceID: f.ws, Model: "gpt-test", Timestamp: e.clock.Now(),
			Usage: pricing.Usage{Input: 100_000_000, Output: 100_000_000}}}); err != nil || res.Accepted != 1 {
			t.Fatal(res, err)
		}
		e.clock.Set(e.clock.Now().Add(5 * time.Minute))
		acme, globex, body = order("/admin/workspaces?sort=spend&desc=1")
		if globex > acme || !strings.Contains(body, ">"+read+" (5m0s ago)</time>") {
			t.Errorf("after 5 minutes without a pass: Globex %d, Acme %d\n%s", globex, acme, body)
		}
		if _, body := op.get("/admin/activity"); !strings.Contains(body, ">"+read+" (5m0s ago)</time>") {
			t.Errorf("Activity's age:\n%s", body)
		}
	})
}
