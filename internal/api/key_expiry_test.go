package api_test

import (
	"testing"
	"time"
)

// TestKeyExpiry: a key created with expires_at sends events until then; past it the
// event API refuses it with 401 key_expired (not invalid_api_key), and so is an admin
// key on its routes. An expiry in the past, or one that is not a time, is refused at
// creation with invalid_expires_at.
func TestKeyExpiry(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ws := e.workspace(map[string]any{"name": "Acme"}).ID
		at := e.clock.Now().Add(time.Hour).Format(time.RFC3339)
		infer := e.key(ws, map[string]any{"name": "ci", "expires_at": at})
		admin := e.key(ws, map[string]any{"name": "admin", "kind": "admin", "expires_at": at})
		r := e.call("GET", "/api/v1/workspaces/"+ws+"/keys", admin.Key, nil, 200, nil)
		var list struct {
			Keys []struct {
				ID        string     `json:"id"`
				ExpiresAt *time.Time `json:"expires_at"`
			} `json:"keys"`
		}
		e.call("GET", "/api/v1/workspaces/"+ws+"/keys", admin.Key, nil, 200, &list)
		for _, k := range list.Keys {
			if k.ExpiresAt == nil || k.ExpiresAt.Format(time.RFC3339) != at {
				t.Fatalf("listed expiry of %s: %v, want %s (%s)", k.ID, k.ExpiresAt, at, r.body)
			}
		}
		e.call("POST", "/api/v1/events", infer.Key, map[string]any{"events": []any{}}, 200, nil)

		e.clock.Advance(time.Hour)
		e.wantError("POST", "/api/v1/events", infer.Key, `{"events":[]}`, 401, "key_expired")
		e.wantError("GET", "/api/v1/workspaces/"+ws+"/keys", admin.Key, nil, 401, "key_expired")

		past := e.clock.Now().Add(-time.Second).Format(time.RFC3339)
		e.wantError("POST", "/api/v1/workspaces/"+ws+"/keys", operatorToken, map[string]any{"name": "old", "expires_at": past}, 400, "invalid_expires_at")
		e.wantError("POST", "/api/v1/workspaces/"+ws+"/keys", operatorToken, map[string]any{"name": "old", "expires_at": "tomorrow"}, 400, "invalid_expires_at")
	})
}
