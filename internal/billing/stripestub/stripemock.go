package stripestub

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// RequireStripeMockEnv names the variable that makes a missing stripe-mock fail the tests
// (CI sets it to 1) instead of leaving the requests unchecked.
const RequireStripeMockEnv = "SPECTRA_REQUIRE_STRIPE_MOCK"

// StripeMockVersion is the stripe-mock that .ci/run installs (go install
// github.com/stripe/stripe-mock@StripeMockVersion).
const StripeMockVersion = "v0.203.0"

// mock is the one stripe-mock process of a test binary: Stripe's own mock server, which
// checks every request against Stripe's published OpenAPI description of the API. It is
// started on first use and ends with the test binary.
var mock struct {
	once sync.Once
	url  string
	err  error
}

// StripeMockPath returns the stripe-mock executable: on PATH, or in $(go env GOPATH)/bin
// where go install puts it; "" when it is not installed.
func StripeMockPath() string {
	if p, err := exec.LookPath("stripe-mock"); err == nil {
		return p
	}
	gopath := os.Getenv("GOPATH")
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		gopath = strings.TrimSpace(string(out))
	}
	for dir := range strings.SplitSeq(gopath, string(filepath.ListSeparator)) {
		if dir == "" {
			continue
		}
		p := filepath.Join(dir, "bin", "stripe-mock")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// mockPath is StripeMockPath, looked up once per test binary.
var mockPath = sync.OnceValue(StripeMockPath)

// StripeMockURL returns the base URL of this test binary's stripe-mock, starting it on
// first use (on 127.0.0.1, on ports the system picks).
func StripeMockURL() (string, error) {
	mock.once.Do(func() { mock.url, mock.err = startStripeMock() })
	return mock.url, mock.err
}

func startStripeMock() (string, error) {
	path := StripeMockPath()
	if path == "" {
		return "", errors.New("stripe-mock is not installed (go install github.com/stripe/stripe-mock@" + StripeMockVersion + ")")
	}
	// HTTPS gets its own system-chosen port too: by default stripe-mock also listens
	// on :12112, which two test binaries would both want.
	cmd := exec.Command(path, "-http-addr", "127.0.0.1:0", "-https-addr", "127.0.0.1:0")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", err
	}
	cmd.Stderr = io.Discard
	started := make(chan error, 1)
	go runUntilExit(cmd, started)
	if err := <-started; err != nil {
		return "", fmt.Errorf("start stripe-mock: %w", err)
	}
	// stripe-mock prints "Listening for HTTP at address: 127.0.0.1:PORT" when ready.
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "Listening for HTTP at address: "); ok {
				addr <- a
				break
			}
		}
		io.Copy(io.Discard, out)
	}()
	select {
	case a := <-addr:
		return "http://" + a, nil
	case <-time.After(30 * time.Second):
		return "", errors.New("stripe-mock did not report its address within 30s")
	}
}

// check sends a copy of the request r (with body) to stripe-mock and returns why
// stripe-mock refused it, or "" when stripe-mock accepted it.
func check(base string, r *http.Request, body []byte) (string, error) {
	req, err := http.NewRequest(r.Method, base+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	for _, h := range []string{"Authorization", "Content-Type", "Stripe-Version", "Idempotency-Key", "Stripe-Account"} {
		if v := r.Header.Get(h); v != "" {
			req.Header.Set(h, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Sprintf("HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(b)), nil
	}
	return "", nil
}
