package main

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestAccessLogRedactsInvitationTokens: an invitation link's token admits whoever holds
// it, so the access log (and the panic log) write its path with the token redacted.
// Before, the whole token was written.
func TestAccessLogRedactsInvitationTokens(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /invite/{token}", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	mux.HandleFunc("POST /invite/{token}", func(w http.ResponseWriter, r *http.Request) { panic("boom") })
	srv := httptest.NewServer(logRequests(log, time.Now, mux))
	defer srv.Close()
	const tok = "inv_7f3k2.1750000000.Zm9vYmFyYmF6cXV4"
	for _, method := range []string{"GET", "POST"} {
		req, _ := http.NewRequest(method, srv.URL+"/invite/"+tok, strings.NewReader("password=x"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	out := buf.String()
	if strings.Contains(out, tok) || strings.Contains(out, "Zm9vYmFyYmF6cXV4") {
		t.Fatalf("the log holds the token:\n%s", out)
	}
	if strings.Count(out, `"path":"/invite/<redacted>"`) != 3 || !strings.Contains(out, `"route":"GET /invite/{token}"`) {
		t.Fatalf("want the request lines and the panic line with a redacted path:\n%s", out)
	}
}
