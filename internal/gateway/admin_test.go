package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"spectra/internal/money"
	"spectra/internal/pricing"
	"spectra/internal/store"
)

// admin sends an operator request and returns the status and body.
func (e *env) admin(method, path, body string) (int, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	must(e.t, err)
	req.Header.Set("Authorization", "Bearer "+operatorToken)
	resp, err := http.DefaultClient.Do(req)
	must(e.t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func wantAdminError(t *testing.T, status int, b []byte, wantStatus int, code string) {
	t.Helper()
	var v struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	json.Unmarshal(b, &v)
	if status != wantStatus || v.Error.Code != code {
		t.Fatalf("got %d %s, want %d %s", status, b, wantStatus, code)
	}
}

// Operators register, list and delete upstreams; secrets are sealed at rest and never
// shown back; a model is routed as soon as its upstream is registered.
func TestUpstreamAdmin(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		key := bytes.Repeat([]byte{7}, 32)
		e := newEnv(t, db, clk, envOpts{grant: money.Scale, secretKey: key,
			files: []Upstream{{Name: "from-file", BaseURL: "http://127.0.0.1:1/v1", Models: []string{"file-model"}}}})
		ctx := context.Background()
		must(t, db.AddPrice(ctx, pricing.Price{Model: "gpt-4o-mini", Input: 150_000, Output: 600_000, EffectiveFrom: clk.Now().Add(-time.Hour)}))

		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/api/v1/upstreams", nil)
		resp, err := http.DefaultClient.Do(req)
		must(t, err)
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Fatalf("no operator token: %d", resp.StatusCode)
		}

		resp2, b := e.post("/v1/chat/completions", `{"model":"gpt-4o-mini","messages":[]}`)
		wantError(t, resp2, b, 404, "model_not_found")

		body := `{"name":"second","base_url":"` + e.up.URL + `/","api_key":"` + upstreamKey + `","models":["gpt-4o-mini","gpt-4o-mini"]}`
		status, b := e.admin("POST", "/api/v1/upstreams", body)
		if status != 201 || bytes.Contains(b, []byte(upstreamKey)) || !bytes.Contains(b, []byte(`"has_api_key":true`)) {
			t.Fatalf("create: %d %s", status, b)
		}
		if status, b = e.admin("POST", "/api/v1/upstreams", body); status != 200 {
			t.Fatalf("replace: %d %s", status, b)
		}
		recs, err := db.Upstreams(ctx)
		must(t, err)
		for _, r := range recs {
			if !strings.HasPrefix(r.Secret, sealedPrefix) || strings.Contains(r.Secret, upstreamKey) {
				t.Fatalf("secret of %s stored as %q", r.Name, r.Secret)
			}
			if r.Name == "second" && (r.BaseURL != e.up.URL || len(r.Models) != 1) {
				t.Fatalf("stored %+v", r)
			}
		}
		resp2, b = e.post("/v1/chat/completions", `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`)
		if resp2.StatusCode != 200 {
			t.Fatalf("routed request: %d %s", resp2.StatusCode, b)
		}

		status, b = e.admin("GET", "/api/v1/upstreams", "")
		if status != 200 || bytes.Contains(b, []byte(upstreamKey)) || bytes.Contains(b, []byte(`"api_key"`)) ||
			!bytes.Contains(b, []byte(`"source":"file"`)) || !bytes.Contains(b, []byte(`"name":"second"`)) {
			t.Fatalf("list: %d %s", status, b)
		}

		for _, c := range []struct {
			body, code string
			status     int
		}{
			{`{"name":"Bad Name","base_url":"http://x/v1","models":["m"]}`, "invalid_upstream_name", 400},
			{`{"name":"x","base_url":"ftp://x/v1","models":["m"]}`, "invalid_base_url", 400},
			{`{"name":"x","base_url":"http://u:p@x/v1","models":["m"]}`, "invalid_base_url", 400},
			{`{"name":"x","base_url":"http://x/v1","models":[]}`, "invalid_models", 400},
			{`{"name":"x","base_url":"http://x/v1","models":["bad model"]}`, "invalid_models", 400},
			{`{"name":"x","base_url":"http://x/v1","models":["m"],"extra":1}`, "invalid_json", 400},
			{`{"name":"from-file","base_url":"http://x/v1","models":["m"]}`, "upstream_from_file", 409},
		} {
			status, b := e.admin("POST", "/api/v1/upstreams", c.body)
			wantAdminError(t, status, b, c.status, c.code)
		}

		if status, b = e.admin("DELETE", "/api/v1/upstreams/second", ""); status != 204 {
			t.Fatalf("delete: %d %s", status, b)
		}
		status, b = e.admin("DELETE", "/api/v1/upstreams/second", "")
		wantAdminError(t, status, b, 404, "upstream_not_found")
		status, b = e.admin("DELETE", "/api/v1/upstreams/from-file", "")
		wantAdminError(t, status, b, 409, "upstream_from_file")
		resp2, b = e.post("/v1/chat/completions", `{"model":"gpt-4o-mini","messages":[]}`)
		wantError(t, resp2, b, 404, "model_not_found")
		e.verify()
	})
}

// Without a secret key, secrets are stored as plain text; a sealed secret cannot be
// used without its key, and is reported as unusable rather than sent in the clear.
func TestUpstreamSecretsWithoutKey(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		e := newEnv(t, db, clk, envOpts{})
		recs, err := db.Upstreams(context.Background())
		must(t, err)
		if len(recs) != 1 || recs[0].Secret != plainPrefix+upstreamKey {
			t.Fatalf("stored %+v", recs)
		}
		other, err := newSecretBox(bytes.Repeat([]byte{1}, 32))
		must(t, err)
		recs[0].Secret = other.seal("fake", upstreamKey)
		_, err = db.PutUpstream(context.Background(), recs[0])
		must(t, err)
		must(t, e.gw.reg.load(context.Background()))
		status, b := e.admin("GET", "/api/v1/upstreams", "")
		if status != 200 || !bytes.Contains(b, []byte(`"error":"`+errNoSecretKey.Error())) {
			t.Fatalf("list: %s", b)
		}
		resp, b := e.post("/v1/chat/completions", fixedBody)
		wantError(t, resp, b, 404, "model_not_found")
	})
}

func TestSecretBox(t *testing.T) {
	if _, err := newSecretBox([]byte("short")); err == nil {
		t.Fatal("a 5-byte key was accepted")
	}
	box, err := newSecretBox(bytes.Repeat([]byte{9}, 32))
	must(t, err)
	sealed := box.seal("openai", "sk-secret")
	if !strings.HasPrefix(sealed, sealedPrefix) || strings.Contains(sealed, "sk-secret") || sealed == box.seal("openai", "sk-secret") {
		t.Fatalf("sealed %q (a random nonce makes every seal different)", sealed)
	}
	if got, err := box.open("openai", sealed); err != nil || got != "sk-secret" {
		t.Fatalf("open: %q %v", got, err)
	}
	if _, err := box.open("other", sealed); err == nil {
		t.Fatal("a secret sealed for one upstream opened for another")
	}
	if got, err := box.open("x", plainPrefix+"p"); err != nil || got != "p" {
		t.Fatal("plain secrets stay readable once a key is configured")
	}
	if _, err := box.open("x", "garbage"); err == nil {
		t.Fatal("unknown format accepted")
	}
	none, _ := newSecretBox(nil)
	if _, err := none.open("openai", sealed); err != errNoSecretKey {
		t.Fatalf("open without key: %v", err)
	}
}

func TestLoadUpstreamsFile(t *testing.T) {
	dir := t.TempDir()
	write := func(s string) string {
		p := filepath.Join(dir, "u.json")
		must(t, os.WriteFile(p, []byte(s), 0o600))
		return p
	}
	us, err := LoadUpstreamsFile(write(`{"upstreams":[{"name":"openai","base_url":"https://api.openai.com/v1/","api_key":"sk-x","models":["gpt-4o"]},{"name":"local","base_url":"http://127.0.0.1:11434/v1","models":["llama3.1:8b"]}]}`))
	must(t, err)
	if len(us) != 2 || us[0].BaseURL != "https://api.openai.com/v1" || us[1].APIKey != "" {
		t.Fatalf("%+v", us)
	}
	for _, bad := range []string{
		`{"upstreams":[{"name":"a","base_url":"http://x/v1","models":["m"],"apikey":"typo"}]}`,
		`{"upstreams":[{"name":"a","base_url":"http://x/v1","models":["m"]},{"name":"a","base_url":"http://y/v1","models":["m"]}]}`,
		`{"upstreams":[{"name":"a","base_url":"nope","models":["m"]}]}`,
		`not json`,
	} {
		if _, err := LoadUpstreamsFile(write(bad)); err == nil {
			t.Fatalf("accepted %s", bad)
		}
	}
	if _, err := LoadUpstreamsFile(filepath.Join(dir, "missing.json")); err == nil {
		t.Fatal("a missing file was accepted")
	}
}

// PATCH /api/v1/workspaces/{id}/keys/{key_id} changes allowed models, rpm and tpm.
func TestPatchKeyLimits(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		e := newEnv(t, db, clk, envOpts{grant: money.Scale})
		path := "/api/v1/workspaces/" + e.ws.ID + "/keys/" + e.key.ID
		status, b := e.admin("PATCH", path, `{"rpm":5,"allowed_models":["gpt-4o","gpt-4o"]}`)
		if status != 200 || !bytes.Contains(b, []byte(`"rpm":5`)) || !bytes.Contains(b, []byte(`"allowed_models":["gpt-4o"]`)) || !bytes.Contains(b, []byte(`"tpm":0`)) {
			t.Fatalf("patch: %d %s", status, b)
		}
		status, b = e.admin("PATCH", path, `{"tpm":1000}`)
		if status != 200 || !bytes.Contains(b, []byte(`"rpm":5`)) || !bytes.Contains(b, []byte(`"tpm":1000`)) {
			t.Fatalf("partial patch: %d %s", status, b)
		}
		// A change through PATCH applies at once on this node (the key cache forgets it).
		if status, _ = e.admin("PATCH", path, `{"allowed_models":["text-embedding-3-small"]}`); status != 200 {
			t.Fatal("patch models")
		}
		resp, rb := e.post("/v1/chat/completions", fixedBody)
		wantError(t, resp, rb, 403, "model_not_allowed")
		for _, c := range []struct {
			path, body, code string
			status           int
		}{
			{path, `{"rpm":-1}`, "invalid_rpm", 400},
			{path, `{"tpm":-5}`, "invalid_tpm", 400},
			{path, `{"allowed_models":["bad model"]}`, "invalid_allowed_models", 400},
			{path, `{"name":"renamed"}`, "invalid_json", 400},
			{"/api/v1/workspaces/" + e.ws.ID + "/keys/key_nope", `{"rpm":1}`, "key_not_found", 404},
			{"/api/v1/workspaces/ws_other/keys/" + e.key.ID, `{"rpm":1}`, "key_not_found", 404},
		} {
			status, b := e.admin("PATCH", c.path, c.body)
			wantAdminError(t, status, b, c.status, c.code)
		}
		keys, err := e.team.Keys(context.Background(), e.ws.ID)
		must(t, err)
		if k := keys[0]; k.RPM != 5 || k.TPM != 1000 || len(k.AllowedModels) != 1 {
			t.Fatalf("stored key %+v", k)
		}
	})
}
