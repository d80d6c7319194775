package api_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"spectra/internal/api"
	"spectra/internal/store"
	"spectra/internal/store/storetest"
	"spectra/internal/team"
)

// t0 is the test clock's start: Wednesday 2025-03-12 12:00 UTC (after the US DST change).
var t0 = time.Date(2025, 3, 12, 12, 0, 0, 0, time.UTC)

const operatorToken = "op-token-for-tests"

// env is a running API over a fresh database.
type env struct {
	t     *testing.T
	url   string
	clock *storetest.Clock
	db    *store.DB
	accts *team.Accounts
	reg   *prometheus.Registry
	logs  *storetest.Buffer // what the API logged
}

// each runs fn on a fresh API over SQLite and over PostgreSQL.
func each(t *testing.T, fn func(t *testing.T, e *env)) {
	storetest.EachAt(t, t0, func(t *testing.T, db *store.DB, clk *storetest.Clock) { fn(t, newEnv(t, db, clk)) })
}

// newEnv serves the API over db; edits change its Deps first (a deployment without a
// part, say).
func newEnv(t *testing.T, db *store.DB, clk *storetest.Clock, edits ...func(*api.Deps)) *env {
	t.Helper()
	e := &env{t: t, clock: clk, db: db, reg: prometheus.NewRegistry(), logs: &storetest.Buffer{}}
	se := storetest.NewEnv(db, clk)
	ts := se.Team
	e.accts = team.NewAccounts(db, clk.Now)
	deps := api.Deps{
		Team:     ts,
		Accounts: e.accts,
		Invitations: team.NewInvitations(db, e.accts, ts, team.InvitationsConfig{BaseURL: "https://spectra.example.com", Now: clk.Now,
			Log: slog.New(slog.NewTextHandler(io.Discard, nil))}),
		Ledger:         se.Ledger,
		Metering:       se.Meter,
		Prices:         db,
		DB:             db,
		AdminTokenHash: team.HashSecret(operatorToken),
		Currency:       "USD",
		Now:            clk.Now,
		Log:            slog.New(slog.NewTextHandler(e.logs, nil)),
		Registry:       e.reg,
	}
	for _, edit := range edits {
		edit(&deps)
	}
	s := api.New(deps)
	mux := http.NewServeMux()
	s.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	e.url = srv.URL
	return e
}

// response is what a request returned.
type response struct {
	status int
	header http.Header
	body   []byte
}

// code returns the error code of a JSON error response, or "".
func (r response) code() string {
	var b struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	json.Unmarshal(r.body, &b)
	return b.Error.Code
}

// do sends a request. body is sent as is when it is a string, else encoded as JSON.
func (e *env) do(method, path, token string, body any) response {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: b}
}

// call sends a request, checks its status and decodes the JSON answer into out (when not nil).
func (e *env) call(method, path, token string, body any, status int, out any) response {
	e.t.Helper()
	r := e.do(method, path, token, body)
	if r.status != status {
		e.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.status, status, r.body)
	}
	if out != nil {
		d := json.NewDecoder(bytes.NewReader(r.body))
		d.UseNumber()
		if err := d.Decode(out); err != nil {
			e.t.Fatalf("%s %s: decode %s: %v", method, path, r.body, err)
		}
	}
	return r
}

// wantError checks that a request fails with status and code.
func (e *env) wantError(method, path, token string, body any, status int, code string) {
	e.t.Helper()
	r := e.do(method, path, token, body)
	if r.status != status || r.code() != code {
		e.t.Errorf("%s %s: got %d %q, want %d %q: %s", method, path, r.status, r.code(), status, code, r.body)
	}
}

// Fixtures.

type workspaceOut struct {
	ID             string `json:"id"`
	Name           string `json:"name"`
	Timezone       string `json:"timezone"`
	OverdraftLimit string `json:"overdraft_limit"`
}

func (e *env) workspace(body map[string]any) workspaceOut {
	e.t.Helper()
	var w workspaceOut
	e.call("POST", "/api/v1/workspaces", operatorToken, body, 201, &w)
	return w
}

type keyOut struct {
	ID          string  `json:"id"`
	Key         string  `json:"key"`
	Name        string  `json:"name"`
	Kind        string  `json:"kind"`
	WorkspaceID string  `json:"workspace_id"`
	Project     string  `json:"project"`
	MemberID    string  `json:"member_id"`
	RevokedAt   *string `json:"revoked_at"`
}

func (e *env) key(ws string, body map[string]any) keyOut {
	e.t.Helper()
	var k keyOut
	e.call("POST", "/api/v1/workspaces/"+ws+"/keys", operatorToken, body, 201, &k)
	return k
}

// price sets a model's prices from 2025-01-01.
func (e *env) price(model, input, cached, output string) {
	e.t.Helper()
	e.call("PUT", "/api/v1/prices/"+model, operatorToken, map[string]any{"input": input, "cached_input": cached,
		"output": output, "effective_from": "2025-01-01T00:00:00Z"}, 201, nil)
}

func (e *env) grant(ws, amount, key string) {
	e.t.Helper()
	e.call("POST", "/api/v1/workspaces/"+ws+"/grants", operatorToken, map[string]any{"amount": amount, "idempotency_key": key}, 201, nil)
}

type rejection struct {
	Index int    `json:"index"`
	ID    string `json:"id"`
	Code  string `json:"code"`
	Error string `json:"error"`
}

type ingestOut struct {
	Accepted   int         `json:"accepted"`
	Duplicates int         `json:"duplicates"`
	Rejected   []rejection `json:"rejected"`
}

// send posts events with token and expects 200.
func (e *env) send(token string, events ...any) ingestOut {
	e.t.Helper()
	var out ingestOut
	e.call("POST", "/api/v1/events", token, map[string]any{"events": events}, 200, &out)
	return out
}

type balanceOut struct {
	Balance   string `json:"balance"`
	Held      string `json:"held"`
	Available string `json:"available"`
	Currency  string `json:"currency"`
}

func (e *env) balance(ws string) balanceOut {
	e.t.Helper()
	var b balanceOut
	e.call("GET", "/api/v1/workspaces/"+ws+"/balance", operatorToken, nil, 200, &b)
	return b
}

type usageResult struct {
	Model             *string `json:"model"`
	KeyID             *string `json:"key_id"`
	Project           *string `json:"project"`
	Member            *string `json:"member"`
	Requests          int64   `json:"requests"`
	InputTokens       int64   `json:"input_tokens"`
	CachedInputTokens int64   `json:"cached_input_tokens"`
	CacheWriteTokens  int64   `json:"cache_write_tokens"`
	OutputTokens      int64   `json:"output_tokens"`
	ReasoningTokens   int64   `json:"reasoning_tokens"`
	Cost              string  `json:"cost"`
}

type usageBucket struct {
	Start   time.Time     `json:"start"`
	End     time.Time     `json:"end"`
	Results []usageResult `json:"results"`
}

type usageOut struct {
	Timezone string        `json:"timezone"`
	Buckets  []usageBucket `json:"buckets"`
}

func (e *env) usage(ws, query string) usageOut {
	e.t.Helper()
	var u usageOut
	e.call("GET", "/api/v1/workspaces/"+ws+"/usage?"+query, operatorToken, nil, 200, &u)
	return u
}

// ev builds an event body.
func ev(id, model string, at time.Time, input, cached, output int64) map[string]any {
	return map[string]any{"id": id, "model": model, "timestamp": at.Format(time.RFC3339Nano),
		"input_tokens": input, "cached_input_tokens": cached, "output_tokens": output}
}

// doHeader sends a bodiless request with a raw Authorization header.
func (e *env) doHeader(method, path, authorization string) response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", authorization)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{status: res.StatusCode, header: res.Header, body: b}
}
