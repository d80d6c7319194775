package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"spectra/internal/errs"
	"spectra/internal/money"
	"spectra/internal/pricing"
	"spectra/internal/store"
	"spectra/internal/team"
)

// wantCode fails t unless err has code ("" for none).
func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if errs.CodeOf(err) != code || (code == "") != (err == nil) {
		t.Fatalf("got %v, want %q", err, code)
	}
}

// Operators register, list and delete upstreams; secrets are sealed at rest and never
// shown back; a model is routed as soon as its upstream is registered. (The routes are
// gateway/gatewayhttp's, tested there.)
func TestUpstreamAdmin(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		key := bytes.Repeat([]byte{7}, 32)
		e := newEnv(t, db, clk, envOpts{grant: money.Scale, secretKey: key,
			files: []Upstream{{Name: "from-file", BaseURL: "http://127.0.0.1:1/v1", Models: []string{"file-model"}}}})
		ctx := context.Background()
		must(t, db.AddPrice(ctx, pricing.Price{Model: "gpt-4o-mini", Input: 150_000, Output: 600_000, EffectiveFrom: clk.Now().Add(-time.Hour)}))

		resp2, b := e.post("/v1/chat/completions", `{"model":"gpt-4o-mini","messages":[]}`)
		wantError(t, resp2, b, 404, "model_not_found")

		u := Upstream{Name: "second", BaseURL: e.up.URL + "/", APIKey: upstreamKey, Models: []string{"gpt-4o-mini", "gpt-4o-mini"}}
		v, created, err := e.gw.PutUpstream(ctx, u)
		must(t, err)
		if vb, _ := json.Marshal(v); !created || bytes.Contains(vb, []byte(upstreamKey)) || !v.HasAPIKey || v.CreatedAt == nil {
			t.Fatalf("create: %v %s", created, vb)
		}
		if _, created, err = e.gw.PutUpstream(ctx, u); err != nil || created {
			t.Fatalf("replace: %v %v", created, err)
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

		list, err := e.gw.Upstreams(ctx)
		must(t, err)
		lb, _ := json.Marshal(map[string]any{"upstreams": list})
		if bytes.Contains(lb, []byte(upstreamKey)) || bytes.Contains(lb, []byte(`"api_key"`)) ||
			!bytes.Contains(lb, []byte(`"source":"file"`)) || !bytes.Contains(lb, []byte(`"name":"second"`)) {
			t.Fatalf("list: %s", lb)
		}

		for _, c := range []struct {
			u    Upstream
			code string
		}{
			{Upstream{Name: "Bad Name", BaseURL: "http://x/v1", Models: []string{"m"}}, "invalid_upstream_name"},
			{Upstream{Name: "x", BaseURL: "ftp://x/v1", Models: []string{"m"}}, "invalid_base_url"},
			{Upstream{Name: "x", BaseURL: "http://u:p@x/v1", Models: []string{"m"}}, "invalid_base_url"},
			{Upstream{Name: "x", BaseURL: "http://x/v1", Models: []string{}}, "invalid_models"},
			{Upstream{Name: "x", BaseURL: "http://x/v1", Models: []string{"bad model"}}, "invalid_models"},
			{Upstream{Name: "from-file", BaseURL: "http://x/v1", Models: []string{"m"}}, "upstream_from_file"},
		} {
			_, _, err := e.gw.PutUpstream(ctx, c.u)
			wantCode(t, err, c.code)
		}

		must(t, e.gw.DeleteUpstream(ctx, "second"))
		wantCode(t, e.gw.DeleteUpstream(ctx, "second"), "upstream_not_found")
		wantCode(t, e.gw.DeleteUpstream(ctx, "from-file"), "upstream_from_file")
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
		list, err := e.gw.Upstreams(context.Background())
		must(t, err)
		if len(list) != 1 || list[0].Error != errNoSecretKey.Error() || !list[0].HasAPIKey {
			t.Fatalf("list: %+v", list)
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

// SetKeyLimits (PATCH /api/v1/workspaces/{id}/keys/{key_id}) changes allowed models,
// rpm and tpm, and applies at once on this node.
func TestPatchKeyLimits(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		e := newEnv(t, db, clk, envOpts{grant: money.Scale})
		ctx := context.Background()
		patch := func(ws, id string, l team.KeyLimits) ([]byte, error) {
			k, err := e.gw.SetKeyLimits(ctx, ws, id, l)
			b, _ := json.Marshal(k)
			return b, err
		}
		n := func(v int) *int { return &v }
		b, err := patch(e.ws.ID, e.key.ID, team.KeyLimits{RPM: n(5), AllowedModels: &[]string{"gpt-4o", "gpt-4o"}})
		if err != nil || !bytes.Contains(b, []byte(`"rpm":5`)) || !bytes.Contains(b, []byte(`"allowed_models":["gpt-4o"]`)) || !bytes.Contains(b, []byte(`"tpm":0`)) {
			t.Fatalf("patch: %v %s", err, b)
		}
		b, err = patch(e.ws.ID, e.key.ID, team.KeyLimits{TPM: n(1000)})
		if err != nil || !bytes.Contains(b, []byte(`"rpm":5`)) || !bytes.Contains(b, []byte(`"tpm":1000`)) {
			t.Fatalf("partial patch: %v %s", err, b)
		}
		// A change applies at once on this node (the key cache forgets it).
		_, err = patch(e.ws.ID, e.key.ID, team.KeyLimits{AllowedModels: &[]string{"text-embedding-3-small"}})
		must(t, err)
		resp, rb := e.post("/v1/chat/completions", fixedBody)
		wantError(t, resp, rb, 403, "model_not_allowed")
		for _, c := range []struct {
			ws, id string
			l      team.KeyLimits
			code   string
		}{
			{e.ws.ID, e.key.ID, team.KeyLimits{RPM: n(-1)}, "invalid_rpm"},
			{e.ws.ID, e.key.ID, team.KeyLimits{TPM: n(-5)}, "invalid_tpm"},
			{e.ws.ID, e.key.ID, team.KeyLimits{AllowedModels: &[]string{"bad model"}}, "invalid_allowed_models"},
			{e.ws.ID, "key_nope", team.KeyLimits{RPM: n(1)}, "key_not_found"},
			{"ws_other", e.key.ID, team.KeyLimits{RPM: n(1)}, "key_not_found"},
		} {
			_, err := patch(c.ws, c.id, c.l)
			wantCode(t, err, c.code)
		}
		keys, err := e.team.Keys(ctx, e.ws.ID)
		must(t, err)
		if k := keys[0]; k.RPM != 5 || k.TPM != 1000 || len(k.AllowedModels) != 1 {
			t.Fatalf("stored key %+v", k)
		}
	})
}
