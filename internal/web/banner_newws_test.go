package web

import (
	"context"
	"strings"
	"testing"

	"spectra/internal/metering"
	"spectra/internal/money"
	"spectra/internal/pricing"
	"spectra/internal/store/storetest"
	"spectra/internal/team"
)

// TestNoCreditYetBanner: a workspace that has never had credit shows a guiding "No
// credit yet" on every page, not the red "Out of credit": the operator is pointed at the
// console's grant, an owner at Billing (card or code), a member at who can add credit;
// the Keys page's create form warns that the key's requests are refused until then.
// Once it has had credit and spent past it, it is "Out of credit" as before.
func TestNoCreditYetBanner(t *testing.T) {
	e := newEnv(t, storetest.SQLite)
	ctx := context.Background()
	ws, err := e.team.CreateWorkspace(ctx, team.Workspace{Name: "Fresh"})
	if err != nil {
		t.Fatal(err)
	}
	users := map[string]string{}
	for _, r := range []team.Role{team.RoleOwner, team.RoleMember} {
		u, err := e.accounts.CreateUser(ctx, string(r)+"@fresh.test", string(r), testPassword, false)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.accounts.AddMember(ctx, ws.ID, u.ID, r); err != nil {
			t.Fatal(err)
		}
		users[string(r)] = u.Email
	}
	op, err := e.accounts.CreateUser(ctx, "op@fresh.test", "Op", testPassword, true)
	if err != nil {
		t.Fatal(err)
	}
	for who, want := range map[string]string{
		users["owner"]:  `href="/w/` + ws.ID + `/billing#recharge">Add credit</a>`,
		users["member"]: "An owner or billing member of this workspace can add credit",
		op.Email:        `href="/admin/workspaces/` + ws.ID + `">Grant credit</a>`,
	} {
		c := e.signedIn(who)
		for _, p := range everyPage {
			if p == "budgets" || p == "billing" || p == "invoices" {
				continue // not every role sees these
			}
			_, body := c.get("/w/" + ws.ID + "/" + p)
			if !strings.Contains(body, `data-banner="no-credit"`) || !strings.Contains(body, "No credit yet.") || !strings.Contains(body, want) {
				t.Errorf("%s, page %q: no guiding banner with %q", who, p, want)
			}
			if strings.Contains(body, "Out of credit.") {
				t.Errorf("%s, page %q: a workspace that never had credit is called out of credit", who, p)
			}
		}
		if who == users["member"] {
			continue
		}
		if _, body := c.get("/w/" + ws.ID + "/keys"); !strings.Contains(body, `data-note="needs-credit"`) {
			t.Errorf("%s: the Keys page's create form does not warn that credit is needed first", who)
		}
	}

	// Credit, then spend past it: out of credit, as before.
	if _, _, err := e.ledger.Grant(ctx, ws.ID, money.Scale, "g1", "first"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.metering.PutPrice(ctx, pricing.Price{Model: "gpt-test", Input: 2_500_000, EffectiveFrom: testNow.AddDate(0, -1, 0)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.metering.Ingest(ctx, []metering.Event{{ID: "big", WorkspaceID: ws.ID, Model: "gpt-test", Timestamp: testNow.Add(-1e9),
		Usage: pricing.Usage{Input: 1_000_000}}}); err != nil {
		t.Fatal(err)
	}
	c := e.signedIn(users["owner"])
	_, body := c.get("/w/" + ws.ID + "/")
	if !strings.Contains(body, "Out of credit.") || strings.Contains(body, `data-banner="no-credit"`) {
		t.Fatal("a workspace that spent past its credit is not out of credit")
	}
	if _, body := c.get("/w/" + ws.ID + "/keys"); strings.Contains(body, `data-note="needs-credit"`) {
		t.Fatal("the Keys page still says credit is needed first after the workspace had some")
	}
}
