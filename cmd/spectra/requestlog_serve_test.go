package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"spectra/internal/gateway/fakeupstream"
)

// TestServeLogsRefusals: through `spectra serve`, a 402 (no balance), an upstream 500
// and a 429 each appear in the request log of the API and of the page, with their
// status and code at no cost, and the usage stays empty (both databases).
func TestServeLogsRefusals(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { dsn, _ := sqliteDSN(t); testServeLogsRefusals(t, dsn) })
	t.Run("postgres", func(t *testing.T) { testServeLogsRefusals(t, postgresDSN(t)) })
}

func testServeLogsRefusals(t *testing.T, dsn string) {
	const token = "test-operator-token-0123456789"
	up := fakeupstream.New(fakeupstream.Options{Models: []string{"gpt-4o"}})
	defer up.Close()
	srv := startServe(t, map[string]string{"SPECTRA_ADMIN_TOKEN": token}, "--addr", "127.0.0.1:0", "--database", dsn)
	expect := func(step string, status, want int, body map[string]any) {
		t.Helper()
		if status != want {
			t.Fatalf("%s: %d, want %d: %v", step, status, want, body)
		}
	}
	status, ws := call(t, "POST", srv.url+"/api/v1/workspaces", token, map[string]any{"name": "Acme"})
	expect("workspace", status, 201, ws)
	wsURL := srv.url + "/api/v1/workspaces/" + ws["id"].(string)
	status, body := call(t, "POST", srv.url+"/api/v1/upstreams", token, map[string]any{"name": "fake", "base_url": up.URL, "models": []string{"gpt-4o"}})
	if status != 200 && status != 201 {
		t.Fatalf("upstream: %d %v", status, body)
	}
	status, body = call(t, "PUT", srv.url+"/api/v1/prices/gpt-4o", token, map[string]any{"input": "2.50", "output": "10.00", "effective_from": "2026-01-01T00:00:00Z"})
	if status != 200 && status != 201 {
		t.Fatalf("price: %d %v", status, body)
	}
	status, key := call(t, "POST", wsURL+"/keys", token, map[string]any{"name": "backend", "kind": "inference"})
	expect("key", status, 201, key)
	secret := key["key"].(string)
	chat := map[string]any{"model": "gpt-4o", "max_tokens": 50, "messages": []map[string]any{{"role": "user", "content": "hi"}}}
	ask := func() (int, string) {
		t.Helper()
		status, body := call(t, "POST", srv.url+"/v1/chat/completions", secret, chat)
		e, _ := body["error"].(map[string]any)
		code, _ := e["code"].(string)
		return status, code
	}
	// 402: the workspace has no balance.
	if status, code := ask(); status != 402 || code != "insufficient_balance" {
		t.Fatalf("no balance: %d %s", status, code)
	}
	status, body = call(t, "POST", wsURL+"/grants", token, map[string]any{"amount": "10.00", "idempotency_key": "g1"})
	expect("grant", status, 201, body)
	// The upstream answers 500.
	up.SetFailStatus(500)
	if status, _ := ask(); status != 500 {
		t.Fatalf("upstream 500: %d", status)
	}
	// 429: one request a minute, and the upstream still fails (nothing is charged).
	status, body = call(t, "PATCH", wsURL+"/keys/"+key["id"].(string), token, map[string]any{"rpm": 1})
	expect("rpm", status, 200, body)
	got429 := false
	for range 4 {
		if status, code := ask(); status == 429 && code == "rate_limit_exceeded" {
			got429 = true
			break
		}
	}
	if !got429 {
		t.Fatal("no 429")
	}

	// The refusals are written within a second or so.
	codes := map[string]string{}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		status, page := call(t, "GET", wsURL+"/requests?limit=500", token, nil)
		expect("requests", status, 200, page)
		codes = map[string]string{}
		for _, d := range page["data"].([]any) {
			r := d.(map[string]any)
			if r["cost"] != "0.000000" || r["status"] == "answered" {
				t.Fatalf("a refusal with a cost, or an answered request: %v", r)
			}
			codes[r["code"].(string)] = fmt.Sprint(r["http_status"])
		}
		if codes["insufficient_balance"] != "" && codes["upstream_error"] != "" && codes["rate_limit_exceeded"] != "" {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if codes["insufficient_balance"] != "402" || codes["upstream_error"] != "500" || codes["rate_limit_exceeded"] != "429" {
		t.Fatalf("the log has %v", codes)
	}
	// The page shows them too (the operator's token opens the dashboard).
	req, _ := http.NewRequest("GET", srv.url+"/w/"+ws["id"].(string)+"/requests?status=refused", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			break
		}
	}
	resp.Body.Close()
	page := sb.String()
	if resp.StatusCode != 200 || !strings.Contains(page, "insufficient_balance") || !strings.Contains(page, "rate_limit_exceeded") || strings.Contains(page, ">upstream_error<") {
		t.Fatalf("the page: %d\n%.2000s", resp.StatusCode, page)
	}
	// No usage, no charge: only the grant moved the balance.
	status, bal := call(t, "GET", wsURL+"/balance", token, nil)
	expect("balance", status, 200, bal)
	if bal["balance"] != "10.000000" {
		t.Fatalf("balance %v", bal)
	}
	status, usage := call(t, "GET", wsURL+"/usage?bucket=1d", token, nil)
	expect("usage", status, 200, usage)
	for _, b := range usage["buckets"].([]any) {
		if rs := b.(map[string]any)["results"].([]any); len(rs) != 0 {
			t.Fatalf("usage counts a refusal: %v", rs)
		}
	}
	status, body = call(t, "GET", srv.url+"/metrics", "", nil)
	expect("metrics", status, 200, body)
	if m := fmt.Sprint(body["_body"]); !strings.Contains(m, "spectra_refusals_written_total") || !strings.Contains(m, "spectra_refusals_dropped_total 0") {
		t.Errorf("metrics lack the refusals' counters")
	}
	if err := srv.stop(); err != nil {
		t.Fatal(err)
	}
	if out, _, err := runCmd(t, nil, "verify", "--database", dsn); err != nil {
		t.Fatalf("verify: %v\n%s", err, out)
	}
}
