package budgethttp_test

import (
	"net/http"
	"testing"
)

// TestBudgetsTextRule: a NUL or another control character in a budget's name or scope,
// in the path or in the query is a 400 invalid_text that stores nothing, on both
// databases (before, a NUL was a 500 on PostgreSQL).
func TestBudgetsTextRule(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		base := "/api/v1/workspaces/" + e.ws + "/budgets"
		for _, c := range []struct{ method, path, body string }{
			{"POST", base, `{"name":"a\u0000b","scope":"workspace","amount":"1","period":"day"}`},
			{"POST", base, `{"name":"a\nb","scope":"workspace","amount":"1","period":"day"}`},
			{"POST", base, `{"name":"x","scope":"project","scope_id":"p\u0000","amount":"1","period":"day"}`},
			{"POST", base, `{"name":"x","scope":"member","scope_id":"\u001b[1m","amount":"1","period":"day"}`},
			{"GET", base + "/bud%00", ""},
			{"GET", "/api/v1/workspaces/ws%00/budgets", ""},
			{"GET", base + "?cursor=%00", ""},
		} {
			want(t, e.do(c.method, c.path, "operator", c.body), http.StatusBadRequest, "invalid_text")
		}
		r := e.do("GET", base, "operator", "")
		want(t, r, http.StatusOK, "")
		if list, ok := r.JSON(t)["data"].([]any); !ok || len(list) != 0 {
			t.Fatalf("stored: %s", r.Body)
		}
		r = e.do("POST", base, "operator", `{"name":"ok","scope":"workspace","amount":"1","period":"day"}`)
		want(t, r, http.StatusCreated, "")
		id := r.JSON(t)["id"].(string)
		want(t, e.do("PATCH", base+"/"+id, "operator", `{"name":"a\u0000"}`), http.StatusBadRequest, "invalid_text")
	})
}
