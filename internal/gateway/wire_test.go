package gateway

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"spectra/internal/errs"
	"spectra/internal/gateway/upstream"
	"spectra/internal/metering"
	"spectra/internal/pricing"
	"spectra/internal/store"
)

// An upstream's api defaults to openai; an unknown one is refused with invalid_api, by
// the operator API and by the configuration file.
func TestUpstreamAPIValidation(t *testing.T) {
	u := Upstream{Name: "x", BaseURL: "http://x/v1", Models: []string{"m"}}
	if err := u.Validate(); err != nil || u.API != upstream.OpenAI {
		t.Fatalf("default api: %q %v", u.API, err)
	}
	for _, api := range []string{"anthropic", "gemini", "openai"} {
		u := Upstream{Name: "x", BaseURL: "http://x/v1", Models: []string{"m"}, API: api}
		if err := u.Validate(); err != nil || u.API != api {
			t.Fatalf("api %q: %v", api, err)
		}
	}
	for _, api := range []string{"OpenAI", "claude", " anthropic"} {
		u := Upstream{Name: "x", BaseURL: "http://x/v1", Models: []string{"m"}, API: api}
		if err := u.Validate(); !errs.Is(err, "invalid_api") {
			t.Fatalf("api %q: %v, want invalid_api", api, err)
		}
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "u.json")
	must(t, os.WriteFile(path, []byte(`{"upstreams":[{"name":"a","api":"anthropic","base_url":"https://api.anthropic.com/v1","models":["claude-x"]},{"name":"o","base_url":"http://o/v1","models":["m"]}]}`), 0o600))
	us, err := LoadUpstreamsFile(path)
	if err != nil || len(us) != 2 || us[0].API != upstream.Anthropic || us[1].API != upstream.OpenAI {
		t.Fatalf("file: %+v %v", us, err)
	}
	must(t, os.WriteFile(path, []byte(`{"upstreams":[{"name":"a","api":"grpc","base_url":"http://a/v1","models":["m"]}]}`), 0o600))
	if _, err := LoadUpstreamsFile(path); !errs.Is(err, "invalid_api") {
		t.Fatalf("bad api in file: %v", err)
	}
}

// A model is served by upstreams of the API the client called: an OpenAI route never
// reaches an Anthropic upstream serving the same model name, and the operator's view and
// the store keep each upstream's api.
func TestRoutingByAPI(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		e := newEnv(t, db, clk, envOpts{grant: 1_000_000})
		ctx := context.Background()
		p := pricing.Price{Model: "claude-x", Input: 3_000_000, Output: 15_000_000, EffectiveFrom: clk.Now().Add(-time.Hour)}
		must(t, db.AddPrice(ctx, p))
		e.metering.Invalidate()
		// The Anthropic upstream is the fake OpenAI server: were it reached, the call would succeed.
		v, _, err := e.gw.PutUpstream(ctx, Upstream{Name: "anth", API: upstream.Anthropic, BaseURL: e.up.URL, APIKey: "k", Models: []string{"claude-x"}})
		if err != nil || v.API != upstream.Anthropic {
			t.Fatalf("put: %+v %v", v, err)
		}
		before := e.up.Requests()
		resp, b := e.post("/v1/chat/completions", `{"model":"claude-x","messages":[{"role":"user","content":"hi"}]}`)
		wantError(t, resp, b, http.StatusNotFound, "model_not_found")
		if n := e.up.Requests(); n != before {
			t.Fatalf("upstream called %d times", n-before)
		}
		if up, ok := e.gw.reg.routeAPI(upstream.Anthropic, "claude-x"); !ok || up.Name != "anth" {
			t.Fatalf("anthropic route: %+v %v", up, ok)
		}
		if _, ok := e.gw.reg.routeAPI(upstream.Anthropic, testModel); ok {
			t.Fatal("an OpenAI upstream's model is routed for Anthropic")
		}
		vs, err := e.gw.Upstreams(ctx)
		must(t, err)
		apis := map[string]string{}
		for _, v := range vs {
			apis[v.Name] = v.API
		}
		if apis["anth"] != upstream.Anthropic || apis["fake"] != upstream.OpenAI {
			t.Fatalf("views: %+v", apis)
		}
		e.verify()
	})
}

// A price's 1-hour cache write and web search calls enter the journal's record, so a
// replayed settle charges them too.
func TestJournalRecordKeepsNewUsage(t *testing.T) {
	ev := metering.Event{ID: "r", WorkspaceID: "w", Model: "m", Timestamp: time.Unix(1, 0).UTC(),
		Usage: pricing.Usage{Input: 10, CacheWrite: 8, CacheWrite1h: 5, WebSearchCalls: 3, Output: 2}}
	got := recordOf(ev).event()
	if !sameUsage(got.Usage, ev.Usage) {
		t.Fatalf("usage %+v, want %+v", got.Usage, ev.Usage)
	}
}
