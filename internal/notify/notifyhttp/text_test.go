package notifyhttp_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"spectra/internal/store"
	"spectra/internal/store/storetest"
)

// TestWebhooksTextRule: a NUL or another control character in a webhook's url or
// description, in the path or in a cursor is a 400 invalid_text that stores nothing, on
// both databases (before, a NUL was a 500 on PostgreSQL).
func TestWebhooksTextRule(t *testing.T) {
	storetest.EachAt(t, time.Now().UTC().Truncate(time.Second), func(t *testing.T, db *store.DB, c *storetest.Clock) {
		e := serve(t, db, c.Now())

		w := "/api/v1/workspaces/ws_a/webhooks"
		res := e.do("POST", w, manage, `{"url":"https://example.com/h"}`)
		want(t, res, http.StatusCreated, "")
		one := w + "/" + res.JSON(t)["id"].(string)
		for _, c := range []struct{ method, path, body string }{
			{"POST", w, `{"url":"https://example.com/a\u0000b"}`},
			{"POST", w, `{"url":"https://example.com/","description":"a\u0000b"}`},
			{"POST", w, `{"url":"https://example.com/","description":"bell\u0007"}`},
			{"PATCH", one, `{"description":"\u0000"}`},
			{"PATCH", one, `{"url":"https://exa\u0000mple.com/"}`},
			{"GET", w + "/whk%00", ""},
			{"GET", "/api/v1/workspaces/ws%00/webhooks", ""},
			{"GET", "/api/v1/workspaces/ws_a/deliveries?cursor=dlv%00", ""},
		} {
			want(t, e.do(c.method, c.path, "operator", c.body), http.StatusBadRequest, "invalid_text")
		}
		// A description may span lines.
		want(t, e.do("PATCH", one, manage, `{"description":"line one\nline two"}`), http.StatusOK, "")
		list, err := e.svc.Endpoints(context.Background(), "ws_a")
		if err != nil || len(list) != 1 || list[0].URL != "https://example.com/h" || list[0].Description != "line one\nline two" {
			t.Fatalf("stored: %+v, %v", list, err)
		}
	})
}
