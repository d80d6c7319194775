package gateway

// Testing an upstream (the operator's "does this connection work?"), and the two helpers
// of the console's upstream form: a secret's prefix, and an edit that keeps the secret.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"spectra/internal/errs"
	"spectra/internal/gateway/upstream"
)

// UpstreamTestTimeout bounds one upstream test.
const UpstreamTestTimeout = 10 * time.Second

// UpstreamTest is the outcome of testing an upstream: one models call in its API's
// shape (GET BaseURL/models: /v1/models for OpenAI's and Anthropic's APIs,
// /v1beta/models for Gemini's). OK is true on a 2xx answer; otherwise Error says why
// (the upstream's own error message when it sent one, else the status or the network
// error). Models are the model ids the upstream listed (at most 1,000); Missing are the
// upstream's configured models it did not list (empty when the listing could not be read).
type UpstreamTest struct {
	Name      string   `json:"name"`
	API       string   `json:"api"`
	URL       string   `json:"url"`
	OK        bool     `json:"ok"`
	Status    int      `json:"status,omitempty"`
	LatencyMS int64    `json:"latency_ms"`
	Error     string   `json:"error,omitempty"`
	Models    []string `json:"models,omitempty"`
	Missing   []string `json:"missing,omitempty"`
}

// TestUpstream tests the configured upstream named name (from the file or registered)
// with its secret. A failing upstream is not an error: the result says how it failed.
// Errors: upstream_not_found (404).
func (g *Gateway) TestUpstream(ctx context.Context, name string) (UpstreamTest, error) {
	u, ok := g.upstream(ctx, name)
	if !ok {
		return UpstreamTest{}, upstream.ErrNotFound
	}
	return TestUpstreamWith(ctx, g.client, u), nil
}

// upstream returns the configured upstream named name, secret included, reading the
// stored upstreams afresh.
func (g *Gateway) upstream(ctx context.Context, name string) (Upstream, bool) {
	g.reload(ctx)
	g.reg.mu.RLock()
	defer g.reg.mu.RUnlock()
	for _, e := range g.reg.list {
		if e.Name == name {
			return e.Upstream, true
		}
	}
	return Upstream{}, false
}

// TestUpstreamWith tests u through client: one GET of BaseURL + "/models" with u's
// secret sent the way its API expects (Authorization: Bearer for OpenAI's,
// x-api-key and anthropic-version for Anthropic's, x-goog-api-key for Gemini's).
// Latency is measured on the wall clock, from the request to the end of the body.
func TestUpstreamWith(ctx context.Context, client *http.Client, u Upstream) UpstreamTest {
	api := apiOf(u.API)
	res := UpstreamTest{Name: u.Name, API: api, URL: strings.TrimRight(u.BaseURL, "/") + "/models"}
	ctx, cancel := context.WithTimeout(ctx, UpstreamTestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, res.URL, nil)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	if u.APIKey != "" {
		switch api {
		case upstream.Anthropic:
			req.Header.Set("X-Api-Key", u.APIKey)
		case upstream.Gemini:
			req.Header.Set("X-Goog-Api-Key", u.APIKey)
		default:
			req.Header.Set("Authorization", "Bearer "+u.APIKey)
		}
	}
	if api == upstream.Anthropic {
		req.Header.Set("Anthropic-Version", anthropicVersion)
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		res.LatencyMS = time.Since(start).Milliseconds()
		res.Error = "no answer: " + redactSecret(err.Error(), u.APIKey)
		return res
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	res.LatencyMS = time.Since(start).Milliseconds()
	res.Status = resp.StatusCode
	if err != nil {
		res.Error = "reading the answer: " + err.Error()
		return res
	}
	if resp.StatusCode/100 != 2 {
		res.Error = fmt.Sprintf("HTTP %d", resp.StatusCode)
		if m := upstreamErrorMessage(body); m != "" {
			res.Error += ": " + redactSecret(m, u.APIKey)
		}
		return res
	}
	res.OK = true
	listed, ok := listedModels(api, body)
	if !ok {
		return res
	}
	res.Models = listed
	seen := map[string]bool{}
	for _, m := range listed {
		seen[m] = true
	}
	for _, m := range u.Models {
		if !seen[m] {
			res.Missing = append(res.Missing, m)
		}
	}
	return res
}

// listedModels reads a models listing: OpenAI's and Anthropic's {"data":[{"id"}]},
// Gemini's {"models":[{"name":"models/…"}]}.
func listedModels(api string, body []byte) ([]string, bool) {
	var v struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
		Models []struct {
			Name string `json:"name"`
		} `json:"models"`
	}
	if json.Unmarshal(body, &v) != nil {
		return nil, false
	}
	var out []string
	if api == upstream.Gemini {
		for _, m := range v.Models {
			out = append(out, strings.TrimPrefix(m.Name, "models/"))
		}
	} else {
		for _, m := range v.Data {
			out = append(out, m.ID)
		}
	}
	if len(out) > upstream.MaxModels {
		out = out[:upstream.MaxModels]
	}
	return out, true
}

// upstreamErrorMessage is the message of an error body in any of the three APIs'
// shapes ({"error":{"message"}}), or "" (bounded to 300 bytes).
func upstreamErrorMessage(body []byte) string {
	var v struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &v) != nil {
		return ""
	}
	m := strings.ToValidUTF8(v.Error.Message, "")
	if len(m) > 300 {
		m = m[:300] + "…"
	}
	return m
}

// redactSecret removes secret from s, should an upstream or a URL echo it.
func redactSecret(s, secret string) string {
	if secret == "" {
		return s
	}
	return strings.ReplaceAll(s, secret, "…")
}

// SecretPrefix is how a secret is shown to the operator: its first characters and an
// ellipsis ("sk-abc…"), at most a quarter of it and never more than 6 characters; ""
// for no secret.
func SecretPrefix(secret string) string {
	if secret == "" {
		return ""
	}
	n := min(6, len(secret)/4)
	return secret[:n] + "…"
}

// UpstreamSecretPrefixes maps each configured upstream with a secret to its
// SecretPrefix: the only form of a secret the operator's pages show.
func (g *Gateway) UpstreamSecretPrefixes(ctx context.Context) map[string]string {
	g.reload(ctx)
	g.reg.mu.RLock()
	defer g.reg.mu.RUnlock()
	out := map[string]string{}
	for _, e := range g.reg.list {
		if e.APIKey != "" {
			out[e.Name] = SecretPrefix(e.APIKey)
		}
	}
	return out
}

// PutUpstreamKeepSecret is PutUpstream for a form that never shows the secret back:
// when u.APIKey is empty and keep is true, the registered upstream of that name keeps
// its current secret. Errors: those of PutUpstream, and ErrSecretUnreadable when the
// current secret cannot be opened.
func (g *Gateway) PutUpstreamKeepSecret(ctx context.Context, u Upstream, keep bool) (UpstreamView, bool, error) {
	if keep && u.APIKey == "" {
		recs, err := g.store.Upstreams(ctx)
		if err != nil {
			return UpstreamView{}, false, err
		}
		for _, rec := range recs {
			if rec.Name == u.Name {
				secret, err := g.box.open(rec.Name, rec.Secret)
				if err != nil {
					return UpstreamView{}, false, ErrSecretUnreadable
				}
				u.APIKey = secret
			}
		}
	}
	return g.PutUpstream(ctx, u)
}

// ErrSecretUnreadable refuses to keep a stored secret that cannot be opened (sealed
// under another secret key): the operator must enter the secret again.
var ErrSecretUnreadable = errs.E(errs.Conflict, "upstream_secret_unreadable",
	"the stored secret of this upstream cannot be opened with this deployment's secret key; enter the secret again")
