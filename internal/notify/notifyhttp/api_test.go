package notifyhttp_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"spectra/internal/errs"
	"spectra/internal/httpjson/httpjsontest"
	"spectra/internal/notify"
	"spectra/internal/notify/notifyhttp"
	"spectra/internal/openapitest"
	"spectra/internal/store"
	"spectra/internal/store/storetest"
	"spectra/internal/team"
)

// auth accepts "Bearer operator", and "Bearer <need>:<workspace id>" for a workspace:
// "read:ws" may only read, "manage:ws" may do everything.
var auth = httpjsontest.Auth{Strong: team.ActManageWebhooks, As: "manage",
	OtherWorkspace: errs.E(errs.Forbidden, "forbidden_workspace", "another workspace"),
	Weak:           errs.E(errs.Forbidden, "admin_key_required", "needs an admin key")}

type env struct {
	t   *testing.T
	srv *httptest.Server
	svc *notify.Service
	ws  string
}

// newEnv is serve on a fresh SQLite store whose clock stands at the current second.
func newEnv(t *testing.T) *env {
	c := storetest.NewClock(time.Now().UTC().Truncate(time.Second))
	return serve(t, storetest.SQLite(t, storetest.Options{Now: c.Now}), c.Now())
}

// serve serves the webhook routes over db, with workspace ws_a created at now.
func serve(t *testing.T, db *store.DB, now time.Time) *env {
	t.Helper()
	if err := db.CreateWorkspace(context.Background(), team.Workspace{ID: "ws_a", Name: "A", Timezone: "UTC", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	svc := notify.New(notify.Config{Store: db, Log: slog.New(slog.DiscardHandler), AllowPrivateNetworks: true})
	mux := http.NewServeMux()
	notifyhttp.Register(mux, svc, auth, slog.New(slog.DiscardHandler))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &env{t: t, srv: srv, svc: svc, ws: "ws_a"}
}

type response = httpjsontest.Response

func (e *env) do(method, path, token, body string) response {
	e.t.Helper()
	return httpjsontest.Do(e.t, e.srv.URL, method, path, token, body)
}

var want = httpjsontest.Want

const manage, read = "manage:ws_a", "read:ws_a"

func TestWebhooksAPI(t *testing.T) {
	e := newEnv(t)
	var hits atomic.Int32
	var secret atomic.Value
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		wh, _ := standardwebhooks.NewWebhook(secret.Load().(string))
		if wh.Verify(body, r.Header) != nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		hits.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer receiver.Close()
	w := "/api/v1/workspaces/ws_a/webhooks"

	// Create: 201 with the secret, once.
	res := e.do("POST", w, manage, `{"url":"`+receiver.URL+`/hook","description":"ops","event_types":["balance.low"]}`)
	want(t, res, http.StatusCreated, "")
	m := res.JSON(t)
	id, _ := m["id"].(string)
	if !strings.HasPrefix(id, "whk_") || !strings.HasPrefix(m["secret"].(string), "whsec_") || m["enabled"] != true || m["description"] != "ops" {
		t.Fatalf("created %s", res.Body)
	}
	first := m["secret"].(string)

	// List and get never show the secret.
	res = e.do("GET", w, read, "")
	want(t, res, http.StatusOK, "")
	if strings.Contains(string(res.Body), "whsec_") || len(res.JSON(t)["webhooks"].([]any)) != 1 {
		t.Fatalf("list %s", res.Body)
	}
	res = e.do("GET", w+"/"+id, read, "")
	want(t, res, http.StatusOK, "")
	if strings.Contains(string(res.Body), "whsec_") || res.JSON(t)["url"] != receiver.URL+"/hook" {
		t.Fatalf("get %s", res.Body)
	}

	// Patch changes only what is given.
	res = e.do("PATCH", w+"/"+id, manage, `{"enabled":false,"event_types":[]}`)
	want(t, res, http.StatusOK, "")
	if m := res.JSON(t); m["enabled"] != false || len(m["event_types"].([]any)) != 0 || m["description"] != "ops" {
		t.Fatalf("patched %s", res.Body)
	}

	// Rotate answers a new secret; the test message is signed with it.
	res = e.do("POST", w+"/"+id+"/rotate-secret", manage, "")
	want(t, res, http.StatusOK, "")
	rotated := res.JSON(t)["secret"].(string)
	if rotated == first || !strings.HasPrefix(rotated, "whsec_") {
		t.Fatalf("rotate %s", res.Body)
	}
	secret.Store(rotated)
	res = e.do("POST", w+"/"+id+"/test", manage, "")
	want(t, res, http.StatusAccepted, "")
	if m := res.JSON(t); m["event_type"] != "webhook.test" || m["status"] != "pending" || !strings.HasPrefix(m["message_id"].(string), "msg_") {
		t.Fatalf("test %s", res.Body)
	}
	if n, err := e.svc.SendDue(context.Background()); err != nil || n != 1 || hits.Load() != 1 {
		t.Fatalf("SendDue = %d, %v; receiver verified %d", n, err, hits.Load())
	}
	e.do("POST", w+"/"+id+"/test", manage, "")

	// Deliveries, per endpoint and per workspace, newest first, with their status.
	res = e.do("GET", w+"/"+id+"/deliveries?limit=1", read, "")
	want(t, res, http.StatusOK, "")
	page := res.JSON(t)
	ds := page["deliveries"].([]any)
	if len(ds) != 1 || ds[0].(map[string]any)["status"] != "pending" || page["next_cursor"] == nil {
		t.Fatalf("deliveries page 1 %s", res.Body)
	}
	res = e.do("GET", "/api/v1/workspaces/ws_a/deliveries?limit=1&cursor="+page["next_cursor"].(string), read, "")
	want(t, res, http.StatusOK, "")
	page = res.JSON(t)
	ds = page["deliveries"].([]any)
	if len(ds) != 1 || page["next_cursor"] != nil {
		t.Fatalf("deliveries page 2 %s", res.Body)
	}
	if d := ds[0].(map[string]any); d["status"] != "delivered" || d["last_status"] != 204.0 || d["attempts"] != 1.0 || d["delivered_at"] == nil {
		t.Fatalf("delivered %s", res.Body)
	}

	// Delete: 204, then gone.
	want(t, e.do("DELETE", w+"/"+id, manage, ""), http.StatusNoContent, "")
	want(t, e.do("GET", w+"/"+id, read, ""), http.StatusNotFound, "webhook_not_found")
}

// Every route refuses what it must, each with its code.
func TestWebhooksAPIRejections(t *testing.T) {
	e := newEnv(t)
	w := "/api/v1/workspaces/ws_a/webhooks"
	res := e.do("POST", w, manage, `{"url":"https://example.com/h"}`)
	want(t, res, http.StatusCreated, "")
	id := res.JSON(t)["id"].(string)
	one := w + "/" + id
	for _, c := range []struct {
		method, path, token, body string
		status                    int
		code                      string
	}{
		{"POST", w, "", `{"url":"https://example.com"}`, 401, "unauthorized"},
		{"POST", w, read, `{"url":"https://example.com"}`, 403, "admin_key_required"},
		{"POST", w, "manage:ws_b", `{"url":"https://example.com"}`, 403, "forbidden_workspace"},
		{"POST", "/api/v1/workspaces/ws_nope/webhooks", "operator", `{"url":"https://example.com"}`, 404, "workspace_not_found"},
		{"POST", w, manage, ``, 400, "invalid_json"},
		{"POST", w, manage, `{"url":`, 400, "invalid_json"},
		{"POST", w, manage, `[1]`, 400, "invalid_json"},
		{"POST", w, manage, `{"url":"https://example.com"} {}`, 400, "invalid_json"},
		{"POST", w, manage, `{"url":"https://example.com","secret":"whsec_x"}`, 400, "unknown_field"},
		{"POST", w, manage, `{"url":5}`, 400, "invalid_field_type"},
		{"POST", w, manage, `{"url":"https://example.com","description":"` + strings.Repeat("x", 70<<10) + `"}`, 400, "body_too_large"},
		{"POST", w, manage, `{}`, 400, "invalid_url"},
		{"POST", w, manage, `{"url":"ftp://example.com"}`, 400, "invalid_url"},
		{"POST", w, manage, `{"url":"https://example.com","description":"` + strings.Repeat("x", 501) + `"}`, 400, "invalid_description"},
		{"POST", w, manage, `{"url":"https://example.com","event_types":["budget.crossed"]}`, 400, "invalid_event_type"},
		{"GET", w, "", ``, 401, "unauthorized"},
		{"GET", w, "read:ws_b", ``, 403, "forbidden_workspace"},
		{"GET", one, "", ``, 401, "unauthorized"},
		{"GET", w + "/whk_nope", read, ``, 404, "webhook_not_found"},
		{"PATCH", one, read, `{"enabled":false}`, 403, "admin_key_required"},
		{"PATCH", one, manage, `{"url":"not a url"}`, 400, "invalid_url"},
		{"PATCH", one, manage, `{"enabled":"no"}`, 400, "invalid_field_type"},
		{"PATCH", one, manage, `{"nope":1}`, 400, "unknown_field"},
		{"PATCH", w + "/whk_nope", manage, `{"enabled":false}`, 404, "webhook_not_found"},
		{"DELETE", one, read, ``, 403, "admin_key_required"},
		{"DELETE", w + "/whk_nope", manage, ``, 404, "webhook_not_found"},
		{"POST", one + "/rotate-secret", read, ``, 403, "admin_key_required"},
		{"POST", w + "/whk_nope/rotate-secret", manage, ``, 404, "webhook_not_found"},
		{"POST", one + "/test", read, ``, 403, "admin_key_required"},
		{"POST", one + "/test", "", ``, 401, "unauthorized"},
		{"POST", w + "/whk_nope/test", manage, ``, 404, "webhook_not_found"},
		{"GET", one + "/deliveries", "", ``, 401, "unauthorized"},
		{"GET", one + "/deliveries?limit=0", read, ``, 400, "invalid_limit"},
		{"GET", one + "/deliveries?limit=x", read, ``, 400, "invalid_limit"},
		{"GET", w + "/whk_nope/deliveries", read, ``, 404, "webhook_not_found"},
		{"GET", "/api/v1/workspaces/ws_a/deliveries?limit=201", read, ``, 400, "invalid_limit"},
		{"GET", "/api/v1/workspaces/ws_a/deliveries?cursor=dlv_nope", read, ``, 400, "invalid_cursor"},
		{"GET", "/api/v1/workspaces/ws_a/deliveries", "read:ws_b", ``, 403, "forbidden_workspace"},
		{"GET", "/api/v1/workspaces/ws_a/deliveries", "", ``, 401, "unauthorized"},
	} {
		t.Run(c.method+" "+c.path+" "+c.code, func(t *testing.T) {
			want(t, e.do(c.method, c.path, c.token, c.body), c.status, c.code)
		})
	}
	// Another workspace's endpoint is not found through this one.
	res = e.do("GET", "/api/v1/workspaces/ws_other/webhooks/"+id, "operator", "")
	want(t, res, http.StatusNotFound, "webhook_not_found")
}

// The OpenAPI fragment documents every route and nothing else; its $refs resolve to its
// own schemas or the core's Error.
func TestOpenAPIFragmentCoversRoutes(t *testing.T) {
	openapitest.Check(t, notifyhttp.OpenAPI, notifyhttp.Patterns(), "Error")
}
