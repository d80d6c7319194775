package main

import (
	"net/http"
	"testing"
	"time"
)

// A served deployment sends a webhook test event at once (the notifier loop is nudged),
// signed so the official Standard Webhooks library verifies it, and lists it delivered.
func TestServeDeliversWebhooks(t *testing.T) {
	receiver := newHookReceiver(t)
	dsn, _ := sqliteDSN(t)
	const token = "test-admin-token-0123456789"
	r := startServe(t, map[string]string{"SPECTRA_DATABASE_URL": dsn, "SPECTRA_ADMIN_TOKEN": token, "SPECTRA_ADDR": "127.0.0.1:0",
		"SPECTRA_WEBHOOK_ALLOW_PRIVATE": "true"})
	st, ws := call(t, "POST", r.url+"/api/v1/workspaces", token, map[string]any{"name": "Acme", "timezone": "UTC"})
	if st != http.StatusCreated {
		t.Fatalf("create workspace: %d %v", st, ws)
	}
	hooks := r.url + "/api/v1/workspaces/" + ws["id"].(string) + "/webhooks"
	// An admin key of the workspace manages its webhooks; an inference key may not.
	keys := r.url + "/api/v1/workspaces/" + ws["id"].(string) + "/keys"
	_, admin := call(t, "POST", keys, token, map[string]any{"name": "ops", "kind": "admin"})
	_, inference := call(t, "POST", keys, token, map[string]any{"name": "app"})
	if st, body := call(t, "GET", hooks, inference["key"].(string), nil); st != http.StatusForbidden {
		t.Fatalf("inference key lists webhooks: %d %v", st, body)
	}
	st, ep := call(t, "POST", hooks, admin["key"].(string), map[string]any{"url": receiver.URL})
	if st != http.StatusCreated {
		t.Fatalf("create webhook: %d %v", st, ep)
	}
	receiver.setSecret(ep["secret"].(string))
	if st, d := call(t, "POST", hooks+"/"+ep["id"].(string)+"/test", token, nil); st != http.StatusAccepted {
		t.Fatalf("test: %d %v", st, d)
	}
	select {
	case h := <-receiver.got:
		if !h.verified {
			t.Fatal("the receiver could not verify the signature")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no webhook arrived")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, page := call(t, "GET", hooks+"/"+ep["id"].(string)+"/deliveries", token, nil)
		ds, _ := page["deliveries"].([]any)
		if len(ds) == 1 && ds[0].(map[string]any)["status"] == "delivered" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("deliveries: %v", page)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestWebhookAllowPrivateSetting(t *testing.T) {
	cfg, err := parseServe(t, nil, map[string]string{"SPECTRA_WEBHOOK_ALLOW_PRIVATE": "true"})
	if err != nil || !cfg.Services.WebhookAllowPrivate {
		t.Fatalf("true: %v %v", cfg.Services.WebhookAllowPrivate, err)
	}
	if cfg, _ := parseServe(t, nil, nil); cfg.Services.WebhookAllowPrivate {
		t.Fatal("allowed by default")
	}
	if _, err := parseServe(t, nil, map[string]string{"SPECTRA_WEBHOOK_ALLOW_PRIVATE": "maybe"}); err == nil {
		t.Fatal("maybe accepted")
	}
}
