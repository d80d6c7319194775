package gateway

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"spectra/internal/gateway/loadtest"
	"spectra/internal/ledger"
	"spectra/internal/metering"
	"spectra/internal/money"
	"spectra/internal/pricing"
	"spectra/internal/store"
	"spectra/internal/store/storetest"
	"spectra/internal/team"
)

// newBenchGateway is the gateway of an added-latency benchmark, on a fresh SQLite store:
// price in effect from an hour ago, a workspace with one key (whose secret it returns)
// and a grant of 1,000,000 units, the upstreams given and its settle journal in
// journalDir ("" keeps none; sync as Config.JournalSync), served over HTTP at url. The
// gateway and its server close when b ends.
func newBenchGateway(b *testing.B, price pricing.Price, upstreams []Upstream, journalDir string, sync bool) (s benchSettled, secret, url string) {
	b.Helper()
	ctx := context.Background()
	db := storetest.SQLite(b, storetest.Options{})
	now := time.Now
	ts := team.NewService(db, now)
	ls := ledger.NewService(db, now)
	ms := metering.NewService(db, db, now)
	price.EffectiveFrom = now().Add(-time.Hour)
	must(b, db.AddPrice(ctx, price))
	ws, err := ts.CreateWorkspace(ctx, team.Workspace{Name: "bench"})
	must(b, err)
	_, secret, err = ts.CreateKey(ctx, team.APIKey{WorkspaceID: ws.ID, Name: "bench"})
	must(b, err)
	_, _, err = ls.Grant(ctx, ws.ID, 1_000_000*money.Scale, "bench", "")
	must(b, err)

	g, err := New(Config{Team: ts, Ledger: ls, Metering: ms, Store: db, Now: now,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), SecretKey: make([]byte, 32),
		Upstreams: upstreams, JournalDir: journalDir, JournalSync: sync})
	must(b, err)
	b.Cleanup(func() { g.Close() })
	mux := http.NewServeMux()
	g.Register(mux)
	gw := httptest.NewServer(mux)
	b.Cleanup(gw.Close)
	return benchSettled{g: g, db: db, ls: ls, ms: ms, workspaceID: ws.ID}, secret, gw.URL
}

// benchClient is the HTTP client of the added-latency benchmarks: enough idle connections
// that the fixed-rate and closed-loop phases never wait for a dial.
func benchClient() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConns: 2048, MaxIdleConnsPerHost: 1024, IdleConnTimeout: time.Minute}}
}

// benchCall is one benchmark request: POST body to url with a JSON content type and the
// headers set adds, reading the whole answer; anything but 200 is an error.
func benchCall(client *http.Client, url, body string, set func(http.Header)) loadtest.Do {
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader([]byte(body)))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		set(req.Header)
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

// addedLatency is what measureAddedLatency measured: the fixed-rate results of the
// upstream called directly and through the gateway, the closed-loop results of both, and
// the gateway requests sent (warm-up included) and the usage events they became.
type addedLatency struct {
	direct, gateway, directClosed, gatewayClosed loadtest.Result
	sent, events                                 int64
}

// benchSettled is the gateway under benchmark with the store and services it settles in.
type benchSettled struct {
	g           *Gateway
	db          *store.DB
	ls          *ledger.Service
	ms          *metering.Service
	workspaceID string
}

// measureAddedLatency drives an added-latency benchmark: it warms up both paths with
// rate/2 requests each, then, timed, calls direct and through at rate requests/s in
// interleaved one-second blocks for seconds each, then both with 32 closed-loop workers
// for 3 s each. It ends by flushing the gateway and failing b unless every gateway request
// became exactly one usage event of s.workspaceID, verify is OK, nothing is held and no
// request failed.
func measureAddedLatency(b *testing.B, s benchSettled, rate, seconds int, direct, through loadtest.Do) addedLatency {
	b.Helper()
	ctx := context.Background()
	now := time.Now

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

	must(b, s.g.Flush(ctx))
	sent := int64(len(gr.Latencies)) + int64(len(gt.Latencies)) + int64(rate/2)
	var events int64
	rows, err := s.ms.Usage(ctx, metering.UsageQuery{WorkspaceID: s.workspaceID, Start: now().Add(-time.Hour), End: now().Add(time.Hour), Bucket: time.Hour})
	must(b, err)
	for _, bk := range rows {
		for _, r := range bk.Results {
			events += r.Requests
		}
	}
	rep, err := s.db.Verify(ctx)
	must(b, err)
	bal, err := s.ls.Balance(ctx, s.workspaceID)
	must(b, err)
	if events != sent || !rep.OK() || bal.Held != 0 || d.Errors+gr.Errors+dt.Errors+gt.Errors > 0 {
		b.Fatalf("events %d for %d gateway requests, verify ok %v, held %s, errors %d/%d/%d/%d",
			events, sent, rep.OK(), bal.Held, d.Errors, gr.Errors, dt.Errors, gt.Errors)
	}
	return addedLatency{direct: d, gateway: gr, directClosed: dt, gatewayClosed: gt, sent: sent, events: events}
}

// report logs the measurement under header (the fixed-rate line's opening) and reports
// the added p50/p99 and both closed-loop throughputs as metrics.
func (a addedLatency) report(b *testing.B, header string) {
	b.Helper()
	d, gr := a.direct, a.gateway
	b.Logf("%s", header)
	b.Logf("  direct   %s", d)
	b.Logf("  gateway  %s", gr)
	b.Logf("  added    p50=%s p99=%s", gr.Quantile(0.5)-d.Quantile(0.5), gr.Quantile(0.99)-d.Quantile(0.99))
	b.Logf("closed loop, 32 workers, 3 s each:")
	b.Logf("  direct   %s", a.directClosed)
	b.Logf("  gateway  %s", a.gatewayClosed)
	b.Logf("every gateway request settled: %d events, verify OK, nothing held", a.events)
	b.ReportMetric(benchMicros(gr.Quantile(0.5)-d.Quantile(0.5)), "added-p50-µs")
	b.ReportMetric(benchMicros(gr.Quantile(0.99)-d.Quantile(0.99)), "added-p99-µs")
	b.ReportMetric(a.directClosed.PerSecond(), "direct-req/s")
	b.ReportMetric(a.gatewayClosed.PerSecond(), "gateway-req/s")
}

// benchMicros is d in whole microseconds, as the benchmarks report latencies.
func benchMicros(d time.Duration) float64 { return float64(d.Microseconds()) }
