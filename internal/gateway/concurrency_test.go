package gateway

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"spectra/internal/money"
	"spectra/internal/store"
)

const fixedBody = `{"model":"gpt-4o","max_tokens":100,"messages":[{"role":"user","content":"count to ten"}]}`

// fixedPrompt is the fake upstream's prompt count for fixedBody: 3 for the message and 3 words.
const fixedPrompt = 6

// gate holds every upstream request until it is opened, so that all requests of a test
// are in flight at once.
type gate struct {
	arrived atomic.Int64
	open    chan struct{}
	seen    chan struct{}
}

func newGate() *gate { return &gate{open: make(chan struct{}), seen: make(chan struct{}, 1000)} }

func (g *gate) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			g.arrived.Add(1)
			g.seen <- struct{}{}
			<-g.open
		}
		next.ServeHTTP(w, r)
	})
}

// concurrent sends n copies of fixedBody to the gateways at bases (round robin), waits
// until every one was either refused with 402 or reached the upstream, then lets the
// upstream answer. It returns how many were admitted.
func concurrent(t *testing.T, e *env, gt *gate, bases []string, n int) int64 {
	t.Helper()
	refused := make(chan struct{}, n)
	var wg sync.WaitGroup
	var ok, other atomic.Int64
	for i := range n {
		wg.Go(func() {
			resp, b := e.postTo(bases[i%len(bases)], "/v1/chat/completions", fixedBody, e.secret)
			switch resp.StatusCode {
			case http.StatusOK:
				ok.Add(1)
			case http.StatusPaymentRequired:
				if apiErr(t, b).Code != "insufficient_balance" {
					t.Errorf("402 with %s", b)
				}
				refused <- struct{}{}
			default:
				other.Add(1)
				t.Errorf("status %d: %s", resp.StatusCode, b)
				refused <- struct{}{}
			}
		})
	}
	for range n {
		select {
		case <-gt.seen:
		case <-refused:
		}
	}
	if b := e.balance(); b.Available < 0 {
		t.Fatalf("available %s below zero while requests are held", b.Available)
	}
	close(gt.open)
	wg.Wait()
	if ok.Load() != gt.arrived.Load() {
		t.Fatalf("%d answered 200 but %d reached the upstream", ok.Load(), gt.arrived.Load())
	}
	return ok.Load()
}

// 100 concurrent requests on a wallet that can pay for 10 holds: exactly 10 pass on one
// node, the rest are refused before reaching the upstream, and the balance never goes
// below zero.
func TestConcurrentRequestsNeverOverspend(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		gt := newGate()
		est, err := estimateCost(testPrice, estimatePrompt([]byte(fixedBody)), 100)
		must(t, err)
		grant := 10 * est
		e := newEnv(t, db, clk, envOpts{grant: grant, wrap: gt.wrap})
		if n := concurrent(t, e, gt, []string{e.srv.URL}, 100); n != 10 {
			t.Fatalf("%d requests admitted, want exactly 10", n)
		}
		e.verify()
		cost := expectedCost(fixedPrompt, 0, 20)
		if got := e.balance().Balance; got != grant-10*cost || got < 0 {
			t.Fatalf("balance %s, want %s", got, grant-10*cost)
		}
	})
}

// The same on two gateway nodes sharing the wallet: never more than 10 in total.
func TestConcurrentRequestsTwoNodesNeverOverspend(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		gt := newGate()
		est, err := estimateCost(testPrice, estimatePrompt([]byte(fixedBody)), 100)
		must(t, err)
		grant := 10 * est
		e := newEnv(t, db, clk, envOpts{grant: grant, wrap: gt.wrap})
		second := e.newGateway(envOpts{})
		must(t, second.reg.load(t.Context()))
		mux := http.NewServeMux()
		second.Register(mux)
		srv2 := httptest.NewServer(mux)
		t.Cleanup(srv2.Close)
		n := concurrent(t, e, gt, []string{e.srv.URL, srv2.URL}, 100)
		if n > 10 || n < 1 {
			t.Fatalf("%d requests admitted, want 1..10", n)
		}
		must(t, second.Flush(t.Context()))
		e.verify()
		cost := expectedCost(fixedPrompt, 0, 20)
		if got := e.balance().Balance; got != grant-money.Amount(n)*cost || got < 0 {
			t.Fatalf("balance %s, want %s", got, grant-money.Amount(n)*cost)
		}
	})
}
