package main

import (
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// The served OpenAPI document describes the core API, billing and the gateway's
// operator routes together, and every $ref in it resolves.
func TestServedOpenAPIDescribesEveryTransport(t *testing.T) {
	dsn, _ := sqliteDSN(t)
	r := startServe(t, map[string]string{"SPECTRA_DATABASE_URL": dsn, "SPECTRA_ADMIN_TOKEN": "test-admin-token-0123456789", "SPECTRA_ADDR": "127.0.0.1:0"})
	resp, err := http.Get(r.url + "/api/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var doc struct {
		Paths      map[string]any `json:"paths"`
		Components struct {
			Schemas map[string]any `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	for _, p := range []string{"/api/v1/workspaces/{id}/usage", "/api/v1/workspaces/{id}/checkout", "/webhooks/stripe",
		"/api/v1/upstreams", "/api/v1/upstreams/{name}", "/api/v1/workspaces/{id}/keys/{key_id}",
		"/api/v1/workspaces/{id}/webhooks", "/api/v1/workspaces/{id}/deliveries",
		"/api/v1/workspaces/{id}/budgets/{budget_id}", "/api/v1/workspaces/{id}/usage/forecast",
		"/api/v1/workspaces/{id}/requests", "/api/v1/workspaces/{id}/requests/{request_id}"} {
		if _, ok := doc.Paths[p]; !ok {
			t.Errorf("path %s is not described", p)
		}
	}
	for _, m := range regexp.MustCompile(`"\$ref":\s*"#/components/schemas/([^"]+)"`).FindAllStringSubmatch(string(raw), -1) {
		if _, ok := doc.Components.Schemas[m[1]]; !ok {
			t.Errorf("$ref to missing schema %s", m[1])
		}
	}
	// The dashboard and the gateway answer on the same server.
	for path, want := range map[string]int{"/login": 200, "/v1/models": 401} {
		resp, err := http.Get(r.url + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s = %d, want %d", path, resp.StatusCode, want)
		}
	}
	if !strings.Contains(r.stdout.String(), "/setup?token=") {
		t.Errorf("a fresh database should print the first-run setup link; stdout:\n%s", r.stdout.String())
	}
}
