package gateway

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"spectra/internal/gateway/fakeanthropic"
	"spectra/internal/money"
	"spectra/internal/store"
)

// The Node checks run the providers' own npm SDKs, unchanged, against a gateway started
// here: nodecheck/*.mjs, with the packages of nodecheck/package.json installed by
// `npm ci` in that folder. They run with SPECTRA_NODE_CHECK=1 (skipped otherwise); with
// SPECTRA_REQUIRE_NODE_CHECK=1 they run, and a missing node or npm package fails them.

// needNode skips t unless the Node checks are asked for, and checks that node and the
// npm package module are there (a failure without them under SPECTRA_REQUIRE_NODE_CHECK).
// It returns node's path.
func needNode(t *testing.T, module string) string {
	t.Helper()
	required := os.Getenv("SPECTRA_REQUIRE_NODE_CHECK") == "1"
	if os.Getenv("SPECTRA_NODE_CHECK") != "1" && !required {
		t.Skip("set SPECTRA_NODE_CHECK=1 (and run npm ci in internal/gateway/nodecheck) to run the Node SDK checks")
	}
	missing := func(msg string) {
		t.Helper()
		if required {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node is not installed")
	}
	if _, err := os.Stat(filepath.Join("nodecheck", "node_modules", filepath.FromSlash(module), "package.json")); err != nil {
		missing("the npm package " + module + " is not installed: run npm ci in internal/gateway/nodecheck")
	}
	return node
}

// runNode runs nodecheck/script with node and env added, and returns what the script
// printed on its last line.
func runNode(t *testing.T, node, script string, env ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, script)
	cmd.Dir = "nodecheck"
	for _, kv := range os.Environ() { // none of the caller's provider settings
		if !strings.HasPrefix(kv, "ANTHROPIC_") && !strings.HasPrefix(kv, "GEMINI_") && !strings.HasPrefix(kv, "GOOGLE_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node %s: %v\n%s\n%s", script, err, out, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return []byte(lines[len(lines)-1])
}

// Anthropic's npm SDK (@anthropic-ai/sdk) works unchanged against Spectra, with the key in
// ANTHROPIC_API_KEY and Spectra in ANTHROPIC_BASE_URL: one answer, a stream, token
// counting, the Bearer way, and a wrong key as the SDK's AuthenticationError. Each call is
// charged its hand-computed cost and the balance follows the ledger.
func TestNodeAnthropicSDK(t *testing.T) {
	node := needNode(t, "@anthropic-ai/sdk")
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		grant := money.Amount(10 * money.Scale)
		a := newAnthEnv(t, db, clk, grant, fakeanthropic.Options{})
		out := runNode(t, node, "anthropic.mjs",
			"ANTHROPIC_BASE_URL="+a.srv.URL, "ANTHROPIC_API_KEY="+a.secret, "SPECTRA_MODEL="+claudeModel)
		type usage struct {
			InputTokens  int64 `json:"input_tokens"`
			OutputTokens int64 `json:"output_tokens"`
		}
		var got struct {
			Whole struct {
				Usage     usage  `json:"usage"`
				RequestID string `json:"requestId"`
				Cost      string `json:"cost"`
			} `json:"whole"`
			Stream struct {
				Usage  usage  `json:"usage"`
				Stop   string `json:"stop"`
				Deltas int    `json:"deltas"`
				Text   string `json:"text"`
			} `json:"stream"`
			Count struct {
				InputTokens int64 `json:"input_tokens"`
			} `json:"count"`
			Bearer struct {
				Usage usage `json:"usage"`
			} `json:"bearer"`
			BadKey struct {
				Class  string `json:"class"`
				Status int    `json:"status"`
				Type   string `json:"type"`
				Code   string `json:"code"`
			} `json:"badKey"`
		}
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("node printed %s: %v", out, err)
		}
		w, s, b := got.Whole, got.Stream, got.Bearer
		if w.Usage.InputTokens != 5 || w.Usage.OutputTokens != 20 || w.Cost != claudeCost(5, 0, 0, 0, 20, 0).String() || w.RequestID == "" {
			t.Fatalf("whole %+v (%s)", w, out)
		}
		if s.Usage.InputTokens != 5 || s.Usage.OutputTokens != 20 || s.Stop != "end_turn" || s.Deltas != 20 || !strings.HasPrefix(s.Text, "w1 w2") {
			t.Fatalf("stream %+v (%s)", s, out)
		}
		if got.Count.InputTokens != 5 || a.anth.Counts() != 1 {
			t.Fatalf("count %+v (%s)", got.Count, out)
		}
		if b.Usage.InputTokens != 3 || b.Usage.OutputTokens != 10 {
			t.Fatalf("bearer %+v (%s)", b, out)
		}
		if k := got.BadKey; k.Class != "AuthenticationError" || k.Status != 401 || k.Type != "authentication_error" || k.Code != "invalid_api_key" {
			t.Fatalf("wrong key %+v (%s)", k, out)
		}
		a.flush()
		if ev := a.event(w.RequestID); ev.Cost != claudeCost(5, 0, 0, 0, 20, 0) {
			t.Fatalf("whole event %+v", ev)
		}
		want := grant - 2*claudeCost(5, 0, 0, 0, 20, 0) - claudeCost(3, 0, 0, 0, 10, 0)
		if bal := a.balance(); bal.Balance != want || len(a.events()) != 3 {
			t.Fatalf("balance %s with %d events, want %s with 3", bal.Balance, len(a.events()), want)
		}
		a.verify()
	})
}
