package gateway

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"spectra/internal/gateway/fakeupstream"
	"spectra/internal/gateway/upstream"
	"spectra/internal/ledger"
	"spectra/internal/metering"
	"spectra/internal/money"
	"spectra/internal/pricing"
	"spectra/internal/store"
	"spectra/internal/store/storetest"
	"spectra/internal/team"
)

// clock is the test kit's clock (storetest.Clock), shared by every service of a test. It is
// an alias, not a type of its own, so the package's tests can keep saying *clock.
type clock = storetest.Clock

// testPrice is the price of testModel: $2.50 / $1.25 cached / $10 output per million
// tokens, plus a fee of $0.000100 per request.
var testPrice = pricing.Price{Model: testModel, Input: 2_500_000, CachedInput: 1_250_000, Output: 10_000_000, Request: 100}

const testModel = "gpt-4o"

// env is one gateway in front of one fake upstream, on one database.
type env struct {
	t        *testing.T
	clock    *clock
	db       *store.DB
	team     *team.Service
	ledger   *ledger.Service
	metering *metering.Service
	up       *fakeupstream.Server
	gw       *Gateway
	srv      *httptest.Server
	ws       team.Workspace
	key      team.APIKey
	secret   string
}

type envOpts struct {
	upstream  fakeupstream.Options
	grant     money.Amount
	secretKey []byte
	wrap      func(http.Handler) http.Handler // wraps the upstream's handler
	files     []Upstream
}

const upstreamKey = "sk-upstream-secret"

func newEnv(t *testing.T, db *store.DB, clk *clock, o envOpts) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{t: t, clock: clk, db: db}
	e.team = team.NewService(db, clk.Now)
	e.ledger = ledger.NewService(db, clk.Now)
	e.metering = metering.NewService(db, db, clk.Now)
	o.upstream.APIKey = upstreamKey
	if o.upstream.Models == nil {
		o.upstream.Models = []string{testModel, "text-embedding-3-small"}
	}
	e.up = fakeupstream.New(o.upstream)
	t.Cleanup(e.up.Close)
	base := e.up.URL
	if o.wrap != nil {
		ts := httptest.NewServer(o.wrap(e.up.Handler()))
		t.Cleanup(ts.Close)
		base = ts.URL + "/v1"
	}
	p := testPrice
	p.EffectiveFrom = clk.Now().Add(-time.Hour)
	must(t, db.AddPrice(ctx, p))
	emb := pricing.Price{Model: "text-embedding-3-small", Input: 20_000, EffectiveFrom: p.EffectiveFrom}
	must(t, db.AddPrice(ctx, emb))
	var err error
	e.ws, err = e.team.CreateWorkspace(ctx, team.Workspace{Name: "Acme"})
	must(t, err)
	e.key, e.secret, err = e.team.CreateKey(ctx, team.APIKey{WorkspaceID: e.ws.ID, Name: "ci", Project: "proj", MemberID: "mem"})
	must(t, err)
	if o.grant > 0 {
		_, _, err = e.ledger.Grant(ctx, e.ws.ID, o.grant, "start", "")
		must(t, err)
	}
	e.gw = e.newGateway(o)
	_, err = db.PutUpstream(ctx, upstreamRecord(e.gw, "fake", base, []string{testModel, "text-embedding-3-small"}))
	must(t, err)
	must(t, e.gw.reg.load(ctx))
	e.srv = e.serve(e.gw)
	t.Cleanup(func() { e.gw.Flush(context.Background()) })
	return e
}

func (e *env) newGateway(o envOpts) *Gateway {
	g, err := New(Config{Team: e.team, Ledger: e.ledger, Metering: e.metering, Store: e.db, Now: e.clock.Now,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), SecretKey: o.secretKey, DefaultMaxTokens: 1000,
		HoldTTL: 10 * time.Minute, Upstreams: o.files})
	must(e.t, err)
	return g
}

// serve serves g's routes on a test server, closed when the test ends.
func (e *env) serve(g *Gateway) *httptest.Server {
	mux := http.NewServeMux()
	g.Register(mux)
	srv := httptest.NewServer(mux)
	e.t.Cleanup(srv.Close)
	return srv
}

func upstreamRecord(g *Gateway, name, base string, models []string) upstream.Record {
	now := g.now()
	return upstream.Record{Name: name, BaseURL: base, Secret: g.box.seal(name, upstreamKey), Models: models, CreatedAt: now, UpdatedAt: now}
}

// memberKey adds an owner and a member with role (email and name from name) to e's
// workspace through accounts, and gives the member an inference key. It also starts a
// second gateway on the same store (another node, not subscribed to accounts' changes);
// the key is in the key caches of both.
func (e *env) memberKey(accounts *team.Accounts, name string, role team.Role) (member team.User, secret string, other *Gateway) {
	e.t.Helper()
	ctx := context.Background()
	owner, err := accounts.CreateUser(ctx, "owner@example.com", "Owner", "correct horse battery", false)
	must(e.t, err)
	member, err = accounts.CreateUser(ctx, strings.ToLower(name)+"@example.com", name, "correct horse battery", false)
	must(e.t, err)
	_, err = accounts.AddMember(ctx, e.ws.ID, owner.ID, team.RoleOwner)
	must(e.t, err)
	_, err = accounts.AddMember(ctx, e.ws.ID, member.ID, role)
	must(e.t, err)
	_, secret, err = e.team.CreateKey(ctx, team.APIKey{WorkspaceID: e.ws.ID, Name: strings.ToLower(name), Project: "prod", MemberID: member.ID})
	must(e.t, err)
	other = e.newGateway(envOpts{})
	must(e.t, other.reg.load(ctx))
	for _, g := range []*Gateway{e.gw, other} {
		if _, err := g.keys.authenticate(ctx, secret); err != nil {
			e.t.Fatal(err)
		}
	}
	return member, secret, other
}

// client is the official OpenAI client pointed at the gateway, without retries.
func (e *env) client(opts ...option.RequestOption) openai.Client {
	base := []option.RequestOption{option.WithBaseURL(e.srv.URL + "/v1"), option.WithAPIKey(e.secret), option.WithMaxRetries(0)}
	return openai.NewClient(append(base, opts...)...)
}

// flush waits for every settle and releases idle leases.
func (e *env) flush() {
	e.t.Helper()
	must(e.t, e.gw.Flush(context.Background()))
}

func (e *env) balance() ledger.Balance {
	e.t.Helper()
	b, err := e.ledger.Balance(context.Background(), e.ws.ID)
	must(e.t, err)
	return b
}

// events returns the workspace's events, newest first.
func (e *env) events() []metering.Event {
	e.t.Helper()
	evs, err := e.metering.Events(context.Background(), metering.EventFilter{WorkspaceID: e.ws.ID, Limit: 1000})
	must(e.t, err)
	return evs
}

func (e *env) event(id string) metering.Event {
	e.t.Helper()
	for _, ev := range e.events() {
		if ev.ID == id {
			return ev
		}
	}
	e.t.Fatalf("no event %q", id)
	return metering.Event{}
}

// verify checks the ledger and the rollups, and that nothing is held any more.
func (e *env) verify() {
	e.t.Helper()
	e.flush()
	rep, err := e.db.Verify(context.Background())
	must(e.t, err)
	if !rep.OK() {
		e.t.Fatalf("verify failed: %+v", rep)
	}
	if b := e.balance(); b.Held != 0 {
		e.t.Fatalf("held = %s after flush, want 0", b.Held)
	}
}

// expectedCost prices usage independently of the gateway and of package pricing:
// Σ tokens × price per million, rounded half-up once, plus the request fee.
func expectedCost(input, cached, output int64) money.Amount {
	p := testPrice
	micro := (input-cached)*int64(p.Input) + cached*int64(p.CachedInput) + output*int64(p.Output)
	return money.Amount((micro+500_000)/1_000_000) + p.Request
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func eachStore(t *testing.T, fn func(t *testing.T, db *store.DB, clk *clock)) {
	storetest.EachAt(t, time.Date(2026, 3, 14, 15, 0, 0, 0, time.UTC), fn)
}

// cl is client() as an addressable value.
func (e *env) cl(opts ...option.RequestOption) *openai.Client {
	c := e.client(opts...)
	return &c
}

// post sends a raw request to the gateway with the env's key.
func (e *env) post(path, body string) (*http.Response, []byte) {
	e.t.Helper()
	return e.postTo(e.srv.URL, path, body, e.secret)
}

func (e *env) postTo(base, path, body, secret string) (*http.Response, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+path, strings.NewReader(body))
	must(e.t, err)
	req.Header.Set("Content-Type", "application/json")
	if secret != "" {
		req.Header.Set("Authorization", "Bearer "+secret)
	}
	resp, err := http.DefaultClient.Do(req)
	must(e.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	must(e.t, err)
	return resp, b
}

// apiErr decodes an OpenAI-shaped error body.
func apiErr(t *testing.T, b []byte) apiError {
	t.Helper()
	var v struct {
		Error *apiError `json:"error"`
	}
	if err := json.Unmarshal(b, &v); err != nil || v.Error == nil {
		t.Fatalf("not an OpenAI error body: %s", b)
	}
	return *v.Error
}

// wantError checks a raw answer's status and OpenAI error code.
func wantError(t *testing.T, resp *http.Response, b []byte, status int, code string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d: %s", resp.StatusCode, status, b)
	}
	if e := apiErr(t, b); e.Code != code {
		t.Fatalf("code %q, want %q: %s", e.Code, code, b)
	}
}

// exactOf is the exact cost n × 10⁻⁶ micro-units: n is Σ tokens × price per million
// (plus any fee × 10⁶), the cost before any rounding.
func exactOf(n int64) pricing.Exact {
	return pricing.Exact{Micro: money.Amount(n / 1_000_000), Frac: n % 1_000_000}
}

// charges follows one wallet's charging (issue 15's exact charging in metering and the
// store): each event is charged floor(carry + its exact cost) micro-units, the fraction
// left carried to the wallet's next event.
type charges struct{ frac int64 }

func (c *charges) charge(x pricing.Exact) money.Amount {
	f := c.frac + x.Frac
	c.frac = f % 1_000_000
	return x.Micro + money.Amount(f/1_000_000)
}

// expectedExact is expectedCost before rounding.
func expectedExact(input, cached, output int64) pricing.Exact {
	p := testPrice
	return exactOf((input-cached)*int64(p.Input) + cached*int64(p.CachedInput) + output*int64(p.Output) + int64(p.Request)*1_000_000)
}
