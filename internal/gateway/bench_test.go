package gateway

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"spectra/internal/gateway/fakeupstream"
	"spectra/internal/gateway/loadtest"
	"spectra/internal/metering"
	"spectra/internal/pricing"
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
	up := fakeupstream.New(fakeupstream.Options{Models: []string{testModel}})
	b.Cleanup(up.Close)
	mode := cmp.Or(os.Getenv("GATEWAY_BENCH_JOURNAL"), "written")
	journalDir := b.TempDir()
	if mode == "off" {
		journalDir = ""
	}
	s, secret, gwURL := newBenchGateway(b, pricing.Price{Model: testModel, Input: testPrice.Input, CachedInput: testPrice.CachedInput,
		Output: testPrice.Output}, []Upstream{{Name: "fake", BaseURL: up.URL, Models: []string{testModel}}}, journalDir, mode == "synced")
	g := s.g

	client := benchClient()
	direct := benchCall(client, up.URL+"/chat/completions", benchBody, func(h http.Header) { h.Set("Authorization", "Bearer ") })
	through := benchCall(client, gwURL+"/v1/chat/completions", benchBody, func(h http.Header) { h.Set("Authorization", "Bearer "+secret) })
	m := measureAddedLatency(b, s, rate, seconds, direct, through)

	b.Logf("settle journal: %s", mode)
	if j := g.settler.journal; j != nil {
		j.mu.Lock()
		b.Logf("  %d syncs for %d requests", j.syncs, m.sent)
		j.mu.Unlock()
	}
	m.report(b, fmt.Sprintf("fixed rate %d/s, %d s each, interleaved:", rate, seconds))
	b.ReportMetric(benchMicros(m.direct.Quantile(0.5)), "direct-p50-µs")
	b.ReportMetric(benchMicros(m.direct.Quantile(0.99)), "direct-p99-µs")
	b.ReportMetric(benchMicros(m.gateway.Quantile(0.5)), "gateway-p50-µs")
	b.ReportMetric(benchMicros(m.gateway.Quantile(0.99)), "gateway-p99-µs")
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
