package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"spectra/internal/metering"
	"spectra/internal/team"
)

// Daily rollups (migration 0006): rollups_daily and rollups_daily_dim hold the counters
// of rollups_hourly and rollups_hourly_dim summed per workspace-local day. A day row of
// a workspace whose timezone is W, dated s (Unix µs of metering.DayOf in W), holds
// exactly the hourly rows whose hour starts in [s, metering.NextDay(s)). They are
// written in the same transaction as the hourly rows (upsertDailyRollups, from the
// hourly sums the ingest path has already grouped), rebuilt from the hourly rows when a
// workspace's timezone changes (SetWorkspaceTimezone), filled for existing databases in
// migration 0006's transaction (backfillDaily) and recomputed by Verify.
//
// The ingest path reads the timezone of the group's workspaces inside its transaction
// (FOR SHARE on PostgreSQL), so a timezone change, which updates the workspace row
// before rebuilding, is ordered against every ingest transaction on every node.

const (
	// pgZones locks the workspace rows in share mode: a timezone change waits for the
	// ingest transactions that wrote days in the old zone, and they wait for it.
	pgZones = `SELECT id, timezone FROM workspaces WHERE id = ANY(?::text[]) ORDER BY id FOR SHARE`

	qHourlyForDays = `SELECT hour, project, key_id, member, model, requests, input_tokens, cached_input_tokens, cache_write_tokens, output_tokens, reasoning_tokens, cost
		FROM rollups_hourly WHERE workspace_id = ? AND hour >= ? AND hour < ?`
	qHourlySpan = `SELECT MIN(hour), MAX(hour) FROM rollups_hourly WHERE workspace_id = ?`
	// The same from the events, for Verify.
	qEventsForDays = `SELECT ` + hourExpr + `, project, key_id, member, model, COUNT(*), SUM(input_tokens), SUM(cached_input_tokens), SUM(cache_write_tokens),
		SUM(output_tokens), SUM(reasoning_tokens), SUM(cost) FROM events WHERE workspace_id = ? AND ts >= ? AND ts < ?
		GROUP BY ` + hourExpr + `, project, key_id, member, model`
	qEventsSpan = `SELECT MIN(ts), MAX(ts) FROM events WHERE workspace_id = ?`
)

func sqliteZones(rows int) string {
	return `SELECT id, timezone FROM workspaces WHERE id IN (` + strings.TrimSuffix(strings.Repeat("?,", rows), ",") + `)`
}

// workspaceZones returns the timezone of each workspace, read in tx.
func (db *DB) workspaceZones(ctx context.Context, tx *sql.Tx, workspaces []string) (map[string]*time.Location, error) {
	out := make(map[string]*time.Location, len(workspaces))
	scan := func(rows *sql.Rows, err error) error {
		return eachRow(rows, err, func(row scanner) error {
			var ws, tz string
			if err := row.Scan(&ws, &tz); err != nil {
				return err
			}
			loc, err := metering.LoadZone(tz)
			if err != nil {
				return fmt.Errorf("workspace %s: timezone %q: %w", ws, tz, err)
			}
			out[ws] = loc
			return nil
		})
	}
	if db.dialect == Postgres {
		return out, scan(tx.QueryContext(ctx, db.q(pgZones), workspaces))
	}
	return out, chunks(len(workspaces), func(start, end int) error {
		args := make([]any, 0, end-start)
		for _, ws := range workspaces[start:end] {
			args = append(args, ws)
		}
		return scan(db.ingestQuery(ctx, tx, sqliteZones(end-start), args...))
	})
}

// dayFolder maps hours (Unix µs) to the start of their local day, memoised.
type dayFolder struct {
	loc  *time.Location
	memo map[int64]int64
}

func (f *dayFolder) day(hour int64) int64 {
	if d, ok := f.memo[hour]; ok {
		return d
	}
	d := micros(metering.DayOf(fromMicros(hour), f.loc))
	f.memo[hour] = d
	return d
}

// addTotals adds t to m[k].
func addTotals[K comparable](m map[K]*metering.Totals, k K, t metering.Totals) {
	sum := m[k]
	if sum == nil {
		sum = &metering.Totals{}
		m[k] = sum
	}
	sum.Add(t)
}

// upsertDailyRollups adds the hourly sums of an ingest group (keyed by UTC hour) to
// their workspaces' daily rows, in the transaction that writes the hourly rows.
func (db *DB) upsertDailyRollups(ctx context.Context, tx *sql.Tx, hourly map[rollupKey]*metering.Totals) error {
	if len(hourly) == 0 {
		return nil
	}
	wsSet := map[string]bool{}
	for k := range hourly {
		wsSet[k.ws] = true
	}
	workspaces := slices.Sorted(maps.Keys(wsSet))
	zones, err := db.workspaceZones(ctx, tx, workspaces)
	if err != nil {
		return err
	}
	folders := make(map[string]*dayFolder, len(zones))
	for ws, loc := range zones {
		folders[ws] = &dayFolder{loc: loc, memo: map[int64]int64{}}
	}
	daily := make(map[rollupKey]*metering.Totals, len(hourly))
	for k, t := range hourly {
		f := folders[k.ws]
		if f == nil {
			return fmt.Errorf("daily rollups: workspace %s not found", k.ws)
		}
		d := k
		d.hour = f.day(k.hour)
		addTotals(daily, d, *t)
	}
	return db.writeDaily(ctx, tx, daily)
}

// writeDaily adds daily sums (rollupKey.hour holding the day) to rollups_daily and
// rollups_daily_dim, the same way the hourly sums are written.
func (db *DB) writeDaily(ctx context.Context, tx *sql.Tx, daily map[rollupKey]*metering.Totals) error {
	return db.writeRollups(ctx, tx, dailyTables, daily)
}

// rollupReader is what reading rollups needs: a pool, a connection or a transaction.
type rollupReader interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// foldHourly sums ws's hourly sums whose hour starts in [from, to) (day starts of loc),
// read by query (qHourlyForDays or qEventsForDays), into daily rows keyed by day (in
// rollupKey.hour).
func (db *DB) foldHourly(ctx context.Context, q rollupReader, query, ws string, loc *time.Location, from, to time.Time) (map[rollupKey]*metering.Totals, error) {
	rows, err := q.QueryContext(ctx, db.q(query), ws, micros(ceilHourUTC(from)), micros(ceilHourUTC(to)))
	f := &dayFolder{loc: loc, memo: map[int64]int64{}}
	out := map[rollupKey]*metering.Totals{}
	err = eachRow(rows, err, func(row scanner) error {
		k := rollupKey{ws: ws}
		var t metering.Totals
		if err := row.Scan(&k.hour, &k.project, &k.keyID, &k.member, &k.model, &t.Requests, &t.InputTokens, &t.CachedInputTokens,
			&t.CacheWriteTokens, &t.OutputTokens, &t.ReasoningTokens, &t.Cost); err != nil {
			return err
		}
		k.hour = f.day(k.hour)
		addTotals(out, k, t)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func ceilHourUTC(t time.Time) time.Time {
	t = t.UTC()
	if f := t.Truncate(time.Hour); !f.Equal(t) {
		return f.Add(time.Hour)
	}
	return t
}

// dayWindows calls fn with consecutive windows [from, to) of about a month of loc's
// days that cover the span spanQuery gives for ws (qHourlySpan, qEventsSpan), so that a
// rebuild or a check holds one window's days in memory at a time.
func (db *DB) dayWindows(ctx context.Context, q rollupReader, spanQuery, ws string, loc *time.Location, fn func(from, to time.Time) error) error {
	var lo, hi sql.NullInt64
	if err := q.QueryRowContext(ctx, db.q(spanQuery), ws).Scan(&lo, &hi); err != nil {
		return err
	}
	if !lo.Valid {
		return nil
	}
	from := metering.DayOf(fromMicros(lo.Int64), loc)
	last := metering.DayOf(fromMicros(hi.Int64), loc)
	for !from.After(last) {
		to := from
		for i := 0; i < 31 && !to.After(last); i++ {
			to = metering.NextDay(to, loc)
		}
		if err := fn(from, to); err != nil {
			return err
		}
		from = to
	}
	return nil
}

// rebuildDaily replaces ws's daily rows with the sums of its hourly rows by the days of loc.
func (db *DB) rebuildDaily(ctx context.Context, tx *sql.Tx, ws string, loc *time.Location) error {
	for _, table := range []string{"rollups_daily", "rollups_daily_dim"} {
		if _, err := tx.ExecContext(ctx, db.q(`DELETE FROM `+table+` WHERE workspace_id = ?`), ws); err != nil {
			return err
		}
	}
	return db.dayWindows(ctx, tx, qHourlySpan, ws, loc, func(from, to time.Time) error {
		daily, err := db.foldHourly(ctx, tx, qHourlyForDays, ws, loc, from, to)
		if err != nil {
			return err
		}
		return db.writeDaily(ctx, tx, daily)
	})
}

// workspaceZone is a workspace and the name of its timezone.
type workspaceZone struct{ id, tz string }

func scanWorkspaceZone(row scanner) (workspaceZone, error) {
	var w workspaceZone
	err := row.Scan(&w.id, &w.tz)
	return w, err
}

// backfillDaily fills the daily rollups of every workspace from its hourly ones, each by
// its timezone. Migration 0006 runs it in its transaction.
func (db *DB) backfillDaily(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `SELECT id, timezone FROM workspaces ORDER BY id`)
	list, err := collect(rows, err, scanWorkspaceZone)
	if err != nil {
		return err
	}
	for _, w := range list {
		loc, err := metering.LoadZone(w.tz)
		if err != nil {
			return fmt.Errorf("workspace %s: timezone %q: %w", w.id, w.tz, err)
		}
		if err := db.rebuildDaily(ctx, tx, w.id, loc); err != nil {
			return err
		}
	}
	return nil
}

// SetWorkspaceTimezone changes a workspace's timezone and rebuilds its daily rollups
// from the hourly ones by the new zone's days, in one transaction (UpdateWorkspace with
// only a timezone). It returns invalid_timezone for a name that is not an IANA zone and
// workspace_not_found.
func (db *DB) SetWorkspaceTimezone(ctx context.Context, workspaceID, tz string) error {
	return db.UpdateWorkspace(ctx, workspaceID, team.WorkspaceUpdate{Timezone: &tz})
}

// RollupZone returns the timezone whose days the workspace's daily rollups count: its
// own ("" for an unknown workspace, which has no rows).
func (db *DB) RollupZone(ctx context.Context, workspaceID string) (_ string, err error) {
	defer wrapErr(&err, "rollup zone")
	var tz string
	err = db.read.QueryRowContext(ctx, db.q(`SELECT timezone FROM workspaces WHERE id = ?`), workspaceID).Scan(&tz)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return tz, err
}

// DailyRollups answers q (Start and End day starts of zone) from the daily rollups, in
// one read snapshot with the check that they are still kept in zone.
func (db *DB) DailyRollups(ctx context.Context, q metering.RollupQuery, zone string) (_ []metering.RollupRow, _ bool, err error) {
	defer wrapErr(&err, "daily rollups")
	var opts *sql.TxOptions
	if db.dialect == Postgres {
		opts = &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}
	}
	tx, err := db.read.BeginTx(ctx, opts)
	if err != nil {
		return nil, false, err
	}
	defer tx.Rollback()
	var tz string
	err = tx.QueryRowContext(ctx, db.q(`SELECT timezone FROM workspaces WHERE id = ?`), q.WorkspaceID).Scan(&tz)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && tz != zone) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	rows, err := db.rollupsFrom(ctx, tx, q, dailyTables)
	if err != nil {
		return nil, false, err
	}
	return rows, true, tx.Commit()
}

// verifyDaily recomputes every workspace's daily rollups from its events by its
// timezone, a month of days at a time, and reports each day row of rollups_daily and
// rollups_daily_dim that differs, is missing or should not exist.
func (db *DB) verifyDaily(ctx context.Context) ([]Check, error) {
	full := Check{Name: "daily rollups equal the sum of their events", Problems: []string{}}
	dim := Check{Name: "daily rollups by dimension equal the sum of their events", Problems: []string{}}
	if err := db.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM rollups_daily`).Scan(&full.Checked); err != nil {
		return nil, err
	}
	if err := db.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM rollups_daily_dim`).Scan(&dim.Checked); err != nil {
		return nil, err
	}
	const maxProblems = 100
	report := func(c *Check, format string, args ...any) {
		if len(c.Problems) < maxProblems {
			c.Problems = append(c.Problems, fmt.Sprintf(format, args...))
		}
	}
	rows, err := db.read.QueryContext(ctx, `SELECT id, timezone FROM workspaces ORDER BY id`)
	list, err := collect(rows, err, scanWorkspaceZone)
	if err != nil {
		return nil, err
	}
	day := func(v int64) string { return fromMicros(v).Format(time.RFC3339) }
	for _, w := range list {
		loc, err := metering.LoadZone(w.tz)
		if err != nil {
			report(&full, "workspace %s: timezone %q: %v", w.id, w.tz, err)
			continue
		}
		var covered int64 // stored rows inside the windows; the rest should not exist
		var coveredDim int64
		err = db.dayWindows(ctx, db.read, qEventsSpan, w.id, loc, func(from, to time.Time) error {
			want, err := db.foldHourly(ctx, db.read, qEventsForDays, w.id, loc, from, to)
			if err != nil {
				return err
			}
			wantDim := map[dimRollupKey]*metering.Totals{}
			for k, t := range want {
				for _, d := range [...]dimRollupKey{{k.ws, metering.DimModel, k.hour, k.model}, {k.ws, metering.DimKey, k.hour, k.keyID},
					{k.ws, metering.DimProject, k.hour, k.project}, {k.ws, metering.DimMember, k.hour, k.member}} {
					addTotals(wantDim, d, *t)
				}
			}
			got, err := db.read.QueryContext(ctx, db.q(`SELECT day, project, key_id, member, model, requests, input_tokens, cached_input_tokens,
				cache_write_tokens, output_tokens, reasoning_tokens, cost FROM rollups_daily WHERE workspace_id = ? AND day >= ? AND day < ?`), w.id, micros(from), micros(to))
			err = eachRow(got, err, func(row scanner) error {
				k := rollupKey{ws: w.id}
				var t metering.Totals
				if err := row.Scan(&k.hour, &k.project, &k.keyID, &k.member, &k.model, &t.Requests, &t.InputTokens, &t.CachedInputTokens,
					&t.CacheWriteTokens, &t.OutputTokens, &t.ReasoningTokens, &t.Cost); err != nil {
					return err
				}
				covered++
				if e, ok := want[k]; !ok {
					report(&full, "workspace %s, day %s, model %s: a daily rollup with no events", w.id, day(k.hour), k.model)
				} else if *e != t {
					report(&full, "workspace %s, day %s, model %s: daily rollup differs from its events", w.id, day(k.hour), k.model)
				}
				delete(want, k)
				return nil
			})
			if err != nil {
				return err
			}
			for _, k := range slices.SortedFunc(maps.Keys(want), func(a, b rollupKey) int { return cmp.Compare(a.hour, b.hour) }) {
				report(&full, "workspace %s, day %s, model %s: daily rollup missing", w.id, day(k.hour), k.model)
			}
			gotDim, err := db.read.QueryContext(ctx, db.q(`SELECT dim, day, value, requests, input_tokens, cached_input_tokens,
				cache_write_tokens, output_tokens, reasoning_tokens, cost FROM rollups_daily_dim WHERE workspace_id = ? AND day >= ? AND day < ?`), w.id, micros(from), micros(to))
			err = eachRow(gotDim, err, func(row scanner) error {
				k := dimRollupKey{ws: w.id}
				var t metering.Totals
				if err := row.Scan(&k.dim, &k.hour, &k.value, &t.Requests, &t.InputTokens, &t.CachedInputTokens,
					&t.CacheWriteTokens, &t.OutputTokens, &t.ReasoningTokens, &t.Cost); err != nil {
					return err
				}
				coveredDim++
				if e, ok := wantDim[k]; !ok {
					report(&dim, "workspace %s, day %s, %s %q: a daily rollup with no events", w.id, day(k.hour), k.dim, k.value)
				} else if *e != t {
					report(&dim, "workspace %s, day %s, %s %q: daily rollup differs from its events", w.id, day(k.hour), k.dim, k.value)
				}
				delete(wantDim, k)
				return nil
			})
			if err != nil {
				return err
			}
			for _, k := range slices.SortedFunc(maps.Keys(wantDim), func(a, b dimRollupKey) int { return cmp.Compare(a.hour, b.hour) }) {
				report(&dim, "workspace %s, day %s, %s %q: daily rollup missing", w.id, day(k.hour), k.dim, k.value)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		var total, totalDim int64
		if err := db.read.QueryRowContext(ctx, db.q(`SELECT (SELECT COUNT(*) FROM rollups_daily WHERE workspace_id = ?), (SELECT COUNT(*) FROM rollups_daily_dim WHERE workspace_id = ?)`),
			w.id, w.id).Scan(&total, &totalDim); err != nil {
			return nil, err
		}
		if total != covered {
			report(&full, "workspace %s: %d daily rollups outside the days of its events", w.id, total-covered)
		}
		if totalDim != coveredDim {
			report(&dim, "workspace %s: %d daily rollups by dimension outside the days of its events", w.id, totalDim-coveredDim)
		}
	}
	var orphans int64
	if err := db.read.QueryRowContext(ctx, `SELECT (SELECT COUNT(*) FROM rollups_daily WHERE workspace_id NOT IN (SELECT id FROM workspaces))
		+ (SELECT COUNT(*) FROM rollups_daily_dim WHERE workspace_id NOT IN (SELECT id FROM workspaces))`).Scan(&orphans); err != nil {
		return nil, err
	}
	if orphans > 0 {
		report(&full, "%d daily rollups of workspaces that do not exist", orphans)
	}
	return []Check{full, dim}, nil
}
