package store

import (
	"cmp"
	"context"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"modernc.org/sqlite"

	"spectra/internal/metering"
	"spectra/internal/money"
	"spectra/internal/pricing"
)

// Events are stored in blocks (migration 0011): a block is one row of event_blocks
// holding the events one transaction applied for one workspace within blockSpan of event
// time, as a JSON array with one array per event:
//
//	[id, ts, key_id, project, member, model, input_tokens, cached_input_tokens,
//	 cache_write_tokens, output_tokens, reasoning_tokens, cost, source, endpoint,
//	 status, latency_ms, stream, estimated, metadata (a JSON string, or null), hash,
//	 held[, cache_write_1h_tokens, web_search_calls, price_effective_from,
//	 cost_exact_micro, cost_exact_frac, billed_service_tier, price_list, service_tier,
//	 context_tier_above_input_tokens, audio_input_tokens, audio_output_tokens,
//	 image_input_tokens, image_output_tokens, units]]
//
// An event written before held was added (migration 0020) has no held element and
// reads as held 0. The elements after held are written only up to the last one that is
// not its default (0, "", null; billed_service_tier "" is "default"), and read as their
// defaults when absent: an event recorded before migration 0022 has no price recorded
// (price_effective_from 0) and its exact cost is its cost. The exact cost is written
// (as micro-units and 10^-6 micro-units) only when it is not a whole micro-unit; when
// it is, it is the cost charged (see metering.Batch.Charge). cost is what the event was
// charged; ApplyEvents encodes each event without it (encodedEvent) and writes it in
// once the batch has charged the event.
//
// Workspace, ingested_at and the usage transfer's key (an event's usage_key is the
// block's when its cost is above zero, "" otherwise) are the block's columns. The view
// `events` shows the old per-event columns over the blocks.
//
// Exactly-once rests on event_ids (k → block), k being idKey(workspace, id): the
// first (workspace, id) to claim k owns it; another (workspace, id) with the same k (a
// 64-bit hash collision) is recorded exactly in event_id_overflow, whose primary key is
// (workspace_id, id). An id is known when the block k points to holds it, or when the
// overflow table names it. On SQLite, k of a recent event is in memory until a sweep
// writes it to event_ids (event_keys.go).

// blockSpan is the widest range of event time one block covers; the request log relies on it.
const blockSpan = int64(60 * time.Second / time.Microsecond)

// blockMaxEvents and blockMaxBytes bound one block, so that reading one for the request
// log stays cheap.
const (
	blockMaxEvents = 1000
	blockMaxBytes  = 1 << 20
)

func init() {
	sqlite.MustRegisterDeterministicScalarFunction("spectra_event_key", 2, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		ws, ok1 := args[0].(string)
		id, ok2 := args[1].(string)
		if !ok1 || !ok2 {
			return nil, errors.New("spectra_event_key(workspace, id) takes two strings")
		}
		return idKey(ws, id), nil
	})
}

// keyOf is the key function ApplyEvents uses (tests replace it to force collisions).
var keyOf = idKey

// idKey is the 64-bit key of (workspace, id): the first 8 bytes of SHA-256 over
// "<len(ws)>:<ws><len(id)>:<id>", big-endian, as a signed integer. PostgreSQL's
// spectra_event_key computes the same.
func idKey(ws, id string) int64 {
	buf := make([]byte, 0, len(ws)+len(id)+12)
	buf = strconv.AppendInt(buf, int64(len(ws)), 10)
	buf = append(buf, ':')
	buf = append(buf, ws...)
	buf = strconv.AppendInt(buf, int64(len(id)), 10)
	buf = append(buf, ':')
	buf = append(buf, id...)
	sum := sha256.Sum256(buf)
	return int64(binary.BigEndian.Uint64(sum[:8]))
}

// encodeEvent returns e's array in a block (see the layout above).
func encodeEvent(e *metering.Event) []byte {
	x := encodeEventParts(e)
	return x.with(nil, e.Cost)
}

// encodedEvent is an event's array in a block without its cost: the cost's digits go at
// costAt. ApplyEvents encodes events before the store knows what each is charged
// (metering.Batch.Charge).
type encodedEvent struct {
	b      []byte
	costAt int
}

// with appends the array, with cost, to buf.
func (x encodedEvent) with(buf []byte, cost money.Amount) []byte {
	buf = append(buf, x.b[:x.costAt]...)
	buf = strconv.AppendInt(buf, int64(cost), 10)
	return append(buf, x.b[x.costAt:]...)
}

// encodeEventParts returns e's array in a block (see the layout above) without its cost.
func encodeEventParts(e *metering.Event) encodedEvent {
	src, meta := eventRow(e)
	b := make([]byte, 0, 256+len(e.Metadata))
	b = append(b, '[')
	b = appendJSONString(b, e.ID)
	b = append(b, ',')
	b = strconv.AppendInt(b, micros(e.Timestamp), 10)
	for _, s := range [...]string{e.KeyID, e.Project, e.Member, e.Model} {
		b = append(b, ',')
		b = appendJSONString(b, s)
	}
	for _, n := range [...]int64{e.Usage.Input, e.Usage.CachedInput, e.Usage.CacheWrite, e.Usage.Output, e.Usage.Reasoning} {
		b = append(b, ',')
		b = strconv.AppendInt(b, n, 10)
	}
	b = append(b, ',')
	costAt := len(b)
	b = append(b, ',')
	b = appendJSONString(b, src)
	b = append(b, ',')
	b = appendJSONString(b, e.Endpoint)
	for _, n := range [...]int64{int64(e.Status), e.LatencyMS, int64(boolInt(e.Stream)), int64(boolInt(e.Estimated))} {
		b = append(b, ',')
		b = strconv.AppendInt(b, n, 10)
	}
	b = append(b, ',')
	if meta == nil {
		b = append(b, "null"...)
	} else {
		b = appendJSONString(b, *meta)
	}
	b = append(b, ',')
	b = appendJSONString(b, e.Hash)
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(e.Held), 10)
	b = appendTail(b, e)
	return encodedEvent{b: append(b, ']'), costAt: costAt}
}

// The elements after held, by position from 21: each is written only when it or one
// after it is not its default.
const (
	tailCacheWrite1h = iota
	tailWebSearchCalls
	tailPriceFrom
	tailExact // the exact cost's micro-units, then its 10^-6 micro-units
	tailBilledTier
	tailPriceList
	tailServiceTier
	tailContextTier
	tailAudioInput
	tailAudioOutput
	tailImageInput
	tailImageOutput
	tailUnits
)

// appendTail appends the elements after held that e needs.
func appendTail(b []byte, e *metering.Event) []byte {
	u := &e.Usage
	billed := e.BilledTier
	if billed == metering.DefaultTier {
		billed = ""
	}
	last := -1
	for i, set := range [...]bool{u.CacheWrite1h != 0, u.WebSearchCalls != 0, !e.PriceFrom.IsZero(), e.CostExact.Frac != 0,
		billed != "", e.PriceList != "", e.ServiceTier != "", e.ContextTier != 0, u.AudioInput != 0, u.AudioOutput != 0,
		u.ImageInput != 0, u.ImageOutput != 0, len(u.Units) != 0} {
		if set {
			last = i
		}
	}
	num := func(n int64) []byte {
		b = append(b, ',')
		return strconv.AppendInt(b, n, 10)
	}
	str := func(s string) []byte {
		b = append(b, ',')
		return appendJSONString(b, s)
	}
	for i := 0; i <= last; i++ {
		switch i {
		case tailCacheWrite1h:
			b = num(u.CacheWrite1h)
		case tailWebSearchCalls:
			b = num(u.WebSearchCalls)
		case tailPriceFrom:
			if e.PriceFrom.IsZero() {
				b = num(0)
			} else {
				b = num(micros(e.PriceFrom))
			}
		case tailExact:
			b = num(int64(e.CostExact.Micro))
			b = num(e.CostExact.Frac)
		case tailBilledTier:
			b = str(billed)
		case tailPriceList:
			b = str(e.PriceList)
		case tailServiceTier:
			b = str(e.ServiceTier)
		case tailContextTier:
			b = num(e.ContextTier)
		case tailAudioInput:
			b = num(u.AudioInput)
		case tailAudioOutput:
			b = num(u.AudioOutput)
		case tailImageInput:
			b = num(u.ImageInput)
		case tailImageOutput:
			b = num(u.ImageOutput)
		case tailUnits:
			b = append(b, ',')
			units, _ := json.Marshal(u.Units) // counts of names: always marshals, keys sorted
			b = append(b, units...)
		}
	}
	return b
}

// appendJSONString appends s as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// decodeBlock returns the events of a block.
func decodeBlock(ws string, ingestedAt int64, data string) ([]metering.Event, error) {
	d := blockDecoder{s: data}
	var out []metering.Event
	d.expect('[')
	if d.peek() == ']' {
		d.pos++
	} else {
		for d.err == nil {
			out = append(out, d.event(ws, ingestedAt))
			if d.sep(']') {
				break
			}
		}
	}
	if d.err == nil && strings.TrimSpace(d.s[d.pos:]) != "" {
		d.fail("trailing data")
	}
	if d.err != nil {
		return nil, fmt.Errorf("event block of %s: %w", ws, d.err)
	}
	return out, nil
}

// blockDecoder reads the JSON of a block: an array of event arrays of the layout above.
type blockDecoder struct {
	s   string
	pos int
	err error
}

func (d *blockDecoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%s at byte %d", what, d.pos)
	}
}

func (d *blockDecoder) peek() byte {
	for d.pos < len(d.s) {
		switch c := d.s[d.pos]; c {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return c
		}
	}
	return 0
}

func (d *blockDecoder) expect(c byte) {
	if d.peek() != c {
		d.fail(fmt.Sprintf("want %q", c))
		return
	}
	d.pos++
}

// sep reads a comma (false) or the closing byte (true).
func (d *blockDecoder) sep(closing byte) bool {
	switch d.peek() {
	case ',':
		d.pos++
		return false
	case closing:
		d.pos++
		return true
	}
	d.fail("want , or " + string(closing))
	return true
}

func (d *blockDecoder) str() string {
	if d.peek() != '"' {
		d.fail("want a string")
		return ""
	}
	start := d.pos
	for i := start + 1; i < len(d.s); i++ {
		switch d.s[i] {
		case '"':
			d.pos = i + 1
			return d.s[start+1 : i]
		case '\\':
			// An escape: find the end of the string and let encoding/json unquote it.
			for j := i; j < len(d.s); j++ {
				if d.s[j] == '\\' {
					j++
					continue
				}
				if d.s[j] == '"' {
					var v string
					if err := json.Unmarshal([]byte(d.s[start:j+1]), &v); err != nil {
						d.fail("bad string")
					}
					d.pos = j + 1
					return v
				}
			}
			d.fail("unterminated string")
			return ""
		}
	}
	d.fail("unterminated string")
	return ""
}

func (d *blockDecoder) int() int64 {
	d.peek()
	start := d.pos
	for d.pos < len(d.s) && (d.s[d.pos] == '-' || d.s[d.pos] >= '0' && d.s[d.pos] <= '9') {
		d.pos++
	}
	n, err := strconv.ParseInt(d.s[start:d.pos], 10, 64)
	if err != nil {
		d.fail("want an integer")
	}
	return n
}

// event reads one event's array.
func (d *blockDecoder) event(ws string, ingestedAt int64) metering.Event {
	e := metering.Event{WorkspaceID: ws, IngestedAt: fromMicros(ingestedAt)}
	next := func() {
		if d.sep(']') {
			d.fail("an event array is too short")
		}
	}
	d.expect('[')
	e.ID = d.str()
	next()
	e.Timestamp = fromMicros(d.int())
	for _, p := range [...]*string{&e.KeyID, &e.Project, &e.Member, &e.Model} {
		next()
		*p = d.str()
	}
	var cost int64
	for _, p := range [...]*int64{&e.Usage.Input, &e.Usage.CachedInput, &e.Usage.CacheWrite, &e.Usage.Output, &e.Usage.Reasoning, &cost} {
		next()
		*p = d.int()
	}
	e.Cost = money.Amount(cost)
	next()
	e.Source = d.str()
	next()
	e.Endpoint = d.str()
	var status, stream, estimated int64
	for _, p := range [...]*int64{&status, &e.LatencyMS, &stream, &estimated} {
		next()
		*p = d.int()
	}
	e.Status, e.Stream, e.Estimated = int(status), stream == 1, estimated == 1
	next()
	if d.peek() == 'n' && strings.HasPrefix(d.s[d.pos:], "null") {
		d.pos += 4
	} else {
		e.Metadata = json.RawMessage(d.str())
	}
	next()
	e.Hash = d.str()
	e.CostExact = pricing.Exact{Micro: e.Cost}
	e.BilledTier = metering.DefaultTier
	if d.sep(']') {
		return e // written before held
	}
	e.Held = money.Amount(d.int())
	u := &e.Usage
	for i := 0; !d.sep(']'); i++ {
		switch i {
		case tailCacheWrite1h:
			u.CacheWrite1h = d.int()
		case tailWebSearchCalls:
			u.WebSearchCalls = d.int()
		case tailPriceFrom:
			if t := d.int(); t != 0 {
				e.PriceFrom = fromMicros(t)
			}
		case tailExact:
			e.CostExact.Micro = money.Amount(d.int())
			next()
			e.CostExact.Frac = d.int()
		case tailBilledTier:
			if t := d.str(); t != "" {
				e.BilledTier = t
			}
		case tailPriceList:
			e.PriceList = d.str()
		case tailServiceTier:
			e.ServiceTier = d.str()
			u.ServiceTier = e.ServiceTier
		case tailContextTier:
			e.ContextTier = d.int()
		case tailAudioInput:
			u.AudioInput = d.int()
		case tailAudioOutput:
			u.AudioOutput = d.int()
		case tailImageInput:
			u.ImageInput = d.int()
		case tailImageOutput:
			u.ImageOutput = d.int()
		case tailUnits:
			u.Units = d.units()
		default:
			d.fail("an event array is too long")
			return e
		}
		if d.err != nil {
			return e
		}
	}
	return e
}

// units reads an event's units: null, or a flat JSON object of counts.
func (d *blockDecoder) units() map[string]int64 {
	if d.peek() == 'n' && strings.HasPrefix(d.s[d.pos:], "null") {
		d.pos += 4
		return nil
	}
	if d.peek() != '{' {
		d.fail("want units")
		return nil
	}
	end := strings.IndexByte(d.s[d.pos:], '}') // unit names hold no braces
	if end < 0 {
		d.fail("unterminated units")
		return nil
	}
	var m map[string]int64
	if err := json.Unmarshal([]byte(d.s[d.pos:d.pos+end+1]), &m); err != nil {
		d.fail("bad units")
		return nil
	}
	d.pos += end + 1
	if len(m) == 0 {
		return nil
	}
	return m
}

// pendingBlock is a block being written by the current transaction.
type pendingBlock struct {
	seq     int64
	ws      string
	members []int // indexes into the transaction's candidate events, in time order
}

// cutBlocks groups events into blocks: by workspace, in time order, each covering less
// than blockSpan of event time, with at most blockMaxEvents events and (unless one event
// alone is larger) blockMaxBytes of encoded events.
func cutBlocks(events []*metering.Event, enc []encodedEvent) []*pendingBlock {
	order := make([]int, len(events))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		ea, eb := events[a], events[b]
		return cmp.Or(strings.Compare(ea.WorkspaceID, eb.WorkspaceID), ea.Timestamp.Compare(eb.Timestamp), strings.Compare(ea.ID, eb.ID))
	})
	var blocks []*pendingBlock
	var cur *pendingBlock
	var start int64
	size := 0
	for _, i := range order {
		e := events[i]
		ts := micros(e.Timestamp)
		if cur == nil || cur.ws != e.WorkspaceID || ts-start >= blockSpan || len(cur.members) >= blockMaxEvents || size+len(enc[i].b)+maxCostDigits > blockMaxBytes {
			cur = &pendingBlock{ws: e.WorkspaceID}
			blocks = append(blocks, cur)
			start, size = ts, 0
		}
		cur.members = append(cur.members, i)
		size += len(enc[i].b) + maxCostDigits + 1
	}
	return blocks
}

// blockIDs returns n new block numbers.
func (db *DB) blockIDs(ctx context.Context, tx *sql.Tx, n int) ([]int64, error) {
	out := make([]int64, 0, n)
	if db.dialect == Postgres {
		rows, err := tx.QueryContext(ctx, `SELECT nextval('event_blocks_seq') FROM generate_series(1, $1)`, n)
		return collect(rows, err, scanInt64)
	}
	// SQLite writes are serialized (one write connection, BEGIN IMMEDIATE).
	var last int64
	if err := db.ingestQueryRow(ctx, tx, qMaxBlock).Scan(&last); err != nil {
		return nil, err
	}
	if err := db.syncKeys(ctx, tx, last); err != nil {
		return nil, err
	}
	for i := range n {
		out = append(out, last+1+int64(i))
	}
	return out, nil
}

// claimKeys takes (k, block) for each event whose key is not taken yet and reports,
// for each, whether this call took it: on PostgreSQL in event_ids, on SQLite in the
// index of recent keys (event_keys.go).
func (db *DB) claimKeys(ctx context.Context, tx *sql.Tx, keys []int64, blocks []int64) ([]bool, error) {
	n := len(keys)
	if n == 0 {
		return nil, nil
	}
	if db.dialect == SQLite {
		return db.sqliteClaim(ctx, tx, keys, blocks)
	}
	// PostgreSQL: one statement, in key order (a fixed order: no deadlocks).
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(keys[a], keys[b]) })
	ks, bs := make([]int64, n), make([]int64, n)
	for j, i := range order {
		ks[j], bs[j] = keys[i], blocks[i]
	}
	rows, err := tx.QueryContext(ctx, `INSERT INTO event_ids (k, block) SELECT * FROM unnest($1::bigint[], $2::bigint[]) ON CONFLICT DO NOTHING RETURNING k`, ks, bs)
	got := make(map[int64]bool, n)
	if err := eachRow(rows, err, func(row scanner) error {
		var k int64
		if err := row.Scan(&k); err != nil {
			return err
		}
		got[k] = true
		return nil
	}); err != nil {
		return nil, err
	}
	claimed := make([]bool, n)
	for i, k := range keys {
		claimed[i] = got[k]
	}
	return claimed, nil
}

// keyBlocks returns the block each stored key points to.
func (db *DB) keyBlocks(ctx context.Context, tx *sql.Tx, keys []int64) (map[int64]int64, error) {
	if db.dialect == SQLite {
		return db.sqliteKeyBlocks(ctx, tx, keys)
	}
	rows, err := tx.QueryContext(ctx, `SELECT k, block FROM event_ids WHERE k = ANY($1::bigint[])`, keys)
	out := make(map[int64]int64, len(keys))
	if err := eachRow(rows, err, scanKeyBlock(out)); err != nil {
		return nil, err
	}
	return out, nil
}

// scanKeyBlock scans (k, block) rows into out.
func scanKeyBlock(out map[int64]int64) func(scanner) error {
	return func(row scanner) error {
		var k, b int64
		if err := row.Scan(&k, &b); err != nil {
			return err
		}
		out[k] = b
		return nil
	}
}

// blockCache reads stored blocks once per transaction.
type blockCache struct {
	db     *DB
	tx     *sql.Tx
	blocks map[int64]map[string]*metering.Event // seq → id → event
	wsOf   map[int64]string
}

// event returns the event (ws, id) when block seq holds it.
func (c *blockCache) event(ctx context.Context, seq int64, ws, id string) (*metering.Event, error) {
	if c.blocks == nil {
		c.blocks, c.wsOf = map[int64]map[string]*metering.Event{}, map[int64]string{}
	}
	m, ok := c.blocks[seq]
	if !ok {
		var bws, data string
		var ingested int64
		err := c.tx.QueryRowContext(ctx, c.db.q(`SELECT workspace_id, ingested_at, data FROM event_blocks WHERE seq = ?`), seq).Scan(&bws, &ingested, &data)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, errRetry // written by a concurrent transaction not yet visible
		}
		if err != nil {
			return nil, err
		}
		evs, err := decodeBlock(bws, ingested, data)
		if err != nil {
			return nil, err
		}
		m = make(map[string]*metering.Event, len(evs))
		for i := range evs {
			m[evs[i].ID] = &evs[i]
		}
		c.blocks[seq], c.wsOf[seq] = m, bws
	}
	if c.wsOf[seq] != ws {
		return nil, nil
	}
	return m[id], nil
}

// overflowBlock returns the block event_id_overflow names for (ws, id), or 0.
func (db *DB) overflowBlock(ctx context.Context, tx *sql.Tx, ws, id string) (int64, error) {
	var b int64
	err := tx.QueryRowContext(ctx, db.q(`SELECT block FROM event_id_overflow WHERE workspace_id = ? AND id = ?`), ws, id).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return b, err
}

// claimOverflow records (ws, id) in event_id_overflow; false when it was there already.
func (db *DB) claimOverflow(ctx context.Context, tx *sql.Tx, ws, id string, block int64) (bool, error) {
	res, err := tx.ExecContext(ctx, db.q(`INSERT INTO event_id_overflow (workspace_id, id, block) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`), ws, id, block)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// maxCostDigits is the most bytes a cost takes in a block (an int64).
const maxCostDigits = 20

// insertEvents stores the events that are not stored yet (by workspace and id), in
// blocks, and reports for each whether this call inserted it; for those it did not, the
// stored event's content hash is in the map. Before it writes them, it calls charge
// with which it inserts (metering.Batch.Charge), which sets the cost each is stored with.
func (db *DB) insertEvents(ctx context.Context, tx *sql.Tx, events []*metering.Event, keys []int64, enc []encodedEvent,
	charge func(inserted []bool), usageKey func(ws string) string, now time.Time) ([]bool, map[eventKey]string, error) {
	n := len(events)
	if n == 0 {
		return nil, nil, nil
	}
	blocks := cutBlocks(events, enc)
	seqs, err := db.blockIDs(ctx, tx, len(blocks))
	if err != nil {
		return nil, nil, err
	}
	blockOf := make([]int64, n)
	mine := make(map[int64]bool, len(blocks))
	for j, b := range blocks {
		b.seq = seqs[j]
		mine[b.seq] = true
		for _, i := range b.members {
			blockOf[i] = b.seq
		}
	}
	// Within the group, only the first event with a key claims it (two ids with one key
	// are a hash collision, settled below).
	firstOf := make(map[int64]int, n)
	var primaries []int
	for i, k := range keys {
		if _, ok := firstOf[k]; !ok {
			firstOf[k] = i
			primaries = append(primaries, i)
		}
	}
	pk, pb := make([]int64, len(primaries)), make([]int64, len(primaries))
	for j, i := range primaries {
		pk[j], pb[j] = keys[i], blockOf[i]
	}
	claimed, err := db.claimKeys(ctx, tx, pk, pb)
	if err != nil {
		return nil, nil, err
	}
	inserted := make([]bool, n)
	var unresolved []int
	for j, i := range primaries {
		if claimed[j] {
			inserted[i] = true
		} else {
			unresolved = append(unresolved, i)
		}
	}
	for i, k := range keys {
		if firstOf[k] != i {
			unresolved = append(unresolved, i)
		}
	}
	stored := map[eventKey]string{}
	if len(unresolved) > 0 {
		ks := make([]int64, 0, len(unresolved))
		for _, i := range unresolved {
			ks = append(ks, keys[i])
		}
		owner, err := db.keyBlocks(ctx, tx, ks)
		if err != nil {
			return nil, nil, err
		}
		cache := &blockCache{db: db, tx: tx}
		for _, i := range unresolved {
			e := events[i]
			b, ok := owner[keys[i]]
			if !ok {
				return nil, nil, errRetry // claimed by a concurrent transaction not yet visible
			}
			if !mine[b] {
				se, err := cache.event(ctx, b, e.WorkspaceID, e.ID)
				if err != nil {
					return nil, nil, err
				}
				if se != nil {
					stored[eventKey{e.WorkspaceID, e.ID}] = se.Hash
					continue
				}
			}
			// The key belongs to another (workspace, id): the overflow table decides.
			ob, err := db.overflowBlock(ctx, tx, e.WorkspaceID, e.ID)
			if err != nil {
				return nil, nil, err
			}
			if ob != 0 {
				se, err := cache.event(ctx, ob, e.WorkspaceID, e.ID)
				if err != nil {
					return nil, nil, err
				}
				if se == nil {
					return nil, nil, fmt.Errorf("store: event %q of %s is missing from block %d", e.ID, e.WorkspaceID, ob)
				}
				stored[eventKey{e.WorkspaceID, e.ID}] = se.Hash
				continue
			}
			ok, err = db.claimOverflow(ctx, tx, e.WorkspaceID, e.ID, blockOf[i])
			if err != nil {
				return nil, nil, err
			}
			if !ok {
				return nil, nil, errRetry // claimed by a concurrent transaction
			}
			inserted[i] = true
		}
	}
	charge(inserted)
	if err := db.writeBlocks(ctx, tx, blocks, events, enc, inserted, usageKey, now); err != nil {
		return nil, nil, err
	}
	return inserted, stored, nil
}

// writeBlocks inserts the blocks with the events of each that were inserted, with their
// value ranges and tags (request_log.go).
func (db *DB) writeBlocks(ctx context.Context, tx *sql.Tx, blocks []*pendingBlock, events []*metering.Event, enc []encodedEvent,
	inserted []bool, usageKey func(string) string, now time.Time) error {
	var rows []blockRow
	var tags blockTags
	for _, b := range blocks {
		size := 2
		for _, i := range b.members {
			size += len(enc[i].b) + maxCostDigits + 1
		}
		buf := make([]byte, 0, size)
		r := blockRow{seq: b.seq, ws: b.ws, ingested: micros(now)}
		tags.begin()
		anyCost := false
		for _, i := range b.members {
			if !inserted[i] {
				continue
			}
			e := events[i]
			if r.n == 0 {
				buf = append(buf, '[')
			} else {
				buf = append(buf, ',')
			}
			r.add(e)
			tags.add(e)
			buf = enc[i].with(buf, e.Cost)
			anyCost = anyCost || e.Cost > 0
		}
		if r.n == 0 {
			continue
		}
		r.data = string(append(buf, ']'))
		if anyCost {
			r.usageKey = usageKey(b.ws)
		}
		tags.end(b.ws, r.maxTS, b.seq)
		rows = append(rows, r)
	}
	if len(rows) == 0 {
		return nil
	}
	if err := db.insertBlockRows(ctx, tx, rows); err != nil {
		return err
	}
	return db.insertTags(ctx, tx, &tags)
}

// mayMatch reports whether a block's data can hold an event passing the filters: for
// each filtered dimension, one of its values must appear in it as a JSON string. Only
// plain values are looked for (ASCII without quotes, backslashes or HTML characters,
// which encoders escape differently); a dimension with any other value is not checked.
func mayMatch(f metering.Filter, data string) bool {
	for _, values := range [...][]string{f.Models, f.Keys, f.Projects, f.Members} {
		if len(values) == 0 {
			continue
		}
		found := false
		for _, v := range values {
			if !plainJSON(v) || strings.Contains(data, `"`+v+`"`) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// plainJSON reports whether s is written the same way by every JSON encoder.
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// matches reports whether e passes the request log's filters.
func matches(f metering.Filter, e *metering.Event) bool {
	in := func(values []string, v string) bool { return len(values) == 0 || slices.Contains(values, v) }
	return in(f.Models, e.Model) && in(f.Keys, e.KeyID) && in(f.Projects, e.Project) && in(f.Members, e.Member)
}
