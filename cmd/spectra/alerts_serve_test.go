package main

import (
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"spectra/internal/mail/smtptest"
)

// TestServeAlertsByEmailAndWebhook drives a budget alert through a served deployment end
// to end: usage ingested through the API crosses a budget's thresholds, each crossing is
// emailed through SPECTRA_SMTP_URL (a real SMTP server) to the workspace's billing member,
// and POSTed to its webhook endpoint, signed so the official Standard Webhooks library
// verifies it — each exactly once.
func TestServeAlertsByEmailAndWebhook(t *testing.T) {
	smtp := smtptest.New(t)
	receiver := newHookReceiver(t)
	hooks := receiver.got

	dsn, _ := sqliteDSN(t)
	const admin = "test-admin-token-0123456789"
	r := startServe(t, map[string]string{"SPECTRA_DATABASE_URL": dsn, "SPECTRA_ADMIN_TOKEN": admin, "SPECTRA_ADDR": "127.0.0.1:0",
		"SPECTRA_SMTP_URL": smtp.URL(), "SPECTRA_PUBLIC_URL": "http://spectra.test", "SPECTRA_WEBHOOK_ALLOW_PRIVATE": "true"})
	st, ws := call(t, "POST", r.url+"/api/v1/workspaces", admin, map[string]any{"name": "Acme", "timezone": "UTC"})
	if st != http.StatusCreated {
		t.Fatalf("workspace: %d %v", st, ws)
	}
	wsURL := r.url + "/api/v1/workspaces/" + ws["id"].(string)
	_, inv := call(t, "POST", wsURL+"/invitations", admin, map[string]any{"email": "pay@acme.test", "role": "billing"})
	acceptInvite(t, r, inv["link"].(string), "http://spectra.test", "Pay")
	smtp.WaitTo(t, "pay@acme.test", 10*time.Second) // the invitation

	if st, p := call(t, "PUT", r.url+"/api/v1/prices/m1", admin, map[string]any{"input": "0", "output": "1.00",
		"effective_from": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)}); st/100 != 2 {
		t.Fatalf("price: %d %v", st, p)
	}
	st, ep := call(t, "POST", wsURL+"/webhooks", admin, map[string]any{"url": receiver.URL})
	if st != http.StatusCreated {
		t.Fatalf("webhook: %d %v", st, ep)
	}
	receiver.setSecret(ep["secret"].(string))
	st, b := call(t, "POST", wsURL+"/budgets", admin, map[string]any{"name": "Daily cap", "scope": "workspace", "amount": "0.001000",
		"period": "day", "thresholds": []int{50, 100}})
	if st != http.StatusCreated {
		t.Fatalf("budget: %d %v", st, b)
	}
	_, key := call(t, "POST", wsURL+"/keys", admin, map[string]any{"name": "app"})
	// 2,000 output tokens at $1 per million: $0.002, past both thresholds at once; the
	// same batch again is a duplicate and alerts nothing more.
	batch := map[string]any{"events": []map[string]any{{"id": "ev-1", "model": "m1", "output_tokens": 2000,
		"timestamp": time.Now().UTC().Format(time.RFC3339)}}}
	for range 2 {
		if st, res := call(t, "POST", r.url+"/api/v1/events", key["key"].(string), batch); st != http.StatusOK {
			t.Fatalf("events: %d %v", st, res)
		}
	}

	alertMail := func() []string {
		var out []string
		for _, m := range smtp.Messages() {
			if strings.Contains(m.Subject, "Daily cap") && len(m.To) == 1 && m.To[0] == "pay@acme.test" {
				out = append(out, m.Subject)
			}
		}
		sort.Strings(out)
		return out
	}
	for deadline := time.Now().Add(10 * time.Second); len(alertMail()) < 2 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	subjects := alertMail()
	if len(subjects) != 2 {
		t.Fatalf("alert emails: %q", subjects)
	}
	if !strings.Contains(subjects[0], "Daily cap") || !strings.Contains(subjects[0], "100%") || !strings.Contains(subjects[1], "50%") {
		t.Errorf("alert emails: %q", subjects)
	}
	ids := map[string]bool{}
	for range 2 {
		select {
		case h := <-hooks:
			if !h.verified || h.typ != "budget.threshold" || !strings.HasPrefix(h.id, "alt_") || h.data["workspace_id"] != ws["id"] {
				t.Errorf("webhook %+v", h)
			}
			ids[h.id] = true
		case <-time.After(10 * time.Second):
			t.Fatal("a budget alert's webhook did not arrive")
		}
	}
	if len(ids) != 2 {
		t.Errorf("webhook ids %v: want one message per alert", ids)
	}
	select {
	case h := <-hooks:
		t.Errorf("an extra webhook arrived: %+v", h)
	case <-time.After(500 * time.Millisecond):
	}
	if n := len(smtp.Messages()); n != 3 {
		t.Errorf("%d emails, want the invitation and two alerts", n)
	}
}
