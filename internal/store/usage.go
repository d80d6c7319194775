package store

import (
	"context"
	"slices"
	"strings"

	"spectra/internal/metering"
)

// dimColumns maps usage dimensions to rollup and event columns.
var dimColumns = map[string]string{
	metering.DimModel:   "model",
	metering.DimKey:     "key_id",
	metering.DimProject: "project",
	metering.DimMember:  "member",
}

// filterSQL appends "AND col IN (…)" for each non-empty filter list.
func filterSQL(where *strings.Builder, args *[]any, f metering.Filter) {
	add := func(col string, values []string) {
		if len(values) == 0 {
			return
		}
		where.WriteString(" AND " + col + " IN (" + strings.TrimSuffix(strings.Repeat("?,", len(values)), ",") + ")")
		for _, v := range values {
			*args = append(*args, v)
		}
	}
	add("model", f.Models)
	add("key_id", f.Keys)
	add("project", f.Projects)
	add("member", f.Members)
}

// Rollups sums hourly rollup rows over the dimensions not grouped. It reads rollups
// only, never raw events: rollups_hourly_dim when the query groups and filters by at most
// one dimension (a few rows per hour), rollups_hourly otherwise. Rows come in no order.
func (db *DB) Rollups(ctx context.Context, q metering.RollupQuery) (_ []metering.RollupRow, err error) {
	defer wrapErr(&err, "rollups")
	return db.rollupsFrom(ctx, db.read, q, hourlyTables)
}

// rollupTables names a pair of rollup tables (all dimensions, one dimension at a time),
// their time column, and the statements that add to them.
type rollupTables struct {
	full, dim, time      string
	sqliteAll, sqliteDim func(rows int) string // multi-row upserts, prepared per size
	pgAll, pgDim         string                // array upserts
}

var (
	hourlyTables = newRollupTables("rollups_hourly", "rollups_hourly_dim", "hour")
	dailyTables  = newRollupTables("rollups_daily", "rollups_daily_dim", "day")
)

// newRollupTables describes the pair of rollup tables full and dim, whose rows are
// dated by the column timeCol, with the upserts that add counters to their rows: the
// same statements for every pair, but for the names.
func newRollupTables(full, dim, timeCol string) rollupTables {
	add := func(table string) string {
		var b strings.Builder
		for i, c := range strings.Split(rollupCounters, ", ") {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(c + " = " + table + "." + c + " + excluded." + c)
		}
		return b.String()
	}
	fullCols := "workspace_id, " + timeCol + ", project, key_id, member, model, " + rollupCounters
	dimCols := "workspace_id, dim, " + timeCol + ", value, " + rollupCounters
	fullUpsert := " ON CONFLICT (workspace_id, " + timeCol + ", project, key_id, member, model) DO UPDATE SET " + add(full)
	dimUpsert := " ON CONFLICT (workspace_id, dim, " + timeCol + ", value) DO UPDATE SET " + add(dim)
	return rollupTables{full: full, dim: dim, time: timeCol,
		sqliteAll: func(rows int) string {
			return "INSERT INTO " + full + " (" + fullCols + ") VALUES " + placeholders(rows, rollupColumnsN) + fullUpsert
		},
		sqliteDim: func(rows int) string {
			return "INSERT INTO " + dim + " (" + dimCols + ") VALUES " + placeholders(rows, dimRollupColumnsN) + dimUpsert
		},
		// PostgreSQL takes one array per column (totalsColumns gives the counters').
		pgAll: "INSERT INTO " + full + " (" + fullCols + ") SELECT * FROM unnest(?::text[], ?::bigint[], ?::text[], ?::text[], ?::text[], ?::text[], " +
			"?::bigint[], ?::bigint[], ?::bigint[], ?::bigint[], ?::bigint[], ?::bigint[], ?::bigint[])" + fullUpsert,
		pgDim: "INSERT INTO " + dim + " (" + dimCols + ") SELECT * FROM unnest(?::text[], ?::text[], ?::bigint[], ?::text[], " +
			"?::bigint[], ?::bigint[], ?::bigint[], ?::bigint[], ?::bigint[], ?::bigint[], ?::bigint[])" + dimUpsert,
	}
}

// rollupsFrom answers q from the tables t, through rq; rows are dated by t's time column.
func (db *DB) rollupsFrom(ctx context.Context, rq rollupReader, q metering.RollupQuery, t rollupTables) ([]metering.RollupRow, error) {
	if dim, values, ok := singleDimension(q); ok {
		return db.dimRollups(ctx, rq, q, t, dim, values)
	}
	sel := []string{t.time}
	for _, d := range metering.Dimensions {
		if slices.Contains(q.GroupBy, d) {
			sel = append(sel, dimColumns[d])
		} else {
			sel = append(sel, "''")
		}
	}
	groupCols := []string{t.time}
	for _, d := range q.GroupBy {
		groupCols = append(groupCols, dimColumns[d])
	}
	var where strings.Builder
	args := []any{q.WorkspaceID, micros(q.Start), micros(q.End)}
	where.WriteString("workspace_id = ? AND " + t.time + " >= ? AND " + t.time + " < ?")
	filterSQL(&where, &args, q.Filter)
	query := `SELECT ` + strings.Join(sel, ", ") + `, SUM(requests), SUM(input_tokens), SUM(cached_input_tokens), SUM(cache_write_tokens),
		SUM(output_tokens), SUM(reasoning_tokens), SUM(cost) FROM ` + t.full + ` WHERE ` + where.String() +
		` GROUP BY ` + strings.Join(groupCols, ", ")
	rows, err := rq.QueryContext(ctx, db.q(query), args...)
	return collect(rows, err, func(row scanner) (metering.RollupRow, error) {
		var r metering.RollupRow
		var hour int64
		err := row.Scan(&hour, &r.Model, &r.KeyID, &r.Project, &r.Member, &r.Requests, &r.InputTokens, &r.CachedInputTokens,
			&r.CacheWriteTokens, &r.OutputTokens, &r.ReasoningTokens, &r.Cost)
		r.Hour = fromMicros(hour)
		return r, err
	})
}

// singleDimension reports whether rollups_hourly_dim answers q — q groups by at most one
// dimension and filters on no other — and which dimension's rows to read, with the
// values the filter keeps (nil: all). With no group and no filter any dimension sums to
// the whole; model is used.
func singleDimension(q metering.RollupQuery) (dim string, values []string, ok bool) {
	filters := map[string][]string{metering.DimModel: q.Models, metering.DimKey: q.Keys, metering.DimProject: q.Projects, metering.DimMember: q.Members}
	var filtered []string
	for _, d := range metering.Dimensions {
		if len(filters[d]) > 0 {
			filtered = append(filtered, d)
		}
	}
	switch {
	case len(q.GroupBy) > 1 || len(filtered) > 1:
		return "", nil, false
	case len(q.GroupBy) == 1 && len(filtered) == 1 && filtered[0] != q.GroupBy[0]:
		return "", nil, false
	case len(q.GroupBy) == 1:
		return q.GroupBy[0], filters[q.GroupBy[0]], true
	case len(filtered) == 1:
		return filtered[0], filters[filtered[0]], true
	}
	return metering.DimModel, nil, true
}

// dimRollups answers q from one dimension's rows of t.dim.
func (db *DB) dimRollups(ctx context.Context, rq rollupReader, q metering.RollupQuery, t rollupTables, dim string, values []string) ([]metering.RollupRow, error) {
	// Grouped by its own dimension, each row is already one group of one hour (the key is
	// workspace, dimension, hour, value): no sums to take. Ungrouped, an hour's values add up.
	grouped := len(q.GroupBy) == 1
	cols := t.time + `, '', SUM(requests), SUM(input_tokens), SUM(cached_input_tokens), SUM(cache_write_tokens), SUM(output_tokens), SUM(reasoning_tokens), SUM(cost)`
	group := " GROUP BY " + t.time
	if grouped {
		cols = t.time + `, value, requests, input_tokens, cached_input_tokens, cache_write_tokens, output_tokens, reasoning_tokens, cost`
		group = ""
	}
	var where strings.Builder
	args := []any{q.WorkspaceID, dim, micros(q.Start), micros(q.End)}
	where.WriteString("workspace_id = ? AND dim = ? AND " + t.time + " >= ? AND " + t.time + " < ?")
	if len(values) > 0 {
		where.WriteString(" AND value IN (" + strings.TrimSuffix(strings.Repeat("?,", len(values)), ",") + ")")
		for _, v := range values {
			args = append(args, v)
		}
	}
	rows, err := rq.QueryContext(ctx, db.q(`SELECT `+cols+` FROM `+t.dim+` WHERE `+where.String()+group), args...)
	return collect(rows, err, func(row scanner) (metering.RollupRow, error) {
		var r metering.RollupRow
		var hour int64
		var v string
		if err := row.Scan(&hour, &v, &r.Requests, &r.InputTokens, &r.CachedInputTokens,
			&r.CacheWriteTokens, &r.OutputTokens, &r.ReasoningTokens, &r.Cost); err != nil {
			return r, err
		}
		r.Hour = fromMicros(hour)
		if grouped {
			switch dim {
			case metering.DimModel:
				r.Model = v
			case metering.DimKey:
				r.KeyID = v
			case metering.DimProject:
				r.Project = v
			case metering.DimMember:
				r.Member = v
			}
		}
		return r, nil
	})
}
