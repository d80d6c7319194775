package demo_test

import (
	"context"
	"testing"
	"time"

	"spectra/internal/budget"
	"spectra/internal/demo"
	"spectra/internal/errs"
	"spectra/internal/ledger"
	"spectra/internal/metering"
	"spectra/internal/money"
	"spectra/internal/store"
	"spectra/internal/store/storetest"
	"spectra/internal/team"
)

// now is a Sunday afternoon in New York, a little after a DST change is behind us.
var now = time.Date(2025, 6, 15, 19, 30, 0, 0, time.UTC)

type env struct {
	db    *store.DB
	clock *demo.Clock
	deps  demo.Deps
}

func newEnv(t *testing.T, db func(testing.TB, storetest.Options) *store.DB, withClock bool) env {
	clock := demo.NewClock(func() time.Time { return now })
	e := env{clock: clock, db: db(t, storetest.Options{Now: clock.Now})}
	e.deps = demo.Deps{Team: team.NewService(e.db, clock.Now), Accounts: team.NewAccounts(e.db, clock.Now),
		Ledger: ledger.NewService(e.db, clock.Now), Metering: metering.NewService(e.db, e.db, clock.Now), Prices: e.db}
	if withClock {
		e.deps.Clock = clock
	}
	return e
}

func daily(t *testing.T, e env, res demo.Result) []metering.Bucket {
	t.Helper()
	loc, _ := time.LoadLocation(demo.Timezone)
	b, err := e.deps.Metering.Usage(context.Background(), metering.UsageQuery{WorkspaceID: res.WorkspaceID, Start: res.From, End: res.To,
		Bucket: 24 * time.Hour, Location: loc})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sum(bs []metering.Bucket) metering.Totals {
	var t metering.Totals
	for _, b := range bs {
		for _, r := range b.Results {
			t.Add(r.Totals)
		}
	}
	return t
}

func TestSeed(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, storetest.SQLite, true)
	res, err := demo.Seed(ctx, e.deps, demo.Options{EventsPerDay: 40, Seed: 7, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if res.Events != 40*90 || res.OwnerEmail != "demo@example.com" || res.Password != "spectra-demo" || res.Members < 5 {
		t.Fatalf("result %+v", res)
	}
	if !e.clock.Now().Equal(now) {
		t.Fatalf("the clock was left at %v", e.clock.Now())
	}

	rep, err := e.db.Verify(ctx)
	if err != nil || !rep.OK() {
		t.Fatalf("verify: %+v, %v", rep, err)
	}

	// 90 distinct local days with usage, more on weekdays, growing.
	days := daily(t, e, res)
	if len(days) != 90 {
		t.Fatalf("%d daily buckets", len(days))
	}
	var weekday, weekend, weekdays, weekends int64
	for _, b := range days {
		req := sum([]metering.Bucket{b}).Requests
		if req == 0 {
			t.Fatalf("no usage on %s", b.Start.Format("Mon Jan 2"))
		}
		if wd := b.Start.Weekday(); wd == time.Saturday || wd == time.Sunday {
			weekend += req
			weekends++
		} else {
			weekday += req
			weekdays++
		}
	}
	if weekend*weekdays*2 > weekday*weekends {
		t.Errorf("weekends are not lighter: %d requests on %d weekend days, %d on %d weekdays", weekend, weekends, weekday, weekdays)
	}
	if first, last := sum(days[1:31]).Requests, sum(days[59:89]).Requests; last <= first {
		t.Errorf("no growth: %d requests in the first month, %d in the last", first, last)
	}
	total := sum(days)
	if total.Requests != int64(res.Events) || total.Cost != res.Spend || total.CachedInputTokens == 0 || total.ReasoningTokens == 0 || total.CacheWriteTokens == 0 {
		t.Fatalf("totals %+v, result %+v", total, res)
	}

	// Working hours are busier than the night.
	loc, _ := time.LoadLocation(demo.Timezone)
	if _, err := e.deps.Metering.Usage(ctx, metering.UsageQuery{WorkspaceID: res.WorkspaceID, Start: res.From, End: res.To, Bucket: time.Hour, Location: loc}); err == nil {
		t.Fatal("a 90-day hourly query should exceed the bucket limit")
	}
	hours, err := e.deps.Metering.Usage(ctx, metering.UsageQuery{WorkspaceID: res.WorkspaceID, Start: res.To.Add(-60 * 24 * time.Hour), End: res.To, Bucket: time.Hour, Location: loc})
	if err != nil {
		t.Fatal(err)
	}
	var byHour [24]int64
	for _, b := range hours {
		byHour[b.Start.In(loc).Hour()] += sum([]metering.Bucket{b}).Requests
	}
	if byHour[14] <= 2*byHour[4] {
		t.Errorf("2 p.m. (%d requests) is not much busier than 4 a.m. (%d)", byHour[14], byHour[4])
	}

	// The balance stays positive throughout and lasts a few weeks at the last week's burn.
	b, err := e.deps.Ledger.Balance(ctx, res.WorkspaceID)
	if err != nil || b.Balance <= 0 || b.Balance != res.Balance {
		t.Fatalf("balance %+v, %v (result %v)", b, err, res.Balance)
	}
	burn := sum(days[83:90]).Cost / 7
	if runway := b.Balance / burn; runway < 14 || runway > 30 {
		t.Errorf("runway %d days (balance %v, burn %v a day)", runway, b.Balance, burn)
	}
	var entries []ledger.Entry
	for before := int64(0); ; {
		page, err := e.deps.Ledger.Entries(ctx, res.WorkspaceID, before, 500)
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, page...)
		if len(page) < 500 {
			break
		}
		before = page[len(page)-1].Cursor
	}
	kinds := map[ledger.Kind]int{}
	ws, _ := e.deps.Team.Workspace(ctx, res.WorkspaceID)
	for i, en := range entries {
		kinds[en.Kind]++
		if en.BalanceAfter <= 0 {
			t.Fatalf("balance fell to %v at %v", en.BalanceAfter, en.CreatedAt)
		}
		if en.CreatedAt.Before(ws.CreatedAt) || en.CreatedAt.After(now) {
			t.Fatalf("entry dated %v, outside %v…%v", en.CreatedAt, ws.CreatedAt, now)
		}
		if i > 0 && en.CreatedAt.After(entries[i-1].CreatedAt) {
			t.Fatalf("entries out of time order: %v after %v", en.CreatedAt, entries[i-1].CreatedAt)
		}
	}
	if kinds[ledger.KindPayment] < 3 || kinds[ledger.KindGrant] < 3 || kinds[ledger.KindUsage] < 90 {
		t.Errorf("ledger kinds %v: want several top-ups and grants, usage posted through the period", kinds)
	}
	if !ws.CreatedAt.Before(res.From) || ws.Timezone != demo.Timezone || ws.Name != "Acme AI" {
		t.Errorf("workspace %+v", ws)
	}

	// Members with every role, each able to sign in.
	members, err := e.deps.Accounts.Members(ctx, res.WorkspaceID)
	if err != nil {
		t.Fatal(err)
	}
	roles := map[team.Role]int{}
	for _, m := range members {
		roles[m.Role]++
		if _, _, _, err := e.deps.Accounts.Login(ctx, m.Email, "spectra-demo"); err != nil {
			t.Errorf("%s cannot sign in: %v", m.Email, err)
		}
	}
	if len(members) != res.Members || len(roles) != 5 || roles[team.RoleOwner] != 1 {
		t.Errorf("members %+v", members)
	}
	// Issue 11: the demo's password is published, so no demo account is an operator
	// (who would see every workspace of the deployment); the owner owns the demo
	// workspace only.
	for _, m := range members {
		if u, _ := e.deps.Accounts.UserByEmail(ctx, m.Email); u.Operator {
			t.Errorf("%s is an operator", m.Email)
		}
	}
	if m, err := e.deps.Accounts.Member(ctx, res.WorkspaceID, mustUser(t, e.deps.Accounts, "demo@example.com")); err != nil || m.Role != team.RoleOwner {
		t.Errorf("the demo owner's membership: %+v %v", m, err)
	}

	// Keys per member and per project; one rotated; last use recorded.
	ks, err := e.deps.Team.Keys(ctx, res.WorkspaceID)
	if err != nil {
		t.Fatal(err)
	}
	revoked, used, projects, owned := 0, 0, map[string]bool{}, 0
	for _, k := range ks {
		if !k.Active() {
			revoked++
		}
		if k.LastUsedAt != nil {
			used++
			if k.LastUsedAt.After(now) || k.LastUsedAt.Before(now.Add(-3*24*time.Hour)) {
				t.Errorf("key %s last used %v", k.Name, k.LastUsedAt)
			}
		}
		projects[k.Project] = true
		if k.MemberID != "" {
			owned++
		}
	}
	if len(ks) != res.Keys || revoked != 1 || used < 6 || !projects["prod"] || !projects["staging"] || !projects["research"] || owned < 5 {
		t.Errorf("keys: %d (revoked %d, used %d, owned %d, projects %v)", len(ks), revoked, used, owned, projects)
	}

	// Gateway-like fields on the request log.
	evs, err := e.deps.Metering.Events(ctx, metering.EventFilter{WorkspaceID: res.WorkspaceID, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var streams, gateway, withLatency int
	for _, ev := range evs {
		if ev.Stream {
			streams++
		}
		if ev.Source == "gateway" {
			gateway++
			if ev.Status == 0 || ev.Endpoint == "" {
				t.Fatalf("gateway event without status or endpoint: %+v", ev)
			}
		}
		if ev.LatencyMS > 0 {
			withLatency++
		}
	}
	if streams == 0 || gateway == 0 || withLatency == 0 {
		t.Errorf("request log: %d streams, %d gateway, %d with latency of %d", streams, gateway, withLatency, len(evs))
	}

	// A second run refuses.
	_, err = demo.Seed(ctx, e.deps, demo.Options{EventsPerDay: 40, Now: func() time.Time { return now }})
	if !errs.Is(err, "demo_needs_empty_database") {
		t.Fatalf("second run: %v", err)
	}
}

func TestSeedIsDeterministic(t *testing.T) {
	ctx := context.Background()
	run := func(t *testing.T, seed int64, withClock bool, open func(testing.TB, storetest.Options) *store.DB) []metering.Bucket {
		e := newEnv(t, open, withClock)
		res, err := demo.Seed(ctx, e.deps, demo.Options{Days: 14, EventsPerDay: 30, Seed: seed, Password: "another password", Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		if res.Events != 14*30 || res.Password != "another password" {
			t.Fatalf("result %+v", res)
		}
		if _, _, _, err := e.deps.Accounts.Login(ctx, "alice@example.com", "another password"); err != nil {
			t.Fatal(err)
		}
		if rep, err := e.db.Verify(ctx); err != nil || !rep.OK() {
			t.Fatalf("verify: %+v, %v", rep, err)
		}
		if b, _ := e.deps.Ledger.Balance(ctx, res.WorkspaceID); b.Balance <= 0 {
			t.Fatalf("balance %v", b.Balance)
		}
		return daily(t, e, res)
	}
	a, b, c := run(t, 3, true, storetest.SQLite), run(t, 3, false, storetest.SQLite), run(t, 4, true, storetest.SQLite)
	same := func(x, y []metering.Bucket) bool {
		if len(x) != len(y) {
			return false
		}
		for i := range x {
			if sum(x[i:i+1]) != sum(y[i:i+1]) {
				return false
			}
		}
		return true
	}
	if !same(a, b) {
		t.Error("the same seed and time gave different usage")
	}
	if same(a, c) {
		t.Error("different seeds gave the same usage")
	}
	t.Run("postgres", func(t *testing.T) {
		if !same(a, run(t, 3, true, storetest.Postgres)) {
			t.Error("PostgreSQL holds different usage than SQLite for the same seed")
		}
	})
}

func TestSeedOptions(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, storetest.SQLite, true)
	for _, o := range []demo.Options{{Days: -1}, {Days: 5000}, {EventsPerDay: -5}, {Events: -1}} {
		if _, err := demo.Seed(ctx, e.deps, o); errs.KindOf(err) != errs.Invalid {
			t.Errorf("Seed(%+v) = %v, want an invalid-options error", o, err)
		}
	}
	res, err := demo.Seed(ctx, e.deps, demo.Options{Days: 2, Events: 5, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if res.Events != 5 {
		t.Fatalf("Events = %d, want exactly 5", res.Events)
	}
	if b, _ := e.deps.Ledger.Balance(ctx, res.WorkspaceID); b.Balance <= 0 || b.Balance != res.Balance {
		t.Fatalf("balance %v", b.Balance)
	}
}

// With a budget service, the demo workspace gets its budgets and low-balance line, and
// the alerts its history crossed.
func TestSeedBudgets(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, storetest.SQLite, true)
	svc, err := budget.New(budget.Config{Store: e.db, Metering: e.deps.Metering, Ledger: e.deps.Ledger, Team: e.deps.Team, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	e.deps.Budgets = svc
	res, err := demo.Seed(ctx, e.deps, demo.Options{EventsPerDay: 40, Seed: 7, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	svc.Wait()
	sts, err := svc.Statuses(ctx, res.WorkspaceID)
	if err != nil || len(sts) != 2 {
		t.Fatalf("statuses: %v %v", sts, err)
	}
	monthly, staging := sts[0], sts[1]
	if monthly.Name != "Team monthly" {
		monthly, staging = staging, monthly
	}
	if monthly.Name != "Team monthly" || monthly.Scope != budget.ScopeWorkspace || monthly.Spent <= 0 || monthly.Amount%money.Scale != 0 ||
		monthly.HardLimit {
		t.Errorf("monthly budget: %+v", monthly)
	}
	if staging.Scope != budget.ScopeProject || staging.ScopeID != "staging" || !staging.HardLimit || staging.Period != budget.PeriodDay {
		t.Errorf("staging budget: %+v", staging.Budget)
	}
	// The monthly amount is 125 % of an average month of the history (rounded up).
	avg := int64(res.Spend) * 30 / 90
	if a := int64(monthly.Amount); a < avg*5/4 || a > avg*5/4+money.Scale {
		t.Errorf("monthly amount %s for an average month of %s", monthly.Amount, money.Amount(avg))
	}
	if lb, _ := svc.LowBalance(ctx, res.WorkspaceID); lb.Line != 5*money.Scale {
		t.Errorf("low-balance line %s", lb.Line)
	}
	alerts, err := svc.Alerts(ctx, res.WorkspaceID, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range alerts {
		if a.WorkspaceID != res.WorkspaceID || a.Subject == "" {
			t.Errorf("alert %+v", a)
		}
	}
	if rep, err := e.db.Verify(ctx); err != nil || !rep.OK() {
		t.Fatalf("verify: %+v, %v", rep, err)
	}
}

// mustUser returns the id of the user with this email.
func mustUser(t *testing.T, a *team.Accounts, email string) string {
	t.Helper()
	u, err := a.UserByEmail(context.Background(), email)
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}
