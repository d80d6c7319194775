package web

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestLoggedPath: the access log's path never carries an invitation token, by whatever
// route (or none) the request took; other paths are logged as they are.
func TestLoggedPath(t *testing.T) {
	mux := http.NewServeMux()
	var got string
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = LoggedPath(r) })
	for _, p := range []string{"GET /invite/{token}", "POST /invite/{token}", "GET /w/{ws}/keys", "GET /reset/{token...}",
		"GET /a/{token}/b/{id}"} {
		mux.Handle(p, h)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { got = LoggedPath(r) })
	const tok = "inv_7f3k2.1750000000.Zm9vYmFyYmF6cXV4"
	for _, tc := range []struct{ method, target, want string }{
		{"GET", "/invite/" + tok, "/invite/" + Redacted},
		{"POST", "/invite/" + tok, "/invite/" + Redacted},
		{"GET", "/invite/" + tok + "?x=1", "/invite/" + Redacted},
		{"GET", "/invite/" + tok + "/extra", "/invite/" + Redacted}, // no route: the prefix rule
		{"GET", "/invite/a%2Fb" + tok, "/invite/" + Redacted},
		{"GET", "/reset/" + tok + "/more/parts", "/reset/" + Redacted},
		{"GET", "/a/" + tok + "/b/42", "/a/" + Redacted + "/b/42"},
		{"GET", "/w/ws_1/keys", "/w/ws_1/keys"},
		{"GET", "/setup?token=" + tok, "/setup"},
		{"GET", "/invite/", "/invite/"},
	} {
		got = ""
		mux.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(tc.method, tc.target, nil))
		if got != tc.want {
			t.Errorf("%s %s: logged %q, want %q", tc.method, tc.target, got, tc.want)
		}
	}
}
