package web

import (
	"bytes"
	"context"
	"html"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"spectra/internal/billing"
	"spectra/internal/gateway"
	"spectra/internal/store/storetest"
	"spectra/internal/team"
)

// postFile posts a multipart form with a file field "file" (and a csrf from the last page).
func (c *client) postFile(path string, fields url.Values, name string, content []byte) (int, string) {
	c.e.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	if _, ok := fields["csrf"]; !ok {
		mw.WriteField("csrf", c.csrf)
	}
	for k, vs := range fields {
		for _, v := range vs {
			mw.WriteField(k, v)
		}
	}
	fw, _ := mw.CreateFormFile("file", name)
	fw.Write(content)
	mw.Close()
	req, _ := http.NewRequest("POST", c.e.ts.URL+path, &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return c.do(req)
}

func wantStatus(t *testing.T, what string, got, want int, body string) {
	t.Helper()
	if got != want {
		t.Fatalf("%s: status %d, want %d\n%s", what, got, want, body)
	}
}

// TestAdminUpstreams: add, list, test, edit (keeping the secret), refusals and remove,
// the secret never in a page, every change in the audit log.
func TestAdminUpstreams(t *testing.T) {
	eachCatalog(t, func(t *testing.T, e *catalogEnv) {
		c := e.signedIn(catalogOpEmail)
		st, body := c.get("/admin/upstreams")
		wantStatus(t, "page", st, 200, body)
		form := url.Values{"name": {"standin"}, "api": {"openai"}, "base_url": {e.up.URL}, "api_key": {fakeSecret}, "models": {"gpt-4o\ngpt-4o-mini, o9-unpriced"}}
		st, loc := c.post("/admin/upstreams", form)
		wantStatus(t, "add", st, 303, loc)
		st, body = c.get(loc)
		if st != 200 || !strings.Contains(body, "standin added") || strings.Contains(body, fakeSecret) || !strings.Contains(body, gatewaySecretPrefix(fakeSecret)) {
			t.Fatalf("after add: %d\n%s", st, body)
		}
		if !strings.Contains(body, `data-model="o9-unpriced" data-priced="false"`) {
			t.Fatalf("an unpriced model is not flagged:\n%s", body)
		}
		// Adding the same name again is refused, the form kept without the secret.
		st, body = c.post("/admin/upstreams", form)
		if st != 409 || !strings.Contains(body, `data-code="upstream_exists"`) || strings.Contains(body, fakeSecret) {
			t.Fatalf("add twice: %d\n%s", st, body)
		}
		bad := url.Values{"name": {"Bad Name"}, "api": {"openai"}, "base_url": {e.up.URL}, "api_key": {"sk-typed-secret-value"}, "models": {"m"}}
		st, body = c.post("/admin/upstreams", bad)
		if st != 400 || !strings.Contains(body, `data-code="invalid_upstream_name"`) || strings.Contains(body, "sk-typed-secret-value") {
			t.Fatalf("bad name: %d\n%s", st, body)
		}

		st, body = c.post("/admin/upstreams/standin/test", url.Values{})
		if st != 200 || !strings.Contains(body, `data-ok="true"`) || !strings.Contains(body, "o9-unpriced") || strings.Contains(body, fakeSecret) {
			t.Fatalf("test: %d\n%s", st, body)
		}
		// The edit form never shows the secret; saving without one keeps it.
		st, body = c.get("/admin/upstreams?edit=standin")
		if st != 200 || strings.Contains(body, fakeSecret) || !strings.Contains(body, "leave empty to keep "+gatewaySecretPrefix(fakeSecret)) {
			t.Fatalf("edit form: %d\n%s", st, body)
		}
		st, loc = c.post("/admin/upstreams", url.Values{"edit": {"yes"}, "name": {"standin"}, "api": {"openai"}, "base_url": {e.up.URL}, "api_key": {""}, "models": {"gpt-4o"}})
		wantStatus(t, "edit", st, 303, loc)
		st, body = c.post("/admin/upstreams/standin/test", url.Values{})
		if st != 200 || !strings.Contains(body, `data-ok="true"`) {
			t.Fatalf("test after an edit keeping the secret: %d\n%s", st, body)
		}
		// A wrong secret: the test shows the upstream's 401.
		st, _ = c.post("/admin/upstreams", url.Values{"edit": {"yes"}, "name": {"standin"}, "api": {"openai"}, "base_url": {e.up.URL}, "api_key": {"sk-wrong-one-000000"}, "models": {"gpt-4o"}})
		wantStatus(t, "edit with a new secret", st, 303, "")
		st, body = c.post("/admin/upstreams/standin/test", url.Values{})
		if st != 200 || !strings.Contains(body, `data-ok="false"`) || !strings.Contains(body, "HTTP 401") || strings.Contains(body, "sk-wrong-one-000000") {
			t.Fatalf("test with a wrong secret: %d\n%s", st, body)
		}
		st, body = c.post("/admin/upstreams/nope/test", url.Values{})
		if st != 404 || !strings.Contains(body, `data-code="upstream_not_found"`) {
			t.Fatalf("test unknown: %d\n%s", st, body)
		}

		st, body = c.post("/admin/upstreams/standin/delete", url.Values{})
		if st != 200 || !strings.Contains(body, `id="confirm-remove"`) {
			t.Fatalf("remove asks first: %d\n%s", st, body)
		}
		if v := e.gwUpstreams(t); len(v) != 1 {
			t.Fatalf("removed before confirming: %v", v)
		}
		st, loc = c.post("/admin/upstreams/standin/delete", url.Values{"confirm": {"yes"}})
		wantStatus(t, "remove", st, 303, loc)
		if v := e.gwUpstreams(t); len(v) != 0 {
			t.Fatalf("still there: %v", v)
		}
		var actions []string
		for _, en := range e.auditActions(t) {
			actions = append(actions, en.Action)
			for k, v := range en.After {
				if strings.Contains(v, "sk-") {
					t.Errorf("audit %s %s holds a secret: %q", en.Action, k, v)
				}
			}
			if en.Actor != catalogOpEmail || en.Source != "console" {
				t.Errorf("audit entry %+v", en)
			}
		}
		if strings.Join(actions, " ") != "upstream.delete upstream.put upstream.put upstream.put" {
			t.Fatalf("audit actions = %v", actions)
		}
		// Members get 404.
		e.member(t)
		m := e.signedIn("mia@member.test")
		if st, _ := m.get("/admin/upstreams"); st != 404 {
			t.Fatalf("member: %d", st)
		}
	})
}

func gatewaySecretPrefix(s string) string { return s[:6] + "…" }

func (e *catalogEnv) gwUpstreams(t *testing.T) []string {
	t.Helper()
	vs, err := e.gw.Upstreams(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, v := range vs {
		out = append(out, v.Name)
	}
	return out
}

// member adds a workspace owned by a non-operator, mia@member.test.
func (e *catalogEnv) member(t *testing.T) team.Workspace {
	t.Helper()
	ctx := context.Background()
	ws, err := e.team.CreateWorkspace(ctx, team.Workspace{Name: "Mia's team"})
	if err != nil {
		t.Fatal(err)
	}
	u, err := e.accounts.CreateUser(ctx, "mia@member.test", "Mia", testPassword, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.accounts.AddMember(ctx, ws.ID, u.ID, team.RoleOwner); err != nil {
		t.Fatal(err)
	}
	return ws
}

// TestAdminCodes: create a batch (its codes' text shown once), list with states,
// disable one (then refused at redemption), export CSV, refusals.
func TestAdminCodes(t *testing.T) {
	eachCatalog(t, func(t *testing.T, e *catalogEnv) {
		ctx := context.Background()
		ws := e.member(t)
		c := e.signedIn(catalogOpEmail)
		c.get("/admin/codes")
		st, body := c.post("/admin/codes", url.Values{"amount": {"0"}, "count": {"3"}, "expires": {"2025-12-31"}})
		if st != 400 || !strings.Contains(body, `data-code="invalid_amount"`) {
			t.Fatalf("zero amount: %d\n%s", st, body)
		}
		st, body = c.post("/admin/codes", url.Values{"amount": {"5"}, "count": {"3"}, "expires": {"2020-01-01"}})
		if st != 400 || !strings.Contains(body, `data-code="invalid_expiry"`) {
			t.Fatalf("past expiry: %d\n%s", st, body)
		}
		st, body = c.post("/admin/codes", url.Values{"amount": {"5"}, "count": {"3"}, "expires": {"2025-12-31"}, "note": {"Launch"}})
		if st != 201 || !strings.Contains(body, `id="created"`) || !strings.Contains(body, "data:text/csv") {
			t.Fatalf("create: %d\n%s", st, body)
		}
		batches, err := e.bill.CodeBatches(ctx, billing.CodeBatchFilter{})
		if err != nil || len(batches) != 1 || batches[0].Count != 3 {
			t.Fatalf("batches %+v %v", batches, err)
		}
		texts := codeTexts(body)
		if len(texts) != 3 {
			t.Fatalf("codes shown: %v", texts)
		}
		if _, err := e.bill.Redeem(ctx, ws.ID, texts[0], ""); err != nil {
			t.Fatal(err)
		}
		b := batches[0].BatchID
		st, body = c.get("/admin/codes?batch=" + b)
		if st != 200 || strings.Count(body, `data-state="unused"`) != 2 || !strings.Contains(body, `data-state="redeemed"`) || !strings.Contains(body, "Mia&#39;s team") {
			t.Fatalf("batch page: %d\n%s", st, body)
		}
		for _, tx := range texts {
			if strings.Contains(body, tx) {
				t.Fatalf("a code's text is listed again: %s", tx)
			}
		}
		codes, _ := e.bill.Codes(ctx, billing.CodeFilter{BatchID: b})
		var unused, redeemed billing.Code
		for _, cd := range codes {
			if cd.RedeemedAt != nil {
				redeemed = cd
			} else {
				unused = cd
			}
		}
		st, loc := c.post("/admin/codes/"+unused.ID+"/disable", url.Values{})
		wantStatus(t, "disable", st, 303, loc)
		st, body = c.get(loc)
		if st != 200 || !strings.Contains(body, `data-state="disabled"`) || !strings.Contains(body, "is disabled") {
			t.Fatalf("after disable: %d\n%s", st, body)
		}
		st, body = c.post("/admin/codes/"+redeemed.ID+"/disable", url.Values{})
		if st != 409 || !strings.Contains(body, `data-code="code_already_redeemed"`) {
			t.Fatalf("disable redeemed: %d\n%s", st, body)
		}
		refused := 0
		for _, tx := range texts[1:] {
			if _, err := e.bill.Redeem(ctx, ws.ID, tx, ""); err != nil {
				refused++
			}
		}
		if refused != 1 {
			t.Fatalf("%d refused", refused)
		}
		st, csvText := c.get("/admin/codes/" + b + "/export.csv")
		rows := readCSV(t, csvText)
		if st != 200 || len(rows) != 4 || rows[0][0] != "code_id" {
			t.Fatalf("csv: %d\n%s", st, csvText)
		}
		states := map[string]int{}
		for _, r := range rows[1:] {
			states[r[4]]++
		}
		if states["redeemed"] != 2 || states["disabled"] != 1 {
			t.Fatalf("csv states %v\n%s", states, csvText)
		}
		if st, _ := c.get("/admin/codes/batch_nope/export.csv"); st != 404 {
			t.Fatalf("unknown batch export: %d", st)
		}
		var actions []string
		for _, en := range e.auditActions(t) {
			actions = append(actions, en.Action)
		}
		if strings.Join(actions, " ") != "codes.disable codes.create" {
			t.Fatalf("audit: %v", actions)
		}
	})
}

// codeTexts are the codes' text shown on the page that created them.
func codeTexts(body string) []string {
	i := strings.Index(body, `id="created-text"`)
	if i < 0 {
		return nil
	}
	rest := body[i:]
	rest = rest[strings.Index(rest, ">")+1:]
	rest = rest[:strings.Index(rest, "</textarea>")]
	return strings.Fields(rest)
}

// TestAdminPrices: add a version (superseding), the history, an import previewed then
// confirmed (nothing written before), bad files refused, unpriced served models flagged.
func TestAdminPrices(t *testing.T) {
	eachCatalog(t, func(t *testing.T, e *catalogEnv) {
		ctx := context.Background()
		c := e.signedIn(catalogOpEmail)
		if _, _, err := e.gw.PutUpstream(ctx, gatewayUpstream("standin", e.up.URL, "gpt-4o", "claude-x")); err != nil {
			t.Fatal(err)
		}
		st, body := c.get("/admin/prices")
		if st != 200 || !strings.Contains(body, `data-unpriced="claude-x"`) || !strings.Contains(body, `data-unpriced="gpt-4o"`) {
			t.Fatalf("page: %d\n%s", st, body)
		}
		st, loc := c.post("/admin/prices", url.Values{"model": {"gpt-4o"}, "input": {"2.50"}, "output": {"10"}, "cached_input": {"1.25"}})
		wantStatus(t, "add", st, 303, loc)
		st, body = c.get(loc)
		if st != 200 || !strings.Contains(body, "New version of gpt-4o added") || strings.Contains(body, `data-unpriced="gpt-4o"`) {
			t.Fatalf("after add: %d\n%s", st, body)
		}
		// The same prices again: nothing added (PutPrice's idempotency).
		st, loc = c.post("/admin/prices", url.Values{"model": {"gpt-4o"}, "input": {"2.5"}, "output": {"10.00"}, "cached_input": {"1.25"}})
		wantStatus(t, "again", st, 303, loc)
		if _, body = c.get(loc); !strings.Contains(body, "nothing was added") {
			t.Fatalf("repeat:\n%s", body)
		}
		st, body = c.post("/admin/prices", url.Values{"model": {"gpt-4o"}, "input": {"abc"}, "output": {"10"}})
		if st != 400 || !strings.Contains(body, `data-code="invalid_price"`) || !strings.Contains(body, `value="abc"`) {
			t.Fatalf("bad amount: %d\n%s", st, body)
		}
		st, body = c.post("/admin/prices", url.Values{"model": {"gpt-4o"}, "input": {"1"}})
		if st != 400 || !strings.Contains(body, `data-code="missing_price"`) {
			t.Fatalf("missing output: %d\n%s", st, body)
		}
		st, loc = c.post("/admin/prices", url.Values{"model": {"gpt-4o"}, "input": {"3"}, "output": {"12"}, "effective_from": {"2025-07-01T00:00"}})
		wantStatus(t, "scheduled", st, 303, loc)
		st, body = c.get("/admin/prices?model=gpt-4o")
		if st != 200 || !strings.Contains(body, `data-state="scheduled"`) || !strings.Contains(body, `data-state="in effect"`) {
			t.Fatalf("history: %d\n%s", st, body)
		}

		// Import: the shared list prices. Preview writes nothing.
		file, err := os.ReadFile("../pricing/testdata/model-prices.json")
		if err != nil {
			t.Fatal(err)
		}
		before := catalogSize(t, e)
		c.get("/admin/prices")
		st, body = c.postFile("/admin/prices/import", url.Values{}, "model-prices.json", file)
		if st != 200 || !strings.Contains(body, `id="import-diff"`) || !strings.Contains(body, `data-model="gpt-4o" data-kind="unchanged"`) ||
			!strings.Contains(body, `data-model="claude-sonnet-4" data-kind="new"`) {
			t.Fatalf("preview: %d\n%s", st, body)
		}
		if catalogSize(t, e) != before {
			t.Fatal("the preview wrote prices")
		}
		catalog := hiddenValue(body, "catalog")
		st, loc = c.post("/admin/prices/import", url.Values{"confirm": {"yes"}, "catalog": {catalog}})
		wantStatus(t, "confirm", st, 303, loc)
		if got := catalogSize(t, e); got != before+11 {
			t.Fatalf("catalog %d versions after the import, want %d", got, before+11)
		}
		// Confirming twice adds nothing more.
		c.post("/admin/prices/import", url.Values{"confirm": {"yes"}, "catalog": {catalog}})
		if got := catalogSize(t, e); got != before+11 {
			t.Fatalf("a second confirm added versions: %d", got)
		}
		for _, bad := range []struct{ file, code string }{
			{`{"models": [`, "invalid_json"},
			{`{"models":[{"model":"x","input":"1","output":"1","colour":"red"}]}`, "unknown_field"},
			{`{"models":[{"model":"x","input":"1.2.3","output":"1"}]}`, "invalid_price"},
		} {
			c.get("/admin/prices")
			st, body = c.postFile("/admin/prices/import", url.Values{}, "bad.json", []byte(bad.file))
			if st != 400 || !strings.Contains(body, `data-code="`+bad.code+`"`) || !strings.Contains(body, `id="import-error"`) {
				t.Fatalf("bad file %s: %d\n%s", bad.code, st, body)
			}
		}
		// A tampered confirm is read and checked again.
		st, body = c.post("/admin/prices/import", url.Values{"confirm": {"yes"}, "catalog": {`{"models":[{"model":"x","input":"-1","output":"1"}]}`}})
		if st != 400 || !strings.Contains(body, `data-code="invalid_price"`) {
			t.Fatalf("tampered confirm: %d\n%s", st, body)
		}
		n := 0
		for _, en := range e.auditActions(t) {
			if en.Action == "price.put" {
				n++
			}
		}
		if n != 13 {
			t.Fatalf("%d price.put audit entries, want 13 (2 versions and 11 imported)", n)
		}
	})
}

func catalogSize(t *testing.T, e *catalogEnv) int {
	t.Helper()
	cat, err := e.metering.Catalog(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return len(cat.All())
}

// hiddenValue is the unescaped value of the hidden input name in body.
func hiddenValue(body, name string) string {
	i := strings.Index(body, `name="`+name+`" value="`)
	if i < 0 {
		return ""
	}
	rest := body[i+len(`name="`+name+`" value="`):]
	return html.UnescapeString(rest[:strings.Index(rest, `"`)])
}

// gatewayUpstream is an OpenAI upstream at base serving models, with the stand-in's secret.
func gatewayUpstream(name, base string, models ...string) gateway.Upstream {
	return gateway.Upstream{Name: name, BaseURL: base, APIKey: fakeSecret, Models: models}
}

// TestMultipartFormCSRF: a multipart form (the catalog import) is read before the CSRF
// check like any form — its token lets it through, a wrong one is refused with
// csrf_failed — and a member posting it gets the console's 404.
func TestMultipartFormCSRF(t *testing.T) {
	e := newCatalogEnv(t, storetest.SQLite)
	c := e.signedIn(catalogOpEmail)
	c.get("/admin/prices")
	file := []byte(`{"models":[{"model":"m1","input":"1","output":"2"}]}`)
	st, body := c.postFile("/admin/prices/import", url.Values{"csrf": {"forged-token-0123456789"}}, "c.json", file)
	if st != 403 || !strings.Contains(body, "csrf_failed") {
		t.Fatalf("forged token: %d\n%s", st, body)
	}
	c.get("/admin/prices")
	st, body = c.postFile("/admin/prices/import", url.Values{}, "c.json", file)
	if st != 200 || !strings.Contains(body, `data-model="m1" data-kind="new"`) {
		t.Fatalf("with its token: %d\n%s", st, body)
	}
	e.member(t)
	m := e.signedIn("mia@member.test")
	m.get("/")
	if st, _ := m.postFile("/admin/prices/import", url.Values{}, "c.json", file); st != 404 {
		t.Fatalf("member: %d", st)
	}
}
