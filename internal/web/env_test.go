package web

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"spectra/internal/budget"
	"spectra/internal/demo"
	"spectra/internal/ledger"
	"spectra/internal/mail"
	"spectra/internal/mail/smtptest"
	"spectra/internal/metering"
	"spectra/internal/money"
	"spectra/internal/pricing"
	"spectra/internal/store"
	"spectra/internal/store/storetest"
	"spectra/internal/team"
)

// testNow is the handler tests' clock: a Sunday afternoon (New York: 11:30).
var testNow = time.Date(2025, 6, 15, 15, 30, 0, 0, time.UTC)

// opToken is the operator's admin token in tests.
const opToken = "op-secret-token-for-tests"

// env is a dashboard over one fresh database.
type env struct {
	t        testing.TB
	db       *store.DB
	clock    *demo.Clock
	team     *team.Service
	accounts *team.Accounts
	ledger   *ledger.Service
	metering *metering.Service
	budget   *budget.Service
	srv      *Server
	mux      *http.ServeMux
	ts       *httptest.Server
	invites  *team.Invitations
	smtp     *smtptest.Server // receives the invitation emails
}

func newEnv(t testing.TB, db func(testing.TB, storetest.Options) *store.DB) *env {
	t.Helper()
	return newEnvWith(t, db, nil)
}

// newEnvWith is newEnv with hook editing the dashboard's Deps (e.g. to add billing)
// once the core services exist.
func newEnvWith(t testing.TB, db func(testing.TB, storetest.Options) *store.DB, hook func(*env, *Deps)) *env {
	t.Helper()
	clock := demo.NewClock(func() time.Time { return testNow })
	e := &env{t: t, clock: clock}
	e.db = db(t, storetest.Options{Now: clock.Now})
	e.team = team.NewService(e.db, clock.Now)
	e.accounts = team.NewAccounts(e.db, clock.Now)
	e.ledger = ledger.NewService(e.db, clock.Now)
	e.metering = metering.NewService(e.db, e.db, clock.Now)
	e.ts = httptest.NewUnstartedServer(nil) // listening already: invitation links need its URL
	e.smtp = smtptest.New(t)
	sender, err := mail.New(e.smtp.URL() + "?from=Spectra%20%3Cteam@spectra.test%3E")
	if err != nil {
		t.Fatal(err)
	}
	e.invites = team.NewInvitations(e.db, e.accounts, e.team, team.InvitationsConfig{BaseURL: "http://" + e.ts.Listener.Addr().String(),
		Mail: sender, Now: clock.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if e.budget, err = budget.New(budget.Config{Store: e.db, Metering: e.metering, Ledger: e.ledger, Team: e.team, Currency: "USD",
		Now: clock.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.budget.Wait)
	deps := Deps{Team: e.team, Accounts: e.accounts, Ledger: e.ledger, Metering: e.metering, Prices: e.db, Budget: e.budget, Invitations: e.invites,
		Currency: "USD", Now: clock.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), OperatorTokenHash: team.HashSecret(opToken)}
	if hook != nil {
		hook(e, &deps)
	}
	srv, err := New(deps)
	if err != nil {
		t.Fatal(err)
	}
	e.srv = srv
	e.mux = http.NewServeMux()
	srv.Register(e.mux)
	e.ts.Config.Handler = e.mux
	e.ts.Start()
	t.Cleanup(e.ts.Close)
	return e
}

// each runs fn on SQLite and PostgreSQL.
func each(t *testing.T, fn func(t *testing.T, e *env)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, newEnv(t, storetest.SQLite)) })
	t.Run("postgres", func(t *testing.T) { fn(t, newEnv(t, storetest.Postgres)) })
}

func (e *env) deps() demo.Deps {
	return demo.Deps{Team: e.team, Accounts: e.accounts, Ledger: e.ledger, Metering: e.metering, Prices: e.db, Clock: e.clock}
}

// seedDemo fills the database with the demo workspace at a small size.
func (e *env) seedDemo(perDay, days int) demo.Result {
	e.t.Helper()
	res, err := demo.Seed(context.Background(), e.deps(), demo.Options{EventsPerDay: perDay, Days: days, Seed: 3, Now: func() time.Time { return testNow }})
	if err != nil {
		e.t.Fatal(err)
	}
	return res
}

// fixture is a small hand-made world: two workspaces, a user per role in the first,
// and an outsider who is the owner of the second.
type fixture struct {
	ws, other string
	users     map[team.Role]team.User
	outsider  team.User
	keys      map[string]team.APIKey // by name
}

const testPassword = "correct horse battery"

func (e *env) seedFixture() fixture {
	e.t.Helper()
	ctx := context.Background()
	f := fixture{users: map[team.Role]team.User{}, keys: map[string]team.APIKey{}}
	must := func(err error) {
		e.t.Helper()
		if err != nil {
			e.t.Fatal(err)
		}
	}
	ws, err := e.team.CreateWorkspace(ctx, team.Workspace{Name: "Acme", Timezone: "America/New_York"})
	must(err)
	other, err := e.team.CreateWorkspace(ctx, team.Workspace{Name: "Globex", Timezone: "UTC"})
	must(err)
	f.ws, f.other = ws.ID, other.ID
	for _, role := range team.Roles {
		u, err := e.accounts.CreateUser(ctx, string(role)+"@acme.test", "A "+string(role), testPassword, false)
		must(err)
		_, err = e.accounts.AddMember(ctx, ws.ID, u.ID, role)
		must(err)
		f.users[role] = u
	}
	f.outsider, err = e.accounts.CreateUser(ctx, "owner@globex.test", "Gus Globex", testPassword, false)
	must(err)
	_, err = e.accounts.AddMember(ctx, other.ID, f.outsider.ID, team.RoleOwner)
	must(err)
	for _, p := range []pricing.Price{
		{Model: "gpt-test", Input: 2_500_000, CachedInput: 1_250_000, Output: 10_000_000, EffectiveFrom: testNow.AddDate(0, -6, 0)},
		{Model: "mini-test", Input: 150_000, Output: 600_000, Request: 7, EffectiveFrom: testNow.AddDate(0, -6, 0)},
	} {
		_, _, err := e.metering.PutPrice(ctx, p)
		must(err)
	}
	for _, k := range []struct {
		name, member string
		ws           string
	}{{"member-key", f.users[team.RoleMember].ID, ws.ID}, {"admin-key", f.users[team.RoleAdmin].ID, ws.ID}, {"globex-key", f.outsider.ID, other.ID}} {
		key, _, err := e.team.CreateKey(ctx, team.APIKey{WorkspaceID: k.ws, Name: k.name, MemberID: k.member, Project: "proj-" + k.name})
		must(err)
		f.keys[k.name] = key
	}
	_, _, err = e.ledger.Grant(ctx, ws.ID, 100*money.Scale, "welcome", "Welcome credit")
	must(err)
	_, _, err = e.ledger.Grant(ctx, other.ID, 50*money.Scale, "welcome", "Globex credit")
	must(err)
	var events []metering.Event
	for i := range 200 {
		ts := testNow.Add(-time.Duration(i*97) * time.Minute)
		k := f.keys["member-key"]
		model := "gpt-test"
		if i%3 == 0 {
			k, model = f.keys["admin-key"], "mini-test"
		}
		events = append(events, metering.Event{ID: fmt.Sprintf("ev-%d", i), WorkspaceID: ws.ID, KeyID: k.ID, Member: k.MemberID, Project: k.Project,
			Model: model, Timestamp: ts, Usage: pricing.Usage{Input: int64(1000 + i*37), CachedInput: int64(i * 3), Output: int64(200 + i*11)},
			Source: "gateway", Status: 200, LatencyMS: int64(300 + i), Stream: i%2 == 0, Estimated: i%7 == 0})
		g := f.keys["globex-key"]
		events = append(events, metering.Event{ID: fmt.Sprintf("gx-%d", i), WorkspaceID: other.ID, KeyID: g.ID, Member: g.MemberID, Project: "secret-globex-project",
			Model: "gpt-test", Timestamp: ts, Usage: pricing.Usage{Input: 5000, Output: 999}})
	}
	res, err := e.metering.Ingest(ctx, events)
	must(err)
	if res.Accepted != len(events) {
		e.t.Fatalf("ingest: %+v", res.Rejected)
	}
	return f
}

// client is a browser-like HTTP client with its own cookies.
type client struct {
	e    *env
	http *http.Client
	csrf string
}

func (e *env) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{e: e, http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// get fetches path and returns the status and body, remembering any CSRF token it shows.
func (c *client) get(path string, header ...string) (int, string) {
	c.e.t.Helper()
	req, _ := http.NewRequest("GET", c.e.ts.URL+path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return c.do(req)
}

// do sends req and returns the status and the body, or for a redirect its Location.
func (c *client) do(req *http.Request) (int, string) {
	c.e.t.Helper()
	resp, b := c.send(req)
	if resp.StatusCode/100 == 3 {
		return resp.StatusCode, resp.Header.Get("Location")
	}
	return resp.StatusCode, string(b)
}

// send sends req and returns the response and its body, remembering any CSRF token the
// body shows.
func (c *client) send(req *http.Request) (*http.Response, []byte) {
	c.e.t.Helper()
	resp, err := c.http.Do(req)
	if err != nil {
		c.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if m := csrfRE.FindSubmatch(b); m != nil {
		c.csrf = string(m[1])
	}
	return resp, b
}

// post submits a form; a "csrf" field is added from the last page unless given.
func (c *client) post(path string, form url.Values) (int, string) {
	c.e.t.Helper()
	return c.do(c.formRequest(path, form))
}

// formRequest is the POST of form to path, with a "csrf" field from the last page unless
// form has one.
func (c *client) formRequest(path string, form url.Values) *http.Request {
	if _, ok := form["csrf"]; !ok {
		form.Set("csrf", c.csrf)
	}
	req, _ := http.NewRequest("POST", c.e.ts.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req
}

// login signs in and fails the test if that does not work.
func (c *client) login(email, password string) {
	c.e.t.Helper()
	c.get("/login")
	st, loc := c.post("/login", url.Values{"email": {email}, "password": {password}, "next": {"/"}})
	if st != http.StatusSeeOther || loc != "/" {
		c.e.t.Fatalf("login %s: %d %s", email, st, loc)
	}
	if st, loc := c.get("/"); st == http.StatusSeeOther {
		c.get(loc)
	}
}

// signedIn returns a client signed in as email.
func (e *env) signedIn(email string) *client {
	c := e.client()
	c.login(email, testPassword)
	return c
}
