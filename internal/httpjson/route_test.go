package httpjson_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"spectra/internal/errs"
	"spectra/internal/httpjson"
	"spectra/internal/team"
)

// TestMount: a route is guarded as its Need says, the text rule comes before a
// workspace guard, an operator route is wrapped in the operator guard, and a handler's
// error is written with its status.
func TestMount(t *testing.T) {
	var asked []string // what the workspace guard was asked: "<need> <id>"
	g := httpjson.Guards{
		Workspace: func(r *http.Request, id string, need team.Action) error {
			asked = append(asked, string(need)+" "+id)
			if r.Header.Get("Authorization") == "" {
				return errs.E(errs.Unauthorized, "unauthorized", "sign in")
			}
			return nil
		},
		Operator: func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Authorization") != "Bearer operator" {
					httpjson.WriteError(w, nil, errs.E(errs.Unauthorized, "invalid_admin_token", "the operator only"))
					return
				}
				next.ServeHTTP(w, r)
			})
		},
	}
	ok := func(w http.ResponseWriter, r *http.Request) error {
		httpjson.Write(w, http.StatusOK, map[string]string{"id": r.PathValue("id")})
		return nil
	}
	fail := func(w http.ResponseWriter, r *http.Request) error {
		return errs.E(errs.Conflict, "taken", "already there")
	}
	routes := []httpjson.Route{
		{Pattern: "GET /open", Need: team.ActPublic, Handle: ok},
		{Pattern: "POST /op", Need: team.ActOperate, Handle: ok},
		{Pattern: "GET /ws/{id}", Need: team.ActViewUsage, Handle: ok},
		{Pattern: "POST /ws/{id}/x", Need: team.ActManageWebhooks, Handle: fail},
	}
	mux := http.NewServeMux()
	httpjson.Mount(mux, slog.New(slog.NewTextHandler(io.Discard, nil)), routes, g)
	if got := httpjson.Patterns(routes); !slices.Equal(got, []string{"GET /open", "POST /op", "GET /ws/{id}", "POST /ws/{id}/x"}) {
		t.Fatalf("patterns %v", got)
	}
	for _, c := range []struct {
		method, path, token string
		status              int
		body                string
	}{
		{"GET", "/open", "", 200, `{"id":""}`},
		{"GET", "/open?q=%00", "", 400, `"invalid_text"`},
		{"POST", "/op", "", 401, `"invalid_admin_token"`},
		{"POST", "/op", "Bearer operator", 200, `{"id":""}`},
		{"GET", "/ws/w1", "", 401, `"unauthorized"`},
		{"GET", "/ws/w1", "Bearer k", 200, `{"id":"w1"}`},
		{"GET", "/ws/w%001", "Bearer k", 400, `"invalid_text"`}, // refused before the guard looks w\x001 up
		{"POST", "/ws/w2/x", "Bearer k", 409, `"taken"`},
	} {
		req := httptest.NewRequest(c.method, c.path, nil)
		if c.token != "" {
			req.Header.Set("Authorization", c.token)
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		if rec.Code != c.status || !strings.Contains(rec.Body.String(), c.body) {
			t.Errorf("%s %s: %d %s, want %d %s", c.method, c.path, rec.Code, rec.Body, c.status, c.body)
		}
	}
	if want := []string{"view_usage w1", "view_usage w1", "manage_webhooks w2"}; !slices.Equal(asked, want) {
		t.Errorf("the workspace guard was asked %q, want %q", asked, want)
	}
}

// TestHandlerMissingGuard: a table that needs a guard it was not given fails at Mount,
// not on the first request.
func TestHandlerMissingGuard(t *testing.T) {
	for _, need := range []team.Action{team.ActOperate, team.ActViewBilling} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("a %s route mounted without its guard", need)
				}
			}()
			httpjson.Handler(nil, httpjson.Route{Pattern: "GET /x", Need: need, Handle: nil}, httpjson.Guards{})
		}()
	}
}
