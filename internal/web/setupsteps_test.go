package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"spectra/internal/money"
	"spectra/internal/store/storetest"
	"spectra/internal/team"
)

// TestSetupStepsAccess: the first run's steps are the operator's: a workspace owner who
// is not the operator gets 404 (as on /admin), a visitor the login page, and an unknown
// step or workspace is a 404.
func TestSetupStepsAccess(t *testing.T) {
	e, _ := newGatewayEnv(t, storetest.SQLite)
	f := e.seedFixture()
	if _, err := e.accounts.CreateUser(context.Background(), "op@setup.test", "Op", testPassword, true); err != nil {
		t.Fatal(err)
	}
	owner := e.signedIn(f.users[team.RoleOwner].Email)
	for _, step := range []string{"upstream", "prices", "credit", "key"} {
		if st, _ := owner.get("/setup?step=" + step + "&ws=" + f.ws); st != http.StatusNotFound {
			t.Errorf("owner, step %s: %d, want 404", step, st)
		}
		if st, _ := owner.post("/setup?step="+step+"&ws="+f.ws, url.Values{"amount": {"5"}, "name": {"k"}}); st != http.StatusNotFound {
			t.Errorf("owner, POST step %s: %d, want 404", step, st)
		}
	}
	if st, loc := e.client().get("/setup?step=credit&ws=" + f.ws); st != http.StatusSeeOther || !strings.HasPrefix(loc, "/login") {
		t.Errorf("visitor: %d %s", st, loc)
	}
	op := e.signedIn("op@setup.test")
	for _, path := range []string{"/setup?step=nope&ws=" + f.ws, "/setup?step=credit&ws=ws_nope"} {
		if st, _ := op.get(path); st != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", path, st)
		}
	}
	if st, body := op.get("/setup?step=credit&ws=" + f.ws); st != 200 || !strings.Contains(body, `name="idempotency_key"`) {
		t.Fatalf("operator, credit step: %d", st)
	}
}

// TestSetupCreditAndKey: the credit step grants once per form (a second submit of the
// same form is a replay), refuses a bad amount with its reason, and the key step makes
// an inference key (shared: this operator is not a member), shown once with the
// snippets, refusing an empty name.
func TestSetupCreditAndKey(t *testing.T) {
	e, _ := newGatewayEnv(t, storetest.SQLite)
	ctx := context.Background()
	ws, err := e.team.CreateWorkspace(ctx, team.Workspace{Name: "Fresh"})
	if err != nil {
		t.Fatal(err)
	}
	opUser, err := e.accounts.CreateUser(ctx, "op@setup.test", "Op", testPassword, true)
	if err != nil {
		t.Fatal(err)
	}
	op := e.signedIn(opUser.Email)
	credit := "/setup?step=credit&ws=" + ws.ID
	op.get(credit)
	form := url.Values{"amount": {"12.50"}, "idempotency_key": {"setup-form-1"}}
	for range 2 {
		if st, loc := op.post(credit, form); st != http.StatusSeeOther || loc != "/setup?step=key&ws="+ws.ID {
			t.Fatalf("grant: %d %s", st, loc)
		}
	}
	if b, _ := e.ledger.Balance(ctx, ws.ID); b.Balance != 12_500_000 {
		t.Fatalf("balance after the same form twice: %s, want 12.50", money.Format(b.Balance, "USD"))
	}
	if st, body := op.post(credit, url.Values{"amount": {"-3"}, "idempotency_key": {"setup-form-2"}}); st != http.StatusBadRequest || !strings.Contains(body, `data-code="invalid_amount"`) {
		t.Fatalf("a negative grant: %d", st)
	}

	key := "/setup?step=key&ws=" + ws.ID
	if st, body := op.post(key, url.Values{"name": {"  "}}); st != http.StatusBadRequest || !strings.Contains(body, `data-code="invalid_name"`) {
		t.Fatalf("an empty key name: %d %s", st, body)
	}
	st, body := op.post(key, url.Values{"name": {"first-key"}})
	if st != http.StatusCreated || !strings.Contains(body, `data-step="done"`) || !strings.Contains(body, "/v1/chat/completions") {
		t.Fatalf("the key: %d", st)
	}
	keys, err := e.team.Keys(ctx, ws.ID)
	if err != nil || len(keys) != 1 || keys[0].Kind != team.KindInference || keys[0].MemberID != "" {
		t.Fatalf("keys: %+v %v", keys, err)
	}
	if !strings.Contains(body, keys[0].Prefix) {
		t.Fatal("the done page does not show the key")
	}
	if strings.Contains(body, `data-note="needs-credit"`) {
		t.Fatal("the done page says credit is needed although the workspace has 12.50")
	}
	// Another workspace, credit skipped: the done page says its requests are refused.
	bare, err := e.team.CreateWorkspace(ctx, team.Workspace{Name: "Bare"})
	if err != nil {
		t.Fatal(err)
	}
	st, body = op.post("/setup?step=key&ws="+bare.ID, url.Values{"name": {"k"}})
	if st != http.StatusCreated || !strings.Contains(body, `data-note="needs-credit"`) || !strings.Contains(body, "/setup?step=credit&amp;ws="+bare.ID) {
		t.Fatalf("the done page of a workspace without credit: %d, no warning", st)
	}
	if _, again := op.get("/w/" + ws.ID + "/keys"); strings.Contains(again, `value="sk-`) {
		t.Fatal("the secret is shown again on the Keys page")
	}
}

// TestEmptyLogLiveReload: an empty request log with no filters looks again by itself
// (data-live-reload), so the first request shows up; a filtered one that is empty does
// not (a reload would throw away what is being typed in its form).
func TestEmptyLogLiveReload(t *testing.T) {
	e := newEnv(t, storetest.SQLite)
	ctx := context.Background()
	ws, _ := e.team.CreateWorkspace(ctx, team.Workspace{Name: "Empty"})
	u, _ := e.accounts.CreateUser(ctx, "new@empty.test", "New", testPassword, false)
	if _, err := e.accounts.AddMember(ctx, ws.ID, u.ID, team.RoleOwner); err != nil {
		t.Fatal(err)
	}
	c := e.signedIn(u.Email)
	if _, body := c.get("/w/" + ws.ID + "/requests"); !strings.Contains(body, `data-live-reload="3"`) {
		t.Fatal("the empty, unfiltered log does not look again by itself")
	}
	for _, q := range []string{"?model=gpt-4o", "?status=refused", "?period=7d", "?id=req_nope"} {
		if _, body := c.get("/w/" + ws.ID + "/requests" + q); strings.Contains(body, "data-live-reload") {
			t.Errorf("%s: a filtered empty log reloads itself", q)
		}
	}
}
