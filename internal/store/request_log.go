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

	"spectra/internal/errs"
	"spectra/internal/metering"
	"spectra/internal/money"
)

// The request log reads events from their blocks (event_blocks.go) without reading
// every block, whatever the filter and sort (migration 0020, docs/architecture.md):
//
//   - Each block keeps the range of each sort's value among its events (min/max cost,
//     tokens, latency), and an index per sort orders a workspace's blocks by their
//     highest value, then newest event. A page in a value order walks that index and
//     stops at the first block whose highest value (and newest time, on a tie) cannot
//     beat the page's last event: block-max top-k.
//   - event_block_tags says which blocks hold each value of each dimension (model, key,
//     project, member), by a 64-bit tag of (dimension, value); a block with more than
//     maxBlockTags values of a dimension has the dimension's wildcard tag instead. A
//     filtered page walks only the blocks tagged with one of its values (or the
//     wildcard); a value no block holds reads no block at all.
//   - When the filter's values or the period hold few blocks (at most readAllBlocks;
//     an unfiltered period on SQLite, periodBlocks),
//     the page reads them all and sorts their events, in any order.
//
// Events within a block are matched exactly (matches, the period and the cursor); the
// summaries only decide which blocks are read.

// qInsertBlockRanges inserts one block with its value ranges (SQLite).
const qInsertBlockRanges = `INSERT INTO event_blocks (seq, workspace_id, min_ts, max_ts, n, usage_key, ingested_at, data,
	max_cost, min_cost, max_tokens, min_tokens, max_latency, min_latency) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// maxBlockTags is the most distinct values of one dimension a block is tagged with;
// past it, the block gets the dimension's wildcard tag.
var maxBlockTags = 32

// readAllBlocks is the most blocks a page reads whole, sorting their events, rather
// than walk an index in its order.
var readAllBlocks = 64

// periodBlocks is the most blocks of an unfiltered period a page in a value order reads
// whole rather than scan the value index (which reads about the page's size times the
// workspace's events over the period's): on SQLite three times readAllBlocks, as the
// two costs meet near 190 blocks (about 3 hours at 10 M events in 30 days: a 1-hour
// period took 60–100 ms from the index, 13–30 ms read whole); on PostgreSQL, whose index
// scan is cheaper and block reads dearer, readAllBlocks (docs/benchmarks.md, "Value
// orders of a custom period").
func (db *DB) periodBlocks() int {
	if db.dialect == SQLite {
		return sqlitePeriodFactor * readAllBlocks
	}
	return readAllBlocks
}

// sqlitePeriodFactor is periodBlocks over readAllBlocks on SQLite.
var sqlitePeriodFactor = 3

// maxValueWalk is the most blocks a page in a value order reads before it gives up with
// metering.ErrSortTooDeep (about a quarter of a million events at a minute's events a
// block): far from the top of such an order, every block holds events near the cursor.
// Only a page the value index cannot answer (it is behind: request_log_index.go) walks
// that far; with the index up to date, no page answers sort_too_deep.
var maxValueWalk = 1000

// tagOf is the tag of a dimension's value in event_block_tags: the event key of
// (dimension, value), which migration 0020 computes in SQL as spectra_event_key.
func tagOf(dim, value string) int64 { return idKey(dim, value) }

// wildcardTag is the tag of a block with too many values of dim to list.
func wildcardTag(dim string) int64 { return idKey(dim+"*", "") }

// blockRow is one event_blocks row being written.
type blockRow struct {
	seq, minTS, maxTS, ingested int64
	ws, usageKey, data          string
	n                           int32
	// The value ranges: cost, tokens and latency, each [min, max].
	ranges [3][2]int64
}

// sortValues are an event's values in the value sorts, in blockRow.ranges' order.
func sortValues(e *metering.Event) [3]int64 {
	return [3]int64{int64(e.Cost), e.Usage.Input + e.Usage.Output, e.LatencyMS}
}

// add widens r's ranges to e.
func (r *blockRow) add(e *metering.Event) {
	ts := micros(e.Timestamp)
	v := sortValues(e)
	if r.n == 0 {
		r.minTS, r.maxTS = ts, ts
		for i := range v {
			r.ranges[i] = [2]int64{v[i], v[i]}
		}
	} else {
		r.minTS, r.maxTS = min(r.minTS, ts), max(r.maxTS, ts)
		for i := range v {
			r.ranges[i] = [2]int64{min(r.ranges[i][0], v[i]), max(r.ranges[i][1], v[i])}
		}
	}
	r.n++
}

// insertBlockRows inserts blocks.
func (db *DB) insertBlockRows(ctx context.Context, tx *sql.Tx, rows []blockRow) error {
	if db.dialect == Postgres {
		n := len(rows)
		seqs, mins, maxs, ingested := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
		wss, keys, datas := make([]string, n), make([]string, n), make([]string, n)
		ns := make([]int32, n)
		var ranges [6][]int64
		for i := range ranges {
			ranges[i] = make([]int64, n)
		}
		for i, r := range rows {
			seqs[i], wss[i], mins[i], maxs[i], ns[i], keys[i], ingested[i], datas[i] = r.seq, r.ws, r.minTS, r.maxTS, r.n, r.usageKey, r.ingested, r.data
			for j := range 3 {
				ranges[2*j][i], ranges[2*j+1][i] = r.ranges[j][1], r.ranges[j][0]
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO event_blocks (seq, workspace_id, min_ts, max_ts, n, usage_key, ingested_at, data,
			max_cost, min_cost, max_tokens, min_tokens, max_latency, min_latency)
			SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bigint[], $5::integer[], $6::text[], $7::bigint[], $8::text[],
				$9::bigint[], $10::bigint[], $11::bigint[], $12::bigint[], $13::bigint[], $14::bigint[])`,
			seqs, wss, mins, maxs, ns, keys, ingested, datas, ranges[0], ranges[1], ranges[2], ranges[3], ranges[4], ranges[5])
		return err
	}
	for _, r := range rows {
		if _, err := db.ingestExec(ctx, tx, qInsertBlockRanges, r.seq, r.ws, r.minTS, r.maxTS, r.n, r.usageKey, r.ingested, r.data,
			r.ranges[0][1], r.ranges[0][0], r.ranges[1][1], r.ranges[1][0], r.ranges[2][1], r.ranges[2][0]); err != nil {
			return err
		}
		db.keys.pendingLast = max(db.keys.pendingLast, r.seq)
	}
	return nil
}

// tagDims are the dimensions blocks are tagged by, with the filter's values of each.
var tagDims = [4]string{"model", "key", "project", "member"}

func filterValues(f metering.Filter) [4][]string {
	return [4][]string{f.Models, f.Keys, f.Projects, f.Members}
}

func eventValues(e *metering.Event) [4]string {
	return [4]string{e.Model, e.KeyID, e.Project, e.Member}
}

// blockTags collects the event_block_tags rows of the blocks being written.
type blockTags struct {
	cur            [4]map[string]*[3]int64 // the current block's distinct values per dimension, with their highest sort values
	all            [3]int64                // the current block's highest sort values
	ws             []string
	tags, ts, seqs []int64
	maxima         [3][]int64
}

func (t *blockTags) begin() {
	for i := range t.cur {
		if t.cur[i] == nil {
			t.cur[i] = map[string]*[3]int64{}
		} else {
			clear(t.cur[i])
		}
	}
	t.all = [3]int64{-1 << 62, -1 << 62, -1 << 62}
}

// widen raises m to v.
func widen(m *[3]int64, v [3]int64) {
	for i := range v {
		m[i] = max(m[i], v[i])
	}
}

func (t *blockTags) add(e *metering.Event) {
	sv := sortValues(e)
	widen(&t.all, sv)
	for i, v := range eventValues(e) {
		m := t.cur[i]
		if x := m[v]; x != nil {
			widen(x, sv)
		} else if len(m) <= maxBlockTags {
			c := sv
			m[v] = &c
		}
	}
}

// end writes the current block's rows.
func (t *blockTags) end(ws string, maxTS, seq int64) {
	type row struct {
		tag    int64
		maxima [3]int64
	}
	for i, m := range t.cur {
		var rows []row
		if len(m) > maxBlockTags {
			rows = []row{{wildcardTag(tagDims[i]), t.all}}
		} else {
			for v, x := range m {
				rows = append(rows, row{tagOf(tagDims[i], v), *x})
			}
			slices.SortFunc(rows, func(a, b row) int { return cmp.Compare(a.tag, b.tag) })
			// Two values with one tag (a hash collision) are one row, with the higher maxima.
			for j := 1; j < len(rows); j++ {
				if rows[j].tag == rows[j-1].tag {
					widen(&rows[j-1].maxima, rows[j].maxima)
					rows = slices.Delete(rows, j, j+1)
					j--
				}
			}
		}
		for _, r := range rows {
			t.ws, t.tags, t.ts, t.seqs = append(t.ws, ws), append(t.tags, r.tag), append(t.ts, maxTS), append(t.seqs, seq)
			for k := range t.maxima {
				t.maxima[k] = append(t.maxima[k], r.maxima[k])
			}
		}
	}
}

// tagChunks are the row counts of SQLite's tag inserts.
var tagChunks = []int{64, 16, 4, 1}

func sqliteInsertTags(n int) string {
	return `INSERT OR IGNORE INTO event_block_tags (workspace_id, tag, max_ts, seq, max_cost, max_tokens, max_latency) VALUES ` + placeholders(n, 7)
}

// insertTags inserts the collected tag rows.
func (db *DB) insertTags(ctx context.Context, tx *sql.Tx, t *blockTags) error {
	if len(t.tags) == 0 {
		return nil
	}
	if db.dialect == Postgres {
		_, err := tx.ExecContext(ctx, `INSERT INTO event_block_tags (workspace_id, tag, max_ts, seq, max_cost, max_tokens, max_latency)
			SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[])`,
			t.ws, t.tags, t.ts, t.seqs, t.maxima[0], t.maxima[1], t.maxima[2])
		return err
	}
	return chunksOf(tagChunks, len(t.tags), func(start, end int) error {
		args := make([]any, 0, 7*(end-start))
		for i := start; i < end; i++ {
			args = append(args, t.ws[i], t.tags[i], t.ts[i], t.seqs[i], t.maxima[0][i], t.maxima[1][i], t.maxima[2][i])
		}
		_, err := db.ingestExec(ctx, tx, sqliteInsertTags(end-start), args...)
		return err
	})
}

// errRequestNotFound is Event's answer for an id the workspace does not have.
var errRequestNotFound = errs.E(errs.NotFound, "request_not_found", "no request with this id in this workspace")

// Event returns the workspace's event id: found through its key in event_ids (or
// event_id_overflow), or, on SQLite, through the keys of recent blocks (event_keys.go).
func (db *DB) Event(ctx context.Context, workspaceID, id string) (_ metering.Event, err error) {
	defer wrapErr(&err, "event")
	k := keyOf(workspaceID, id)
	// On SQLite the committer's recent keys are read before event_ids: a sweep moves a key
	// into event_ids, commits, and only then drops it from recent, so a key is always in
	// one of the two as this order reads them (read the other way round, a sweep between
	// the two reads hid the event).
	var tail recentKeys
	if db.dialect == SQLite {
		tail = db.recentKeys(k)
	}
	var blocks []int64
	var b int64
	err = db.read.QueryRowContext(ctx, db.q(`SELECT block FROM event_ids WHERE k = ?`), k).Scan(&b)
	switch {
	case err == nil:
		blocks = append(blocks, b)
	case !errors.Is(err, sql.ErrNoRows):
		return metering.Event{}, err
	}
	err = db.read.QueryRowContext(ctx, db.q(`SELECT block FROM event_id_overflow WHERE workspace_id = ? AND id = ?`), workspaceID, id).Scan(&b)
	switch {
	case err == nil:
		blocks = append(blocks, b)
	case !errors.Is(err, sql.ErrNoRows):
		return metering.Event{}, err
	}
	for _, seq := range blocks {
		if e, ok, err := db.blockEvent(ctx, seq, workspaceID, id); err != nil || ok {
			return e, err
		}
	}
	if db.dialect == SQLite {
		return db.recentEvent(ctx, tail, workspaceID, id)
	}
	return metering.Event{}, errRequestNotFound
}

// recentKeys is what the committer's index said of one key at one moment: the block it
// names for it (found), and the blocks the index covers (loaded, through last).
type recentKeys struct {
	seq, last     int64
	found, loaded bool
}

// recentKeys reads the committer's index for key k.
func (db *DB) recentKeys(k int64) recentKeys {
	db.keysMu.RLock()
	defer db.keysMu.RUnlock()
	seq, found := db.keys.recent[k]
	return recentKeys{seq: seq, found: found, loaded: db.keys.loaded, last: db.keys.last}
}

// blockEvent returns the event (ws, id) when block seq holds it.
func (db *DB) blockEvent(ctx context.Context, seq int64, ws, id string) (metering.Event, bool, error) {
	var bws, data string
	var ingested int64
	err := db.read.QueryRowContext(ctx, db.q(`SELECT workspace_id, ingested_at, data FROM event_blocks WHERE seq = ?`), seq).Scan(&bws, &ingested, &data)
	if errors.Is(err, sql.ErrNoRows) || err == nil && bws != ws {
		return metering.Event{}, false, nil
	}
	if err != nil {
		return metering.Event{}, false, err
	}
	evs, err := decodeBlock(bws, ingested, data)
	if err != nil {
		return metering.Event{}, false, err
	}
	for _, e := range evs {
		if e.ID == id {
			return e, true, nil
		}
	}
	return metering.Event{}, false, nil
}

// recentEvent finds (ws, id) among SQLite's blocks whose keys are not in event_ids
// yet: through the committer's index of them when it is loaded, and by reading the
// blocks it does not cover (written after it, or every block after the indexed ones
// when this process has not ingested yet), looking only into those whose data holds
// the id as a string.
func (db *DB) recentEvent(ctx context.Context, r recentKeys, ws, id string) (metering.Event, error) {
	if r.found {
		if e, ok, err := db.blockEvent(ctx, r.seq, ws, id); err != nil || ok {
			return e, err
		}
	}
	after := r.last
	if !r.loaded {
		var v string
		err := db.read.QueryRowContext(ctx, qKeysIndexed).Scan(&v)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return metering.Event{}, errRequestNotFound // every key is in event_ids
		case err != nil:
			return metering.Event{}, err
		}
		if after, err = strconv.ParseInt(v, 10, 64); err != nil {
			return metering.Event{}, err
		}
	}
	// "+workspace_id": the range of seq, not the workspace's every block, is what to read.
	rows, err := db.read.QueryContext(ctx, `SELECT seq FROM event_blocks WHERE seq > ? AND +workspace_id = ? AND instr(data, ?) > 0`,
		after, ws, string(appendJSONString(nil, id)))
	seqs, err := collect(rows, err, scanInt64)
	if err != nil {
		return metering.Event{}, err
	}
	for _, seq := range seqs {
		if e, ok, err := db.blockEvent(ctx, seq, ws, id); err != nil || ok {
			return e, err
		}
	}
	return metering.Event{}, errRequestNotFound
}

// logQuery is one page of the request log being answered.
type logQuery struct {
	f      metering.EventFilter
	sort   metering.Sort
	after  *metering.Cursor
	lo, hi int64 // the events' time bounds, inclusive
	dims   []int // indexes into tagDims of the filtered dimensions
	values [4][]string
	out    []metering.Event
	read   map[int64]bool // the blocks a walk has read
	// prefetch is how many blocks a walk reads at once: 2 at first, twice as many each
	// time, up to 32.
	prefetch int
	// fromCursor: the walk of the driving dimension's tag rows starts at the cursor's
	// value rather than at the top (singleTagged).
	fromCursor bool
	// byTime: the index page reads the period's rows by time (request_log_index_time)
	// and sorts them, rather than scanning the value order for them (preferIndex).
	byTime bool
}

func newLogQuery(f metering.EventFilter) *logQuery {
	q := &logQuery{f: f, sort: f.Sort.Norm(), after: f.After(), lo: -1 << 62, hi: 1 << 62, values: filterValues(f.Filter), prefetch: 2}
	if !f.Start.IsZero() {
		q.lo = micros(f.Start)
	}
	if !f.End.IsZero() {
		q.hi = micros(f.End) - 1
	}
	if q.after != nil && q.sort == metering.SortTime {
		q.hi = min(q.hi, micros(q.after.Time))
	}
	for i, v := range q.values {
		if len(v) > 0 {
			q.dims = append(q.dims, i)
		}
	}
	return q
}

// keep reports whether e belongs to the page's events.
func (q *logQuery) keep(e *metering.Event) bool {
	ts := micros(e.Timestamp)
	return ts >= q.lo && ts <= q.hi && (q.after == nil || q.after.Passed(e)) && matches(q.f.Filter, e)
}

// full reports whether the page holds Limit events.
func (q *logQuery) full() bool { return len(q.out) >= q.f.Limit }

// beaten reports whether no event of a block can come before the page's last event,
// given the block's highest value in the sort (ignored in time order) and newest time.
func (q *logQuery) beaten(maxValue, maxTS int64) bool {
	if !q.full() {
		return false
	}
	last := &q.out[q.f.Limit-1]
	if q.sort != metering.SortTime {
		if v := q.sort.Key(last); maxValue != v {
			return maxValue < v
		}
	}
	return maxTS < micros(last.Timestamp)
}

// addBlock adds the events of a block that belong to the page, keeping the best Limit.
func (q *logQuery) addBlock(ingested int64, data string) error {
	if !mayMatch(q.f.Filter, data) {
		return nil
	}
	// Each event is first read shallowly (the fields the page's choice needs, without
	// copying); only those that belong to the page, and beat its last event when it is
	// full, are decoded whole.
	sc := headScanner{blockDecoder{s: data}}
	sc.expect('[')
	if sc.peek() == ']' {
		return nil
	}
	for sc.err == nil {
		start := sc.pos
		h, ok := sc.head()
		if sc.err != nil {
			break
		}
		if !ok || q.keep(&h) && (!q.full() || q.sort.Compare(&h, &q.out[q.f.Limit-1]) < 0) {
			d := blockDecoder{s: data, pos: start}
			e := d.event(q.f.WorkspaceID, ingested)
			if d.err != nil {
				return fmt.Errorf("event block of %s: %w", q.f.WorkspaceID, d.err)
			}
			if ok || q.keep(&e) {
				q.insert(e)
			}
		}
		if sc.sep(']') {
			break
		}
	}
	if sc.err != nil {
		return fmt.Errorf("event block of %s: %w", q.f.WorkspaceID, sc.err)
	}
	return nil
}

// insert puts e in its place in the page, keeping at most Limit events.
func (q *logQuery) insert(e metering.Event) {
	i, _ := slices.BinarySearchFunc(q.out, &e, func(a metering.Event, b *metering.Event) int { return q.sort.Compare(&a, b) })
	if i >= q.f.Limit {
		return
	}
	q.out = slices.Insert(q.out, i, e)
	if len(q.out) > q.f.Limit {
		q.out = q.out[:q.f.Limit]
	}
}

// headScanner reads the events of a block shallowly: an event's id, time, dimensions,
// tokens, cost and latency, as views of the block's text, skipping the rest.
type headScanner struct{ blockDecoder }

// head reads one event array; ok is false when its id or a dimension holds an escape
// (the event must then be decoded whole to be judged).
func (sc *headScanner) head() (e metering.Event, ok bool) {
	ok = true
	sc.expect('[')
	for i := 0; sc.err == nil; i++ {
		switch c := sc.peek(); {
		case c == '"':
			v, plain := sc.rawString()
			ok = ok && (plain || i > 5)
			switch i {
			case 0:
				e.ID = v
			case 2:
				e.KeyID = v
			case 3:
				e.Project = v
			case 4:
				e.Member = v
			case 5:
				e.Model = v
			}
		case c == '{':
			sc.units() // an event's units (the last element): skipped
		case c == 'n':
			sc.pos += 4 // null
		default:
			n := sc.int()
			switch i {
			case 1:
				e.Timestamp = fromMicros(n)
			case 6:
				e.Usage.Input = n
			case 9:
				e.Usage.Output = n
			case 11:
				e.Cost = money.Amount(n)
			case 15:
				e.LatencyMS = n
			}
		}
		if sc.sep(']') {
			break
		}
	}
	return e, ok
}

// rawString reads a JSON string as it is written, reporting whether it holds no escape.
func (sc *headScanner) rawString() (string, bool) {
	start := sc.pos + 1
	plain := true
	for i := start; i < len(sc.s); i++ {
		switch sc.s[i] {
		case '\\':
			plain = false
			i++
		case '"':
			sc.pos = i + 1
			return sc.s[start:i], plain
		}
	}
	sc.fail("unterminated string")
	return "", false
}

// Events returns the request log page f asks for (see the comment at the top).
func (db *DB) Events(ctx context.Context, f metering.EventFilter) (_ []metering.Event, err error) {
	defer wrapErr(&err, "events")
	q := newLogQuery(f)
	if f.Limit <= 0 || q.lo > q.hi {
		return []metering.Event{}, nil
	}
	if f.ID != "" {
		e, err := db.Event(ctx, f.WorkspaceID, f.ID)
		if errs.KindOf(err) == errs.NotFound {
			return []metering.Event{}, nil
		}
		if err != nil {
			return nil, err
		}
		if !q.keep(&e) {
			return []metering.Event{}, nil
		}
		return []metering.Event{e}, nil
	}
	// A filter of two or more dimensions: the days whose rollups hold the combination
	// (a day with none cannot hold a match, however its blocks are tagged).
	var days [][2]int64
	if len(q.dims) >= 2 {
		if days, err = db.matchingDays(ctx, q); err != nil || len(days) == 0 {
			return []metering.Event{}, err
		}
	}
	// The filtered dimension whose values tag the fewest blocks drives the walk; a
	// value no block in the period holds ends it.
	drive, driveCount := -1, 0
	for _, d := range q.dims {
		n, err := db.countTagged(ctx, q, d, readAllBlocks+1)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return []metering.Event{}, nil
		}
		if drive < 0 || n < driveCount {
			drive, driveCount = d, n
		}
	}
	readTags := drive >= 0 && driveCount <= readAllBlocks
	// A value each of whose tag rows stands for one event (a rare value, one event a
	// block) is walked from the cursor, in about a page of blocks (singleTagged).
	if q.sort != metering.SortTime && q.after != nil && drive >= 0 && !readTags {
		if q.fromCursor, err = db.singleTagged(ctx, q, drive); err != nil {
			return nil, err
		}
	}
	// A page of a value order is answered from the value index (request_log_index.go)
	// unless the blocks to read are fewer, or the index is behind.
	if q.sort != metering.SortTime && (q.after != nil || indexFirstPages) && !readTags && !q.fromCursor {
		tail, err := db.logTail(ctx, q.f.WorkspaceID)
		use, budget := err == nil, 0
		if use {
			use, budget, err = db.preferIndex(ctx, q, drive)
		}
		if err != nil && !errors.Is(err, errIndexBehind) {
			return nil, err
		}
		if use {
			switch err := db.indexedPage(ctx, q, tail, budget); {
			case err == nil:
				if q.out == nil {
					q.out = []metering.Event{}
				}
				return q.out, nil
			case errors.Is(err, errScanBudget):
				q.out, q.read = nil, nil // the blocks answer it whole
			default:
				return nil, err
			}
		}
	}
	few := false
	if q.sort != metering.SortTime && q.after != nil && !readTags && !q.fromCursor {
		if few, err = db.fewBelow(ctx, q); err != nil {
			return nil, err
		}
	}
	switch {
	case readTags:
		err = db.readTagged(ctx, q, drive)
	case q.sort == metering.SortTime && days != nil:
		// Only the matching days, newest first, each as its own period.
		lo, hi := q.lo, q.hi
		for _, r := range days {
			if q.full() {
				break
			}
			q.lo, q.hi, q.read = max(lo, r[0]), min(hi, r[1]), nil
			if q.lo <= q.hi {
				if err = db.walkTime(ctx, q, drive); err != nil {
					break
				}
			}
		}
		q.lo, q.hi = lo, hi
	case q.sort == metering.SortTime:
		err = db.walkTime(ctx, q, drive)
	case few:
		// A last page: the few blocks that hold a value not above the cursor's, found
		// in the index of lowest values (their rows are read for their events only).
		err = db.readBelow(ctx, q)
	case drive >= 0:
		err = db.walkValue(ctx, q, drive)
	default:
		n := db.periodBlocks() + 1
		if !f.Start.IsZero() || !f.End.IsZero() {
			if n, err = db.countPeriod(ctx, q, db.periodBlocks()+1); err != nil {
				return nil, err
			}
		}
		if n <= db.periodBlocks() {
			err = db.readPeriod(ctx, q)
		} else {
			err = db.walkValue(ctx, q, -1)
		}
	}
	if err != nil {
		return nil, err
	}
	if q.out == nil {
		q.out = []metering.Event{}
	}
	return q.out, nil
}

// dayLength bounds a day of any time zone (µs).
const dayLength = int64(25 * time.Hour / time.Microsecond)

// matchingDays returns the time ranges (inclusive, newest first, within the period) of
// the workspace's days whose daily rollups count events of the filter's combination:
// each day's start to 25 hours later, days closer than a block's span merged.
func (db *DB) matchingDays(ctx context.Context, q *logQuery) ([][2]int64, error) {
	var b strings.Builder
	args := []any{q.f.WorkspaceID, q.lo - dayLength, q.hi}
	b.WriteString(`SELECT DISTINCT day FROM rollups_daily WHERE workspace_id = ? AND day > ? AND day <= ?`)
	filterSQL(&b, &args, q.f.Filter)
	b.WriteString(` ORDER BY day DESC`)
	rows, err := db.read.QueryContext(ctx, db.q(b.String()), args...)
	days, err := collect(rows, err, scanInt64)
	if err != nil {
		return nil, err
	}
	var out [][2]int64
	for _, d := range days {
		r := [2]int64{max(d, q.lo), min(d+dayLength-1, q.hi)}
		if r[0] > r[1] {
			continue
		}
		if n := len(out); n > 0 && r[1]+2*blockSpan >= out[n-1][0] {
			out[n-1][0] = min(out[n-1][0], r[0])
			continue
		}
		out = append(out, r)
	}
	return out, nil
}

// tagsOf returns the tags of dimension d's filter values and its wildcard.
func (q *logQuery) tagsOf(d int) []int64 {
	tags := []int64{wildcardTag(tagDims[d])}
	for _, v := range q.values[d] {
		tags = append(tags, tagOf(tagDims[d], v))
	}
	slices.Sort(tags)
	return slices.Compact(tags)
}

// tagsIn appends "tag IN (…)" for tags to b, and the tags to args.
func tagsIn(b *strings.Builder, args *[]any, tags []int64) {
	b.WriteString("tag IN (" + strings.TrimSuffix(strings.Repeat("?,", len(tags)), ",") + ")")
	for _, t := range tags {
		*args = append(*args, t)
	}
}

// blockWindow is the range of max_ts a block holding an event in [lo, hi] has.
func (q *logQuery) blockWindow() (int64, int64) {
	return q.lo, min(q.hi, 1<<62) + blockSpan
}

// countTagged counts the blocks of the period tagged for dimension d's values, up to limit.
func (db *DB) countTagged(ctx context.Context, q *logQuery, d, limit int) (int, error) {
	lo, hi := q.blockWindow()
	var b strings.Builder
	args := []any{q.f.WorkspaceID}
	b.WriteString(`SELECT COUNT(*) FROM (SELECT 1 FROM event_block_tags WHERE workspace_id = ? AND `)
	tagsIn(&b, &args, q.tagsOf(d))
	b.WriteString(` AND max_ts >= ? AND max_ts < ? LIMIT ?) AS t`)
	args = append(args, lo, hi, limit)
	var n int
	err := db.read.QueryRowContext(ctx, db.q(b.String()), args...).Scan(&n)
	return n, err
}

// fromCursorPages counts the pages walked from the cursor (tests read it).
var fromCursorPages atomic.Int64

// maxSingleEvents bounds the events of a value singleTagged counts the tag rows of (a
// value with more is answered well by the value index: a page scans at most about
// 50 × total / 20,000 rows of it, 25,000 at 10 M events).
const maxSingleEvents = 20_000

// singleTagged reports whether the filter's one value (a filter of one dimension) of dimension d has as many tag
// rows in event_block_tags (over all time) as events in the daily rollups: each row then
// stands for exactly one event of the value (each row holds at least one, and the value
// has no event in a block tagged with the dimension's wildcard), so the row's highest
// value is that event's, and a row above the cursor's value holds no event after it. A
// page past a cursor then walks the value's rows from the cursor's value down and reads
// about a page of blocks, where the walk from the top would read every block above the
// cursor (one per event of a rare value spread thinly). Both counts are exact (the
// rollups and the tags are written in the ingest transaction, for each accepted event
// once); a value whose counts differ (two events in a block, a repair that moved an
// event to another value) is walked from the top as before.
func (db *DB) singleTagged(ctx context.Context, q *logQuery, d int) (bool, error) {
	if len(q.dims) != 1 || len(q.values[d]) != 1 { // with another filter, most rows read could miss
		return false, nil
	}
	var events int64
	err := db.read.QueryRowContext(ctx, db.q(`SELECT COALESCE(SUM(requests), 0) FROM rollups_daily_dim WHERE workspace_id = ? AND dim = ? AND value = ?`),
		q.f.WorkspaceID, tagDims[d], q.values[d][0]).Scan(&events)
	if err != nil || events == 0 || events > maxSingleEvents {
		return false, err
	}
	var rows int64
	err = db.read.QueryRowContext(ctx, db.q(`SELECT COUNT(*) FROM (SELECT 1 FROM event_block_tags WHERE workspace_id = ? AND tag = ? LIMIT ?) AS t`),
		q.f.WorkspaceID, tagOf(tagDims[d], q.values[d][0]), events+1).Scan(&rows)
	return err == nil && rows == events, err
}

// fewBelow reports whether few blocks of the period have a value in the sort not above
// the cursor's: the only blocks that can hold an event after it. Few is readAllBlocks;
// for a filtered page, whose walk would go through every block tagged with its values
// to find the few below the cursor, four times that.
func (db *DB) fewBelow(ctx context.Context, q *logQuery) (bool, error) {
	lo, hi := q.blockWindow()
	few := readAllBlocks
	if len(q.dims) > 0 {
		few *= 4
	}
	var n int
	err := db.read.QueryRowContext(ctx, db.q(`SELECT COUNT(*) FROM (SELECT 1 FROM event_blocks WHERE workspace_id = ? AND `+
		sortColumns[q.sort][1]+` <= ? AND max_ts >= ? AND max_ts < ? AND min_ts <= ? LIMIT ?) AS t`),
		q.f.WorkspaceID, q.after.Value, lo, hi, q.hi, few+1).Scan(&n)
	return err == nil && n <= few, err
}

// readBelow reads the blocks of the period whose lowest value in the sort is not above
// the cursor's.
func (db *DB) readBelow(ctx context.Context, q *logQuery) error {
	lo, hi := q.blockWindow()
	rows, err := db.read.QueryContext(ctx, db.q(`SELECT seq FROM event_blocks WHERE workspace_id = ? AND `+sortColumns[q.sort][1]+` <= ?
		AND max_ts >= ? AND max_ts < ? AND min_ts <= ?`), q.f.WorkspaceID, q.after.Value, lo, hi, q.hi)
	seqs, err := collect(rows, err, scanInt64)
	if err != nil {
		return err
	}
	for start := 0; start < len(seqs); start += 32 {
		data := map[int64]blockData{}
		part := seqs[start:min(start+32, len(seqs))]
		if err := db.readBlockData(ctx, part, data); err != nil {
			return err
		}
		for _, seq := range part {
			if d, ok := data[seq]; ok {
				if err := q.addBlock(d.ingested, d.data); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// countPeriod counts the blocks that can hold events of the period, up to limit.
func (db *DB) countPeriod(ctx context.Context, q *logQuery, limit int) (int, error) {
	lo, hi := q.blockWindow()
	var n int
	err := db.read.QueryRowContext(ctx, db.q(`SELECT COUNT(*) FROM (SELECT 1 FROM event_blocks
		WHERE workspace_id = ? AND max_ts >= ? AND max_ts < ? AND min_ts <= ? LIMIT ?) AS t`), q.f.WorkspaceID, lo, hi, q.hi, limit).Scan(&n)
	return n, err
}

// readTagged reads every block of the period tagged for dimension d's values.
func (db *DB) readTagged(ctx context.Context, q *logQuery, d int) error {
	lo, hi := q.blockWindow()
	var b strings.Builder
	args := []any{q.f.WorkspaceID, q.f.WorkspaceID}
	b.WriteString(`SELECT ingested_at, data FROM event_blocks WHERE workspace_id = ? AND seq IN (
		SELECT seq FROM event_block_tags WHERE workspace_id = ? AND `)
	tagsIn(&b, &args, q.tagsOf(d))
	b.WriteString(` AND max_ts >= ? AND max_ts < ?) AND min_ts <= ?`)
	args = append(args, lo, hi, q.hi)
	return db.readBlocks(ctx, q, b.String(), args)
}

// readPeriod reads every block that can hold events of the period.
func (db *DB) readPeriod(ctx context.Context, q *logQuery) error {
	lo, hi := q.blockWindow()
	return db.readBlocks(ctx, q, `SELECT ingested_at, data FROM event_blocks WHERE workspace_id = ? AND max_ts >= ? AND max_ts < ? AND min_ts <= ?`,
		[]any{q.f.WorkspaceID, lo, hi, q.hi})
}

func (db *DB) readBlocks(ctx context.Context, q *logQuery, query string, args []any) error {
	rows, err := db.read.QueryContext(ctx, db.q(query), args...)
	return eachRow(rows, err, func(row scanner) error {
		var ingested int64
		var data string
		if err := row.Scan(&ingested, &data); err != nil {
			return err
		}
		return q.addBlock(ingested, data)
	})
}

// walkChunks are the sizes of the walks' successive reads: small first, as a page
// often ends within a few blocks.
var walkChunks = []int{8, 16, 32, 64}

// walkTime walks the blocks newest first (by their newest event), those tagged for
// dimension d's values when d >= 0: a block covers less than blockSpan of event time,
// so the blocks that can hold an event at or before hi are those whose newest event is
// before hi + blockSpan; the walk ends at the first block whose newest event is older
// than the page's last.
func (db *DB) walkTime(ctx context.Context, q *logQuery, d int) error {
	lo, hi := q.blockWindow()
	curTS, curSeq := hi, int64(-1<<62)
	for round := 0; ; round++ {
		chunk := walkChunks[min(round, len(walkChunks)-1)]
		var b strings.Builder
		var args []any
		if d < 0 {
			b.WriteString(`SELECT seq, 0, max_ts, min_ts, 0 FROM event_blocks WHERE workspace_id = ? AND (max_ts, seq) < (?, ?) AND max_ts >= ?
				AND min_ts <= ? ORDER BY max_ts DESC, seq DESC LIMIT ?`)
			args = append(args, q.f.WorkspaceID, curTS, curSeq, lo, q.hi, chunk)
		} else {
			// Each tag's next blocks, merged: the chunk's newest blocks of any tag.
			b.WriteString(`SELECT b.seq, 0, b.max_ts, b.min_ts, 0 FROM (`)
			for i, tag := range q.tagsOf(d) {
				if i > 0 {
					b.WriteString(` UNION `) // a block with two of the tags is read once
				}
				b.WriteString(`SELECT max_ts, seq FROM (SELECT max_ts, seq FROM event_block_tags WHERE workspace_id = ? AND tag = ?
					AND (max_ts, seq) < (?, ?) AND max_ts >= ? ORDER BY max_ts DESC, seq DESC LIMIT ?) AS t` + strconv.Itoa(i))
				args = append(args, q.f.WorkspaceID, tag, curTS, curSeq, lo, chunk)
			}
			b.WriteString(` ORDER BY max_ts DESC, seq DESC LIMIT ?) AS t JOIN event_blocks b` + db.byRanges() + ` ON b.seq = t.seq ORDER BY t.max_ts DESC, t.seq DESC`)
			args = append(args, chunk)
		}
		n, done, err := db.walk(ctx, q, b.String(), args, func(seq, _, maxTS int64) bool {
			curTS, curSeq = maxTS, seq
			return q.beaten(0, maxTS)
		})
		if err != nil || done || n < chunk {
			return err
		}
	}
}

// byRanges makes SQLite read a block's time and value ranges by its number from
// event_blocks_ranges rather than from the row, where they come after the events' text
// (reading them there walks the text's overflow pages); PostgreSQL keeps the text
// aside and needs no hint.
func (db *DB) byRanges() string {
	if db.dialect == SQLite {
		return " INDEXED BY event_blocks_ranges"
	}
	return ""
}

// sortColumns are the columns of the value sorts' ranges.
var sortColumns = map[metering.Sort][2]string{
	metering.SortCost:    {"max_cost", "min_cost"},
	metering.SortTokens:  {"max_tokens", "min_tokens"},
	metering.SortLatency: {"max_latency", "min_latency"},
}

// walkValue walks the blocks by their highest value in the sort, then newest event
// (the sort's index), and skips the blocks that cannot hold an event after the cursor:
// it ends at the first block whose highest value and newest time cannot beat the page's
// last event. When d >= 0 it walks the rows of dimension d's tags instead, whose highest
// values are those of the block's events with the tag's value.
func (db *DB) walkValue(ctx context.Context, q *logQuery, d int) error {
	cols := sortColumns[q.sort]
	lo, hi := q.blockWindow()
	curV, curTS, curSeq := int64(1<<62), int64(1<<62), int64(1<<62)
	if d >= 0 && q.fromCursor {
		curV = q.after.Value // the rows whose value is not above the cursor's
		fromCursorPages.Add(1)
	}
	for round := 0; ; round++ {
		chunk := walkChunks[min(round, len(walkChunks)-1)]
		var b strings.Builder
		var args []any
		if d < 0 {
			b.WriteString(`SELECT seq, ` + cols[0] + `, max_ts, min_ts, ` + cols[1] + ` FROM event_blocks b WHERE workspace_id = ?
				AND (` + cols[0] + `, max_ts, seq) < (?, ?, ?) AND max_ts >= ? AND max_ts < ? AND min_ts <= ?`)
			args = append(args, q.f.WorkspaceID, curV, curTS, curSeq, lo, hi, q.hi)
			if c := q.after; c != nil {
				b.WriteString(` AND (` + cols[1] + ` < ? OR ` + cols[1] + ` = ? AND min_ts <= ?)`)
				args = append(args, c.Value, c.Value, micros(c.Time))
			}
			b.WriteString(` ORDER BY ` + cols[0] + ` DESC, max_ts DESC, seq DESC LIMIT ?`)
			args = append(args, chunk)
		} else {
			// Each tag's next rows, merged: the chunk's highest of any tag (a block
			// with two of the tags once, by its higher row).
			b.WriteString(`SELECT b.seq, t.v, b.max_ts, b.min_ts, b.` + cols[1] + ` FROM (SELECT seq, MAX(v) AS v FROM (`)
			for i, tag := range q.tagsOf(d) {
				if i > 0 {
					b.WriteString(` UNION ALL `)
				}
				// Past a cursor, the blocks whose lowest value is above it are left out
				// here, before the LIMIT (each costs a look at the block's row).
				cut, cutArgs := "", []any(nil)
				if c := q.after; c != nil {
					cut = ` AND EXISTS (SELECT 1 FROM event_blocks b` + db.byRanges() + ` WHERE b.seq = g.seq AND (b.` + cols[1] + ` < ? OR b.` + cols[1] + ` = ? AND b.min_ts <= ?))`
					cutArgs = []any{c.Value, c.Value, micros(c.Time)}
				}
				b.WriteString(`SELECT v, max_ts, seq FROM (SELECT g.` + cols[0] + ` AS v, g.max_ts, g.seq FROM event_block_tags g WHERE g.workspace_id = ? AND g.tag = ?
					AND (g.` + cols[0] + `, g.max_ts, g.seq) < (?, ?, ?) AND g.max_ts >= ? AND g.max_ts < ?` + cut + `
					ORDER BY g.` + cols[0] + ` DESC, g.max_ts DESC, g.seq DESC LIMIT ?) AS t` + strconv.Itoa(i))
				args = append(args, q.f.WorkspaceID, tag, curV, curTS, curSeq, lo, hi)
				args = append(append(args, cutArgs...), chunk)
			}
			// The period and cursor are checked on the rows read (walk), not here:
			// a row left out after the tags' LIMIT would end the walk early.
			b.WriteString(`) AS u GROUP BY seq) AS t JOIN event_blocks b` + db.byRanges() + ` ON b.seq = t.seq ORDER BY t.v DESC, b.max_ts DESC, b.seq DESC LIMIT ?`)
			args = append(args, chunk)
		}
		n, done, err := db.walk(ctx, q, b.String(), args, func(seq, maxV, maxTS int64) bool {
			curV, curTS, curSeq = maxV, maxTS, seq
			return q.beaten(maxV, maxTS)
		})
		if err == nil && len(q.read) > maxValueWalk {
			return metering.ErrSortTooDeep
		}
		if err != nil || done || n < chunk {
			return err
		}
	}
}

// walkRow is a block a walk comes to: v is its highest value in a value walk and minV
// its lowest (0 in a time walk).
type walkRow struct{ seq, v, maxTS, minTS, minV int64 }

// walk reads one chunk of a walk: the query gives rows of (seq, v, max_ts, min_ts,
// min_v), from indexes alone; stop tells, for each row, whether the walk ends there.
// It skips the blocks read already (a block with two of the walk's tags comes twice),
// those whose events all come after the period, and those that cannot hold an event
// after the cursor, and reads the others' events a few blocks at a time, as it comes to
// them (so a walk that ends early reads no more than it needs).
func (db *DB) walk(ctx context.Context, q *logQuery, query string, args []any, stop func(seq, v, maxTS int64) bool) (n int, done bool, err error) {
	rows, err := db.read.QueryContext(ctx, db.q(query), args...)
	chunk, err := collect(rows, err, func(row scanner) (walkRow, error) {
		var r walkRow
		err := row.Scan(&r.seq, &r.v, &r.maxTS, &r.minTS, &r.minV)
		return r, err
	})
	if err != nil {
		return 0, false, err
	}
	wanted := func(r walkRow) bool {
		if q.read[r.seq] || r.minTS > q.hi {
			return false
		}
		c := q.after
		return c == nil || q.sort == metering.SortTime || r.minV < c.Value || r.minV == c.Value && r.minTS <= micros(c.Time)
	}
	fetched := map[int64]blockData{}
	for i, r := range chunk {
		if stop(r.seq, r.v, r.maxTS) {
			return len(chunk), true, nil
		}
		if !wanted(r) {
			continue
		}
		if _, ok := fetched[r.seq]; !ok {
			// This block and the next few wanted ones, more as the walk goes on.
			var seqs []int64
			for _, next := range chunk[i:] {
				if len(seqs) == q.prefetch {
					break
				}
				if wanted(next) {
					seqs = append(seqs, next.seq)
				}
			}
			if err := db.readBlockData(ctx, seqs, fetched); err != nil {
				return 0, false, err
			}
			q.prefetch = min(2*q.prefetch, 32)
		}
		if q.read == nil {
			q.read = map[int64]bool{}
		}
		q.read[r.seq] = true
		if d, ok := fetched[r.seq]; ok { // a block is never deleted; if one were, it has no events to show
			if err := q.addBlock(d.ingested, d.data); err != nil {
				return 0, false, err
			}
		}
	}
	return len(chunk), false, nil
}

type blockData struct {
	ingested int64
	data     string
}

// readBlockData reads the events of blocks seqs into out.
func (db *DB) readBlockData(ctx context.Context, seqs []int64, out map[int64]blockData) error {
	args := make([]any, len(seqs))
	for i, s := range seqs {
		args[i] = s
	}
	rows, err := db.read.QueryContext(ctx, db.q(`SELECT seq, ingested_at, data FROM event_blocks WHERE seq IN (`+
		strings.TrimSuffix(strings.Repeat("?,", len(seqs)), ",")+`)`), args...)
	return eachRow(rows, err, func(row scanner) error {
		var seq int64
		var b blockData
		if err := row.Scan(&seq, &b.ingested, &b.data); err != nil {
			return err
		}
		out[seq] = b
		return nil
	})
}
