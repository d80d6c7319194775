package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// hook is one delivery a hookReceiver got.
type hook struct {
	id, typ  string
	verified bool // the official Standard Webhooks library verified its signature
	data     map[string]any
}

// hookReceiver is a webhook endpoint: it reports each delivery on got, checked against
// the secret set with setSecret. It closes when the test ends.
type hookReceiver struct {
	*httptest.Server
	got    chan hook
	mu     sync.Mutex
	secret string
}

func newHookReceiver(t *testing.T) *hookReceiver {
	rc := &hookReceiver{got: make(chan hook, 16)}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		wh, err := standardwebhooks.NewWebhook(rc.secret)
		rc.mu.Unlock()
		var msg struct {
			Type string         `json:"type"`
			Data map[string]any `json:"data"`
		}
		json.Unmarshal(body, &msg)
		rc.got <- hook{id: r.Header.Get("webhook-id"), typ: msg.Type, verified: err == nil && wh.Verify(body, r.Header) == nil, data: msg.Data}
	}))
	t.Cleanup(rc.Close)
	return rc
}

// setSecret sets the endpoint's signing secret (known once the endpoint is created).
func (rc *hookReceiver) setSecret(s string) {
	rc.mu.Lock()
	rc.secret = s
	rc.mu.Unlock()
}
