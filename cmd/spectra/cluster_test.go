package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"spectra/internal/gateway/fakeupstream"
	"spectra/internal/metering"
	"spectra/internal/money"
	"spectra/internal/store/storetest"
)

// The tests here run `spectra serve` in child processes (TestCrashChildServe), send
// gateway traffic to them through the OpenAI stand-in, kill one with SIGKILL while
// answers are flowing, start it again, and then compare what the clients received with
// what the ledger charged.

// gwNode is one `spectra serve` child with the environment it is (re)started with.
type gwNode struct {
	env []string
	srv *crashServer
	url atomic.Pointer[string] // nil while the node is down
}

// startGatewayNode starts `spectra serve` with env added to the crash child's.
func startGatewayNode(t *testing.T, env ...string) *crashServer {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChildServe$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"=1", "SPECTRA_ADDR=127.0.0.1:0", "SPECTRA_LOG_LEVEL=warn")
	cmd.Env = append(cmd.Env, env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr storetest.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	found := make(chan string, 1)
	go func() {
		rx := regexp.MustCompile(`running at (http://\S+)/ `)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := rx.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
				break
			}
		}
		for sc.Scan() {
		}
		close(found)
	}()
	select {
	case url, ok := <-found:
		if !ok {
			t.Fatalf("serve ended before listening: %s", stderr.String())
		}
		return &crashServer{cmd: cmd, url: url}
	case <-time.After(60 * time.Second):
		t.Fatalf("serve did not start: %s", stderr.String())
	}
	return nil
}

func (n *gwNode) start(t *testing.T) {
	t.Helper()
	n.srv = startGatewayNode(t, n.env...)
	n.url.Store(&n.srv.url)
}

func (n *gwNode) kill(t *testing.T) {
	t.Helper()
	n.url.Store(nil)
	n.srv.kill(t)
}

// chatBody asks for exactly clusterOutput tokens, which the stand-in generates.
const (
	clusterOutput = 20
	chatBody      = `{"model":"gpt-4o","max_tokens":20,"messages":[{"role":"user","content":"say twenty words"}]}`
)

// answer is what a client received for one gateway request.
type answer struct {
	status int
	id     string       // X-Request-Id
	cost   money.Amount // X-Spectra-Cost
	err    error        // transport failure: no complete answer
	body   string       // of an answer other than 200
}

var clusterClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 30 * time.Second}

// chat sends one chat request to base and reads its answer whole: an answer counts as
// received only when its body is complete and is a chat completion.
func chat(base, secret string) answer {
	req, err := http.NewRequest(http.MethodPost, base+"/v1/chat/completions", strings.NewReader(chatBody))
	if err != nil {
		return answer{err: err}
	}
	req.Header.Set("Authorization", "Bearer "+secret)
	req.Header.Set("Content-Type", "application/json")
	resp, err := clusterClient.Do(req)
	if err != nil {
		return answer{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{err: err}
	}
	a := answer{status: resp.StatusCode, id: resp.Header.Get("X-Request-Id")}
	if resp.StatusCode != http.StatusOK {
		a.body = string(b)
	}
	if resp.StatusCode == http.StatusOK {
		var v struct {
			Choices []any `json:"choices"`
		}
		if err := json.Unmarshal(b, &v); err != nil || len(v.Choices) == 0 {
			return answer{err: fmt.Errorf("incomplete answer: %q", b)}
		}
		if a.cost, err = money.Parse(resp.Header.Get("X-Spectra-Cost")); err != nil {
			return answer{err: fmt.Errorf("X-Spectra-Cost: %v", err)}
		}
	}
	return a
}

// setupWorkspace creates a workspace with an inference key and grant, and returns the
// workspace id and the key's secret.
func setupWorkspace(t *testing.T, url, token, name string, grant money.Amount) (string, string) {
	t.Helper()
	st, ws := call(t, "POST", url+"/api/v1/workspaces", token, map[string]any{"name": name})
	if st != 201 {
		t.Fatalf("create workspace: %d %v", st, ws)
	}
	id := ws["id"].(string)
	st, key := call(t, "POST", url+"/api/v1/workspaces/"+id+"/keys", token, map[string]any{"name": "load", "kind": "inference"})
	if st != 201 {
		t.Fatalf("create key: %d %v", st, key)
	}
	if st, body := call(t, "POST", url+"/api/v1/workspaces/"+id+"/grants", token,
		map[string]any{"amount": grant.String(), "idempotency_key": "start-" + name}); st != 201 && st != 200 {
		t.Fatalf("grant: %d %v", st, body)
	}
	return id, key["key"].(string)
}

// balanceOf reads a wallet through the API.
func balanceOf(t *testing.T, url, token, ws string) (balance, held, available money.Amount) {
	t.Helper()
	st, b := call(t, "GET", url+"/api/v1/workspaces/"+ws+"/balance", token, nil)
	if st != 200 {
		t.Fatalf("balance: %d %v", st, b)
	}
	p := func(k string) money.Amount {
		a, err := money.Parse(fmt.Sprint(b[k]))
		if err != nil {
			t.Fatalf("balance %s: %v", k, err)
		}
		return a
	}
	return p("balance"), p("held"), p("available")
}

// readBalance reads a wallet's balance without failing the test (from a goroutine).
func readBalance(url, token, ws string) (money.Amount, error) {
	req, err := http.NewRequest("GET", url+"/api/v1/workspaces/"+ws+"/balance", nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := clusterClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var v struct {
		Balance money.Amount `json:"balance"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil || resp.StatusCode != 200 {
		return 0, fmt.Errorf("status %d: %v", resp.StatusCode, err)
	}
	return v.Balance, nil
}

// upstreamsFile points the gateway at the stand-in, for gpt-4o.
func upstreamsFile(t *testing.T, base string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "upstreams.json")
	b, _ := json.Marshal(map[string]any{"upstreams": []map[string]any{{"name": "stand-in", "base_url": base, "models": []string{"gpt-4o"}}}})
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// clusterPrice: output 10.00 per million tokens, input free, no fee: a request of
// clusterOutput tokens costs exactly 0.000200, and its hold (its estimate) is the same.
var clusterPrice = map[string]any{"input": "0", "output": "10.00", "effective_from": "2020-01-01T00:00:00Z"}

const clusterCost = money.Amount(clusterOutput * 10) // micro-units

// loadResult is what a load phase's clients received.
type loadResult struct {
	mu       sync.Mutex
	answered map[string]money.Amount // request id → cost told to the client
	sent     int
	refused  int // 402
	failed   int // no complete answer (the node was killed, or was down)
	other    map[int]int
	done     chan struct{} // closed when every client has stopped
}

func (r *loadResult) add(a answer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent++
	switch {
	case a.err != nil:
		r.failed++
	case a.status == http.StatusOK:
		if _, dup := r.answered[a.id]; dup {
			r.other[-1]++ // the same request id twice: counted as a failure below
		}
		r.answered[a.id] = a.cost
	case a.status == http.StatusPaymentRequired:
		r.refused++
	default:
		r.other[a.status]++
	}
}

// runLoad sends chat requests from workers clients, spread over the nodes that are up,
// until stop is closed.
func runLoad(nodes []*gwNode, secret string, workers int, stop <-chan struct{}) *loadResult {
	r := &loadResult{answered: map[string]money.Amount{}, other: map[int]int{}, done: make(chan struct{})}
	var wg sync.WaitGroup
	var next atomic.Int64
	for range workers {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				n := nodes[int(next.Add(1))%len(nodes)]
				url := n.url.Load()
				if url == nil {
					continue // down: the request goes to the next node
				}
				r.add(chat(*url, secret))
			}
		})
	}
	go func() { wg.Wait(); close(r.done) }()
	return r
}

// answeredCount is how many requests were answered so far.
func (r *loadResult) answeredCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.answered)
}

// wait returns once every client of the load has stopped.
func (r *loadResult) wait() { <-r.done }

// checkChargedOnce compares the answers clients received with the events and the
// ledger: every answered request is one event, at the cost its client was told; no
// event was charged that was not sent; the balance is the grant less every event once.
func checkChargedOnce(t *testing.T, dsn, ws string, grant money.Amount, r *loadResult) {
	t.Helper()
	ctx := context.Background()
	db := openTestStore(t, dsn)
	defer db.Close()
	// A node that is still up commits its settles within a batch (~20 ms) of the
	// answer: wait for them, up to a few seconds.
	var events []metering.Event
	var err error
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if events, err = db.Events(ctx, metering.EventFilter{WorkspaceID: ws, Limit: 1 << 20}); err != nil {
			t.Fatal(err)
		}
		if len(events) >= len(r.answered) || time.Now().After(deadline) {
			break
		}
	}
	byID := map[string]int{}
	costOf := map[string]money.Amount{}
	var total money.Amount
	for _, e := range events {
		byID[e.ID]++
		costOf[e.ID] = e.Cost
		total += e.Cost
	}
	missing, wrong := 0, 0
	for id, cost := range r.answered {
		switch n := byID[id]; {
		case n == 0:
			missing++
			if missing <= 5 {
				t.Errorf("answered request %s was never charged", id)
			}
		case n > 1:
			t.Errorf("answered request %s was charged %d times", id, n)
		}
		if c, ok := costOf[id]; ok && c != cost {
			wrong++
			if wrong <= 5 {
				t.Errorf("request %s charged %s, its client was told %s", id, c, cost)
			}
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d answered requests were not charged", missing, len(r.answered))
	}
	for id, n := range byID {
		if n != 1 {
			t.Errorf("event %s stored %d times", id, n)
		}
	}
	if len(events) > r.sent {
		t.Errorf("%d events for %d requests sent", len(events), r.sent)
	}
	b, err := db.Balance(ctx, ws)
	if err != nil {
		t.Fatal(err)
	}
	if b.Balance != grant-total {
		t.Errorf("balance %s, want the grant %s less the %d events' %s", b.Balance, grant, len(events), total)
	}
	t.Logf("%d requests sent, %d answered, %d refused, %d without a complete answer, other %v; %d events (%d beyond the answered: requests in flight at the kill)",
		r.sent, len(r.answered), r.refused, r.failed, r.other, len(events), len(events)-len(r.answered))
	if r.other[-1] > 0 {
		t.Errorf("%d request ids answered twice", r.other[-1])
	}
}

// TestGatewayKillChargesAnsweredOnce: a node killed with SIGKILL while answers flow, then
// started again, has charged every request whose answer a client received exactly once
// (before the settle journal, the answers of the last ~20 ms before the kill were lost).
func TestGatewayKillChargesAnsweredOnce(t *testing.T) {
	const token = "crash-test-admin-token-0123456789"
	dsn, _ := sqliteDSN(t)
	up := fakeupstream.New(fakeupstream.Options{Models: []string{"gpt-4o"}, CompletionTokens: clusterOutput})
	t.Cleanup(up.Close)
	n := &gwNode{env: []string{"SPECTRA_DATABASE_URL=" + dsn, "SPECTRA_ADMIN_TOKEN=" + token,
		"SPECTRA_UPSTREAMS_FILE=" + upstreamsFile(t, up.URL)}} // the journal goes next to the database
	n.start(t)
	if st, body := call(t, "PUT", n.srv.url+"/api/v1/prices/gpt-4o", token, clusterPrice); st != 200 && st != 201 {
		t.Fatalf("set price: %d %v", st, body)
	}
	const grant = 1000 * money.Scale
	ws, secret := setupWorkspace(t, n.srv.url, token, "Kill", grant)

	stop := make(chan struct{})
	r := runLoad([]*gwNode{n}, secret, 16, stop)
	waitAnswered(t, r, 1500)
	n.kill(t)
	close(stop)
	r.wait()
	answeredBefore := len(r.answered)

	n.start(t) // replays the journal
	for range 20 {
		r.add(chat(n.srv.url, secret))
	}
	n.srv.stop(t)
	checkChargedOnce(t, dsn, ws, grant, r)
	if answeredBefore == 0 {
		t.Fatal("no request was answered before the kill")
	}
	if out, errOut, err := runCmd(t, map[string]string{"SPECTRA_DATABASE_URL": dsn}, "verify"); err != nil {
		t.Fatalf("verify: %v\n%s%s", err, out, errOut)
	}
}

// waitAnswered waits until the load has had n requests answered.
func waitAnswered(t *testing.T, r *loadResult, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if r.answeredCount() >= n {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("fewer than %d requests answered in 30 s", n)
}

// TestClusterKillPostgres: three `spectra serve` processes on one PostgreSQL database
// (each its node id, port and data directory), requests spread over them through the
// OpenAI stand-in.
//
//  1. Admission: a wallet with credit for exactly 300 requests admits at least 295 of
//     them, and, once the load has stopped, a request is refused only when the
//     wallet's available balance does not cover it, whichever node it reaches.
//  2. A node killed with SIGKILL mid-load and started again: no lease of its previous
//     run is left once it has started; the balance never goes below zero (the stand-in
//     honours max_tokens, so no request costs more than its hold); every answered
//     request is charged exactly once; within seconds of the last request nothing is
//     held; and verify passes.
func TestClusterKillPostgres(t *testing.T) {
	const token = "cluster-test-admin-token-0123456789"
	dsn := postgresDSN(t)
	up := fakeupstream.New(fakeupstream.Options{Models: []string{"gpt-4o"}, CompletionTokens: clusterOutput})
	t.Cleanup(up.Close)
	ups := upstreamsFile(t, up.URL)
	nodes := make([]*gwNode, 3)
	for i := range nodes {
		nodes[i] = &gwNode{env: []string{"SPECTRA_DATABASE_URL=" + dsn, "SPECTRA_ADMIN_TOKEN=" + token,
			"SPECTRA_UPSTREAMS_FILE=" + ups, fmt.Sprintf("SPECTRA_NODE_ID=cluster-node-%d", i),
			"SPECTRA_DATA_DIR=" + t.TempDir(), "SPECTRA_HOLD_TTL=1m"}}
		nodes[i].start(t) // one after the other: the first migrates the database
	}
	api := nodes[0].srv.url
	if st, body := call(t, "PUT", api+"/api/v1/prices/gpt-4o", token, clusterPrice); st != 200 && st != 201 {
		t.Fatalf("set price: %d %v", st, body)
	}

	t.Run("admission", func(t *testing.T) {
		const grant = 300 * clusterCost
		ws, secret := setupWorkspace(t, api, token, "Credit300", grant)
		stop := make(chan struct{})
		r := runLoad(nodes, secret, 24, stop)
		// Until every client has been refused a few times in a row.
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			r.mu.Lock()
			done := r.refused >= 3*24 || len(r.answered) >= 300
			r.mu.Unlock()
			if done {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		close(stop)
		r.wait()
		concurrent := len(r.answered)
		// Then one request at a time, over every node in turn, until each refuses: a
		// refusal must mean that the wallet cannot pay for the request.
		for i, refusedInARow := 0, 0; refusedInARow < len(nodes) && i < 400; i++ {
			a := chat(*nodes[i%len(nodes)].url.Load(), secret)
			r.add(a)
			if a.status != http.StatusPaymentRequired {
				refusedInARow = 0
				continue
			}
			refusedInARow++
			// Nothing is in flight now: once the nodes have published that (held 0),
			// the balance is what the wallet truly has available.
			bal, held, _ := balanceOf(t, api, token, ws)
			for deadline := time.Now().Add(2 * time.Second); held != 0 && time.Now().Before(deadline); {
				time.Sleep(20 * time.Millisecond)
				bal, held, _ = balanceOf(t, api, token, ws)
			}
			if held != 0 {
				t.Errorf("held %s with nothing in flight", held)
			} else if bal >= clusterCost {
				t.Errorf("node %d refused a request of %s with nothing in flight while the wallet's balance, all of it available, is %s: %s",
					i%len(nodes), clusterCost, bal, a.body)
			}
		}
		t.Logf("credit for 300 requests: %d admitted under load by 24 clients, %d in all; %d refusals", concurrent, len(r.answered), r.refused)
		if len(r.answered) < 295 {
			t.Errorf("%d requests admitted with credit for 300, want at least 295", len(r.answered))
		}
		checkChargedOnce(t, dsn, ws, grant, r)
	})

	t.Run("kill", func(t *testing.T) {
		const grant = 1000 * money.Scale
		ws, secret := setupWorkspace(t, api, token, "Kill", grant)
		stop := make(chan struct{})
		var minBalance atomic.Int64
		minBalance.Store(int64(grant))
		watched := make(chan struct{})
		go func() { // the balance, every 20 ms, through a node that stays up
			defer close(watched)
			for {
				select {
				case <-stop:
					return
				case <-time.After(20 * time.Millisecond):
				}
				bal, err := readBalance(api, token, ws)
				if err != nil {
					continue
				}
				for {
					m := minBalance.Load()
					if int64(bal) >= m || minBalance.CompareAndSwap(m, int64(bal)) {
						break
					}
				}
			}
		}()
		r := runLoad(nodes, secret, 24, stop)
		waitAnswered(t, r, 1500)
		victim := nodes[1]
		victim.kill(t)
		waitAnswered(t, r, r.answeredCount()+500) // the others carry on

		// Started again (it replays its journal and releases its leases before it
		// listens), but given no traffic until its leases are looked at.
		victim.srv = startGatewayNode(t, victim.env...)
		raw := rawDB(t, dsn)
		var left int
		if err := raw.QueryRow(`SELECT count(*) FROM holds WHERE status = 'held' AND node_id = $1`, "cluster-node-1").Scan(&left); err != nil {
			t.Errorf("the killed node's leases: %v", err)
		} else if left != 0 {
			t.Errorf("%d leases of the killed node are still held after its restart", left)
		}
		victim.url.Store(&victim.srv.url)
		waitAnswered(t, r, r.answeredCount()+500) // the restarted node takes its share again
		close(stop)
		r.wait()
		<-watched

		// Nothing stays held once the requests are settled.
		var held money.Amount
		for deadline := time.Now().Add(5 * time.Second); ; {
			_, held, _ = balanceOf(t, api, token, ws)
			if held == 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if held != 0 {
			t.Errorf("held %s five seconds after the last request", held)
		}
		if m := money.Amount(minBalance.Load()); m < 0 {
			t.Errorf("the balance went down to %s, below the overdraft limit of 0", m)
		}
		for _, n := range nodes {
			n.srv.stop(t)
		}
		checkChargedOnce(t, dsn, ws, grant, r)
		var holds int
		if err := raw.QueryRow(`SELECT count(*) FROM holds WHERE status = 'held'`).Scan(&holds); err != nil || holds != 0 {
			t.Errorf("%d holds still held after every node stopped (%v)", holds, err)
		}
		if out, errOut, err := runCmd(t, map[string]string{"SPECTRA_DATABASE_URL": dsn}, "verify"); err != nil {
			t.Errorf("verify: %v\n%s%s", err, out, errOut)
		}
	})
}
