package web

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"spectra/internal/audit"
	"spectra/internal/money"
)

var grantKeyRE = regexp.MustCompile(`name="idempotency_key" (?:class="mono" )?required maxlength="200" value="([^"]+)"`)

// The operator lists, searches and sorts workspaces, creates one with an owner, and on
// a workspace's page grants credit (confirmed first, once per key, a reused key with
// other contents a clear 409), records a payment with its receipt, issues a credit note
// of that receipt, and sets the overdraft limit and the time zone; every action is the
// domain's (the balance, receipt and limits change) and is in the audit log with
// before → after, once.
func TestAdminWorkspaceActions(t *testing.T) {
	eachAdmin(t, func(t *testing.T, e *adminEnv) {
		ctx := context.Background()
		f := e.seedFixture()
		op := e.signedIn(opEmail)

		st, body := op.get("/admin/workspaces?sort=balance&desc=1")
		if st != 200 || !strings.Contains(body, "Acme") || !strings.Contains(body, "Globex") || !strings.Contains(body, `aria-sort="descending"`) {
			t.Fatalf("list: %d\n%s", st, body)
		}
		if _, body := op.get("/admin/workspaces?q=globex.test"); !strings.Contains(body, "Globex") || strings.Contains(body, ">Acme<") {
			t.Errorf("search by owner email:\n%s", body)
		}
		if _, body := op.get("/admin/workspaces?sort=spend&desc=1"); !strings.Contains(body, `<option value="spend" selected>`) || !strings.Contains(body, `<option value="1" selected>Descending`) {
			t.Errorf("the order form does not show the order (phones sort with it)")
		}
		if st, _ := op.get("/admin/workspaces?sort=password"); st != http.StatusBadRequest {
			t.Errorf("an unknown sort: %d", st)
		}

		// Create, with an existing account as owner.
		st, loc := op.post("/admin/workspaces", url.Values{"name": {"Initech"}, "owner_email": {f.users["viewer"].Email}, "timezone": {"Europe/Berlin"}})
		if st != http.StatusSeeOther || !strings.Contains(loc, "done=created") {
			t.Fatalf("create: %d %s", st, loc)
		}
		id := strings.TrimPrefix(strings.Split(loc, "?")[0], "/admin/workspaces/")
		ws, err := e.team.Workspace(ctx, id)
		if err != nil || ws.Name != "Initech" || ws.Timezone != "Europe/Berlin" {
			t.Fatalf("created: %+v %v", ws, err)
		}
		if m, err := e.accounts.Member(ctx, id, f.users["viewer"].ID); err != nil || m.Role != "owner" {
			t.Fatalf("owner: %+v %v", m, err)
		}
		if st, body := op.post("/admin/workspaces", url.Values{"name": {"Bad"}, "timezone": {"Mars/Olympus"}}); st != 400 || !strings.Contains(body, "invalid_timezone") {
			t.Errorf("a bad zone: %d", st)
		}

		page := "/admin/workspaces/" + f.ws
		_, body = op.get(page)
		m := grantKeyRE.FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("no idempotency key in the form:\n%s", body)
		}
		key := m[1]
		before := e.balance(t, f.ws)
		// Step 1: the confirmation shows what will post, and posts nothing.
		st, body = op.post(page+"/grant", url.Values{"amount": {"25"}, "note": {"Goodwill"}, "idempotency_key": {key}})
		if st != 200 || !strings.Contains(body, "Confirm the grant") || !strings.Contains(body, "$25.00") || !strings.Contains(body, "Goodwill") {
			t.Fatalf("confirm: %d\n%s", st, body)
		}
		if e.balance(t, f.ws) != before {
			t.Fatal("the confirmation step posted")
		}
		// Step 2: posts once.
		grant := url.Values{"amount": {"25"}, "note": {"Goodwill"}, "idempotency_key": {key}, "confirm": {"yes"}}
		if st, loc := op.post(page+"/grant", grant); st != http.StatusSeeOther || !strings.Contains(loc, "done=grant&") {
			t.Fatalf("grant: %d %s", st, loc)
		}
		if got := e.balance(t, f.ws); got != before+25*money.Scale {
			t.Fatalf("balance %d, want %d", got, before+25*money.Scale)
		}
		if st, loc := op.post(page+"/grant", grant); st != http.StatusSeeOther || !strings.Contains(loc, "done=grant_replay") {
			t.Fatalf("replay: %d %s", st, loc)
		}
		// The same key with another amount: 409, shown clearly, nothing posted.
		grant.Set("amount", "30")
		st, body = op.post(page+"/grant", grant)
		if st != http.StatusConflict || !strings.Contains(body, `data-code="idempotency_conflict"`) || !strings.Contains(body, "already used for a grant with a different amount or note") {
			t.Fatalf("conflict: %d\n%s", st, body)
		}
		if got := e.balance(t, f.ws); got != before+25*money.Scale {
			t.Fatalf("after the conflict: %d", got)
		}
		if st, body := op.post(page+"/grant", url.Values{"amount": {"-3"}, "idempotency_key": {"k"}}); st != 400 || !strings.Contains(body, "invalid_amount") {
			t.Errorf("a negative grant: %d", st)
		}

		// A payment, its receipt, and a credit note of it.
		st, loc = op.post(page+"/payment", url.Values{"amount": {"40"}, "reference": {"BANK-77"}, "note": {"March invoice"}})
		if st != http.StatusSeeOther || !strings.Contains(loc, "done=payment") || !strings.Contains(loc, "receipt") {
			t.Fatalf("payment: %d %s", st, loc)
		}
		if got := e.balance(t, f.ws); got != before+65*money.Scale {
			t.Fatalf("after the payment: %d", got)
		}
		if st, loc := op.post(page+"/payment", url.Values{"amount": {"40"}, "reference": {"BANK-77"}, "note": {"March invoice"}}); st != http.StatusSeeOther || !strings.Contains(loc, "payment_seen") {
			t.Fatalf("payment again: %d %s", st, loc)
		}
		if st, body := op.post(page+"/payment", url.Values{"amount": {"41"}, "reference": {"BANK-77"}}); st != http.StatusConflict || !strings.Contains(body, "idempotency_conflict") {
			t.Fatalf("payment conflict: %d", st)
		}
		docs, err := e.bill.Invoices(ctx, billingFilter(f.ws))
		if err != nil || len(docs) != 1 {
			t.Fatalf("receipts: %+v %v", docs, err)
		}
		st, loc = op.post(page+"/credit-note", url.Values{"invoice": {docs[0].ID}, "amount": {"5"}, "reason": {"Overcharge"}, "idempotency_key": {"cn-1"}})
		if st != http.StatusSeeOther || !strings.Contains(loc, "done=credit_note") {
			t.Fatalf("credit note: %d %s", st, loc)
		}
		if st, body := op.post(page+"/credit-note", url.Values{"invoice": {docs[0].ID}, "amount": {"500"}, "reason": {"Too much"}, "idempotency_key": {"cn-2"}}); st/100 != 4 || !strings.Contains(body, "data-code=") {
			t.Fatalf("credit over the total: %d", st)
		}

		// Overdraft and time zone.
		if st, _ := op.post(page+"/overdraft", url.Values{"overdraft_limit": {"15"}}); st != http.StatusSeeOther {
			t.Fatalf("overdraft: %d", st)
		}
		if st, body := op.post(page+"/overdraft", url.Values{"overdraft_limit": {"-1"}}); st != 400 || !strings.Contains(body, "invalid_overdraft_limit") {
			t.Fatalf("negative overdraft: %d", st)
		}
		if st, _ := op.post(page+"/timezone", url.Values{"timezone": {"Asia/Tokyo"}}); st != http.StatusSeeOther {
			t.Fatalf("time zone: %d", st)
		}
		w, _ := e.team.Workspace(ctx, f.ws)
		if w.OverdraftLimit != 15*money.Scale || w.Timezone != "Asia/Tokyo" {
			t.Fatalf("settings: %+v", w)
		}
		_, body = op.get(page)
		for _, want := range []string{"member-key", "a member", "Asia/Tokyo", "$15.00"} {
			if !strings.Contains(strings.ToLower(body), strings.ToLower(want)) {
				t.Errorf("the page lacks %q", want)
			}
		}

		// The audit log: one entry per action that took effect, with before → after.
		got := map[string]int{}
		for _, en := range e.entries(t, audit.Filter{}) {
			got[en.Action]++
			if en.Actor != opEmail || en.Source != "console" {
				t.Errorf("entry %+v", en)
			}
		}
		want := map[string]int{"workspace.create": 1, "grant": 1, "payment": 1, "credit_note": 1, "workspace.overdraft": 1, "workspace.update": 1}
		for k, n := range want {
			if got[k] != n {
				t.Errorf("%s: %d entries, want %d (all: %v)", k, got[k], n, got)
			}
		}
		g := e.entries(t, audit.Filter{Action: "grant"})[0]
		if g.WorkspaceID != f.ws || g.Before["balance"] != before.String() || g.After["balance"] != (before+25*money.Scale).String() || g.After["note"] != "Goodwill" {
			t.Errorf("grant entry: %+v", g)
		}
		o := e.entries(t, audit.Filter{Action: "workspace.overdraft"})[0]
		if o.Before["overdraft_limit"] != "0.000000" || o.After["overdraft_limit"] != "15.000000" {
			t.Errorf("overdraft entry: %+v", o)
		}
		_, body = op.get("/admin/audit?action=grant")
		if !strings.Contains(body, "Goodwill") || strings.Contains(body, `data-action="payment"`) {
			t.Errorf("audit page filtered by action:\n%s", body)
		}
		_, body = op.get("/admin/activity")
		if !strings.Contains(body, "Acme") || !strings.Contains(body, "gpt-test") || !strings.Contains(body, `id="outstanding"`) {
			t.Errorf("activity:\n%s", body)
		}
	})
}

func (e *adminEnv) balance(t *testing.T, ws string) money.Amount {
	t.Helper()
	b, err := e.ledger.Balance(context.Background(), ws)
	if err != nil {
		t.Fatal(err)
	}
	return b.Balance
}
