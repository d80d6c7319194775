package gateway

import (
	"net/http"
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

// await waits until each of n requests has reached the upstream (where it waits for the
// gate to open) or reported on done.
func (g *gate) await(n int, done <-chan struct{}) {
	for range n {
		select {
		case <-g.seen:
		case <-done:
		}
	}
}

// fixedEstimate is what the gateway holds for fixedBody.
func fixedEstimate(t *testing.T) money.Amount {
	t.Helper()
	est, err := estimateCost(testPrice, estimatePrompt([]byte(fixedBody)), 100)
	must(t, err)
	return est
}

// concurrent is concurrentRefused for refusals of the wallet (insufficient_balance); it
// returns how many requests were admitted in all.
func concurrent(t *testing.T, e *env, gt *gate, bases []string, n int) int64 {
	t.Helper()
	var total int64
	for _, k := range concurrentRefused(t, e, gt, bases, n, "insufficient_balance") {
		total += k
	}
	return total
}

// concurrentRefused sends n copies of fixedBody to the gateways at bases (round robin),
// waits until every one was either refused (402 with code) or reached the upstream,
// checks that the wallet's available balance is not below zero while they are held,
// then lets the upstream answer. It returns how many each base admitted.
func concurrentRefused(t *testing.T, e *env, gt *gate, bases []string, n int, code string) []int64 {
	t.Helper()
	refused := make(chan struct{}, n)
	ok := make([]atomic.Int64, len(bases))
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			resp, b := e.postTo(bases[i%len(bases)], "/v1/chat/completions", fixedBody, e.secret)
			switch resp.StatusCode {
			case http.StatusOK:
				ok[i%len(bases)].Add(1)
			case http.StatusPaymentRequired:
				if apiErr(t, b).Code != code {
					t.Errorf("402 with %s, want %s", b, code)
				}
				refused <- struct{}{}
			default:
				t.Errorf("status %d: %s", resp.StatusCode, b)
				refused <- struct{}{}
			}
		})
	}
	gt.await(n, refused)
	held := e.balance()
	close(gt.open)
	wg.Wait()
	if held.Available < 0 {
		t.Fatalf("available %s below zero while requests were held", held.Available)
	}
	out := make([]int64, len(bases))
	var total int64
	for i := range ok {
		out[i] = ok[i].Load()
		total += out[i]
	}
	if total != gt.arrived.Load() {
		t.Fatalf("%d answered 200 but %d reached the upstream", total, gt.arrived.Load())
	}
	return out
}

// 100 concurrent requests on a wallet that can pay for 10 holds: exactly 10 pass on one
// node, the rest are refused before reaching the upstream, and the balance never goes
// below zero.
func TestConcurrentRequestsNeverOverspend(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		gt := newGate()
		grant := 10 * fixedEstimate(t)
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
		grant := 10 * fixedEstimate(t)
		e := newEnv(t, db, clk, envOpts{grant: grant, wrap: gt.wrap})
		second := e.newGateway(envOpts{})
		must(t, second.reg.load(t.Context()))
		srv2 := e.serve(second)
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
