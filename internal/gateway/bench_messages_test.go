package gateway

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
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
	rate := benchEnv("GATEWAY_BENCH_RATE", 1000)
	seconds := benchEnv("GATEWAY_BENCH_SECONDS", 10)
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

	client := &http.Client{Transport: &http.Transport{MaxIdleConns: 2048, MaxIdleConnsPerHost: 1024, IdleConnTimeout: time.Minute}}
	call := func(url, key string) loadtest.Do {
		return func(ctx context.Context) error {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader([]byte(body)))
			if err != nil {
				return err
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Api-Key", key)
			req.Header.Set("Anthropic-Version", anthropicVersion)
			resp, err := client.Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			if _, err := io.Copy(io.Discard, resp.Body); err != nil {
				return err
			}
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("status %d", resp.StatusCode)
			}
			return nil
		}
	}
	direct := call(up.URL+"/messages", anthUpstreamKey)
	through := call(gw.URL+"/v1/messages", secret)

	// Warm up connections, caches and the lease.
	loadtest.Rate(ctx, rate, rate/2, direct)
	loadtest.Rate(ctx, rate, rate/2, through)

	b.ResetTimer()
	var ds, gs []loadtest.Result
	for range seconds {
		ds = append(ds, loadtest.Rate(ctx, rate, rate, direct))
		gs = append(gs, loadtest.Rate(ctx, rate, rate, through))
	}
	d, gr := loadtest.Merge(ds...), loadtest.Merge(gs...)
	dt := loadtest.Closed(ctx, 32, 3*time.Second, direct)
	gt := loadtest.Closed(ctx, 32, 3*time.Second, through)
	b.StopTimer()

	must(b, g.Flush(ctx))
	sent := int64(len(gr.Latencies)) + int64(len(gt.Latencies)) + int64(rate/2)
	var events int64
	rows, err := ms.Usage(ctx, metering.UsageQuery{WorkspaceID: ws.ID, Start: now().Add(-time.Hour), End: now().Add(time.Hour), Bucket: time.Hour})
	must(b, err)
	for _, bk := range rows {
		for _, r := range bk.Results {
			events += r.Requests
		}
	}
	rep, err := db.Verify(ctx)
	must(b, err)
	bal, err := ls.Balance(ctx, ws.ID)
	must(b, err)
	if events != sent || !rep.OK() || bal.Held != 0 || d.Errors+gr.Errors+dt.Errors+gt.Errors > 0 {
		b.Fatalf("events %d for %d gateway requests, verify ok %v, held %s, errors %d/%d/%d/%d",
			events, sent, rep.OK(), bal.Held, d.Errors, gr.Errors, dt.Errors, gt.Errors)
	}

	us := func(x time.Duration) float64 { return float64(x.Microseconds()) }
	b.Logf("POST /v1/messages, stream %v, fixed rate %d/s, %d s each, interleaved:", stream, rate, seconds)
	b.Logf("  direct   %s", d)
	b.Logf("  gateway  %s", gr)
	b.Logf("  added    p50=%s p99=%s", gr.Quantile(0.5)-d.Quantile(0.5), gr.Quantile(0.99)-d.Quantile(0.99))
	b.Logf("closed loop, 32 workers, 3 s each:")
	b.Logf("  direct   %s", dt)
	b.Logf("  gateway  %s", gt)
	b.Logf("every gateway request settled: %d events, verify OK, nothing held", events)
	b.ReportMetric(us(gr.Quantile(0.5)-d.Quantile(0.5)), "added-p50-µs")
	b.ReportMetric(us(gr.Quantile(0.99)-d.Quantile(0.99)), "added-p99-µs")
	b.ReportMetric(dt.PerSecond(), "direct-req/s")
	b.ReportMetric(gt.PerSecond(), "gateway-req/s")
}

// benchEnv reads a positive integer knob of the Messages benchmark.
func benchEnv(name string, def int) int {
	return cmp.Or(func() int {
		if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
			return v
		}
		return 0
	}(), def)
}
