package gateway

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"spectra/internal/budget"
	"spectra/internal/gateway/fakeupstream"
	"spectra/internal/ledger"
	"spectra/internal/metering"
	"spectra/internal/money"
	"spectra/internal/store"
	"spectra/internal/team"
)

// budgetNode is one more Spectra node over e's database: its own metering, ledger and
// budget services and a gateway that enforces hard budgets.
type budgetNode struct {
	budgets *budget.Service
	gw      *Gateway
	url     string
}

func (e *env) budgetNode() *budgetNode {
	e.t.Helper()
	m := metering.NewService(e.db, e.db, e.clock.Now)
	l := ledger.NewService(e.db, e.clock.Now)
	tm := team.NewService(e.db, e.clock.Now)
	bs, err := budget.New(budget.Config{Store: e.db, Metering: m, Ledger: l, Team: tm, Now: e.clock.Now,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	must(e.t, err)
	g, err := New(Config{Team: tm, Ledger: l, Metering: m, Store: e.db, Now: e.clock.Now, Budgets: bs,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), DefaultMaxTokens: 1000, HoldTTL: 10 * time.Minute})
	must(e.t, err)
	must(e.t, g.reg.load(context.Background()))
	srv := e.serve(g)
	e.t.Cleanup(func() { g.Flush(context.Background()) })
	return &budgetNode{budgets: bs, gw: g, url: srv.URL}
}

func (e *env) hardBudget(bs *budget.Service, b budget.Budget) budget.Budget {
	e.t.Helper()
	b.WorkspaceID, b.HardLimit = e.ws.ID, true
	if b.Period == "" {
		b.Period = budget.PeriodMonth
	}
	b, err := bs.Create(context.Background(), b)
	must(e.t, err)
	return b
}

// A hard budget on one key stops that key with budget_exceeded (naming the budget)
// before the upstream is called, while another key of the workspace keeps working.
func TestHardKeyBudgetStopsOnlyThatKey(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		e := newEnv(t, db, clk, envOpts{grant: 10 * money.Scale})
		n := e.budgetNode()
		est := fixedEstimate(t)
		cost := expectedCost(fixedPrompt, 0, 20)
		// Room for the first request's estimate, then for one more after its cost is
		// committed, and no more.
		b := e.hardBudget(n.budgets, budget.Budget{Name: "ci key", Scope: budget.ScopeKey, ScopeID: e.key.ID, Amount: est + cost})
		other, otherSecret, err := e.team.CreateKey(t.Context(), team.APIKey{WorkspaceID: e.ws.ID, Name: "other", Project: "proj"})
		must(t, err)
		for i := range 2 {
			resp, body := e.postTo(n.url, "/v1/chat/completions", fixedBody, e.secret)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("request %d: %d %s", i, resp.StatusCode, body)
			}
			must(t, n.gw.Flush(t.Context()))
		}
		before := e.up.Requests()
		resp, body := e.postTo(n.url, "/v1/chat/completions", fixedBody, e.secret)
		wantError(t, resp, body, http.StatusPaymentRequired, "budget_exceeded")
		ae := apiErr(t, body)
		if ae.BudgetID != b.ID || !strings.Contains(ae.Message, b.ID) || !strings.Contains(ae.Message, `"ci key"`) || ae.Type != "insufficient_quota" {
			t.Fatalf("error %+v", ae)
		}
		if e.up.Requests() != before {
			t.Fatal("the refused request reached the upstream")
		}
		// The official client sees a 402 with the code.
		c2 := openai.NewClient(option.WithBaseURL(n.url+"/v1"), option.WithAPIKey(e.secret), option.WithMaxRetries(0))
		_, err = c2.Chat.Completions.New(t.Context(), openai.ChatCompletionNewParams{Model: testModel, MaxTokens: openai.Int(100),
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("count to ten")}})
		var oe *openai.Error
		if !errors.As(err, &oe) || oe.StatusCode != http.StatusPaymentRequired || oe.Code != "budget_exceeded" {
			t.Fatalf("openai client error %v", err)
		}
		// The other key of the same workspace is not limited by it.
		for range 3 {
			resp, body = e.postTo(n.url, "/v1/chat/completions", fixedBody, otherSecret)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("other key %s: %d %s", other.ID, resp.StatusCode, body)
			}
		}
		must(t, n.gw.Flush(t.Context()))
		st, err := n.budgets.Status(t.Context(), e.ws.ID, b.ID)
		must(t, err)
		if st.Spent != 2*cost || st.Spent > b.Amount {
			t.Fatalf("budget spent %s, want %s", st.Spent, 2*cost)
		}
		e.verify()
	})
}

// Every scope's hard budget applies to the keys it covers: workspace, project, member.
func TestHardBudgetScopes(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		e := newEnv(t, db, clk, envOpts{grant: 10 * money.Scale})
		n := e.budgetNode()
		for _, sc := range []struct {
			scope budget.Scope
			id    string
		}{{budget.ScopeWorkspace, ""}, {budget.ScopeProject, "proj"}, {budget.ScopeMember, "mem"}} {
			b := e.hardBudget(n.budgets, budget.Budget{Name: string(sc.scope), Scope: sc.scope, ScopeID: sc.id, Amount: 1})
			resp, body := e.postTo(n.url, "/v1/chat/completions", fixedBody, e.secret)
			wantError(t, resp, body, http.StatusPaymentRequired, "budget_exceeded")
			if got := apiErr(t, body).BudgetID; got != b.ID {
				t.Fatalf("%s: refused by %s, want %s", sc.scope, got, b.ID)
			}
			must(t, n.budgets.Delete(t.Context(), e.ws.ID, b.ID))
		}
		// A budget of another project, or a soft one, does not stop the key.
		e.hardBudget(n.budgets, budget.Budget{Name: "staging", Scope: budget.ScopeProject, ScopeID: "staging", Amount: 1})
		_, err := n.budgets.Create(t.Context(), budget.Budget{WorkspaceID: e.ws.ID, Name: "soft", Scope: budget.ScopeWorkspace, Amount: 1, Period: budget.PeriodDay})
		must(t, err)
		resp, body := e.postTo(n.url, "/v1/chat/completions", fixedBody, e.secret)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("unrelated budgets stopped the key: %d %s", resp.StatusCode, body)
		}
	})
}

// 100 concurrent requests against a hard budget with room for exactly 10 estimates:
// one node admits exactly 10, and the final spend stays within the budget.
func TestHardBudgetConcurrentOneNode(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		gt := newGate()
		e := newEnv(t, db, clk, envOpts{grant: 10 * money.Scale, wrap: gt.wrap, upstream: fakeupstream.Options{CompletionTokens: 100}})
		n := e.budgetNode()
		est := fixedEstimate(t)
		b := e.hardBudget(n.budgets, budget.Budget{Name: "room for 10", Scope: budget.ScopeKey, ScopeID: e.key.ID, Amount: 10 * est})
		got := concurrentRefused(t, e, gt, []string{n.url}, 100, "budget_exceeded")
		if got[0] != 10 {
			t.Fatalf("%d admitted, want exactly 10", got[0])
		}
		must(t, n.gw.Flush(t.Context()))
		cost := expectedCost(fixedPrompt, 0, 100)
		st, err := n.budgets.Status(t.Context(), e.ws.ID, b.ID)
		must(t, err)
		if st.Spent != 10*cost || st.Spent > b.Amount {
			t.Fatalf("spent %s, want %s (amount %s)", st.Spent, 10*cost, b.Amount)
		}
		e.verify()
	})
}

// The same on two nodes over one database: each node admits at most the room it sees,
// so the overshoot is bounded by the other node's requests in flight when the limit was
// reached (here every request is in flight at once: exactly 10 per node).
func TestHardBudgetConcurrentTwoNodes(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		gt := newGate()
		e := newEnv(t, db, clk, envOpts{grant: 10 * money.Scale, wrap: gt.wrap, upstream: fakeupstream.Options{CompletionTokens: 100}})
		n1, n2 := e.budgetNode(), e.budgetNode()
		est := fixedEstimate(t)
		b := e.hardBudget(n1.budgets, budget.Budget{Name: "room for 10", Scope: budget.ScopeWorkspace, Amount: 10 * est})
		got := concurrentRefused(t, e, gt, []string{n1.url, n2.url}, 100, "budget_exceeded")
		if got[0] > 10 || got[1] > 10 || got[0]+got[1] < 10 {
			t.Fatalf("admitted %v, want at most 10 per node and at least 10 in all", got)
		}
		must(t, n1.gw.Flush(t.Context()))
		must(t, n2.gw.Flush(t.Context()))
		cost := expectedCost(fixedPrompt, 0, 100)
		admitted := money.Amount(got[0] + got[1])
		st, err := n2.budgets.Status(t.Context(), e.ws.ID, b.ID)
		must(t, err)
		if st.Spent != admitted*cost || st.Spent > b.Amount+10*cost {
			t.Fatalf("spent %s for %d requests; the bound is %s + 10 × %s", st.Spent, admitted, b.Amount, cost)
		}
		// Now that the spend is committed, both nodes refuse what no longer fits.
		room := b.Amount - st.Spent
		for _, u := range []string{n1.url, n2.url} {
			resp, body := e.postTo(u, "/v1/chat/completions", fixedBody, e.secret)
			if room < est {
				wantError(t, resp, body, http.StatusPaymentRequired, "budget_exceeded")
			}
		}
		must(t, n1.gw.Flush(t.Context()))
		must(t, n2.gw.Flush(t.Context()))
		e.verify()
	})
}

// A budget change through a node applies to it at once.
func TestBudgetChangeAppliesAtOnce(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		e := newEnv(t, db, clk, envOpts{grant: 10 * money.Scale})
		n := e.budgetNode()
		resp, body := e.postTo(n.url, "/v1/chat/completions", fixedBody, e.secret) // caches "no budgets"
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		b := e.hardBudget(n.budgets, budget.Budget{Name: "tiny", Scope: budget.ScopeKey, ScopeID: e.key.ID, Amount: 1})
		resp, body = e.postTo(n.url, "/v1/chat/completions", fixedBody, e.secret)
		wantError(t, resp, body, http.StatusPaymentRequired, "budget_exceeded")
		big := money.Amount(money.Scale)
		_, err := n.budgets.Update(t.Context(), e.ws.ID, b.ID, budget.Update{Amount: &big})
		must(t, err)
		resp, body = e.postTo(n.url, "/v1/chat/completions", fixedBody, e.secret)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("after raising the budget: %d %s", resp.StatusCode, body)
		}
	})
}

// Three gateway nodes settle concurrently across a soft budget's thresholds: each
// threshold is alerted exactly once, whichever node's settle crossed it.
func TestThresholdAlertOnceAcrossGatewayNodes(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, clk *clock) {
		e := newEnv(t, db, clk, envOpts{grant: 10 * money.Scale})
		nodes := []*budgetNode{e.budgetNode(), e.budgetNode(), e.budgetNode()}
		cost := expectedCost(fixedPrompt, 0, 20)
		b, err := nodes[0].budgets.Create(t.Context(), budget.Budget{WorkspaceID: e.ws.ID, Name: "soft", Scope: budget.ScopeWorkspace,
			Amount: 30 * cost, Period: budget.PeriodDay, Thresholds: []int{25, 50, 100}})
		must(t, err)
		var wg sync.WaitGroup
		for i := range 45 { // 45 requests: 150 % of the amount
			wg.Go(func() {
				resp, body := e.postTo(nodes[i%3].url, "/v1/chat/completions", fixedBody, e.secret)
				if resp.StatusCode != http.StatusOK {
					t.Errorf("%d %s", resp.StatusCode, body)
				}
			})
		}
		wg.Wait()
		for _, n := range nodes {
			must(t, n.gw.Flush(t.Context()))
		}
		for _, n := range nodes {
			n.budgets.Wait()
			must(t, n.budgets.Sweep(t.Context()))
		}
		alerts, err := nodes[2].budgets.Alerts(t.Context(), e.ws.ID, 100)
		must(t, err)
		seen := map[int]int{}
		for _, a := range alerts {
			if a.BudgetID != b.ID {
				t.Fatalf("alert %+v", a)
			}
			seen[a.Threshold]++
		}
		if len(alerts) != 3 || seen[25] != 1 || seen[50] != 1 || seen[100] != 1 {
			t.Fatalf("alerts by threshold %v, want one each", seen)
		}
		e.verify()
	})
}
