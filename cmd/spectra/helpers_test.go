package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"spectra/internal/store"
	"spectra/internal/store/storetest"
)

// output is an io.Writer a test can wait on, line by line.
type output struct {
	storetest.Buffer
	changed chan struct{}
}

func newOutput() *output { return &output{changed: make(chan struct{}, 1)} }

func (o *output) Write(p []byte) (int, error) {
	n, err := o.Buffer.Write(p)
	select {
	case o.changed <- struct{}{}:
	default:
	}
	return n, err
}

// openTestStore opens the database at dsn for the test's own reads and writes; the caller
// closes it.
func openTestStore(t *testing.T, dsn string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), dsn, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// waitFor blocks until re matches the output and returns its first group (or the whole
// match). It fails the test if done closes first.
func (o *output) waitFor(t *testing.T, re string, done <-chan struct{}) string {
	t.Helper()
	rx := regexp.MustCompile(re)
	for {
		if m := rx.FindStringSubmatch(o.String()); m != nil {
			return m[len(m)-1]
		}
		select {
		case <-o.changed:
		case <-done:
			if m := rx.FindStringSubmatch(o.String()); m != nil {
				return m[len(m)-1]
			}
			t.Fatalf("the command ended before printing %q; output:\n%s", re, o.String())
		}
	}
}

// running is a `spectra serve` started in-process by startServe.
type running struct {
	url    string
	stdout *output
	stderr *output
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

// startServe runs `spectra serve args…` in a goroutine and waits until it listens.
func startServe(t *testing.T, env map[string]string, args ...string) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{stdout: newOutput(), stderr: newOutput(), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.err = run(ctx, append([]string{"serve"}, args...), mapEnv(env), r.stdout, r.stderr)
	}()
	t.Cleanup(func() { r.stop() })
	r.url = r.stdout.waitFor(t, `running at (http://\S+)/ `, r.done)
	return r
}

// stop sends the equivalent of SIGTERM and waits for serve to return.
func (r *running) stop() error {
	r.cancel()
	<-r.done
	return r.err
}

// runCmd runs a command to completion and returns its stdout, stderr and error.
func runCmd(t *testing.T, env map[string]string, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), args, mapEnv(env), &stdout, &stderr)
	return stdout.String(), stderr.String(), err
}

// call sends a JSON request and decodes a JSON answer into a generic value.
func call(t *testing.T, method, url, token string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s %s: bad JSON %q: %v", method, url, raw, err)
		}
	} else {
		out = map[string]any{"_body": string(raw)}
	}
	return resp.StatusCode, out
}

// sqliteDSN returns a SQLite DSN for a fresh file in a temporary directory, and the file.
func sqliteDSN(t *testing.T) (string, string) {
	path := filepath.Join(t.TempDir(), "spectra.db")
	return "sqlite:" + path, path
}

// postgresDSN returns a DSN for a fresh, empty schema of the test PostgreSQL server,
// dropped when the test ends. It skips without SPECTRA_TEST_POSTGRES_URL, or fails when
// SPECTRA_REQUIRE_POSTGRES=1.
func postgresDSN(t *testing.T) string {
	t.Helper()
	return storetest.PostgresDSN(t)
}

// eachDSN runs fn once on a new SQLite database and once on a new PostgreSQL schema,
// each as a subtest named for its dialect.
func eachDSN(t *testing.T, fn func(t *testing.T, dsn string)) {
	t.Run("sqlite", func(t *testing.T) {
		dsn, _ := sqliteDSN(t)
		fn(t, dsn)
	})
	t.Run("postgres", func(t *testing.T) { fn(t, postgresDSN(t)) })
}

// rawDB opens the database behind dsn directly, for tampering.
func rawDB(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	driver, name := "pgx", dsn
	if path, ok := sqlitePath(dsn); ok {
		driver, name = "sqlite", path
	}
	db, err := sql.Open(driver, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
