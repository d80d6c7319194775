package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"testing"
	"time"
)

func TestServeSQLite(t *testing.T) {
	dsn, _ := sqliteDSN(t)
	testServe(t, dsn)
}

func TestServePostgres(t *testing.T) {
	testServe(t, postgresDSN(t))
}

// testServe runs the README's worked example against `spectra serve` on dsn, shuts it
// down, checks the database with `spectra verify`, then restarts with a reset token.
func testServe(t *testing.T, dsn string) {
	srv := startServe(t, nil, "--addr", "127.0.0.1:0", "--database", dsn)
	token := srv.stderr.waitFor(t, `(spectra_admin_[0-9a-z]+)`, srv.done)

	workedExample(t, srv.url, token)

	if err := srv.stop(); err != nil {
		t.Fatalf("serve returned %v; stderr:\n%s", err, srv.stderr)
	}
	if !strings.Contains(srv.stderr.String(), "msg=stopped") {
		t.Errorf("no clean stop logged:\n%s", srv.stderr)
	}
	out, _, err := runCmd(t, nil, "verify", "--database", dsn)
	if err != nil {
		t.Fatalf("verify after the worked example: %v\n%s", err, out)
	}

	// A reset token replaces the old one at the next start; the stored hash is reused.
	newToken, _, err := runCmd(t, nil, "admin-token", "--reset", "--database", dsn)
	if err != nil {
		t.Fatal(err)
	}
	newToken = strings.TrimSpace(newToken)
	srv = startServe(t, nil, "--addr", "127.0.0.1:0", "--database", dsn)
	srv.stderr.waitFor(t, `An admin token exists`, srv.done)
	if strings.Contains(srv.stderr.String(), "spectra_admin_") {
		t.Errorf("a later start printed a token:\n%s", srv.stderr)
	}
	if status, _ := call(t, "GET", srv.url+"/api/v1/workspaces", newToken, nil); status != http.StatusOK {
		t.Errorf("new token: status %d", status)
	}
	if status, body := call(t, "GET", srv.url+"/api/v1/workspaces", token, nil); status != http.StatusUnauthorized {
		t.Errorf("old token after reset: status %d %v", status, body)
	}
	if err := srv.stop(); err != nil {
		t.Fatal(err)
	}
}

// workedExample is the README's curl session, step by step, with its exact answers.
func workedExample(t *testing.T, url, token string) {
	t.Helper()
	expect := func(step string, got, want int, body map[string]any) {
		t.Helper()
		if got != want {
			t.Fatalf("%s: status %d, want %d: %v", step, got, want, body)
		}
	}
	status, body := call(t, "GET", url+"/healthz", "", nil)
	expect("healthz", status, 200, body)
	status, body = call(t, "GET", url+"/readyz", "", nil)
	expect("readyz", status, 200, body)

	status, ws := call(t, "POST", url+"/api/v1/workspaces", token, map[string]any{"name": "Acme"})
	expect("create workspace", status, 201, ws)
	id, _ := ws["id"].(string)
	if id == "" || ws["name"] != "Acme" {
		t.Fatalf("workspace: %v", ws)
	}
	wsURL := url + "/api/v1/workspaces/" + id

	status, body = call(t, "PUT", url+"/api/v1/prices/gpt-4.1", token, map[string]any{
		"input": "2.00", "cached_input": "0.50", "output": "8.00", "effective_from": "2026-01-01T00:00:00Z"})
	if status != 200 && status != 201 {
		t.Fatalf("set price: status %d: %v", status, body)
	}
	status, body = call(t, "PUT", url+"/api/v1/prices/gemini-2.5-pro", token, map[string]any{
		"input": "1.25", "cached_input": "0.3125", "output": "10.00", "effective_from": "2026-01-01T00:00:00Z",
		"tiers": []map[string]any{{"above_input_tokens": 200000, "input": "2.50", "cached_input": "0.625", "output": "15.00"}}})
	if status != 200 && status != 201 {
		t.Fatalf("set the tiered price: status %d: %v", status, body)
	}

	grant := map[string]any{"amount": "25.00", "idempotency_key": "welcome-credit", "note": "Welcome credit"}
	status, body = call(t, "POST", wsURL+"/grants", token, grant)
	expect("grant", status, 201, body)
	status, body = call(t, "POST", wsURL+"/grants", token, grant)
	expect("grant again", status, 200, body)
	promo := map[string]any{"amount": "5.00", "kind": "promotional", "expires_at": "2027-01-31T00:00:00Z",
		"idempotency_key": "launch-promo", "note": "Launch promotion"}
	status, body = call(t, "POST", wsURL+"/grants", token, promo)
	expect("promotional grant", status, 201, body)
	if words(body["credit_kind"], body["expires_at"]) != "promotional 2027-01-31T00:00:00Z" {
		t.Errorf("promotional grant: %v", body)
	}

	status, key := call(t, "POST", wsURL+"/keys", token, map[string]any{"name": "backend", "kind": "inference"})
	expect("create key", status, 201, key)
	secret, _ := key["key"].(string)
	if !strings.HasPrefix(secret, "sk-") {
		t.Fatalf("key: %v", key)
	}

	events := map[string]any{"events": []map[string]any{
		{"id": "req-001", "timestamp": "2026-03-02T09:15:00Z", "model": "gpt-4.1", "input_tokens": 1200,
			"cached_input_tokens": 200, "output_tokens": 300, "project": "chatbot", "member": "alice"},
		{"id": "req-002", "timestamp": "2026-03-02T10:40:00Z", "model": "gpt-4.1", "input_tokens": 5000,
			"output_tokens": 1000, "reasoning_tokens": 400, "project": "chatbot", "member": "bob"},
		{"id": "req-003", "timestamp": "2026-03-02T11:05:00Z", "model": "gpt-9", "input_tokens": 10, "output_tokens": 10},
		{"id": "req-004", "timestamp": "2026-03-02T11:30:00Z", "model": "gemini-2.5-pro", "input_tokens": 250000,
			"output_tokens": 2000, "project": "research", "member": "alice"},
	}}
	status, res := call(t, "POST", url+"/api/v1/events", secret, events)
	expect("events", status, 200, res)
	if words(res["accepted"], res["duplicates"]) != "3 0" {
		t.Errorf("events: %v", res)
	}
	rejected, _ := res["rejected"].([]any)
	if len(rejected) != 1 || fmt.Sprint(rejected[0].(map[string]any)["index"]) != "2" {
		t.Errorf("rejected: %v", res["rejected"])
	}
	status, res = call(t, "POST", url+"/api/v1/events", secret, events)
	expect("events again", status, 200, res)
	if words(res["accepted"], res["duplicates"]) != "0 3" {
		t.Errorf("events replayed: %v", res)
	}

	// 1000×2.00 + 200×0.50 + 300×8.00 = 4500 and 5000×2.00 + 1000×8.00 = 18000, per 1M;
	// req-004 is above the 200,000-token tier: 250,000×2.50 + 2,000×15.00 = 655000. The
	// 0.677500 is drawn on the promotional lot first.
	status, bal := call(t, "GET", wsURL+"/balance", token, nil)
	expect("balance", status, 200, bal)
	if got := words(bal["balance"], bal["held"], bal["available"], bal["paid"], bal["promotional"], bal["currency"]); got != "29.322500 0.000000 29.322500 25.000000 4.322500 USD" {
		t.Errorf("balance: %s", got)
	}
	status, credits := call(t, "GET", wsURL+"/credits", token, nil)
	expect("credits", status, 200, credits)
	lots, _ := credits["credits"].([]any)
	if len(lots) != 2 {
		t.Fatalf("credits: %v", credits)
	}
	first, second := lots[0].(map[string]any), lots[1].(map[string]any)
	if got := words(first["kind"], first["remaining"], first["used"], second["kind"], second["remaining"]); got != "promotional 4.322500 0.677500 paid 25.000000" {
		t.Errorf("credits: %s", got)
	}
	status, detail := call(t, "GET", wsURL+"/requests/req-004", token, nil)
	expect("request detail", status, 200, detail)
	if got := words(detail["cost"], detail["context_tier_above_input_tokens"], detail["billed_service_tier"]); got != "0.655000 200000 default" {
		t.Errorf("req-004: %s", got)
	}

	status, usage := call(t, "GET", wsURL+"/usage?start=2026-03-01T00:00:00Z&end=2026-03-03T00:00:00Z&bucket=1d&group_by=model", token, nil)
	expect("usage", status, 200, usage)
	buckets, _ := usage["buckets"].([]any)
	if len(buckets) != 2 {
		t.Fatalf("usage buckets: %v", usage)
	}
	day2 := buckets[1].(map[string]any)["results"].([]any)
	if len(day2) != 2 {
		t.Fatalf("usage on 2026-03-02: %v", day2)
	}
	for i, want := range []string{"gemini-2.5-pro 1 250000 0 2000 0 0.655000", "gpt-4.1 2 6200 200 1300 400 0.022500"} {
		r := day2[i].(map[string]any)
		if got := words(r["model"], r["requests"], r["input_tokens"], r["cached_input_tokens"], r["output_tokens"], r["reasoning_tokens"], r["cost"]); got != want {
			t.Errorf("usage: %s, want %s", got, want)
		}
	}

	status, body = call(t, "GET", url+"/metrics", "", nil)
	expect("metrics", status, 200, body)
	if m := fmt.Sprint(body["_body"]); !strings.Contains(m, "go_goroutines") || !strings.Contains(m, "process_") {
		t.Errorf("metrics lack the Go and process collectors")
	}
}

// A request in flight when shutdown begins is answered before serve returns.
func TestServeDrainsInFlightRequests(t *testing.T) {
	dsn, _ := sqliteDSN(t)
	token := "test-operator-token-0123456789"
	srv := startServe(t, map[string]string{"SPECTRA_ADMIN_TOKEN": token}, "--addr", "127.0.0.1:0", "--database", dsn)

	// The body is sent only once the handler is reading it (Expect: 100-continue).
	pr, pw := io.Pipe()
	req, err := http.NewRequest("POST", srv.url+"/api/v1/workspaces", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Expect", "100-continue")
	reading := make(chan struct{})
	req = req.WithContext(httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		Got100Continue: func() { close(reading) },
	}))
	client := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: time.Hour}}
	type answer struct {
		status int
		err    error
	}
	answered := make(chan answer, 1)
	go func() {
		resp, err := client.Do(req)
		if err != nil {
			answered <- answer{err: err}
			return
		}
		resp.Body.Close()
		answered <- answer{status: resp.StatusCode}
	}()
	<-reading

	srv.cancel() // SIGTERM
	srv.stderr.waitFor(t, `shutting down`, srv.done)
	host := strings.TrimPrefix(srv.url, "http://")
	for { // wait until the listener is closed: new connections are refused
		c, err := net.Dial("tcp", host)
		if err != nil {
			break
		}
		c.Close()
	}
	select {
	case <-srv.done:
		t.Fatal("serve returned with a request in flight")
	default:
	}

	if _, err := io.WriteString(pw, `{"name":"Late but served"}`); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	a := <-answered
	if a.err != nil || a.status != http.StatusCreated {
		t.Fatalf("in-flight request: status %d, err %v", a.status, a.err)
	}
	<-srv.done
	if srv.err != nil {
		t.Fatalf("serve: %v", srv.err)
	}
}

func TestServeRefusesAnotherCurrency(t *testing.T) {
	dsn, _ := sqliteDSN(t)
	if _, _, err := runCmd(t, nil, "migrate", "--database", dsn); err != nil {
		t.Fatal(err)
	}
	srv := startServe(t, nil, "--addr", "127.0.0.1:0", "--database", dsn)
	if err := srv.stop(); err != nil {
		t.Fatal(err)
	}
	_, _, err := runCmd(t, map[string]string{"SPECTRA_CURRENCY": "EUR"}, "serve", "--addr", "127.0.0.1:0", "--database", dsn)
	if err == nil || !strings.Contains(err.Error(), "keeps its amounts in USD, but the configured currency is EUR") {
		t.Fatalf("serve with another currency: %v", err)
	}
}

func TestServeAddressInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dsn, _ := sqliteDSN(t)
	_, _, err = runCmd(t, nil, "serve", "--addr", ln.Addr().String(), "--database", dsn)
	if err == nil || !strings.Contains(err.Error(), "listen on "+ln.Addr().String()) {
		t.Fatalf("serve on a taken address: %v", err)
	}
}

// words formats values separated by spaces.
func words(vals ...any) string {
	s := make([]string, len(vals))
	for i, v := range vals {
		s[i] = fmt.Sprint(v)
	}
	return strings.Join(s, " ")
}
