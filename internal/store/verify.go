package store

import (
	"context"
	"fmt"
)

// Check is the result of one verification.
type Check struct {
	Name     string   `json:"name"`
	Checked  int64    `json:"checked"`  // how many rows or accounts it covered
	Problems []string `json:"problems"` // empty when the check passed
}

// VerifyReport is what Verify found.
type VerifyReport struct {
	Checks []Check `json:"checks"`
}

// OK reports whether every check passed.
func (r VerifyReport) OK() bool {
	for _, c := range r.Checks {
		if len(c.Problems) > 0 {
			return false
		}
	}
	return true
}

// hourExpr turns an event's ts into the start of its UTC hour, as rollups store it.
const hourExpr = "(ts - (ts % 3600000000))"

// dimEvents sums events per workspace, UTC hour and value of each dimension, as
// rollups_hourly_dim stores them.
const dimEvents = `
	SELECT workspace_id, 'model' AS dim, ` + hourExpr + ` AS hour, model AS value, COUNT(*), SUM(input_tokens), SUM(cached_input_tokens), SUM(cache_write_tokens),
		SUM(output_tokens), SUM(reasoning_tokens), SUM(cost) FROM events GROUP BY workspace_id, ` + hourExpr + `, model
	UNION ALL
	SELECT workspace_id, 'key', ` + hourExpr + `, key_id, COUNT(*), SUM(input_tokens), SUM(cached_input_tokens), SUM(cache_write_tokens),
		SUM(output_tokens), SUM(reasoning_tokens), SUM(cost) FROM events GROUP BY workspace_id, ` + hourExpr + `, key_id
	UNION ALL
	SELECT workspace_id, 'project', ` + hourExpr + `, project, COUNT(*), SUM(input_tokens), SUM(cached_input_tokens), SUM(cache_write_tokens),
		SUM(output_tokens), SUM(reasoning_tokens), SUM(cost) FROM events GROUP BY workspace_id, ` + hourExpr + `, project
	UNION ALL
	SELECT workspace_id, 'member', ` + hourExpr + `, member, COUNT(*), SUM(input_tokens), SUM(cached_input_tokens), SUM(cache_write_tokens),
		SUM(output_tokens), SUM(reasoning_tokens), SUM(cost) FROM events GROUP BY workspace_id, ` + hourExpr + `, member`

// Verify recomputes every wallet balance and held amount from entries and holds, every
// transfer's balance, and every rollup from the events (the daily ones from the hourly
// ones, by each workspace's timezone), and reports each difference.
func (db *DB) Verify(ctx context.Context) (_ VerifyReport, err error) {
	defer wrapErr(&err, "verify")
	var rep VerifyReport
	checks := []sqlCheck{
		{
			name:     "all entries sum to zero",
			count:    `SELECT COUNT(*) FROM entries`,
			problems: `SELECT COALESCE(SUM(amount), 0) FROM entries HAVING COALESCE(SUM(amount), 0) <> 0`,
			cols:     1,
			describe: func(v []any) string { return fmt.Sprintf("entries sum to %v micro-units, not 0", v[0]) },
		},
		{
			name:  "every transfer has two entries that move its amount",
			count: `SELECT COUNT(*) FROM transfers`,
			problems: `SELECT t.id, COUNT(e.id), COALESCE(SUM(e.amount), 0) FROM transfers t LEFT JOIN entries e ON e.transfer_id = t.id
				GROUP BY t.id, t.amount, t.from_account, t.to_account
				HAVING COUNT(e.id) <> 2 OR COALESCE(SUM(e.amount), 0) <> 0
				OR COALESCE(SUM(CASE WHEN e.account_id = t.to_account THEN e.amount ELSE 0 END), 0) <> t.amount`,
			cols:     3,
			describe: func(v []any) string { return fmt.Sprintf("transfer %v has %v entries summing to %v", v[0], v[1], v[2]) },
		},
		{
			name:  "wallet balances equal the sum of their entries",
			count: `SELECT COUNT(*) FROM accounts WHERE kind = 'wallet'`,
			problems: `SELECT a.id, a.balance, COALESCE((SELECT SUM(e.amount) FROM entries e WHERE e.account_id = a.id), 0) AS derived
				FROM accounts a WHERE a.kind = 'wallet' AND a.balance <> COALESCE((SELECT SUM(e.amount) FROM entries e WHERE e.account_id = a.id), 0)`,
			cols:     3,
			describe: func(v []any) string { return fmt.Sprintf("%v: stored balance %v, entries sum to %v", v[0], v[1], v[2]) },
		},
		{
			name:  "each wallet's last running balance is its balance",
			count: `SELECT COUNT(*) FROM accounts WHERE kind = 'wallet'`,
			problems: `SELECT a.id, a.balance, e.balance_after FROM accounts a JOIN entries e ON e.id = (SELECT MAX(id) FROM entries WHERE account_id = a.id)
				WHERE a.kind = 'wallet' AND e.balance_after <> a.balance`,
			cols:     3,
			describe: func(v []any) string { return fmt.Sprintf("%v: balance %v but last entry says %v", v[0], v[1], v[2]) },
		},
		{
			name:  "held amounts equal the sum of active holds",
			count: `SELECT COUNT(*) FROM holds`,
			problems: `SELECT a.id, a.held, COALESCE((SELECT SUM(h.amount) FROM holds h WHERE h.account_id = a.id AND h.status = 'held'), 0)
				FROM accounts a WHERE a.held <> COALESCE((SELECT SUM(h.amount) FROM holds h WHERE h.account_id = a.id AND h.status = 'held'), 0)`,
			cols:     3,
			describe: func(v []any) string { return fmt.Sprintf("%v: held %v, active holds sum to %v", v[0], v[1], v[2]) },
		},
		{
			name:  "usage charged to each wallet equals the cost of its events",
			count: `SELECT COUNT(*) FROM events`,
			problems: `SELECT a.workspace_id,
				COALESCE((SELECT SUM(amount) FROM transfers t WHERE t.from_account = a.id AND t.kind = 'usage'), 0),
				COALESCE((SELECT SUM(cost) FROM events ev WHERE ev.workspace_id = a.workspace_id), 0)
				FROM accounts a WHERE a.kind = 'wallet' AND
				COALESCE((SELECT SUM(amount) FROM transfers t WHERE t.from_account = a.id AND t.kind = 'usage'), 0) <>
				COALESCE((SELECT SUM(cost) FROM events ev WHERE ev.workspace_id = a.workspace_id), 0)`,
			cols: 3,
			describe: func(v []any) string {
				return fmt.Sprintf("workspace %v: usage transfers %v, event costs %v", v[0], v[1], v[2])
			},
		},
		{
			// No revenue lost to rounding (migration 0022): what a wallet's events cost
			// exactly, less what they were charged, is its carry, less than a micro-unit.
			name:  "each wallet's usage carry is its events' exact costs less what they were charged, under one micro-unit",
			count: `SELECT COUNT(*) FROM accounts WHERE kind = 'wallet'`,
			problems: `SELECT a.workspace_id, a.usage_carry, d.rest FROM accounts a,
				(SELECT ev.workspace_id AS ws, SUM((ev.cost_exact_micro - ev.cost) * 1000000 + ev.cost_exact_frac) AS rest
				FROM events ev GROUP BY ev.workspace_id) d
				WHERE a.kind = 'wallet' AND d.ws = a.workspace_id AND (a.usage_carry <> d.rest OR d.rest < 0 OR d.rest >= 1000000)
				UNION ALL
				SELECT a.workspace_id, a.usage_carry, 0 FROM accounts a
				WHERE a.kind = 'wallet' AND a.usage_carry <> 0 AND NOT EXISTS (SELECT 1 FROM events ev WHERE ev.workspace_id = a.workspace_id)`,
			cols: 3,
			describe: func(v []any) string {
				return fmt.Sprintf("workspace %v: usage carry %v, but its events' exact costs exceed what they were charged by %v "+
					"(in 10^-6 micro-units; must equal the carry and be from 0 to 999999)", v[0], v[1], v[2])
			},
		},
		{
			name:  "rollups equal the sum of their events",
			count: `SELECT COUNT(*) FROM rollups_hourly`,
			problems: `SELECT workspace_id, hour, model FROM (
				SELECT workspace_id, hour, project, key_id, member, model, requests, input_tokens, cached_input_tokens, cache_write_tokens, output_tokens, reasoning_tokens, cost FROM rollups_hourly
				EXCEPT
				SELECT workspace_id, ` + hourExpr + `, project, key_id, member, model, COUNT(*), SUM(input_tokens), SUM(cached_input_tokens), SUM(cache_write_tokens), SUM(output_tokens), SUM(reasoning_tokens), SUM(cost)
				FROM events GROUP BY workspace_id, ` + hourExpr + `, project, key_id, member, model
			) d
			UNION ALL
			SELECT workspace_id, hour, model FROM (
				SELECT workspace_id, ` + hourExpr + ` AS hour, project, key_id, member, model, COUNT(*), SUM(input_tokens), SUM(cached_input_tokens), SUM(cache_write_tokens), SUM(output_tokens), SUM(reasoning_tokens), SUM(cost)
				FROM events GROUP BY workspace_id, ` + hourExpr + `, project, key_id, member, model
				EXCEPT
				SELECT workspace_id, hour, project, key_id, member, model, requests, input_tokens, cached_input_tokens, cache_write_tokens, output_tokens, reasoning_tokens, cost FROM rollups_hourly
			) d2`,
			cols: 3,
			describe: func(v []any) string {
				return fmt.Sprintf("workspace %v, hour %v, model %v: rollup differs from its events", v[0], v[1], v[2])
			},
		},
		{
			name:  "rollups by dimension equal the sum of their events",
			count: `SELECT COUNT(*) FROM rollups_hourly_dim`,
			problems: `SELECT workspace_id, dim, hour, value FROM (
				SELECT workspace_id, dim, hour, value, requests, input_tokens, cached_input_tokens, cache_write_tokens, output_tokens, reasoning_tokens, cost FROM rollups_hourly_dim
				EXCEPT
				SELECT * FROM (` + dimEvents + `) e
			) d
			UNION ALL
			SELECT workspace_id, dim, hour, value FROM (
				SELECT * FROM (` + dimEvents + `) e
				EXCEPT
				SELECT workspace_id, dim, hour, value, requests, input_tokens, cached_input_tokens, cache_write_tokens, output_tokens, reasoning_tokens, cost FROM rollups_hourly_dim
			) d2`,
			cols: 4,
			describe: func(v []any) string {
				return fmt.Sprintf("workspace %v, hour %v, %v %q: rollup differs from its events", v[0], v[2], v[1], v[3])
			},
		},
		{
			// Exactly-once: every event is stored once, and its key (or, after a key
			// collision, its overflow row) points to its block, so a replay finds it.
			// On SQLite the blocks after the setting's block are not indexed yet: their
			// keys are found in memory, read from the blocks themselves (event_keys.go).
			name:  "every event is stored once and found by its id",
			count: `SELECT COUNT(*) FROM events`,
			problems: `SELECT workspace_id, id, 'is stored more than once' FROM events GROUP BY workspace_id, id HAVING COUNT(*) > 1
			UNION ALL
			SELECT ev.workspace_id, ev.id, 'is not found by its id' FROM events ev
			WHERE ev.block <= COALESCE((SELECT CAST(value AS BIGINT) FROM settings WHERE name = '` + keysIndexedSetting + `'), ev.block)
			AND NOT EXISTS (SELECT 1 FROM event_ids i WHERE i.k = spectra_event_key(ev.workspace_id, ev.id) AND i.block = ev.block)
			AND NOT EXISTS (SELECT 1 FROM event_id_overflow o WHERE o.workspace_id = ev.workspace_id AND o.id = ev.id AND o.block = ev.block)`,
			cols:     3,
			describe: func(v []any) string { return fmt.Sprintf("workspace %v: event %q %v", v[0], v[1], v[2]) },
		},
	}
	checked, err := db.runChecks(ctx, checks)
	rep.Checks = append(rep.Checks, checked...)
	if err != nil {
		return rep, err
	}
	if err := db.addLotChecks(ctx, &rep); err != nil { // verify_lots.go
		return rep, err
	}
	if err := db.addRequestLogIndexCheck(ctx, &rep); err != nil { // request_log_index.go
		return rep, err
	}
	daily, err := db.verifyDaily(ctx)
	if err != nil {
		return rep, fmt.Errorf("daily rollups: %w", err)
	}
	rep.Checks = append(rep.Checks, daily...)
	return rep, nil
}

// sqlCheck is one check of the books in SQL: count counts what it checks, problems
// selects a row per problem of cols columns (4 when 0), which describe words.
type sqlCheck struct {
	name, count, problems string
	describe              func(vals []any) string
	cols                  int
}

// runChecks runs the checks in order, each once, and returns their results; it stops at
// the first that cannot run, with the results before it.
func (db *DB) runChecks(ctx context.Context, checks []sqlCheck) ([]Check, error) {
	var out []Check
	for _, c := range checks {
		res := Check{Name: c.name, Problems: []string{}}
		if err := db.read.QueryRowContext(ctx, c.count).Scan(&res.Checked); err != nil {
			return out, fmt.Errorf("%s: %w", c.name, err)
		}
		cols := c.cols
		if cols == 0 {
			cols = 4
		}
		rows, err := db.read.QueryContext(ctx, c.problems)
		res.Problems, err = collect(rows, err, func(row scanner) (string, error) {
			vals := make([]any, cols)
			ptrs := make([]any, cols)
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := row.Scan(ptrs...); err != nil {
				return "", err
			}
			for i, v := range vals {
				if b, ok := v.([]byte); ok {
					vals[i] = string(b)
				}
			}
			return c.describe(vals), nil
		})
		if err != nil {
			return out, fmt.Errorf("%s: %w", c.name, err)
		}
		out = append(out, res)
	}
	return out, nil
}
