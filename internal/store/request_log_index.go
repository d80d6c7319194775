package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"spectra/internal/metering"
)

// The request log's value index (migration 0028, docs/architecture.md): one row per
// event and value order — (workspace, sort, value, time, id) → block, with 32-bit tags
// of the event's model, key, project and member — so that a page anywhere in the cost,
// tokens or latency order is a range scan of the index from its cursor, filters checked
// on the index rows.
//
// It is written off the ingest path. The indexer (IndexRequestLog, run by serve's
// request-log-index job on every node) follows event_blocks by seq in transactions of
// a few blocks: each inserts the blocks' rows (INSERT … ON CONFLICT DO NOTHING, so a
// block indexed twice is indexed once) and moves the high-water mark (the setting
// request_log_indexed_through) in the same transaction; on PostgreSQL it locks the
// mark, so nodes take turns. Every block up to the mark is indexed, except those listed
// in request_log_index_gaps: numbers the indexer passed without seeing their block
// (PostgreSQL takes a block's number before its transaction commits, so a lower number
// can commit after a higher one), and blocks a repair rewrote (migration 0028's
// trigger). A page reads the blocks after the mark and the gaps' blocks of its
// workspace — the tail, seconds of traffic — as they are, and merges their events with
// the index's; when the tail is long (the index is new on a large database, or the
// indexer is not running) the log answers from the blocks alone, as before the index.
//
// Every event the index names is read from its block and matched exactly (its value,
// time, the period, the filters and the cursor); a row that no longer matches its event
// (the event was repaired) is skipped.

// requestLogIndexedSetting names the indexer's high-water mark in settings.
const requestLogIndexedSetting = "request_log_indexed_through"

// RequestLogIndexEvery is how often serve runs the indexer (a pass indexes every block
// written since the last one).
const RequestLogIndexEvery = 2 * time.Second

// indexBatch is the most blocks one indexer transaction indexes: on SQLite 16 (about
// 11,000 rows at 230 events a block: short, so SQLite's one writer, which ingestion
// needs, is not held for long), on PostgreSQL 64.
var indexBatch = map[Dialect]int{SQLite: 16, Postgres: 64}

// maxTailBlocks is the most blocks after the mark a page reads (of all workspaces, by
// number, to find its own); maxTailOwn the most of its own it reads whole. Past them
// the index is behind and the page is answered from the blocks alone.
var maxTailBlocks, maxTailOwn = 2048, 64

// gapGrace is how long a missing block number stays listed at least (µs).
var gapGrace = int64(time.Minute / time.Microsecond)

// sortNumbers are the value orders' numbers in request_log_index.sort.
var sortNumbers = map[metering.Sort]int{metering.SortCost: 1, metering.SortTokens: 2, metering.SortLatency: 3}

// indexTagColumns are the index's tag columns, in tagDims' order.
var indexTagColumns = [4]string{"model_tag", "key_tag", "project_tag", "member_tag"}

// tag32 is a dimension value's tag in the index: the low half of its event key.
func tag32(dim, value string) int32 { return int32(tagOf(dim, value)) }

// indexRow is one row of request_log_index being written.
type indexRow struct {
	ws, id       string
	sort         int
	v, ts, block int64
	tags         [4]int32
}

// IndexRequestLog brings the request log's value index up to date: it indexes the
// blocks written since the last pass, a few per transaction, until none is left or ctx
// ends. It is safe to run on several nodes at once, and after a crash.
func (db *DB) IndexRequestLog(ctx context.Context) (err error) {
	defer wrapErr(&err, "index request log")
	for ctx.Err() == nil {
		n, err := db.indexRequestLogStep(ctx, indexBatch[db.dialect])
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if n == 0 {
			return nil
		}
	}
	return nil
}

// indexRequestLogStep indexes up to limit blocks after the mark, and the listed gaps
// whose blocks have appeared, in one transaction; it returns how many blocks it read.
func (db *DB) indexRequestLogStep(ctx context.Context, limit int) (int, error) {
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	if db.dialect == Postgres {
		// The index is derived data: a commit lost in a crash is indexed again (its mark
		// moves with it), so the indexer does not wait for the WAL to be flushed.
		if _, err := tx.ExecContext(ctx, `SET LOCAL synchronous_commit = off`); err != nil {
			return 0, err
		}
	}
	if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO settings (name, value) VALUES (?, '0') ON CONFLICT (name) DO NOTHING`), requestLogIndexedSetting); err != nil {
		return 0, err
	}
	lock := ""
	if db.dialect == Postgres {
		lock = " FOR UPDATE" // one indexer at a time; the others wait, then find the work done
	}
	var v string
	if err := tx.QueryRowContext(ctx, db.q(`SELECT value FROM settings WHERE name = ?`+lock), requestLogIndexedSetting).Scan(&v); err != nil {
		return 0, err
	}
	mark, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("setting %s: %w", requestLogIndexedSetting, err)
	}
	type block struct {
		seq, ingested int64
		ws, data      string
	}
	scanBlock := func(row scanner) (block, error) {
		var b block
		err := row.Scan(&b.seq, &b.ws, &b.ingested, &b.data)
		return b, err
	}
	rows, err := tx.QueryContext(ctx, db.q(`SELECT seq, workspace_id, ingested_at, data FROM event_blocks WHERE seq > ? ORDER BY seq LIMIT ?`), mark, limit)
	blocks, err := collect(rows, err, scanBlock)
	if err != nil {
		return 0, err
	}
	// The listed gaps: those whose block is there are indexed now; the others are
	// forgotten once no transaction that could still write them can be running.
	type gap struct{ seq, xmax, noted int64 }
	rows, err = tx.QueryContext(ctx, `SELECT seq, next_xid, noted_at FROM request_log_index_gaps ORDER BY seq`)
	gaps, err := collect(rows, err, func(row scanner) (gap, error) {
		var g gap
		err := row.Scan(&g.seq, &g.xmax, &g.noted)
		return g, err
	})
	if err != nil {
		return 0, err
	}
	var xmin, xmax int64
	if db.dialect == Postgres {
		if err := tx.QueryRowContext(ctx, `SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint, pg_snapshot_xmax(pg_current_snapshot())::text::bigint`).Scan(&xmin, &xmax); err != nil {
			return 0, err
		}
	}
	now := micros(db.now())
	var filled []int64
	if len(gaps) > 0 {
		args := make([]any, len(gaps))
		for i, g := range gaps {
			args[i] = g.seq
		}
		rows, err := tx.QueryContext(ctx, db.q(`SELECT seq, workspace_id, ingested_at, data FROM event_blocks WHERE seq IN (`+
			strings.TrimSuffix(strings.Repeat("?,", len(args)), ",")+`)`), args...)
		found, err := collect(rows, err, scanBlock)
		if err != nil {
			return 0, err
		}
		have := map[int64]bool{}
		for _, b := range found {
			have[b.seq] = true
			filled = append(filled, b.seq)
		}
		blocks = append(blocks, found...)
		for _, g := range gaps {
			if !have[g.seq] && g.noted+gapGrace < now && (db.dialect != Postgres || xmin > g.xmax) {
				filled = append(filled, g.seq)
			}
		}
	}
	var out []indexRow
	newMark := mark
	seen := map[int64]bool{}
	for _, b := range blocks {
		evs, err := blockHeads(b.ws, b.ingested, b.data)
		if err != nil {
			return 0, err
		}
		for i := range evs {
			e := &evs[i]
			var tags [4]int32
			for d, val := range eventValues(e) {
				tags[d] = tag32(tagDims[d], val)
			}
			for _, s := range metering.Sorts[1:] {
				out = append(out, indexRow{ws: b.ws, id: e.ID, sort: sortNumbers[s], v: s.Key(e), ts: micros(e.Timestamp), block: b.seq, tags: tags})
			}
		}
		if b.seq > mark {
			seen[b.seq] = true
			newMark = max(newMark, b.seq)
		}
	}
	// In the index's order, so the inserts walk its b-tree once.
	slices.SortFunc(out, func(a, b indexRow) int {
		return cmp.Or(strings.Compare(a.ws, b.ws), cmp.Compare(a.sort, b.sort), cmp.Compare(a.v, b.v), cmp.Compare(a.ts, b.ts), strings.Compare(a.id, b.id))
	})
	if err := db.insertIndexRows(ctx, tx, out); err != nil {
		return 0, err
	}
	if len(filled) > 0 {
		args := make([]any, len(filled))
		for i, s := range filled {
			args[i] = s
		}
		if _, err := tx.ExecContext(ctx, db.q(`DELETE FROM request_log_index_gaps WHERE seq IN (`+
			strings.TrimSuffix(strings.Repeat("?,", len(args)), ",")+`)`), args...); err != nil {
			return 0, err
		}
	}
	// The numbers passed without their blocks.
	for s := mark + 1; s < newMark; s++ {
		if !seen[s] {
			if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO request_log_index_gaps (seq, next_xid, noted_at) VALUES (?, ?, ?) ON CONFLICT (seq) DO NOTHING`),
				s, xmax, now); err != nil {
				return 0, err
			}
		}
	}
	if newMark > mark {
		if _, err := tx.ExecContext(ctx, db.q(`UPDATE settings SET value = ? WHERE name = ?`), strconv.FormatInt(newMark, 10), requestLogIndexedSetting); err != nil {
			return 0, err
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, err
	}
	return len(blocks), nil
}

// blockHeads returns a block's events with the fields the index needs (id, time,
// dimensions, tokens, cost, latency); an event whose strings hold escapes is decoded whole.
func blockHeads(ws string, ingested int64, data string) ([]metering.Event, error) {
	var out []metering.Event
	sc := headScanner{blockDecoder{s: data}}
	sc.expect('[')
	if sc.peek() == ']' {
		return nil, sc.err
	}
	for sc.err == nil {
		start := sc.pos
		h, ok := sc.head()
		if sc.err != nil {
			break
		}
		if !ok {
			d := blockDecoder{s: data, pos: start}
			h = d.event(ws, ingested)
			if d.err != nil {
				return nil, fmt.Errorf("event block of %s: %w", ws, d.err)
			}
		}
		out = append(out, h)
		if sc.sep(']') {
			break
		}
	}
	if sc.err != nil {
		return nil, fmt.Errorf("event block of %s: %w", ws, sc.err)
	}
	return out, nil
}

// indexChunk is the most rows one SQLite insert of index rows writes.
const indexChunk = 100

func (db *DB) insertIndexRows(ctx context.Context, tx *sql.Tx, rows []indexRow) error {
	if len(rows) == 0 {
		return nil
	}
	if db.dialect == Postgres {
		n := len(rows)
		wss, ids := make([]string, n), make([]string, n)
		sorts := make([]int32, n)
		vs, tss, blocks := make([]int64, n), make([]int64, n), make([]int64, n)
		var tags [4][]int32
		for d := range tags {
			tags[d] = make([]int32, n)
		}
		for i, r := range rows {
			wss[i], ids[i], sorts[i], vs[i], tss[i], blocks[i] = r.ws, r.id, int32(r.sort), r.v, r.ts, r.block
			for d := range tags {
				tags[d][i] = r.tags[d]
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO request_log_index (workspace_id, sort, v, ts, id, block, model_tag, key_tag, project_tag, member_tag)
			SELECT * FROM unnest($1::text[], $2::integer[], $3::bigint[], $4::bigint[], $5::text[], $6::bigint[], $7::integer[], $8::integer[], $9::integer[], $10::integer[])
			ON CONFLICT DO NOTHING`, wss, sorts, vs, tss, ids, blocks, tags[0], tags[1], tags[2], tags[3])
		return err
	}
	for start := 0; start < len(rows); start += indexChunk {
		part := rows[start:min(start+indexChunk, len(rows))]
		args := make([]any, 0, 10*len(part))
		for _, r := range part {
			args = append(args, r.ws, r.sort, r.v, r.ts, r.id, r.block, r.tags[0], r.tags[1], r.tags[2], r.tags[3])
		}
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO request_log_index (workspace_id, sort, v, ts, id, block, model_tag, key_tag, project_tag, member_tag) VALUES `+
			placeholders(len(part), 10), args...); err != nil {
			return err
		}
	}
	return nil
}

// indexPages counts the pages the index answered (tests read it).
var indexPages atomic.Int64

// indexFirstPages is whether the first page of a value order is answered from the
// index too (rather than by walking the blocks by their highest values).
var indexFirstPages = true

// forceIndex makes every page past the first of a value order try the index (tests).
var forceIndex bool

// forceTimeIndex makes a forced index page of a period read the period by time (tests).
var forceTimeIndex bool

// timeIndexBlocks is the most blocks of a custom period whose value-ordered page reads
// the period's index rows by time and sorts them (about 230 rows a block), rather than
// scanning the value order for the period's rows: the sort grows with the period, the
// scan shrinks (docs/benchmarks.md, "Request log: a period's value order by time").
var timeIndexBlocks = map[Dialect]int{SQLite: 256, Postgres: 160}

// errIndexBehind says the index cannot answer a page: its tail is too long to read.
var errIndexBehind = errors.New("request log index behind")

// logTail returns the blocks of the workspace the index does not cover (after the mark,
// or listed as gaps), or errIndexBehind.
func (db *DB) logTail(ctx context.Context, ws string) ([]int64, error) {
	var v string
	err := db.read.QueryRowContext(ctx, db.q(`SELECT value FROM settings WHERE name = ?`), requestLogIndexedSetting).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errIndexBehind
	}
	if err != nil {
		return nil, err
	}
	mark, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return nil, err
	}
	rows, err := db.read.QueryContext(ctx, db.q(`SELECT seq, workspace_id FROM event_blocks WHERE seq > ? ORDER BY seq LIMIT ?`), mark, maxTailBlocks+1)
	var tail []int64
	n := 0
	err = eachRow(rows, err, func(row scanner) error {
		var seq int64
		var bws string
		if err := row.Scan(&seq, &bws); err != nil {
			return err
		}
		n++
		if bws == ws {
			tail = append(tail, seq)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if n > maxTailBlocks {
		return nil, errIndexBehind
	}
	rows, err = db.read.QueryContext(ctx, db.q(`SELECT g.seq FROM request_log_index_gaps g JOIN event_blocks b ON b.seq = g.seq WHERE b.workspace_id = ?`), ws)
	gaps, err := collect(rows, err, scanInt64)
	if err != nil {
		return nil, err
	}
	tail = append(tail, gaps...)
	slices.Sort(tail)
	tail = slices.Compact(tail)
	if len(tail) > maxTailOwn {
		return nil, errIndexBehind
	}
	return tail, nil
}

// indexedPage answers a page in a value order from the index and its tail (logTail).
func (db *DB) indexedPage(ctx context.Context, q *logQuery, tail []int64, budget int) error {
	inTail := map[int64]bool{}
	if len(tail) > 0 {
		data := map[int64]blockData{}
		if err := db.readBlockData(ctx, tail, data); err != nil {
			return err
		}
		for _, seq := range tail {
			inTail[seq] = true
			if d, ok := data[seq]; ok {
				if err := q.addBlock(d.ingested, d.data); err != nil {
					return err
				}
			}
		}
	}
	type row struct {
		v, ts, block int64
		id           string
		tags         [4]int32
	}
	var cur *row
	if c := q.after; c != nil {
		cur = &row{v: c.Value, ts: micros(c.Time), id: c.ID}
	}
	// The filter's tags, per dimension.
	var want [4]map[int32]bool
	for _, d := range q.dims {
		want[d] = map[int32]bool{}
		for _, v := range q.values[d] {
			want[d][tag32(tagDims[d], v)] = true
		}
	}
	// The rows are read in the index's order, scan at a time, by the key alone (the
	// inner query: so the database always walks the key from the cursor, whatever it
	// estimates of the filters), and the period and filters checked on them in the
	// database; the last row read comes too (rn = scan), for the next scan to start
	// after it. The period and filters are checked again here.
	var cond strings.Builder
	var condArgs []any
	if q.lo > -1<<62 {
		cond.WriteString(` OR ts < ?`)
		condArgs = append(condArgs, q.lo)
	}
	if q.hi < 1<<62 {
		cond.WriteString(` OR ts > ?`)
		condArgs = append(condArgs, q.hi)
	}
	for _, d := range q.dims {
		tags := make([]any, 0, len(want[d]))
		for t := range want[d] {
			tags = append(tags, int64(t))
		}
		cond.WriteString(` OR ` + indexTagColumns[d] + ` NOT IN (` + strings.TrimSuffix(strings.Repeat("?,", len(tags)), ",") + `)`)
		condArgs = append(condArgs, tags...)
	}
	miss := "false"
	if cond.Len() > 0 && !q.byTime {
		miss = strings.TrimPrefix(cond.String(), " OR ")
	}
	// By time: the period and filters in the inner query, which reads the period's rows
	// by time (the value order's column as an expression, so no plan walks the key) and
	// sorts them.
	var timeCond strings.Builder
	var timeArgs []any
	if q.byTime {
		timeCond.WriteString(` AND ts >= ? AND ts <= ?`)
		timeArgs = append(timeArgs, q.lo, q.hi)
		for _, d := range q.dims {
			timeCond.WriteString(` AND ` + indexTagColumns[d] + ` IN (` + strings.TrimSuffix(strings.Repeat("?,", len(want[d])), ",") + `)`)
			for t := range want[d] {
				timeArgs = append(timeArgs, int64(t))
			}
		}
	}
	got, scan, scanned := 0, max(2*q.f.Limit, 64), 0
	if budget > 0 { // a filtered page: about the rows the estimate expects, at once
		scan = min(max(scan, budget/4), 16384)
	}
	for got < q.f.Limit {
		if budget > 0 && scanned >= budget {
			return errScanBudget
		}
		args := []any{q.f.WorkspaceID, sortNumbers[q.sort]}
		from, order := `request_log_index`, `v DESC`
		if q.byTime {
			order = `v + 0 DESC`
			if db.dialect == SQLite {
				from += ` INDEXED BY request_log_index_time`
			}
		}
		inner := `SELECT v, ts, id, block, model_tag, key_tag, project_tag, member_tag FROM ` + from + ` WHERE workspace_id = ? AND sort = ?`
		if q.byTime {
			inner += timeCond.String()
			args = append(args, timeArgs...)
		}
		if cur != nil {
			inner += ` AND (v, ts, id) < (?, ?, ?)`
			args = append(args, cur.v, cur.ts, cur.id)
		}
		inner += ` ORDER BY ` + order + `, ts DESC, id DESC LIMIT ?`
		args = append(args, scan)
		if !q.byTime {
			args = append(args, condArgs...)
		}
		args = append(args, scan)
		query := `SELECT v, ts, id, block, model_tag, key_tag, project_tag, member_tag, rn FROM (
			SELECT i.*, ROW_NUMBER() OVER (ORDER BY v DESC, ts DESC, id DESC) AS rn FROM (` + inner + `) i) t
			WHERE NOT (` + miss + `) OR rn = ? ORDER BY rn`
		rows, err := db.read.QueryContext(ctx, db.q(query), args...)
		var found []row
		n := 0
		err = eachRow(rows, err, func(s scanner) error {
			var r row
			var rn int
			if err := s.Scan(&r.v, &r.ts, &r.id, &r.block, &r.tags[0], &r.tags[1], &r.tags[2], &r.tags[3], &rn); err != nil {
				return err
			}
			n = rn
			cur = &r
			if r.ts < q.lo || r.ts > q.hi || inTail[r.block] { // a tail block's events are in the page already
				return nil
			}
			for _, d := range q.dims {
				if !want[d][r.tags[d]] {
					return nil
				}
			}
			found = append(found, r)
			return nil
		})
		if err != nil {
			return err
		}
		// The events the rows name, from their blocks, a page at a time.
		for start := 0; start < len(found) && got < q.f.Limit; {
			part := found[start:min(len(found), start+q.f.Limit-got)]
			start += len(part)
			ids := map[int64]map[string]bool{}
			var seqs []int64
			for _, r := range part {
				if ids[r.block] == nil {
					ids[r.block] = map[string]bool{}
					seqs = append(seqs, r.block)
				}
				ids[r.block][r.id] = true
			}
			events, err := db.readEvents(ctx, q.f.WorkspaceID, seqs, ids)
			if err != nil {
				return err
			}
			for _, r := range part {
				e, ok := events[r.block][r.id]
				if !ok || q.sort.Key(&e) != r.v || micros(e.Timestamp) != r.ts || !q.keep(&e) {
					continue // the row is stale (a repaired event), or a tag's hash matched another value
				}
				q.insert(e)
				got++
			}
		}
		scanned += n
		if n < scan {
			break
		}
		scan = min(4*scan, 16384)
	}
	indexPages.Add(1)
	return nil
}

// fetchParts is how many parts a page's blocks are read in, side by side (a page of 50
// rows names about 50 blocks, 2 MB of text).
const fetchParts = 4

// readEvents reads blocks seqs and decodes the events of each whose ids are in ids,
// in up to fetchParts parts at once.
func (db *DB) readEvents(ctx context.Context, ws string, seqs []int64, ids map[int64]map[string]bool) (map[int64]map[string]metering.Event, error) {
	out := make(map[int64]map[string]metering.Event, len(seqs))
	parts := min(fetchParts, (len(seqs)+7)/8)
	if parts == 0 {
		return out, nil
	}
	type result struct {
		events map[int64]map[string]metering.Event
		err    error
	}
	results := make(chan result, parts)
	size := (len(seqs) + parts - 1) / parts
	for start := 0; start < len(seqs); start += size {
		part := seqs[start:min(len(seqs), start+size)]
		go func() {
			r := result{events: map[int64]map[string]metering.Event{}}
			data := map[int64]blockData{}
			if r.err = db.readBlockData(ctx, part, data); r.err == nil {
				for _, seq := range part {
					if d, ok := data[seq]; ok { // a block is never deleted; if one were, it has no events to show
						var m map[string]metering.Event
						if m, r.err = eventsByID(ws, d.ingested, d.data, ids[seq]); r.err != nil {
							break
						}
						r.events[seq] = m
					}
				}
			}
			results <- r
		}()
	}
	var err error
	for start := 0; start < len(seqs); start += size {
		r := <-results
		err = cmp.Or(err, r.err)
		for seq, m := range r.events {
			out[seq] = m
		}
	}
	return out, err
}

// eventsByID decodes the events of a block whose ids are in ids.
func eventsByID(ws string, ingested int64, data string, ids map[string]bool) (map[string]metering.Event, error) {
	out := make(map[string]metering.Event, len(ids))
	sc := headScanner{blockDecoder{s: data}}
	sc.expect('[')
	if sc.peek() == ']' {
		return out, sc.err
	}
	for sc.err == nil && len(out) < len(ids) {
		start := sc.pos
		h, ok := sc.head()
		if sc.err != nil {
			break
		}
		if !ok || ids[h.ID] {
			d := blockDecoder{s: data, pos: start}
			e := d.event(ws, ingested)
			if d.err != nil {
				return nil, fmt.Errorf("event block of %s: %w", ws, d.err)
			}
			if ids[e.ID] {
				out[e.ID] = e
			}
		}
		if sc.sep(']') {
			break
		}
	}
	if sc.err != nil {
		return nil, fmt.Errorf("event block of %s: %w", ws, sc.err)
	}
	return out, nil
}

// blockCost is what reading one block costs a page, in index rows scanned for the same
// time (a block is about 230 events of text, decoded shallowly).
const blockCost = 500

// preferIndex reports whether a page of a value order is cheaper from the index than
// from the blocks: with no filter, unless the period holds few blocks; with a filter,
// past the first page, when the index rows it would scan to fill the page (the page's
// size times the workspace's events over those of the filter and period, from the daily
// rollups) cost less than reading the blocks tagged with the filter's values.
//
// It also returns how many rows the index may scan for the page (0: no bound): a
// filter's events can lie far from where the estimate puts them (the cheapest model's
// near the top of the cost order), so past eight times the estimate (and at least
// minScanBudget rows) the page is answered from the blocks instead.
//
// A custom period of at most timeIndexBlocks blocks (too many to read whole, when
// unfiltered) is read from the index by time (q.byTime): its rows, sorted.
func (db *DB) preferIndex(ctx context.Context, q *logQuery, drive int) (bool, int, error) {
	period := !q.f.Start.IsZero() || !q.f.End.IsZero()
	if forceIndex {
		q.byTime = period && forceTimeIndex
		return true, 0, nil
	}
	if period {
		byTime := timeIndexBlocks[db.dialect]
		n, err := db.countPeriod(ctx, q, max(byTime, db.periodBlocks())+1)
		if err != nil {
			return false, 0, err
		}
		if n <= byTime && (drive >= 0 || n > db.periodBlocks()) {
			q.byTime = true
			return true, 0, nil
		}
		if drive < 0 {
			return n > db.periodBlocks(), 0, nil
		}
	}
	if drive < 0 {
		return true, 0, nil
	}
	if q.after == nil {
		// A filtered first page walks the blocks tagged with its values by their highest
		// values (block-max top-k), which finds a filter's events wherever they are in
		// the order, in a few blocks.
		return false, 0, nil
	}
	// The index's rows are all the workspace's events, the period checked on each.
	all := *q
	all.lo, all.hi = -1<<62, 1<<62
	total, err := db.periodRequests(ctx, &all, metering.Filter{})
	if err != nil {
		return false, 0, err
	}
	matched, err := db.periodRequests(ctx, q, q.f.Filter)
	if err != nil || matched == 0 {
		return false, 0, err
	}
	rows := int64(q.f.Limit) * total / matched
	limit := int(min(rows/blockCost, 1<<20)) + 1
	tagged, err := db.countTagged(ctx, q, drive, limit)
	return err == nil && tagged >= limit, int(max(8*rows, minScanBudget)), err
}

// minScanBudget is the fewest rows a filtered page may scan in the index before it
// turns to the blocks.
var minScanBudget = int64(4096)

// errScanBudget says a filtered page's rows were not where the estimate put them.
var errScanBudget = errors.New("request log index: scan budget spent")

// periodRequests counts the requests of the days around the period that match f, from
// the daily rollups: those by one dimension (a few rows a day) unless f filters two or
// more.
func (db *DB) periodRequests(ctx context.Context, q *logQuery, f metering.Filter) (int64, error) {
	var b strings.Builder
	args := []any{q.f.WorkspaceID, q.lo - dayLength, q.hi}
	values := filterValues(f)
	dims := 0
	dim, in := "model", []string(nil)
	for d, v := range values {
		if len(v) > 0 {
			dims++
			dim, in = tagDims[d], v
		}
	}
	if dims <= 1 {
		b.WriteString(`SELECT COALESCE(SUM(requests), 0) FROM rollups_daily_dim WHERE workspace_id = ? AND dim = ? AND day > ? AND day <= ?`)
		args = []any{q.f.WorkspaceID, dim, q.lo - dayLength, q.hi}
		if len(in) > 0 {
			b.WriteString(` AND value IN (` + strings.TrimSuffix(strings.Repeat("?,", len(in)), ",") + `)`)
			for _, v := range in {
				args = append(args, v)
			}
		}
	} else {
		b.WriteString(`SELECT COALESCE(SUM(requests), 0) FROM rollups_daily WHERE workspace_id = ? AND day > ? AND day <= ?`)
		filterSQL(&b, &args, f)
	}
	var n int64
	err := db.read.QueryRowContext(ctx, db.q(b.String()), args...).Scan(&n)
	return n, err
}

// addRequestLogIndexCheck adds Verify's check of the value index: every event of the
// blocks it covers (up to its mark, but the listed gaps) has its row in each order.
func (db *DB) addRequestLogIndexCheck(ctx context.Context, rep *VerifyReport) error {
	const name = "every indexed event has its rows in the request log's value index"
	res := Check{Name: name, Problems: []string{}}
	var v string
	err := db.read.QueryRowContext(ctx, db.q(`SELECT value FROM settings WHERE name = ?`), requestLogIndexedSetting).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		rep.Checks = append(rep.Checks, res) // never indexed: nothing to check
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	mark, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if err := db.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM request_log_index WHERE sort = 1`).Scan(&res.Checked); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	id := "ev.id"
	if db.dialect == Postgres {
		id = `ev.id COLLATE "C"`
	}
	rows, err := db.read.QueryContext(ctx, db.q(`SELECT ev.workspace_id, ev.id, s.n FROM events ev,
		(SELECT 1 AS n UNION ALL SELECT 2 UNION ALL SELECT 3) s
		WHERE ev.block <= ? AND ev.block NOT IN (SELECT seq FROM request_log_index_gaps)
		AND NOT EXISTS (SELECT 1 FROM request_log_index i WHERE i.workspace_id = ev.workspace_id AND i.sort = s.n
			AND i.v = CASE s.n WHEN 1 THEN ev.cost WHEN 2 THEN ev.input_tokens + ev.output_tokens ELSE ev.latency_ms END
			AND i.ts = ev.ts AND i.id = `+id+`)
		ORDER BY ev.workspace_id, ev.id, s.n LIMIT 100`), mark)
	res.Problems, err = collect(rows, err, func(row scanner) (string, error) {
		var ws, eid string
		var n int
		if err := row.Scan(&ws, &eid, &n); err != nil {
			return "", err
		}
		return fmt.Sprintf("workspace %s: event %q has no row in the %s order", ws, eid, metering.Sorts[n]), nil
	})
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	rep.Checks = append(rep.Checks, res)
	return nil
}
