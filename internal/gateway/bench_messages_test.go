package gateway

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"spectra/internal/gateway/fakeanthropic"
	"spectra/internal/gateway/loadtest"
	"spectra/internal/gateway/upstream"
	"spectra/internal/ledger"
	"spectra/internal/metering"
	"spectra/internal/money"
	"spectra/internal/store/storetest"
	"spectra/internal/team"
)

// benchMessagesBody is a small Messages request, like most real traffic.
const benchMessagesBody = `{"model":"claude-test","max_tokens":64,"system":"You are terse.","messages":[{"role":"user","content":"Summarise the benefits of a prepaid balance in one sentence."}]}`

// BenchmarkGatewayMessagesAddedLatency is BenchmarkGatewayAddedLatency for Anthropic's
// Messages API: on the default SQLite store, the stand-in Anthropic upstream called
// directly and POST /v1/messages through the gateway, at the same fixed rate
// (GATEWAY_BENCH_RATE, default 1000 requests/s), interleaved in one-second blocks for
// GATEWAY_BENCH_SECONDS (default 10) each; then both with 32 closed-loop workers.
// GATEWAY_BENCH_STREAM=1 streams every answer (SSE, metered event by event). Every
// gateway request is held and settled (journal written, as serve runs); the run ends by
// checking that each became exactly one usage event and that verify is OK.
//
//	go test ./internal/gateway -run '^$' -bench MessagesAddedLatency -benchtime 1x
func BenchmarkGatewayMessagesAddedLatency(b *testing.B) {
	rate := envInt("GATEWAY_BENCH_RATE", 1000)
	seconds := envInt("GATEWAY_BENCH_SECONDS", 10)
	stream := os.Getenv("GATEWAY_BENCH_STREAM") == "1"
	body := benchMessagesBody
	if stream {
		body = `{"stream":true,` + body[1:]
	}
	ctx := context.Background()
	db := storetest.SQLite(b, storetest.Options{})
	now := time.Now
	ts := team.NewService(db, now)
	ls := ledger.NewService(db, now)
	ms := metering.NewService(db, db, now)
	p := claudePrice
	p.EffectiveFrom = now().Add(-time.Hour)
	must(b, db.AddPrice(ctx, p))
	ws, err := ts.CreateWorkspace(ctx, team.Workspace{Name: "bench"})
	must(b, err)
	_, secret, err := ts.CreateKey(ctx, team.APIKey{WorkspaceID: ws.ID, Name: "bench"})
	must(b, err)
	_, _, err = ls.Grant(ctx, ws.ID, 1_000_000*money.Scale, "bench", "")
	must(b, err)

	up := fakeanthropic.New(fakeanthropic.Options{APIKey: anthUpstreamKey})
	defer up.Close()
	g, err := New(Config{Team: ts, Ledger: ls, Metering: ms, Store: db, Now: now,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), SecretKey: make([]byte, 32),
		Upstreams:  []Upstream{{Name: "anthropic", API: upstream.Anthropic, BaseURL: up.URL, APIKey: anthUpstreamKey, Models: []string{claudeModel}}},
		JournalDir: b.TempDir()})
	must(b, err)
	defer g.Close()
	mux := http.NewServeMux()
	g.Register(mux)
	gw := httptest.NewServer(mux)
	defer gw.Close()

	client := benchClient()
	call := func(url, key string) loadtest.Do {
		return benchCall(client, url, body, func(h http.Header) {
			h.Set("X-Api-Key", key)
			h.Set("Anthropic-Version", anthropicVersion)
		})
	}
	m := measureAddedLatency(b, benchSettled{g: g, db: db, ls: ls, ms: ms, workspaceID: ws.ID}, rate, seconds,
		call(up.URL+"/messages", anthUpstreamKey), call(gw.URL+"/v1/messages", secret))
	m.report(b, fmt.Sprintf("POST /v1/messages, stream %v, fixed rate %d/s, %d s each, interleaved:", stream, rate, seconds))
}
