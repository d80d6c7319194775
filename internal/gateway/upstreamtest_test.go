package gateway

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"spectra/internal/errs"
	"spectra/internal/gateway/upstream"
	"spectra/internal/store"
)

func TestTestUpstream(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		e := newEnv(t, db, clk, envOpts{})
		ctx := context.Background()

		got, err := e.gw.TestUpstream(ctx, "fake")
		must(t, err)
		if !got.OK || got.Status != 200 || got.Error != "" || got.URL != e.up.URL+"/models" {
			t.Fatalf("test of a working upstream = %+v", got)
		}
		if !slices.Contains(got.Models, testModel) || len(got.Missing) != 0 {
			t.Fatalf("models = %v, missing = %v", got.Models, got.Missing)
		}

		// A wrong secret: the upstream's 401 and its message, never the secret.
		_, _, err = e.gw.PutUpstream(ctx, Upstream{Name: "fake", BaseURL: e.up.URL, APIKey: "sk-wrong-secret", Models: []string{testModel, "gpt-5-unlisted"}})
		must(t, err)
		got, err = e.gw.TestUpstream(ctx, "fake")
		must(t, err)
		if got.OK || got.Status != 401 || !strings.Contains(got.Error, "Incorrect API key") || strings.Contains(got.Error, "sk-wrong-secret") {
			t.Fatalf("test with a wrong secret = %+v", got)
		}

		if _, err := e.gw.TestUpstream(ctx, "nope"); errs.CodeOf(err) != "upstream_not_found" {
			t.Fatalf("unknown upstream: err = %v", err)
		}
	})
}

// TestTestUpstreamAPIs checks that each API is called in its own shape: the path, the
// secret's header, and the listing read.
func TestTestUpstreamAPIs(t *testing.T) {
	var seen http.Header
	var path string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen, path = r.Header.Clone(), r.URL.Path
		switch r.URL.Path {
		case "/v1/models":
			w.Write([]byte(`{"data":[{"id":"claude-sonnet-4-5","type":"model"}]}`))
		case "/v1beta/models":
			w.Write([]byte(`{"models":[{"name":"models/gemini-2.5-flash"}]}`))
		default:
			w.WriteHeader(404)
		}
	}))
	defer srv.Close()
	ctx := context.Background()

	got := TestUpstreamWith(ctx, srv.Client(), Upstream{Name: "a", API: upstream.Anthropic, BaseURL: srv.URL + "/v1", APIKey: "sk-ant-1", Models: []string{"claude-sonnet-4-5", "claude-opus-4-1"}})
	if !got.OK || path != "/v1/models" || seen.Get("X-Api-Key") != "sk-ant-1" || seen.Get("Anthropic-Version") == "" || seen.Get("Authorization") != "" {
		t.Fatalf("anthropic: %+v, path %s, headers %v", got, path, seen)
	}
	if !slices.Equal(got.Missing, []string{"claude-opus-4-1"}) {
		t.Fatalf("anthropic missing = %v", got.Missing)
	}

	got = TestUpstreamWith(ctx, srv.Client(), Upstream{Name: "g", API: upstream.Gemini, BaseURL: srv.URL + "/v1beta", APIKey: "AIza-1", Models: []string{"gemini-2.5-flash"}})
	if !got.OK || path != "/v1beta/models" || seen.Get("X-Goog-Api-Key") != "AIza-1" || !slices.Equal(got.Models, []string{"gemini-2.5-flash"}) || len(got.Missing) != 0 {
		t.Fatalf("gemini: %+v, path %s, headers %v", got, path, seen)
	}

	got = TestUpstreamWith(ctx, srv.Client(), Upstream{Name: "o", BaseURL: srv.URL + "/nowhere", Models: []string{"m"}})
	if got.OK || got.Status != 404 || got.Error != "HTTP 404" {
		t.Fatalf("404: %+v", got)
	}

	got = TestUpstreamWith(ctx, srv.Client(), Upstream{Name: "o", BaseURL: "http://127.0.0.1:1", Models: []string{"m"}})
	if got.OK || !strings.HasPrefix(got.Error, "no answer: ") {
		t.Fatalf("unreachable: %+v", got)
	}
}

func TestSecretPrefix(t *testing.T) {
	for in, want := range map[string]string{"": "", "abc": "…", "sk-abcdefghijklmnopqrstuvwxyz": "sk-abc…", "sk-abcdefgh": "sk…"} {
		if got := SecretPrefix(in); got != want {
			t.Errorf("SecretPrefix(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPutUpstreamKeepSecret(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		e := newEnv(t, db, clk, envOpts{})
		ctx := context.Background()
		// An edit without a secret keeps the old one: the test still authenticates.
		_, created, err := e.gw.PutUpstreamKeepSecret(ctx, Upstream{Name: "fake", BaseURL: e.up.URL, Models: []string{testModel}}, true)
		must(t, err)
		if created {
			t.Fatal("an edit created an upstream")
		}
		if got, _ := e.gw.TestUpstream(ctx, "fake"); !got.OK {
			t.Fatalf("after an edit keeping the secret: %+v", got)
		}
		if p := e.gw.UpstreamSecretPrefixes(ctx)["fake"]; p != SecretPrefix(upstreamKey) || strings.Contains(p, upstreamKey) {
			t.Fatalf("prefix = %q", p)
		}
		// keep=false with no secret clears it: the API's meaning of an empty api_key.
		_, _, err = e.gw.PutUpstreamKeepSecret(ctx, Upstream{Name: "fake", BaseURL: e.up.URL, Models: []string{testModel}}, false)
		must(t, err)
		if got, _ := e.gw.TestUpstream(ctx, "fake"); got.OK || got.Status != 401 {
			t.Fatalf("after clearing the secret: %+v", got)
		}
	})
}

// TestUpstreamRedirectKeepsSecret checks that the gateway never follows an upstream's
// redirect: Go's client drops only Authorization on a redirect to another host, so
// following it would send x-api-key / x-goog-api-key (and a forwarded body) wherever
// the upstream points.
func TestUpstreamRedirectKeepsSecret(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		e := newEnv(t, db, clk, envOpts{})
		ctx := context.Background()
		var leaked []string
		other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			leaked = append(leaked, r.Header.Get("X-Api-Key")+r.Header.Get("X-Goog-Api-Key"))
			w.Write([]byte(`{"data":[],"models":[]}`))
		}))
		defer other.Close()
		redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, other.URL+r.URL.Path, http.StatusTemporaryRedirect)
		}))
		defer redirect.Close()
		for _, api := range []string{upstream.Anthropic, upstream.Gemini} {
			_, _, err := e.gw.PutUpstream(ctx, Upstream{Name: "r-" + api, API: api, BaseURL: redirect.URL + "/v1", APIKey: "sk-redirect-secret", Models: []string{"m-" + api}})
			must(t, err)
			got, err := e.gw.TestUpstream(ctx, "r-"+api)
			must(t, err)
			if got.OK || got.Status != http.StatusTemporaryRedirect {
				t.Fatalf("%s: test of a redirecting upstream = %+v", api, got)
			}
		}
		if len(leaked) != 0 {
			t.Fatalf("the redirect was followed, the other host got %q", leaked)
		}
	})
}
