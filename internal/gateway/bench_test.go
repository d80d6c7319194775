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
	"sync"
	"testing"
	"time"

	"spectra/internal/gateway/fakeupstream"
	"spectra/internal/gateway/loadtest"
	"spectra/internal/ledger"
	"spectra/internal/metering"
	"spectra/internal/money"
	"spectra/internal/pricing"
	"spectra/internal/store/storetest"
	"spectra/internal/team"
)

// benchBody is a small chat request, like most real traffic.
const benchBody = `{"model":"gpt-4o","max_tokens":64,"messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Summarise the benefits of a prepaid balance in one sentence."}]}`

// BenchmarkGatewayAddedLatency measures, in one run and on the default SQLite store, the
// latency of the fake upstream called directly and through the gateway at the same fixed
// rate (GATEWAY_BENCH_RATE, default 1000 requests/s), interleaved in one-second blocks
// for GATEWAY_BENCH_SECONDS (default 10) each; then the throughput of both with 32
// closed-loop workers. Every gateway request is held and settled in the ledger, its usage
// event first written to the settle journal in the test's temporary directory
// (GATEWAY_BENCH_JOURNAL: "written", the default, as serve runs it; "synced" waits for
// each group's fsync, as JournalSync does; "off" keeps no journal); the run ends by
// checking that each one became exactly one usage event and that verify is OK.
//
//	go test ./internal/gateway -run '^$' -bench AddedLatency -benchtime 1x
func BenchmarkGatewayAddedLatency(b *testing.B) {
	rate := envInt("GATEWAY_BENCH_RATE", 1000)
	seconds := envInt("GATEWAY_BENCH_SECONDS", 10)
	ctx := context.Background()
	db := storetest.SQLite(b, storetest.Options{})
	now := time.Now
	ts := team.NewService(db, now)
	ls := ledger.NewService(db, now)
	ms := metering.NewService(db, db, now)
	must(b, db.AddPrice(ctx, pricing.Price{Model: testModel, Input: testPrice.Input, CachedInput: testPrice.CachedInput,
		Output: testPrice.Output, EffectiveFrom: now().Add(-time.Hour)}))
	ws, err := ts.CreateWorkspace(ctx, team.Workspace{Name: "bench"})
	must(b, err)
	_, secret, err := ts.CreateKey(ctx, team.APIKey{WorkspaceID: ws.ID, Name: "bench"})
	must(b, err)
	_, _, err = ls.Grant(ctx, ws.ID, 1_000_000*money.Scale, "bench", "")
	must(b, err)

	up := fakeupstream.New(fakeupstream.Options{Models: []string{testModel}})
	defer up.Close()
	mode := cmp.Or(os.Getenv("GATEWAY_BENCH_JOURNAL"), "written")
	journalDir := b.TempDir()
	if mode == "off" {
		journalDir = ""
	}
	g, err := New(Config{Team: ts, Ledger: ls, Metering: ms, Store: db, Now: now,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), SecretKey: make([]byte, 32),
		Upstreams: []Upstream{{Name: "fake", BaseURL: up.URL, Models: []string{testModel}}}, JournalDir: journalDir,
		JournalSync: mode == "synced"})
	must(b, err)
	defer g.Close()
	mux := http.NewServeMux()
	g.Register(mux)
	gw := httptest.NewServer(mux)
	defer gw.Close()

	client := &http.Client{Transport: &http.Transport{MaxIdleConns: 2048, MaxIdleConnsPerHost: 1024, IdleConnTimeout: time.Minute}}
	call := func(url, auth string) loadtest.Do {
		return func(ctx context.Context) error {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader([]byte(benchBody)))
			if err != nil {
				return err
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+auth)
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
	direct := call(up.URL+"/chat/completions", "")
	through := call(gw.URL+"/v1/chat/completions", secret)

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
	b.Logf("settle journal: %s", mode)
	if j := g.settler.journal; j != nil {
		j.mu.Lock()
		b.Logf("  %d syncs for %d requests", j.syncs, sent)
		j.mu.Unlock()
	}
	b.Logf("fixed rate %d/s, %d s each, interleaved:", rate, seconds)
	b.Logf("  direct   %s", d)
	b.Logf("  gateway  %s", gr)
	b.Logf("  added    p50=%s p99=%s", gr.Quantile(0.5)-d.Quantile(0.5), gr.Quantile(0.99)-d.Quantile(0.99))
	b.Logf("closed loop, 32 workers, 3 s each:")
	b.Logf("  direct   %s", dt)
	b.Logf("  gateway  %s", gt)
	b.Logf("every gateway request settled: %d events, verify OK, nothing held", events)
	b.ReportMetric(us(d.Quantile(0.5)), "direct-p50-µs")
	b.ReportMetric(us(d.Quantile(0.99)), "direct-p99-µs")
	b.ReportMetric(us(gr.Quantile(0.5)), "gateway-p50-µs")
	b.ReportMetric(us(gr.Quantile(0.99)), "gateway-p99-µs")
	b.ReportMetric(us(gr.Quantile(0.5)-d.Quantile(0.5)), "added-p50-µs")
	b.ReportMetric(us(gr.Quantile(0.99)-d.Quantile(0.99)), "added-p99-µs")
	b.ReportMetric(dt.PerSecond(), "direct-req/s")
	b.ReportMetric(gt.PerSecond(), "gateway-req/s")
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// BenchmarkSettleJournal measures what the settle journal adds to a request: the time of
// one append (journal.append, as settleAsync calls it before the answer's last byte), in
// both modes, at GATEWAY_BENCH_RATE appends per second for GATEWAY_BENCH_SECONDS, each
// event marked committed right after (as the batch settle does).
//
//	go test ./internal/gateway -run '^$' -bench SettleJournal -benchtime 1x -v
func BenchmarkSettleJournal(b *testing.B) {
	rate := envInt("GATEWAY_BENCH_RATE", 1000)
	seconds := envInt("GATEWAY_BENCH_SECONDS", 10)
	for _, mode := range []string{"written", "synced"} {
		b.Run(mode, func(b *testing.B) {
			j, err := openJournal(context.Background(), b.TempDir(), "bench", mode == "synced",
				func(context.Context, []metering.Event) (metering.IngestResult, error) {
					return metering.IngestResult{}, nil
				},
				slog.New(slog.NewTextHandler(io.Discard, nil)))
			must(b, err)
			defer j.close()
			ev := metering.Event{ID: "req_0123456789abcdef", WorkspaceID: "ws_0123456789abcdef", KeyID: "key_0123456789abcdef",
				Project: "proj", Member: "mem", Model: testModel, Timestamp: time.Now(), Usage: pricing.Usage{Input: 30, Output: 64},
				Source: "gateway", Endpoint: "/v1/chat/completions", Status: 200, LatencyMS: 1}
			var mu sync.Mutex
			var lat []time.Duration
			b.ResetTimer()
			res := loadtest.Rate(context.Background(), rate, rate*seconds, func(context.Context) error {
				t0 := time.Now()
				seg, err := j.append(ev)
				d := time.Since(t0)
				if err != nil {
					return err
				}
				j.done([]*segment{seg})
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
				return nil
			})
			b.StopTimer()
			q := loadtest.Merge(loadtest.Result{Latencies: lat})
			j.mu.Lock()
			defer j.mu.Unlock()
			b.Logf("%s: %d appends at %d/s, %d syncs, %d errors: p50=%s p90=%s p99=%s max=%s", mode, len(lat), rate, j.syncs,
				res.Errors, q.Quantile(0.5), q.Quantile(0.9), q.Quantile(0.99), q.Quantile(1))
			b.ReportMetric(float64(q.Quantile(0.5).Microseconds()), "append-p50-µs")
			b.ReportMetric(float64(q.Quantile(0.99).Microseconds()), "append-p99-µs")
		})
	}
}
