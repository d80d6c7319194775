package api

import (
	"strings"
	"testing"
)

// topFields keeps a body's top-level fields as text, hides every secret at any depth
// (only "set" or "none"), keeps booleans and idempotency_key, and keeps the fields that
// end before a body cut short.
func TestAuditTopFields(t *testing.T) {
	body := `{"name":"up","api_key":"sk-1","client_secret":"","Password":null,"has_api_key":true,"rpm":60,
		"idempotency_key":"k1","key":"sk-2","headers":{"X-Api-Key":"sk-3","x-region":"eu","nested":[{"token":"sk-4"}]}}`
	got := topFields([]byte(body), true)
	want := map[string]string{"name": "up", "api_key": "set", "client_secret": "none", "Password": "none", "has_api_key": "true",
		"rpm": "60", "idempotency_key": "k1", "key": "set",
		"headers": `{"X-Api-Key":"set","nested":[{"token":"set"}],"x-region":"eu"}`}
	if len(got) != len(want) {
		t.Errorf("fields: %v", got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	for _, v := range got {
		if strings.Contains(v, "sk-") {
			t.Errorf("a secret shows: %v", got)
		}
	}
	if r := topFields([]byte(body), false); r["headers"] != "" || r["name"] != "up" {
		t.Errorf("answer's fields: %v", r)
	}
	cut := topFields([]byte(`{"a":"1","b":"tw`), true)
	if len(cut) != 1 || cut["a"] != "1" {
		t.Errorf("cut short: %v", cut)
	}
	if topFields([]byte(`[1]`), true) != nil || topFields(nil, true) != nil {
		t.Error("not an object")
	}
}
