package store

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"spectra/internal/ledger"
	"spectra/internal/metering"
	"spectra/internal/money"
)

// The ingest path's statements. On SQLite they are prepared once and reused (modernc
// would parse each statement again on every execution, and a multi-row INSERT of a few
// hundred rows costs more to parse than to run); pgx caches PostgreSQL's by their text.
// On PostgreSQL, rows go in as arrays through unnest: one statement and 23 parameters
// for a whole batch instead of 23 per row.

// sqliteChunks are the row counts of SQLite's prepared multi-row statements; a batch is
// cut greedily into them (500 rows = 7×64 + 3×16 + 1×4).
var sqliteChunks = []int{64, 16, 4, 1}

// keyChunks are the row counts of SQLite's prepared key claims: two integers a row, so
// larger statements pay (4,000 keys = 15×256 + 10×16).
var keyChunks = []int{256, 64, 16, 4, 1}

// sqliteClaimKeys claims n keys. OR IGNORE rather than ON CONFLICT DO NOTHING: with every
// constraint ignored, the statement cannot fail halfway, so SQLite keeps no statement
// journal for it.
func sqliteClaimKeys(n int) string {
	return `INSERT OR IGNORE INTO event_ids (k, block) VALUES ` + placeholders(n, 2)
}

// sqliteKeysIn looks n keys up in event_ids.
func sqliteKeysIn(n int) string {
	return `SELECT k, block FROM event_ids WHERE k IN (` + strings.TrimSuffix(strings.Repeat("?,", n), ",") + `)`
}

const (
	qCatalogVersion = `SELECT (SELECT COUNT(*) FROM prices) + COALESCE((SELECT CAST(value AS BIGINT) FROM settings WHERE name = 'price_lists_version'), 0)` // price_lists.go: catalogVersionSetting
	qMaxBlock       = `SELECT COALESCE(MAX(seq), 0) FROM event_blocks`
	qKeysIndexed    = `SELECT value FROM settings WHERE name = '` + keysIndexedSetting + `'`
	qInsertBlock    = `INSERT INTO event_blocks (seq, workspace_id, min_ts, max_ts, n, usage_key, ingested_at, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
	qUpdateWallet   = `UPDATE accounts SET balance = balance - ?, usage_carry = ? WHERE id = ? RETURNING balance`
	qUpdateCarry    = `UPDATE accounts SET usage_carry = ? WHERE id = ?`

	// Every rollup table has these counters, after its key columns.
	rollupCounters    = `requests, input_tokens, cached_input_tokens, cache_write_tokens, output_tokens, reasoning_tokens, cost`
	rollupColumnsN    = 13 // workspace_id, time, project, key_id, member, model and the counters
	dimRollupColumnsN = 11 // workspace_id, dim, time, value and the counters
)

func sqliteWallets(rows int) string {
	return `SELECT workspace_id, balance, usage_carry FROM accounts WHERE id IN (` + strings.TrimSuffix(strings.Repeat("?,", rows), ",") + `)`
}

// PostgreSQL's bulk statements take one array per column.
const (
	// pgWallets locks the wallets (in id order, as postUsage updates them) so that the
	// balances read bound this transaction's debits: see metering.Batch.Admit.
	pgWallets = `SELECT workspace_id, balance, usage_carry FROM accounts WHERE id = ANY(?::text[]) ORDER BY id FOR UPDATE`
)

// stmtCache holds the ingest path's prepared statements (SQLite only).
type stmtCache struct {
	mu       sync.Mutex
	prepared bool
	m        map[string]*sql.Stmt
}

// prepareIngest prepares SQLite's ingest statements once. It runs outside any
// transaction: SQLite has one write connection, which a transaction would be holding.
func (db *DB) prepareIngest(ctx context.Context) error {
	if db.dialect != SQLite {
		return nil
	}
	c := &db.ingest.stmts
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.prepared {
		return nil
	}
	queries := []string{qCatalogVersion, qMaxBlock, qKeysIndexed, qInsertBlock, qUpdateWallet, qUpdateCarry, qInsertTransfer, qInsertEntries}
	for _, n := range keyChunks {
		queries = append(queries, sqliteClaimKeys(n), sqliteKeysIn(n))
	}
	for _, n := range sqliteChunks {
		queries = append(queries, hourlyTables.sqliteAll(n), hourlyTables.sqliteDim(n), sqliteWallets(n))
		queries = append(queries, dailyTables.sqliteAll(n), dailyTables.sqliteDim(n), sqliteZones(n))
	}
	m := make(map[string]*sql.Stmt, len(queries))
	for _, q := range queries {
		st, err := db.write.PrepareContext(ctx, q)
		if err != nil {
			for _, st := range m {
				st.Close()
			}
			return err
		}
		m[q] = st
	}
	c.m, c.prepared = m, true
	return nil
}

// txStmt returns tx's handle on query's prepared statement, or nil when there is none.
func (db *DB) txStmt(ctx context.Context, tx *sql.Tx, query string) *sql.Stmt {
	if db.dialect != SQLite {
		return nil
	}
	c := &db.ingest.stmts
	c.mu.Lock()
	st := c.m[query]
	c.mu.Unlock()
	if st == nil {
		return nil
	}
	return tx.StmtContext(ctx, st)
}

func (db *DB) ingestExec(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	if st := db.txStmt(ctx, tx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return tx.ExecContext(ctx, db.q(query), args...)
}

func (db *DB) ingestQuery(ctx context.Context, tx *sql.Tx, query string, args ...any) (*sql.Rows, error) {
	if st := db.txStmt(ctx, tx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return tx.QueryContext(ctx, db.q(query), args...)
}

func (db *DB) ingestQueryRow(ctx context.Context, tx *sql.Tx, query string, args ...any) *sql.Row {
	if st := db.txStmt(ctx, tx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return tx.QueryRowContext(ctx, db.q(query), args...)
}

// chunks cuts n rows greedily into SQLite's prepared statement sizes and calls fn with
// each chunk's [start, end).
func chunks(n int, fn func(start, end int) error) error {
	return chunksOf(sqliteChunks, n, fn)
}

// chunksOf cuts n rows greedily into the sizes (largest first, the last 1).
func chunksOf(sizes []int, n int, fn func(start, end int) error) error {
	for start := 0; start < n; {
		size := sizes[len(sizes)-1]
		for _, s := range sizes {
			if s <= n-start {
				size = s
				break
			}
		}
		if err := fn(start, start+size); err != nil {
			return err
		}
		start += size
	}
	return nil
}

// existingWallets returns the balance and usage carry of each of the workspaces (sorted)
// that has a wallet (on PostgreSQL, locked, in id order, until the transaction ends).
func (db *DB) existingWallets(ctx context.Context, tx *sql.Tx, workspaces []string) (map[string]metering.Wallet, error) {
	known := make(map[string]metering.Wallet, len(workspaces))
	list := make([]string, 0, len(workspaces))
	for _, ws := range workspaces {
		list = append(list, string(ledger.Wallet(ws)))
	}
	scan := func(rows *sql.Rows, err error) error {
		return eachRow(rows, err, func(row scanner) error {
			var ws string
			var balance, carry int64
			if err := row.Scan(&ws, &balance, &carry); err != nil {
				return err
			}
			known[ws] = metering.Wallet{Balance: money.Amount(balance), Carry: carry}
			return nil
		})
	}
	if db.dialect == Postgres {
		return known, scan(tx.QueryContext(ctx, db.q(pgWallets), list))
	}
	return known, chunks(len(list), func(start, end int) error {
		args := make([]any, 0, end-start)
		for _, a := range list[start:end] {
			args = append(args, a)
		}
		return scan(db.ingestQuery(ctx, tx, sqliteWallets(end-start), args...))
	})
}

// eventRow returns the stored form of e's source and metadata.
func eventRow(e *metering.Event) (src string, meta *string) {
	src = e.Source
	if src == "" {
		src = "api"
	}
	if len(e.Metadata) > 0 {
		s := string(e.Metadata)
		meta = &s
	}
	return src, meta
}

// dimRollupKey is a row of rollups_hourly_dim: one dimension's value in one hour.
type dimRollupKey struct {
	ws    string
	dim   string
	hour  int64
	value string
}

// upsertRollups adds the totals to their hourly rollup rows, and to the rows of each
// dimension in rollups_hourly_dim, in key order.
func (db *DB) upsertRollups(ctx context.Context, tx *sql.Tx, rollups map[rollupKey]*metering.Totals) error {
	return db.writeRollups(ctx, tx, hourlyTables, rollups)
}

// writeRollups adds the totals (rollupKey.hour holds the row's hour, or day) to their rows
// of the tables in t, and to the rows of each single dimension, in key order so that
// concurrent groups never deadlock.
func (db *DB) writeRollups(ctx context.Context, tx *sql.Tx, t rollupTables, rollups map[rollupKey]*metering.Totals) error {
	if len(rollups) == 0 {
		return nil
	}
	keys := make([]rollupKey, 0, len(rollups))
	dims := map[dimRollupKey]*metering.Totals{}
	for k, t := range rollups {
		keys = append(keys, k)
		for _, d := range [...]dimRollupKey{{k.ws, metering.DimModel, k.hour, k.model}, {k.ws, metering.DimKey, k.hour, k.keyID},
			{k.ws, metering.DimProject, k.hour, k.project}, {k.ws, metering.DimMember, k.hour, k.member}} {
			addTotals(dims, d, *t)
		}
	}
	slices.SortFunc(keys, func(a, b rollupKey) int {
		return cmp.Or(strings.Compare(a.ws, b.ws), cmp.Compare(a.hour, b.hour), strings.Compare(a.project, b.project),
			strings.Compare(a.keyID, b.keyID), strings.Compare(a.member, b.member), strings.Compare(a.model, b.model))
	})
	dimKeys := make([]dimRollupKey, 0, len(dims))
	for k := range dims {
		dimKeys = append(dimKeys, k)
	}
	slices.SortFunc(dimKeys, func(a, b dimRollupKey) int {
		return cmp.Or(strings.Compare(a.ws, b.ws), strings.Compare(a.dim, b.dim), cmp.Compare(a.hour, b.hour), strings.Compare(a.value, b.value))
	})
	if db.dialect == Postgres {
		return db.pgWriteRollups(ctx, tx, t, keys, rollups, dimKeys, dims)
	}
	err := chunks(len(keys), func(start, end int) error {
		args := make([]any, 0, (end-start)*rollupColumnsN)
		for _, k := range keys[start:end] {
			t := rollups[k]
			args = append(args, k.ws, k.hour, k.project, k.keyID, k.member, k.model, t.Requests, t.InputTokens, t.CachedInputTokens,
				t.CacheWriteTokens, t.OutputTokens, t.ReasoningTokens, int64(t.Cost))
		}
		_, err := db.ingestExec(ctx, tx, t.sqliteAll(end-start), args...)
		return err
	})
	if err != nil {
		return err
	}
	return chunks(len(dimKeys), func(start, end int) error {
		args := make([]any, 0, (end-start)*dimRollupColumnsN)
		for _, k := range dimKeys[start:end] {
			t := dims[k]
			args = append(args, k.ws, k.dim, k.hour, k.value, t.Requests, t.InputTokens, t.CachedInputTokens,
				t.CacheWriteTokens, t.OutputTokens, t.ReasoningTokens, int64(t.Cost))
		}
		_, err := db.ingestExec(ctx, tx, t.sqliteDim(end-start), args...)
		return err
	})
}

// totalsColumns returns one array per counter of ts, for unnest.
func totalsColumns(ts []*metering.Totals) []any {
	n := len(ts)
	req, in, cached, cacheWrite, out, reasoning, cost := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n),
		make([]int64, n), make([]int64, n), make([]int64, n)
	for i, t := range ts {
		req[i], in[i], cached[i], cacheWrite[i], out[i], reasoning[i], cost[i] = t.Requests, t.InputTokens, t.CachedInputTokens,
			t.CacheWriteTokens, t.OutputTokens, t.ReasoningTokens, int64(t.Cost)
	}
	return []any{req, in, cached, cacheWrite, out, reasoning, cost}
}

func (db *DB) pgWriteRollups(ctx context.Context, tx *sql.Tx, t rollupTables, keys []rollupKey, rollups map[rollupKey]*metering.Totals,
	dimKeys []dimRollupKey, dims map[dimRollupKey]*metering.Totals) error {
	n := len(keys)
	ws, project, keyID, member, model, hour := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]int64, n)
	ts := make([]*metering.Totals, n)
	for i, k := range keys {
		ws[i], hour[i], project[i], keyID[i], member[i], model[i], ts[i] = k.ws, k.hour, k.project, k.keyID, k.member, k.model, rollups[k]
	}
	args := append([]any{ws, hour, project, keyID, member, model}, totalsColumns(ts)...)
	if _, err := tx.ExecContext(ctx, db.q(t.pgAll), args...); err != nil {
		return err
	}
	n = len(dimKeys)
	dws, dim, value, dhour := make([]string, n), make([]string, n), make([]string, n), make([]int64, n)
	ts = make([]*metering.Totals, n)
	for i, k := range dimKeys {
		dws[i], dim[i], dhour[i], value[i], ts[i] = k.ws, k.dim, k.hour, k.value, dims[k]
	}
	args = append([]any{dws, dim, dhour, value}, totalsColumns(ts)...)
	_, err := tx.ExecContext(ctx, db.q(t.pgDim), args...)
	return err
}

// postUsage debits a wallet by what a group charged, as one usage transfer (postTransfer),
// wallet → usage, with its two entries, and sets the wallet's usage carry in the same
// UPDATE; a debit of zero posts nothing and only sets the carry, when it moved.
func (db *DB) postUsage(ctx context.Context, tx *sql.Tx, ws string, debit money.Amount, carry int64, carryMoved bool,
	key string, now time.Time) error {
	wallet := ledger.Wallet(ws)
	if debit == 0 {
		if !carryMoved {
			return nil
		}
		_, err := db.ingestExec(ctx, tx, qUpdateCarry, carry, string(wallet))
		return err
	}
	moveWallet := func() (after, none sql.NullInt64, err error) {
		err = db.ingestQueryRow(ctx, tx, qUpdateWallet, int64(debit), carry, string(wallet)).Scan(&after)
		return after, none, err
	}
	row := transferRow{key: key, kind: ledger.KindUsage, from: wallet, to: ledger.Usage, amount: debit, ws: ws, now: now}
	_, posted, err := db.postTransfer(ctx, tx, row, moveWallet)
	if err == nil && !posted {
		err = fmt.Errorf("usage transfer %s posted twice", key)
	}
	return err
}
