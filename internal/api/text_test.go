package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestTextRule: a NUL byte, another control character or invalid UTF-8 in any text field
// the API takes (body fields, path segments, cursors and filters) is a 400 invalid_text
// that stores nothing, the same on SQLite and PostgreSQL. (Before, each was a 500 on
// PostgreSQL, whose text columns refuse NUL, and was stored as is on SQLite.)
func TestTextRule(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ws := e.workspace(map[string]any{"name": "Acme"}).ID
		key := e.key(ws, map[string]any{"name": "ci"})
		e.price("gpt-a", "1.00", "0.50", "2.00")
		e.grant(ws, "10.00", "g")
		w := "/api/v1/workspaces/" + ws
		nul := url.PathEscape("a\x00b")
		for _, c := range []struct{ method, path, token, body string }{
			{"POST", "/api/v1/workspaces", operatorToken, `{"name":"a\u0000b"}`},
			{"POST", "/api/v1/workspaces", operatorToken, `{"name":"a\u001bb"}`},
			{"POST", "/api/v1/workspaces", operatorToken, `{"name":"a\nb"}`},
			{"POST", w + "/keys", operatorToken, `{"name":"a\u0000b"}`},
			{"POST", w + "/keys", operatorToken, `{"name":"ci","project":"p\u0000"}`},
			{"POST", w + "/keys", operatorToken, `{"name":"ci","member_id":"\u0000"}`},
			{"POST", w + "/grants", operatorToken, `{"amount":"1","idempotency_key":"k\u0000"}`},
			{"POST", w + "/grants", operatorToken, `{"amount":"1","idempotency_key":"k2","note":"n\u0000"}`},
			{"POST", w + "/invitations", operatorToken, `{"email":"a\u0000@example.com","role":"member"}`},
			{"GET", "/api/v1/workspaces/" + nul, operatorToken, ""},
			{"GET", "/api/v1/workspaces/" + nul + "/balance", operatorToken, ""},
			{"GET", "/api/v1/workspaces/" + nul + "/usage", operatorToken, ""},
			{"GET", "/api/v1/workspaces/" + nul + "/keys", operatorToken, ""},
			{"DELETE", w + "/keys/" + nul, operatorToken, ""},
			{"PATCH", w + "/members/" + nul, operatorToken, `{"role":"admin"}`},
			{"DELETE", w + "/invitations/" + nul, operatorToken, ""},
			{"POST", "/api/v1/workspaces/" + nul + "/grants", operatorToken, `{"amount":"1","idempotency_key":"k3"}`},
			{"GET", w + "/transactions?cursor=" + nul, operatorToken, ""},
			{"GET", w + "/usage?projects=" + nul, operatorToken, ""},
			{"GET", w + "/usage?members=ok,a%00", key.Key, ""},
			{"GET", w + "/usage?models=a%1Bb", operatorToken, ""},
			{"GET", w + "/usage?tz=" + nul, operatorToken, ""},
			{"GET", "/v1/organization/costs?start_time=1&project_ids=" + nul + "&workspace_id=" + ws, operatorToken, ""},
			{"GET", "/v1/organization/usage/completions?start_time=1&page=" + nul + "&workspace_id=" + ws, operatorToken, ""},
			{"GET", "/v1/organization/usage/completions?start_time=1&workspace_id=" + nul, operatorToken, ""},
			{"PUT", "/api/v1/prices/" + nul, operatorToken, `{"input":"1","cached_input":"1","output":"1","effective_from":"2025-01-01T00:00:00Z"}`},
		} {
			var body any
			if c.body != "" {
				body = c.body
			}
			e.wantError(c.method, c.path, c.token, body, 400, "invalid_text")
		}

		// Nothing was stored: one workspace besides none, one key, one grant.
		var list struct {
			Workspaces []json.RawMessage `json:"workspaces"`
		}
		e.call("GET", "/api/v1/workspaces", operatorToken, nil, 200, &list)
		var keys struct {
			Keys []json.RawMessage `json:"keys"`
		}
		e.call("GET", w+"/keys", operatorToken, nil, 200, &keys)
		if len(list.Workspaces) != 1 || len(keys.Keys) != 1 {
			t.Fatalf("stored: %d workspaces, %d keys", len(list.Workspaces), len(keys.Keys))
		}
		if b := e.balance(ws); b.Balance != "10.000000" {
			t.Fatalf("balance %+v", b)
		}
		rep, err := e.db.Verify(context.Background())
		if err != nil || !rep.OK() {
			t.Fatalf("verify: %+v, %v", rep, err)
		}
	})
}

// TestEventsTextRule: in a batch, each event whose text breaks the rule is rejected alone
// with invalid_text (an id of spaces with invalid_id) while the others are applied; the
// rejected ones store nothing, and verify runs. (Before, one NUL failed the whole batch
// with a 500 on PostgreSQL, and an id with a NUL was stored on SQLite, after which
// verify could not run.)
func TestEventsTextRule(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ws := e.workspace(map[string]any{"name": "Acme"}).ID
		e.price("gpt-a", "1.00", "0.50", "2.00")
		e.grant(ws, "10.00", "g")
		key := e.key(ws, map[string]any{"name": "ci"})
		at := t0.Add(-time.Hour)
		with := func(id, field string, v any) map[string]any {
			m := ev(id, "gpt-a", at, 1_000_000, 0, 0)
			m[field] = v
			return m
		}
		batch := []any{
			ev("good-1", "gpt-a", at, 1_000_000, 0, 0),
			ev("nul\x00id", "gpt-a", at, 1_000_000, 0, 0),
			with("nul-project", "project", "p\x00"),
			with("nul-member", "member", "\x00"),
			with("ctl-member", "member", "a\x1bb"),
			with("nul-meta", "metadata", map[string]any{"note": "x\x00y"}),
			with("nul-meta-key", "metadata", map[string]any{"k\x00": 1}),
			with("nul-model", "model", "gpt-a\x00"),
			ev("   ", "gpt-a", at, 1_000_000, 0, 0),
			ev("\u200b", "gpt-a", at, 1_000_000, 0, 0),
			with("good-2", "metadata", map[string]any{"note": "line one\nline two\tok"}),
			ev("  good-3  ", "gpt-a", at, 1_000_000, 0, 0),
		}
		want := map[int]string{1: "invalid_text", 2: "invalid_text", 3: "invalid_text", 4: "invalid_text", 5: "invalid_text",
			6: "invalid_text", 7: "invalid_text", 8: "invalid_id", 9: "invalid_id"}
		res := e.send(key.Key, batch...)
		if res.Accepted != 3 || len(res.Rejected) != len(want) {
			t.Fatalf("accepted %d, rejected %+v", res.Accepted, res.Rejected)
		}
		for _, r := range res.Rejected {
			if want[r.Index] != r.Code || r.Error == "" {
				t.Errorf("event %d (%q): %s (%s), want %s", r.Index, r.ID, r.Code, r.Error, want[r.Index])
			}
		}
		if b := e.balance(ws); b.Balance != "7.000000" {
			t.Fatalf("balance %+v", b)
		}
		// The trimmed id is the event's id: the same event with spaces is a duplicate.
		if res := e.send(key.Key, ev("good-3", "gpt-a", at, 1_000_000, 0, 0)); res.Duplicates != 1 {
			t.Fatalf("trimmed id: %+v", res)
		}
		// The operator's events are held to the same rule.
		op := with("op-1", "workspace_id", ws)
		op["project"] = "p\x00"
		opWS := with("op-2", "workspace_id", "ws\x00")
		opKey := with("op-3", "workspace_id", ws)
		opKey["key_id"] = "key\x00"
		if res := e.send(operatorToken, op, opWS, opKey); res.Accepted != 0 || len(res.Rejected) != 3 ||
			res.Rejected[0].Code != "invalid_text" || res.Rejected[1].Code != "invalid_text" || res.Rejected[2].Code != "invalid_text" {
			t.Fatalf("operator: %+v", res)
		}
		rep, err := e.db.Verify(context.Background())
		if err != nil || !rep.OK() {
			t.Fatalf("verify: %+v, %v", rep, err)
		}
	})
}

// TestUsageTooManyValues: a filter list is bounded (100 values), so a query naming 40,000
// projects is a 400 too_many_values rather than a 500 (PostgreSQL takes at most 65,535
// parameters in one statement).
func TestUsageTooManyValues(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ws := e.workspace(map[string]any{"name": "Acme"}).ID
		w := "/api/v1/workspaces/" + ws
		list := func(n int) string {
			v := make([]string, n)
			for i := range v {
				v[i] = fmt.Sprintf("p%d", i)
			}
			return strings.Join(v, ",")
		}
		e.call("GET", w+"/usage?projects="+list(100), operatorToken, nil, 200, nil)
		for _, p := range []string{"projects", "models", "key_ids", "members"} {
			e.wantError("GET", w+"/usage?"+p+"="+list(101), operatorToken, nil, 400, "too_many_values")
		}
		e.wantError("GET", w+"/usage?projects="+list(40_000), operatorToken, nil, 400, "too_many_values")
		e.wantError("GET", "/v1/organization/costs?start_time=1&workspace_id="+ws+"&project_ids="+list(40_000), operatorToken, nil, 400, "too_many_values")
		e.wantError("GET", "/v1/organization/usage/completions?start_time=1&workspace_id="+ws+"&models="+list(101), operatorToken, nil, 400, "too_many_values")
	})
}
