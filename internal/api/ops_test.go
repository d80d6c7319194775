package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"spectra/internal/api"
	"spectra/internal/errs"
	"spectra/internal/team"
)

// TestMetrics: requests are counted by route pattern and status, events by outcome.
func TestMetrics(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ws := e.workspace(map[string]any{"name": "Acme"}).ID
		e.price("gpt-a", "1", "0.5", "2")
		key := e.key(ws, map[string]any{"name": "ci"})
		e.send(key.Key, ev("a", "gpt-a", t0, 1, 0, 1), ev("a", "gpt-a", t0, 1, 0, 1), ev("", "gpt-a", t0, 1, 0, 1))
		e.do("GET", "/api/v1/workspaces/"+ws, "", nil)
		e.do("GET", "/api/v1/nope", "", nil)
		r := e.call("GET", "/metrics", "", nil, 200, nil)
		for _, line := range []string{
			`spectra_http_requests_total{route="POST /api/v1/workspaces",status="201"} 1`,
			`spectra_http_requests_total{route="GET /api/v1/workspaces/{id}",status="401"} 1`,
			`spectra_http_requests_total{route="POST /api/v1/events",status="200"} 1`,
			`spectra_http_requests_total{route="unmatched",status="404"} 1`,
			`spectra_http_request_duration_seconds_count{route="POST /api/v1/events"} 1`,
			`spectra_events_ingested_total{outcome="accepted"} 1`,
			`spectra_events_ingested_total{outcome="duplicate"} 1`,
			`spectra_events_ingested_total{outcome="rejected"} 1`,
			`go_goroutines`,
		} {
			if !strings.Contains(string(r.body), line) {
				t.Errorf("/metrics lacks %s", line)
			}
		}
	})
}

type pinger struct{ err error }

func (p pinger) Ping(context.Context) error { return p.err }

// TestHealth: /healthz answers while up, /readyz only while the database does.
func TestHealth(t *testing.T) {
	for _, c := range []struct {
		db     pinger
		status int
		code   string
	}{{pinger{}, 200, ""}, {pinger{errors.New("down")}, 503, "database_unavailable"}} {
		s := api.New(api.Deps{DB: c.db, Log: slog.New(slog.DiscardHandler)})
		mux := http.NewServeMux()
		s.Register(mux)
		for _, path := range []string{"/healthz", "/readyz"} {
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
			want, code := 200, ""
			if path == "/readyz" {
				want, code = c.status, c.code
			}
			resp := response{status: rec.Code, body: rec.Body.Bytes()}
			if rec.Code != want || resp.code() != code {
				t.Errorf("%s with ping error %v: %d %s", path, c.db.err, rec.Code, rec.Body)
			}
		}
	}
}

// TestRequireOperator: the middleware other transports use.
func TestRequireOperator(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ws := e.workspace(map[string]any{"name": "Acme"}).ID
		admin := e.key(ws, map[string]any{"name": "admin", "kind": "admin"})
		s := api.New(api.Deps{Team: team.NewService(e.db, e.clock.Now), AdminTokenHash: team.HashSecret(operatorToken), Log: slog.New(slog.DiscardHandler)})
		h := s.RequireOperator(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
		for _, c := range []struct {
			token  string
			status int
			code   string
		}{{operatorToken, 204, ""}, {"", 401, "unauthorized"}, {admin.Key, 401, "invalid_admin_token"}, {"nope", 401, "invalid_admin_token"}} {
			req := httptest.NewRequest("GET", "/x", nil)
			if c.token != "" {
				req.Header.Set("Authorization", "Bearer "+c.token)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if r := (response{status: rec.Code, body: rec.Body.Bytes()}); r.status != c.status || r.code() != c.code {
				t.Errorf("token %q: %d %s", c.token, rec.Code, rec.Body)
			}
		}
		// Without a configured admin token nothing passes.
		s = api.New(api.Deps{Log: slog.New(slog.DiscardHandler)})
		req := httptest.NewRequest("GET", "/x", nil)
		req.Header.Set("Authorization", "Bearer ")
		rec := httptest.NewRecorder()
		s.RequireOperator(http.NotFoundHandler()).ServeHTTP(rec, req)
		if rec.Code != 401 {
			t.Errorf("no admin token configured: %d", rec.Code)
		}
	})
}

// TestWriteError: kinds map to statuses; internal errors are logged and hidden.
func TestWriteError(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	for _, c := range []struct {
		err    error
		status int
		code   string
	}{
		{errs.E(errs.Invalid, "x_invalid", "m"), 400, "x_invalid"},
		{errs.E(errs.Unauthorized, "x_unauth", "m"), 401, "x_unauth"},
		{errs.E(errs.PaymentRequired, "insufficient_balance", "m"), 402, "insufficient_balance"},
		{errs.E(errs.Forbidden, "x_forbidden", "m"), 403, "x_forbidden"},
		{errs.E(errs.NotFound, "x_missing", "m"), 404, "x_missing"},
		{errs.E(errs.Conflict, "x_conflict", "m"), 409, "x_conflict"},
		{errs.E(errs.RateLimited, "x_slow", "m"), 429, "x_slow"},
		{errs.E(errs.Unavailable, "x_down", "m"), 503, "x_down"},
		{errs.E(errs.Internal, "x_secret", "db password is hunter2"), 500, "internal_error"},
		{errors.New("pq: relation secret_table does not exist"), 500, "internal_error"},
	} {
		rec := httptest.NewRecorder()
		api.WriteError(rec, log, c.err)
		var body struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != c.status || body.Error.Code != c.code ||
			rec.Header().Get("Content-Type") != "application/json" {
			t.Errorf("%v: %d %s", c.err, rec.Code, rec.Body)
		}
		if c.status == 500 && (strings.Contains(rec.Body.String(), "secret") || strings.Contains(rec.Body.String(), "hunter2")) {
			t.Errorf("internal detail leaked: %s", rec.Body)
		}
	}
	if !strings.Contains(logs.String(), "hunter2") || !strings.Contains(logs.String(), "secret_table") {
		t.Errorf("internal errors were not logged: %s", logs.String())
	}
	rec := httptest.NewRecorder()
	api.WriteJSON(rec, 201, map[string]time.Time{"at": time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)})
	if rec.Code != 201 || rec.Body.String() != `{"at":"2025-01-01T00:00:00Z"}`+"\n" {
		t.Errorf("WriteJSON: %d %q", rec.Code, rec.Body)
	}
}
