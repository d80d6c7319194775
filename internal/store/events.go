package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"spectra/internal/ids"
	"spectra/internal/ledger"
	"spectra/internal/metering"
	"spectra/internal/money"
)

// maxGroupEvents bounds how many events concurrent ApplyEvents calls merge into one transaction.
const maxGroupEvents = 4000

// committer groups concurrent ApplyEvents calls into shared transactions: on SQLite one
// writer commits many batches at once instead of queueing them one by one; on PostgreSQL
// a few workers each commit what has gathered since their last commit.
type committer struct {
	db   *DB
	reqs chan *applyReq
	quit chan struct{}
	wg   sync.WaitGroup
}

type applyReq struct {
	ctx      context.Context
	version  int64
	events   []metering.Event
	outcomes []metering.Outcome
	err      error
	done     chan struct{}
}

func newCommitter(db *DB, workers int) *committer {
	c := &committer{db: db, reqs: make(chan *applyReq), quit: make(chan struct{})}
	for range workers {
		c.wg.Add(1)
		go c.run()
	}
	return c
}

func (c *committer) stop() {
	close(c.quit)
	c.wg.Wait()
}

func (c *committer) run() {
	defer c.wg.Done()
	for {
		var first *applyReq
		select {
		case first = <-c.reqs:
		case <-c.quit:
			return
		}
		group, n := []*applyReq{first}, len(first.events)
	gather:
		for n < maxGroupEvents {
			select {
			case r := <-c.reqs:
				group = append(group, r)
				n += len(r.events)
			default:
				break gather
			}
		}
		c.commit(group)
	}
}

// commit applies a group in one transaction. When that fails, each request is applied on
// its own, so one request's failure never fails another's.
func (c *committer) commit(group []*applyReq) {
	err := c.db.applyGroup(context.WithoutCancel(group[0].ctx), group)
	if err != nil && len(group) > 1 {
		for _, r := range group {
			r.err = c.db.applyGroup(context.WithoutCancel(r.ctx), []*applyReq{r})
			close(r.done)
		}
		return
	}
	for _, r := range group {
		if r.err == nil {
			r.err = err
		}
		close(r.done)
	}
}

// ApplyEvents applies prepared, priced events exactly once each. See metering.Store.
func (db *DB) ApplyEvents(ctx context.Context, catalogVersion int64, events []metering.Event) ([]metering.Outcome, error) {
	if len(events) == 0 {
		return nil, nil
	}
	r := &applyReq{ctx: ctx, version: catalogVersion, events: events, done: make(chan struct{})}
	select {
	case db.ingest.reqs <- r:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	<-r.done // once handed over, wait: the outcome is decided by the commit, not by the caller's patience
	return r.outcomes, r.err
}

type eventKey struct{ ws, id string }

type rollupKey struct {
	ws                            string
	hour                          int64
	project, keyID, member, model string
}

type walletChange struct {
	debit    money.Amount // usage cost posted now
	released money.Amount // holds settled now
}

// applyGroup is one transaction over every request of a group (retried as a whole on
// PostgreSQL serialization failures and lost insert races).
func (db *DB) applyGroup(ctx context.Context, group []*applyReq) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		version, err := db.catalogVersion(ctx, tx)
		if err != nil {
			return err
		}
		var live []*applyReq
		for _, r := range group {
			r.outcomes, r.err = make([]metering.Outcome, len(r.events)), nil
			if r.version != version {
				r.err = metering.ErrCatalogChanged
				continue
			}
			live = append(live, r)
		}
		return db.apply(ctx, tx, live)
	})
}

func (db *DB) apply(ctx context.Context, tx *sql.Tx, group []*applyReq) error {
	now := db.now()
	type ref struct{ r, i int }
	first := map[eventKey]ref{}
	var fresh []ref
	var later []ref
	wallets := map[string]bool{}
	for ri, r := range group {
		for i, e := range r.events {
			k := eventKey{e.WorkspaceID, e.ID}
			if _, seen := first[k]; seen {
				later = append(later, ref{ri, i})
				continue
			}
			first[k] = ref{ri, i}
			fresh = append(fresh, ref{ri, i})
			wallets[e.WorkspaceID] = true
		}
	}
	ev := func(x ref) *metering.Event { return &group[x.r].events[x.i] }
	known, err := db.existingWallets(ctx, tx, wallets)
	if err != nil {
		return err
	}
	slices.SortFunc(fresh, func(a, b ref) int {
		return cmp.Or(strings.Compare(ev(a).WorkspaceID, ev(b).WorkspaceID), strings.Compare(ev(a).ID, ev(b).ID))
	})
	groupID := ids.Random(10)
	usageKey := func(ws string) string { return "usage:" + groupID + ":" + ws }

	// 1. Insert events; the primary key (workspace, id) is what makes each count once.
	var candidates []ref
	for _, x := range fresh {
		if !known[ev(x).WorkspaceID] {
			group[x.r].outcomes[x.i] = metering.UnknownWorkspace
			continue
		}
		candidates = append(candidates, x)
	}
	inserted := map[eventKey]bool{}
	const rowsPerInsert = 400
	for start := 0; start < len(candidates); start += rowsPerInsert {
		chunk := candidates[start:min(start+rowsPerInsert, len(candidates))]
		args := make([]any, 0, len(chunk)*eventColumnsN)
		for _, x := range chunk {
			e := ev(x)
			uk := ""
			if e.Cost > 0 {
				uk = usageKey(e.WorkspaceID)
			}
			var meta any
			if len(e.Metadata) > 0 {
				meta = string(e.Metadata)
			}
			src := e.Source
			if src == "" {
				src = "api"
			}
			args = append(args, e.WorkspaceID, e.ID, micros(e.Timestamp), e.KeyID, e.Project, e.Member, e.Model,
				e.Usage.Input, e.Usage.CachedInput, e.Usage.CacheWrite, e.Usage.Output, e.Usage.Reasoning, int64(e.Cost), uk,
				src, e.Endpoint, e.Status, e.LatencyMS, boolInt(e.Stream), boolInt(e.Estimated), meta, e.Hash, micros(now))
		}
		rows, err := tx.QueryContext(ctx, db.q(`INSERT INTO events (`+eventColumns+`) VALUES `+placeholders(len(chunk), eventColumnsN)+
			` ON CONFLICT (workspace_id, id) DO NOTHING RETURNING workspace_id, id`), args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var k eventKey
			if err := rows.Scan(&k.ws, &k.id); err != nil {
				rows.Close()
				return err
			}
			inserted[k] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}

	// 2. Events not inserted were there before: a duplicate when the contents match.
	stored := map[eventKey]string{}
	for _, x := range candidates {
		e := ev(x)
		k := eventKey{e.WorkspaceID, e.ID}
		if inserted[k] {
			stored[k] = e.Hash
			group[x.r].outcomes[x.i] = metering.Accepted
			continue
		}
		var h string
		err := tx.QueryRowContext(ctx, db.q(`SELECT hash FROM events WHERE workspace_id = ? AND id = ?`), e.WorkspaceID, e.ID).Scan(&h)
		if errors.Is(err, sql.ErrNoRows) {
			return errRetry // inserted by a concurrent transaction not yet visible; run again
		}
		if err != nil {
			return err
		}
		stored[k] = h
		group[x.r].outcomes[x.i] = outcomeFor(h, e.Hash)
	}
	for _, x := range later {
		e := ev(x)
		h, ok := stored[eventKey{e.WorkspaceID, e.ID}]
		if !ok {
			group[x.r].outcomes[x.i] = metering.UnknownWorkspace
			continue
		}
		group[x.r].outcomes[x.i] = outcomeFor(h, e.Hash)
	}

	// 3. Settle holds (whatever the outcome: a duplicate was charged before, so its hold
	// must not linger), sum the rollups and the wallet debits.
	changes := map[string]*walletChange{}
	change := func(ws string) *walletChange {
		c := changes[ws]
		if c == nil {
			c = &walletChange{}
			changes[ws] = c
		}
		return c
	}
	rollups := map[rollupKey]*metering.Totals{}
	for ri, r := range group {
		for i := range r.events {
			e := &r.events[i]
			o := r.outcomes[i]
			if e.HoldID != "" && o != metering.UnknownWorkspace {
				var amount int64
				err := tx.QueryRowContext(ctx, db.q(`UPDATE holds SET status = 'settled', closed_at = ? WHERE id = ? AND status = 'held' AND account_id = ? RETURNING amount`),
					micros(now), e.HoldID, string(ledger.Wallet(e.WorkspaceID))).Scan(&amount)
				if err == nil {
					change(e.WorkspaceID).released += money.Amount(amount)
				} else if !errors.Is(err, sql.ErrNoRows) {
					return err
				}
			}
			if o != metering.Accepted || first[eventKey{e.WorkspaceID, e.ID}] != (ref{ri, i}) {
				continue
			}
			change(e.WorkspaceID).debit += e.Cost
			k := rollupKey{e.WorkspaceID, micros(e.Timestamp.Truncate(time.Hour)), e.Project, e.KeyID, e.Member, e.Model}
			t := rollups[k]
			if t == nil {
				t = &metering.Totals{}
				rollups[k] = t
			}
			t.Add(metering.TotalsOf(*e))
		}
	}
	if err := db.upsertRollups(ctx, tx, rollups); err != nil {
		return err
	}

	// 4. One usage transfer per wallet, in a fixed order so concurrent groups never deadlock.
	for _, ws := range slices.Sorted(mapsKeys(changes)) {
		c := changes[ws]
		var after int64
		err := tx.QueryRowContext(ctx, db.q(`UPDATE accounts SET balance = balance - ?, held = held - ? WHERE id = ? RETURNING balance`),
			int64(c.debit), int64(c.released), string(ledger.Wallet(ws))).Scan(&after)
		if err != nil {
			return err
		}
		if c.debit == 0 {
			continue
		}
		var id int64
		if err := tx.QueryRowContext(ctx, db.q(`INSERT INTO transfers (idempotency_key, kind, from_account, to_account, amount, workspace_id, note, created_at) VALUES (?, 'usage', ?, ?, ?, ?, '', ?) RETURNING id`),
			usageKey(ws), string(ledger.Wallet(ws)), string(ledger.Usage), int64(c.debit), ws, micros(now)).Scan(&id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO entries (transfer_id, account_id, amount, balance_after, created_at) VALUES (?, ?, ?, ?, ?), (?, ?, ?, NULL, ?)`),
			id, string(ledger.Wallet(ws)), -int64(c.debit), after, micros(now), id, string(ledger.Usage), int64(c.debit), micros(now)); err != nil {
			return err
		}
	}
	return nil
}

func outcomeFor(storedHash, hash string) metering.Outcome {
	if storedHash == hash {
		return metering.Duplicate
	}
	return metering.Conflict
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

const eventColumns = `workspace_id, id, ts, key_id, project, member, model, input_tokens, cached_input_tokens, cache_write_tokens, output_tokens, reasoning_tokens, cost, usage_key, source, endpoint, status, latency_ms, stream, estimated, metadata, hash, ingested_at`
const eventColumnsN = 23

func (db *DB) existingWallets(ctx context.Context, tx *sql.Tx, wallets map[string]bool) (map[string]bool, error) {
	known := map[string]bool{}
	list := slices.Sorted(mapsKeys(wallets))
	for start := 0; start < len(list); start += 500 {
		chunk := list[start:min(start+500, len(list))]
		args := make([]any, len(chunk))
		for i, ws := range chunk {
			args[i] = string(ledger.Wallet(ws))
		}
		rows, err := tx.QueryContext(ctx, db.q(`SELECT workspace_id FROM accounts WHERE id IN (`+strings.TrimSuffix(strings.Repeat("?,", len(chunk)), ",")+`)`), args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var ws string
			if err := rows.Scan(&ws); err != nil {
				rows.Close()
				return nil, err
			}
			known[ws] = true
		}
		rows.Close()
	}
	return known, nil
}

func (db *DB) upsertRollups(ctx context.Context, tx *sql.Tx, rollups map[rollupKey]*metering.Totals) error {
	keys := make([]rollupKey, 0, len(rollups))
	for k := range rollups {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b rollupKey) int {
		return cmp.Or(strings.Compare(a.ws, b.ws), cmp.Compare(a.hour, b.hour), strings.Compare(a.project, b.project),
			strings.Compare(a.keyID, b.keyID), strings.Compare(a.member, b.member), strings.Compare(a.model, b.model))
	})
	const per = 300
	for start := 0; start < len(keys); start += per {
		chunk := keys[start:min(start+per, len(keys))]
		args := make([]any, 0, len(chunk)*13)
		for _, k := range chunk {
			t := rollups[k]
			args = append(args, k.ws, k.hour, k.project, k.keyID, k.member, k.model, t.Requests, t.InputTokens, t.CachedInputTokens,
				t.CacheWriteTokens, t.OutputTokens, t.ReasoningTokens, int64(t.Cost))
		}
		_, err := tx.ExecContext(ctx, db.q(`INSERT INTO rollups_hourly (workspace_id, hour, project, key_id, member, model, requests, input_tokens, cached_input_tokens, cache_write_tokens, output_tokens, reasoning_tokens, cost)
			VALUES `+placeholders(len(chunk), 13)+`
			ON CONFLICT (workspace_id, hour, project, key_id, member, model) DO UPDATE SET
			requests = rollups_hourly.requests + excluded.requests,
			input_tokens = rollups_hourly.input_tokens + excluded.input_tokens,
			cached_input_tokens = rollups_hourly.cached_input_tokens + excluded.cached_input_tokens,
			cache_write_tokens = rollups_hourly.cache_write_tokens + excluded.cache_write_tokens,
			output_tokens = rollups_hourly.output_tokens + excluded.output_tokens,
			reasoning_tokens = rollups_hourly.reasoning_tokens + excluded.reasoning_tokens,
			cost = rollups_hourly.cost + excluded.cost`), args...)
		if err != nil {
			return err
		}
	}
	return nil
}
