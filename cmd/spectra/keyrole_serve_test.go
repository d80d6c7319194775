package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestServeDemotedAdminKeys (issue 11, item 10) drives serve end to end: an admin's
// admin key pays (redeems a code) and reads; once the admin is demoted to member through
// the API, the same key still reads (a member reads usage and billing) but no longer
// pays (403 key_role_forbidden); their inference key keeps working on the gateway as a
// member, and stops on the very next request once they are a viewer, on the gateway
// and for sending events alike.
func TestServeDemotedAdminKeys(t *testing.T) {
	dsn, _ := sqliteDSN(t)
	const admin = "test-admin-token-0123456789"
	r := startServe(t, map[string]string{"SPECTRA_DATABASE_URL": dsn, "SPECTRA_ADMIN_TOKEN": admin, "SPECTRA_ADDR": "127.0.0.1:0",
		"SPECTRA_PUBLIC_URL": "http://spectra.test"})
	st, ws := call(t, "POST", r.url+"/api/v1/workspaces", admin, map[string]any{"name": "Acme"})
	if st != 201 {
		t.Fatalf("workspace: %d %v", st, ws)
	}
	wsURL := r.url + "/api/v1/workspaces/" + ws["id"].(string)
	for i, who := range []struct{ email, role string }{{"owner@acme.test", "owner"}, {"ann@acme.test", "admin"}} {
		st, inv := call(t, "POST", wsURL+"/invitations", admin, map[string]any{"email": who.email, "role": who.role})
		if st != 201 {
			t.Fatalf("invitation: %d %v", st, inv)
		}
		acceptInvite(t, r, inv["link"].(string), "http://spectra.test", []string{"Owner", "Ann"}[i])
	}
	st, members := call(t, "GET", wsURL+"/members", admin, nil)
	var ann string
	list, _ := members["members"].([]any)
	for _, m := range list {
		if m := m.(map[string]any); m["email"] == "ann@acme.test" {
			ann = m["user_id"].(string)
		}
	}
	if st != 200 || ann == "" {
		t.Fatalf("members: %d %v", st, members)
	}
	newKey := func(kind string) string {
		t.Helper()
		st, key := call(t, "POST", wsURL+"/keys", admin, map[string]any{"name": "ann " + kind, "kind": kind, "member_id": ann, "project": "prod"})
		if st != 201 {
			t.Fatalf("key: %d %v", st, key)
		}
		return key["key"].(string)
	}
	adminKey, inferKey := newKey("admin"), newKey("inference")
	setRole := func(role string) {
		t.Helper()
		if st, out := call(t, "PATCH", wsURL+"/members/"+ann, admin, map[string]any{"role": role}); st != 200 {
			t.Fatalf("role %s: %d %v", role, st, out)
		}
	}
	code := func(out map[string]any) string {
		e, _ := out["error"].(map[string]any)
		c, _ := e["code"].(string)
		return c
	}
	pays := func() (int, string) {
		st, out := call(t, "POST", wsURL+"/redeem", adminKey, map[string]any{"code": "NO-SUCH-CODE"})
		return st, code(out)
	}
	reads := func() int {
		st, _ := call(t, "GET", wsURL+"/balance", adminKey, nil)
		return st
	}
	gateway := func() (int, string) {
		req, _ := http.NewRequest("POST", r.url+"/v1/chat/completions", strings.NewReader(`{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`))
		req.Header.Set("Authorization", "Bearer "+inferKey)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(b)
	}
	events := func() (int, string) {
		st, out := call(t, "POST", r.url+"/api/v1/events", inferKey, map[string]any{"events": []any{}})
		return st, code(out)
	}

	// An admin: the admin key reaches the code lookup (no such code), reads; the
	// inference key is let through to the gateway's routing.
	if st, c := pays(); st != 404 || c != "code_not_found" {
		t.Fatalf("an admin's key redeeming: %d %s", st, c)
	}
	if st := reads(); st != 200 {
		t.Fatalf("an admin's key reading: %d", st)
	}
	if st, b := gateway(); st == 401 || st == 403 {
		t.Fatalf("an admin's inference key: %d %s", st, b)
	}

	setRole("member")
	if st, c := pays(); st != 403 || c != "key_role_forbidden" {
		t.Fatalf("a demoted admin's admin key redeeming: %d %s, want 403 key_role_forbidden", st, c)
	}
	if st, out := call(t, "PUT", wsURL+"/auto-recharge", adminKey, map[string]any{"enabled": false}); st != 403 || code(out) != "key_role_forbidden" {
		t.Fatalf("a demoted admin's admin key changing auto-recharge: %d %v", st, out)
	}
	if st := reads(); st != 200 {
		t.Fatalf("a member's admin key reading: %d", st)
	}
	if st, b := gateway(); st == 401 || st == 403 {
		t.Fatalf("a member's inference key: %d %s", st, b)
	}
	if st, c := events(); st != 200 {
		t.Fatalf("a member's inference key sending events: %d %s", st, c)
	}

	setRole("viewer")
	if st, b := gateway(); st != 403 || !strings.Contains(b, `"code":"key_role_forbidden"`) {
		t.Fatalf("a viewer's inference key on the gateway: %d %s, want 403 key_role_forbidden at once", st, b)
	}
	if st, c := events(); st != 403 || c != "key_role_forbidden" {
		t.Fatalf("a viewer's inference key sending events: %d %s", st, c)
	}

	setRole("admin")
	if st, c := pays(); st != 404 || c != "code_not_found" {
		t.Fatalf("promoted again, redeeming: %d %s", st, c)
	}
	if st, b := gateway(); st == 401 || st == 403 {
		t.Fatalf("promoted again, the inference key: %d %s", st, b)
	}
}
