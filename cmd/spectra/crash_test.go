package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// crashChildEnv makes TestCrashChildServe run `spectra serve` (in a process of its own,
// which testIngestSurvivesKill kills).
const crashChildEnv = "SPECTRA_TEST_CRASH_CHILD"

// TestCrashChildServe is not a test: started by testIngestSurvivesKill with crashChildEnv
// set, it is the server process that test kills. Otherwise it returns at once.
func TestCrashChildServe(t *testing.T) {
	if os.Getenv(crashChildEnv) != "1" {
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM) // as main does
	defer stop()
	if err := run(ctx, []string{"serve"}, os.LookupEnv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// crashServer is a `spectra serve` in a child process.
type crashServer struct {
	cmd *exec.Cmd
	url string
}

// startCrashServer starts `spectra serve` on dsn with the operator token token.
func startCrashServer(t *testing.T, dsn, token string) *crashServer {
	t.Helper()
	return startGatewayNode(t, "SPECTRA_DATABASE_URL="+dsn, "SPECTRA_ADMIN_TOKEN="+token)
}

// kill ends the server with SIGKILL: no shutdown, no final sweep, no checkpoint.
func (s *crashServer) kill(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	s.cmd.Wait()
}

// stop ends the server the way an operator does (SIGTERM) and waits for it.
func (s *crashServer) stop(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Wait(); err != nil {
		t.Fatalf("serve after SIGTERM: %v", err)
	}
}

// TestIngestSurvivesKillSQLite and …Postgres: batches sent by concurrent clients while the server is killed
// (SIGKILL, mid-commit, mid-sweep of the recent event keys, or mid-checkpoint, wherever
// it lands) and then all sent again to a restarted server are each counted exactly once:
// every batch acknowledged before the kill comes back as duplicates, the events total
// what was sent, the balance is charged for each event once, and verify passes.
func TestIngestSurvivesKillSQLite(t *testing.T) {
	dsn, _ := sqliteDSN(t)
	testIngestSurvivesKill(t, dsn)
}

func TestIngestSurvivesKillPostgres(t *testing.T) {
	testIngestSurvivesKill(t, postgresDSN(t))
}

func testIngestSurvivesKill(t *testing.T, dsn string) {
	const token = "crash-test-admin-token-0123456789"
	srv := startCrashServer(t, dsn, token)
	st, ws := call(t, "POST", srv.url+"/api/v1/workspaces", token, map[string]any{"name": "Crash"})
	if st != 201 {
		t.Fatalf("create workspace: %d %v", st, ws)
	}
	wsID := ws["id"].(string)
	if st, body := call(t, "PUT", srv.url+"/api/v1/prices/m", token, map[string]any{"input": "1.00", "output": "0",
		"effective_from": "2020-01-01T00:00:00Z"}); st != 200 && st != 201 {
		t.Fatalf("set price: %d %v", st, body)
	}
	st, key := call(t, "POST", srv.url+"/api/v1/workspaces/"+wsID+"/keys", token, map[string]any{"name": "ingest", "kind": "inference"})
	if st != 201 {
		t.Fatalf("create key: %d %v", st, key)
	}
	secret := key["key"].(string)

	// 160 batches of 500 events, 1,000 input tokens each at 1.00 per million: 0.001 each.
	const batches, size = 160, 500
	at := time.Now().UTC().Add(-time.Hour)
	ts := at.Format(time.RFC3339)
	bodies := make([][]byte, batches)
	for b := range bodies {
		events := make([]map[string]any, size)
		for i := range events {
			events[i] = map[string]any{"id": fmt.Sprintf("crash-%03d-%03d", b, i), "timestamp": ts, "model": "m", "input_tokens": 1000}
		}
		bodies[b], _ = json.Marshal(map[string]any{"events": events})
	}
	type outcome struct{ accepted, duplicates int }
	send := func(url string, b int) (outcome, error) {
		req, err := http.NewRequest("POST", url+"/api/v1/events", bytes.NewReader(bodies[b]))
		if err != nil {
			return outcome{}, err
		}
		req.Header.Set("Authorization", "Bearer "+secret)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return outcome{}, err
		}
		defer resp.Body.Close()
		var res struct {
			Accepted   int   `json:"accepted"`
			Duplicates int   `json:"duplicates"`
			Rejected   []any `json:"rejected"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&res); err != nil || resp.StatusCode != 200 || len(res.Rejected) != 0 {
			return outcome{}, fmt.Errorf("batch %d: status %d, %+v, %v", b, resp.StatusCode, res, err)
		}
		return outcome{res.Accepted, res.Duplicates}, nil
	}

	// First round: 8 clients; the server is killed once 140 batches are acknowledged
	// (70,000 events: past the 65,536 recent keys at which a sweep starts).
	acked := make([]*outcome, batches)
	var ackedN atomic.Int64
	var mu sync.Mutex
	killed := make(chan struct{}) // closed before the kill, so a client that then fails knows why
	var killOnce sync.Once
	kill := func() { killOnce.Do(func() { close(killed); srv.kill(t) }) }
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				b := int(next.Add(1) - 1)
				if b >= batches {
					return
				}
				o, err := send(srv.url, b)
				if err != nil {
					select {
					case <-killed:
						return // the server is gone: the batch may or may not have been applied
					default:
						t.Errorf("before the kill: %v", err)
						return
					}
				}
				mu.Lock()
				acked[b] = &o
				mu.Unlock()
				if ackedN.Add(1) == 140 {
					kill()
				}
			}
		})
	}
	wg.Wait()
	kill() // if every batch was acknowledged first, still a kill before the replay
	accepted := 0
	for b, o := range acked {
		if o == nil {
			continue
		}
		if o.accepted+o.duplicates != size {
			t.Fatalf("batch %d before the kill: %+v", b, *o)
		}
		accepted += o.accepted
	}
	t.Logf("before the kill: %d batches acknowledged, %d events accepted", ackedN.Load(), accepted)

	// Second round: a new server on the same file; every batch is sent again.
	srv = startCrashServer(t, dsn, token)
	for b := range batches {
		o, err := send(srv.url, b)
		if err != nil {
			t.Fatal(err)
		}
		if o.accepted+o.duplicates != size {
			t.Fatalf("batch %d after the restart: %+v", b, o)
		}
		if acked[b] != nil && o.accepted != 0 {
			t.Errorf("batch %d was acknowledged before the kill, and %d of its events were accepted again", b, o.accepted)
		}
		accepted += o.accepted
	}
	// Batches in flight at the kill may have committed unacknowledged: the replay then
	// finds them as duplicates, so acknowledged acceptances can only fall short.
	if accepted > batches*size {
		t.Errorf("%d events acknowledged as accepted over both rounds, of %d sent", accepted, batches*size)
	}
	day := at.Truncate(24 * time.Hour)
	st, usage := call(t, "GET", fmt.Sprintf("%s/api/v1/workspaces/%s/usage?start=%s&end=%s&bucket=1d", srv.url, wsID,
		day.Format(time.RFC3339), day.Add(24*time.Hour).Format(time.RFC3339)), token, nil)
	var requests float64
	if st == 200 {
		for _, bk := range usage["buckets"].([]any) {
			for _, r := range bk.(map[string]any)["results"].([]any) {
				requests += r.(map[string]any)["requests"].(float64)
			}
		}
	}
	if requests != batches*size {
		t.Errorf("usage counts %v requests (%d); want each of the %d events once", requests, st, batches*size)
	}
	st, bal := call(t, "GET", srv.url+"/api/v1/workspaces/"+wsID+"/balance", token, nil)
	if want := fmt.Sprintf("-%d.000000", batches*size/1000); st != 200 || bal["balance"] != want {
		t.Errorf("balance %v (%d); want %s: each event charged once", bal["balance"], st, want)
	}
	srv.stop(t)
	out, errOut, err := runCmd(t, map[string]string{"SPECTRA_DATABASE_URL": dsn}, "verify")
	if err != nil {
		t.Fatalf("verify after the crash and replay: %v\n%s%s", err, out, errOut)
	}
}
