// Package demo fills a fresh database with a believable workspace, "Acme AI": a team
// with every role, keys per member and per project, several models at real list prices,
// and 90 days of usage with a daily and weekly rhythm and gentle growth, paid for by
// top-ups and grants that leave a positive balance with a runway of about three weeks.
//
// Everything generated is deterministic for a given Options.Now and Options.Seed, except
// the random ids and key secrets the services make.
package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"

	"spectra/internal/billing"
	"spectra/internal/budget"
	"spectra/internal/errs"
	"spectra/internal/ledger"
	"spectra/internal/metering"
	"spectra/internal/money"
	"spectra/internal/pricing"
	"spectra/internal/team"
)

// Deps are the services Seed writes through.
type Deps struct {
	Team     *team.Service
	Accounts *team.Accounts
	Ledger   *ledger.Service
	Metering *metering.Service
	Prices   pricing.Store // read only: prices are written through Metering.PutPrice
	// Billing, when set, records the top-ups as bank transfers with their receipts (as a
	// deployment does); without it they are plain ledger credits.
	Billing *billing.Service
	// Budgets, when set, gets the demo's budgets and low-balance line.
	Budgets *budget.Service
	// Clock, when set, is the clock the store and services above were built with; Seed
	// moves it through the period so that creations, credits and the ledger's usage
	// transfers carry their historical times, and releases it at the end. Without it they
	// are dated when Seed runs (events keep their historical timestamps either way).
	Clock *Clock
}

// Options tune Seed. Zero values take the defaults.
type Options struct {
	Password     string           // every demo member's password; default DefaultPassword
	Days         int              // days of history, ending today; default 90
	EventsPerDay int              // average requests per day; default 3000
	Events       int              // total requests; when > 0 it overrides EventsPerDay (e.g. 10,000,000 for the benchmark)
	Now          func() time.Time // the end of the history; default time.Now
	Seed         int64            // the random seed of the generated usage
	Workers      int              // concurrent ingesting goroutines; default 8
	// Progress, when set, is called after each hour of history with the events written so far and the total.
	Progress func(done, total int)
}

// Defaults.
const (
	DefaultPassword     = "spectra-demo"
	DefaultDays         = 90
	DefaultEventsPerDay = 3000
	OwnerEmail          = "demo@example.com"
	WorkspaceName       = "Acme AI"
	Timezone            = "America/New_York"
	batchSize           = 500
)

// Result says what Seed made and how to sign in.
type Result struct {
	WorkspaceID string
	OwnerEmail  string
	Password    string // every member's password (alice@example.com is admin, bob billing, carol member, dave viewer, …)
	Events      int
	Members     int
	Keys        int
	Spend       money.Amount // the cost of all generated usage
	Balance     money.Amount // the wallet's balance at the end
	From, To    time.Time    // the period of the usage
}

// ErrNotEmpty is returned when the database already has accounts.
var ErrNotEmpty = errs.E(errs.Conflict, "demo_needs_empty_database", "the demo fills a fresh database, and this one already has accounts; point --database at a new file or database")

func (o *Options) defaults() error {
	if o.Password == "" {
		o.Password = DefaultPassword
	}
	if o.Days == 0 {
		o.Days = DefaultDays
	}
	if o.EventsPerDay == 0 {
		o.EventsPerDay = DefaultEventsPerDay
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Workers <= 0 {
		o.Workers = 8
	}
	switch {
	case o.Days < 1 || o.Days > 3660:
		return errs.E(errs.Invalid, "invalid_days", "days must be between 1 and 3660")
	case o.EventsPerDay < 0 || o.Events < 0:
		return errs.E(errs.Invalid, "invalid_events", "the number of events must not be negative")
	}
	if o.Events == 0 {
		o.Events = o.EventsPerDay * o.Days
	}
	return nil
}

// seeder carries one Seed run.
type seeder struct {
	d       Deps
	o       Options
	cal     calendar
	traffic *traffic
	catalog *pricing.Catalog

	ws       team.Workspace
	users    []team.User
	keyIDs   []string
	secrets  []string
	lastUsed []time.Time // per key
	done     int
}

// Seed fills the database behind d with the demo workspace. It refuses a database that
// already has accounts (demo_needs_empty_database).
func Seed(ctx context.Context, d Deps, o Options) (Result, error) {
	if err := o.defaults(); err != nil {
		return Result{}, err
	}
	has, err := d.Accounts.HasUsers(ctx)
	if err != nil {
		return Result{}, err
	}
	if has {
		return Result{}, ErrNotEmpty
	}
	loc, err := time.LoadLocation(Timezone)
	if err != nil {
		return Result{}, err
	}
	if d.Clock != nil {
		defer d.Clock.Release()
	}
	now := o.Now().Truncate(time.Microsecond)
	s := &seeder{d: d, o: o, cal: newCalendar(now, o.Days, loc)}
	s.traffic = newTraffic(s.cal, o.Seed, o.Events)
	s.keyIDs, s.secrets, s.lastUsed = make([]string, len(keys)), make([]string, len(keys)), make([]time.Time, len(keys))
	if err := s.prices(ctx); err != nil {
		return Result{}, err
	}
	cost, spend, err := s.dailyCost(ctx)
	if err != nil {
		return Result{}, err
	}
	if err := s.run(ctx, s.timeline(planFunding(s.cal, cost))); err != nil {
		return Result{}, err
	}
	if err := s.touchKeys(ctx); err != nil {
		return Result{}, err
	}
	if err := s.budgets(ctx, spend); err != nil {
		return Result{}, err
	}
	b, err := d.Ledger.Balance(ctx, s.ws.ID)
	if err != nil {
		return Result{}, err
	}
	return Result{WorkspaceID: s.ws.ID, OwnerEmail: OwnerEmail, Password: o.Password, Events: s.done, Members: len(people),
		Keys: len(keys), Spend: spend, Balance: b.Balance, From: s.cal.start[0], To: now}, nil
}

// prices adds the demo's models to the catalog, in effect a week before the workspace
// was made, unless the catalog already prices a model then.
func (s *seeder) prices(ctx context.Context) error {
	from := s.cal.created.AddDate(0, 0, -7).UTC().Truncate(24 * time.Hour)
	cat, err := s.d.Prices.Catalog(ctx)
	if err != nil {
		return err
	}
	for _, p := range Prices(from) {
		if _, err := cat.At(p.Model, from); err == nil {
			continue
		}
		if _, _, err := s.d.Metering.PutPrice(ctx, p); err != nil {
			return fmt.Errorf("demo price for %s: %w", p.Model, err)
		}
	}
	s.catalog, err = s.d.Metering.Catalog(ctx)
	return err
}

// dailyCost generates every day once, in parallel, to learn what each day costs.
func (s *seeder) dailyCost(ctx context.Context) ([]money.Amount, money.Amount, error) {
	exact := make([]pricing.Exact, s.cal.days) // each day's exact cost
	errsByDay := make([]error, s.cal.days)
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for d := range s.cal.days {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			for _, g := range s.traffic.day(d) {
				c, err := s.cost(g)
				if err == nil {
					exact[d], err = pricing.AddExact(exact[d], c)
				}
				if err != nil {
					errsByDay[d] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	cost := make([]money.Amount, s.cal.days)
	var total pricing.Exact
	for d, err := range errsByDay {
		if err != nil {
			return nil, 0, err
		}
		cost[d] = exact[d].Round()
		if total, err = pricing.AddExact(total, exact[d]); err != nil {
			return nil, 0, err
		}
	}
	// The wallet is charged the running total of the exact costs, rounded down
	// (metering.Batch.Charge, from a carry of 0).
	return cost, total.Micro, ctx.Err()
}

// cost is the exact cost of g.
func (s *seeder) cost(g gen) (pricing.Exact, error) {
	p, err := s.catalog.At(catalog[g.model].model, g.ts)
	if err != nil {
		return pricing.Exact{}, err
	}
	q, err := p.Quote(g.usage)
	return q.Cost, err
}

// step is something that happens at a moment of the history: a member joins, a key is
// made or revoked, money arrives.
type step struct {
	at time.Time
	do func(ctx context.Context) error
}

// timeline lists the steps of the history in time order.
func (s *seeder) timeline(credits []credit) []step {
	steps := []step{{s.cal.created, s.createWorkspace}}
	for i, p := range people {
		at := s.cal.at(p.joinDay, p.joinHour, 5+9*i)
		if i == owner {
			at = s.cal.created
		}
		steps = append(steps, step{at, func(ctx context.Context) error { return s.join(ctx, i) }})
	}
	for i, k := range keys {
		steps = append(steps, step{s.traffic.created[i], func(ctx context.Context) error { return s.createKey(ctx, i) }})
		if k.revokeDay > 0 {
			steps = append(steps, step{s.traffic.revoked[i], func(ctx context.Context) error {
				_, err := s.d.Team.RevokeKey(ctx, s.ws.ID, s.keyIDs[i])
				return err
			}})
		}
	}
	for _, c := range credits {
		steps = append(steps, step{c.at, func(ctx context.Context) error {
			var err error
			switch {
			case c.grant:
				_, _, err = s.d.Ledger.Grant(ctx, s.ws.ID, c.amount, c.key, c.note)
			case s.d.Billing != nil: // a payment with its receipt, as billing records every one
				_, _, err = s.d.Billing.RecordManualPayment(ctx, s.ws.ID, billing.ManualPayment{Amount: c.amount, Reference: c.ref})
			default:
				_, _, err = s.d.Ledger.Credit(ctx, s.ws.ID, c.amount, s.ws.ID+":"+c.key, c.note)
			}
			return err
		}})
	}
	steps = append(steps, s.statements()...)
	slices.SortStableFunc(steps, func(a, b step) int { return a.at.Compare(b.at) })
	return steps
}

// statements issues each month's usage statement an hour after the month ends in the
// workspace's time zone, as the statements job of a running deployment would, for
// every month of the history that has ended: a demo's past months have their
// statements, dated when they would have been issued.
func (s *seeder) statements() []step {
	if s.d.Billing == nil {
		return nil
	}
	var steps []step
	for m := billing.MonthOf(s.cal.start[0], s.cal.loc); ; m = m.Next() {
		at := m.End(s.cal.loc).Add(time.Hour)
		if at.After(s.cal.now) {
			return steps
		}
		steps = append(steps, step{at, func(ctx context.Context) error {
			_, _, err := s.d.Billing.IssueStatement(ctx, s.ws.ID, m)
			return err
		}})
	}
}

func (s *seeder) createWorkspace(ctx context.Context) error {
	var err error
	s.ws, err = s.d.Team.CreateWorkspace(ctx, team.Workspace{Name: WorkspaceName, Timezone: Timezone})
	return err
}

func (s *seeder) join(ctx context.Context, i int) error {
	p := people[i]
	// Nobody in the demo is an operator: their password is published, and an operator
	// sees every workspace of the deployment. Operators come in with the admin token.
	u, err := s.d.Accounts.CreateUser(ctx, p.email, p.name, s.o.Password, false)
	if err != nil {
		return err
	}
	s.users = append(s.users, u)
	_, err = s.d.Accounts.AddMember(ctx, s.ws.ID, u.ID, p.role)
	return err
}

func (s *seeder) userID(person int) string {
	if person == noMember {
		return ""
	}
	for _, u := range s.users {
		if u.Email == people[person].email {
			return u.ID
		}
	}
	panic("demo: key of a member who has not joined: " + people[person].email)
}

func (s *seeder) createKey(ctx context.Context, i int) error {
	k := keys[i]
	key, secret, err := s.d.Team.CreateKey(ctx, team.APIKey{WorkspaceID: s.ws.ID, Name: k.name, Kind: k.kind,
		Project: k.project, MemberID: s.userID(k.member)})
	s.keyIDs[i], s.secrets[i] = key.ID, secret
	return err
}

// run walks the history day by day. Each day's events are ingested in chunks that end
// at the day's steps (a key made, money received), so that the ledger's usage transfers,
// dated at the last request of their chunk, and the steps come in time order.
func (s *seeder) run(ctx context.Context, steps []step) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := 0
	doSteps := func(until time.Time) error { // the steps before until
		for ; next < len(steps) && steps[next].at.Before(until); next++ {
			s.d.Clock.set(steps[next].at)
			if err := steps[next].do(ctx); err != nil {
				return err
			}
		}
		return nil
	}
	if err := doSteps(s.cal.start[0]); err != nil {
		return err
	}
	days := s.generate(ctx)
	for d := range s.cal.days {
		gens := days.take(d)
		end := s.cal.start[d+1]
		if s.cal.now.Before(end) {
			end = s.cal.now
		}
		for {
			cut := end
			if next < len(steps) && steps[next].at.Before(end) {
				cut = steps[next].at
			}
			n, _ := slices.BinarySearchFunc(gens, cut, func(g gen, t time.Time) int { return g.ts.Compare(t) }) // the first at or after cut
			// The chunk's usage transfer is dated at its last request, as a live
			// deployment posts usage just after it happens: a day's usage is dated on
			// that day, not at the next midnight.
			posted := cut
			if n > 0 {
				posted = gens[n-1].ts
			}
			s.d.Clock.set(posted)
			if err := s.ingest(ctx, d, gens[:n]); err != nil {
				return err
			}
			s.done += n
			gens = gens[n:]
			if s.o.Progress != nil && n > 0 {
				s.o.Progress(s.done, s.o.Events)
			}
			if cut.Equal(end) {
				break
			}
			if err := doSteps(cut.Add(time.Microsecond)); err != nil {
				return err
			}
		}
		if len(gens) > 0 {
			return fmt.Errorf("demo: %d events of day %d after its end", len(gens), d)
		}
	}
	return doSteps(time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC))
}

// generated hands days from the generating goroutines to the writer, in order.
type generated struct {
	days  []chan []gen
	ahead chan struct{}
}

// take waits for day d and lets the generators start another one.
func (g generated) take(d int) []gen {
	gens := <-g.days[d]
	<-g.ahead
	return gens
}

// generate makes days on a few goroutines, at most a few days ahead of the writer.
func (s *seeder) generate(ctx context.Context) generated {
	g := generated{days: make([]chan []gen, s.cal.days), ahead: make(chan struct{}, max(2, min(4, runtime.GOMAXPROCS(0)/2)))}
	for d := range g.days {
		g.days[d] = make(chan []gen, 1)
	}
	go func() {
		for d := range s.cal.days {
			select {
			case g.ahead <- struct{}{}:
			case <-ctx.Done():
				return
			}
			go func() { g.days[d] <- s.traffic.day(d) }()
		}
	}()
	return g
}

// ingest writes one hour's events through metering, batchSize at a time, concurrently.
func (s *seeder) ingest(ctx context.Context, d int, gens []gen) error {
	if len(gens) == 0 {
		return nil
	}
	batches := (len(gens) + batchSize - 1) / batchSize
	errc := make(chan error, batches)
	sem := make(chan struct{}, s.o.Workers)
	offset := s.done
	for b := range batches {
		lo, hi := b*batchSize, min((b+1)*batchSize, len(gens))
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			errc <- s.ingestBatch(ctx, d, offset+lo, gens[lo:hi])
		}()
	}
	var first error
	for range batches {
		if err := <-errc; err != nil && first == nil {
			first = err
		}
	}
	for _, g := range gens {
		s.lastUsed[g.key] = g.ts
	}
	return first
}

func (s *seeder) ingestBatch(ctx context.Context, d, offset int, gens []gen) error {
	date := s.cal.start[d].Format("20060102")
	events := make([]metering.Event, len(gens))
	for i, g := range gens {
		k := keys[g.key]
		e := metering.Event{ID: fmt.Sprintf("demo_%s_%08d", date, offset+i), WorkspaceID: s.ws.ID, KeyID: s.keyIDs[g.key],
			Project: k.project, Member: s.userID(k.member), Model: catalog[g.model].model, Timestamp: g.ts, Usage: g.usage,
			Source: k.source, Status: g.status, LatencyMS: g.latencyMS, Stream: g.stream, Estimated: g.estimated}
		if g.status != 0 {
			e.Endpoint = shapes[g.model].endpoint
		}
		if g.feature != "" {
			e.Metadata, _ = json.Marshal(map[string]string{"feature": g.feature})
		}
		events[i] = e
	}
	res, err := s.d.Metering.Ingest(ctx, events)
	if err != nil {
		return err
	}
	if len(res.Rejected) > 0 {
		r := res.Rejected[0]
		return fmt.Errorf("demo event %s refused: %s: %s", r.ID, r.Code, r.Error)
	}
	if res.Accepted != len(events) {
		return fmt.Errorf("demo: %d of %d events accepted", res.Accepted, len(events))
	}
	return nil
}

// touchKeys records each key's last use at the time of its last request.
func (s *seeder) touchKeys(ctx context.Context) error {
	for i, at := range s.lastUsed {
		if at.IsZero() || !s.traffic.revoked[i].IsZero() {
			continue // unused, or revoked (a revoked key no longer authenticates)
		}
		s.d.Clock.set(at)
		if _, err := s.d.Team.Authenticate(ctx, s.secrets[i]); err != nil {
			return err
		}
	}
	return s.d.Team.FlushUsage(ctx)
}
