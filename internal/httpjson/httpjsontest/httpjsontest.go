// Package httpjsontest holds the helpers the JSON transports' tests share: a request
// with a bearer token, the response and its error code, and a fake Auth.
package httpjsontest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"spectra/internal/errs"
	"spectra/internal/team"
)

// Response is a finished response, its body read.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a map.
func (r Response) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("body %q: %v", r.Body, err)
	}
	return m
}

// Code is the error code of an error body {"error":{"code":…}}, or "".
func (r Response) Code() string {
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	json.Unmarshal(r.Body, &e)
	return e.Error.Code
}

// Do sends method base+path with body (as application/json when not empty), the bearer
// token when not empty, and header's name/value pairs, and returns the response.
func Do(t testing.TB, base, method, path, token, body string, header ...string) Response {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return Response{res.StatusCode, res.Header, b}
}

// Want fails t unless r has status and, for an error, code ("" for none).
func Want(t testing.TB, r Response, status int, code string) {
	t.Helper()
	if r.Status != status || r.Code() != code {
		t.Fatalf("got %d %s, want %d %q", r.Status, r.Body, status, code)
	}
}

// Auth is a fake of the transports' workspace guard (httpjson.Guards.Workspace). It
// accepts the token "operator" everywhere, and "<have>:<workspace id>" for that
// workspace, where a route whose need is Strong takes have == As (Strong's name when As
// is empty). No token is 401 unauthorized.
type Auth struct {
	// Strong is the need only a token "<As>:<workspace id>" meets.
	Strong team.Action
	// As is the token prefix that meets Strong; "" means string(Strong).
	As string
	// OtherWorkspace is returned for a token of another workspace.
	OtherWorkspace error
	// Weak is returned for a token of the workspace without Strong on a Strong route.
	Weak error
}

// Workspace implements httpjson.Guards.Workspace.
func (a Auth) Workspace(r *http.Request, workspaceID string, need team.Action) error {
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	switch tok {
	case "operator":
		return nil
	case "":
		return errs.E(errs.Unauthorized, "unauthorized", "sign in")
	}
	have, ws, _ := strings.Cut(tok, ":")
	if ws != workspaceID {
		return a.OtherWorkspace
	}
	strong := a.As
	if strong == "" {
		strong = string(a.Strong)
	}
	if need == a.Strong && have != strong {
		return a.Weak
	}
	return nil
}

// RequireOperator is a fake of the transports' operator guard (httpjson.Guards.Operator):
// the token "operator" passes; no token is 401 unauthorized, any other 403
// operator_required.
func (Auth) RequireOperator(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Header.Get("Authorization") {
		case "Bearer operator":
			next.ServeHTTP(w, r)
		case "":
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":{"code":"unauthorized","message":"sign in"}}`)
		default:
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, `{"error":{"code":"operator_required","message":"operator only"}}`)
		}
	})
}
