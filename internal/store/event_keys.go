package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
)

// On SQLite, the keys of recent events are not written to event_ids by the transaction
// that stores them, but indexed later in bulk (keyIndex).
//
// Why: event_ids is a b-tree of random 64-bit keys. Once it is larger than a group's
// keys, each key a transaction inserts lands on a page of its own, and every dirty page
// is written to the write-ahead log at commit and to the database file at the next
// checkpoint: at a million stored events that was three quarters of a 4 KiB page per
// event, the largest cost of ingestion. Inserted in bulk, sorted, many keys share each
// page they dirty.
//
// How exactly-once still holds: the events themselves are already durable in their
// blocks, and block numbers only grow (SQLite's one writer takes MAX(seq) + 1). The
// setting keysIndexedSetting holds W: every block up to W has its keys in event_ids.
// The keys of the blocks after W — the tail — are kept in memory (recent), built from
// those blocks. So every stored event's key is in event_ids or in recent, and a
// transaction looks in both. Each ingest transaction, holding SQLite's write lock, reads
// MAX(seq) and W first: blocks it does not know (written by another process on the same
// file, or by a commit whose result was lost) are read into recent, and a W it did not
// set (another process indexed them) rebuilds recent from the blocks after W. A restart
// reads the tail again. The sweep inserts recent's keys into event_ids, sorted, in
// slices of its own transactions between ingest groups, and moves W in the last slice;
// re-inserting a key is a no-op (INSERT OR IGNORE), so a sweep cut short by a crash is
// simply done again.
//
// An event of the tail whose key was taken by another (workspace, id) is in
// event_id_overflow; reading the tail skips those, as the ingest transaction did.
//
// keyIndex is used only from the committer's goroutine (SQLite has one).
type keyIndex struct {
	loaded  bool
	through int64           // W
	last    int64           // the newest block recent covers
	recent  map[int64]int64 // key → block, for the blocks after W
	indexed int64           // keys in event_ids (counted on loading, then kept)
	// filter holds every key of event_ids: read from it on loading, then each key a sweep
	// of this index writes. Keys another process sweeps are in recent (read from their
	// blocks) until W moves, and when W moves the index is loaded again.
	filter *keyFilter

	pending     map[int64]int64 // keys claimed by the open transaction
	probed      map[int64]int64 // keys the open transaction found in event_ids
	pendingLast int64           // the newest block the open transaction wrote

	sweep *keySweep // a sweep in progress
}

// keySweep is a sweep in progress: recent's keys when it began, sorted.
type keySweep struct {
	through int64 // the newest block of the keys; W once they are all in
	keys    []keyBlock
	pos     int
}

type keyBlock struct{ k, block int64 }

// keysIndexedSetting names W in settings.
const keysIndexedSetting = "event_keys_indexed_through"

// Sweep sizes. A sweep starts when recent holds a sixteenth of event_ids' keys (about
// 150 keys fill a page, so a sweep then dirties each page of event_ids at most once for
// 9 or more keys), but at least min and at most max keys (memory: about 40 bytes a
// key); each of its transactions inserts slice keys. Atomic: tests change them.
var sweepSizes struct {
	min, max, slice atomic.Int64
	paused          atomic.Bool // no sweeps but those asked for (tests)
}

func init() {
	sweepSizes.min.Store(65536)
	sweepSizes.max.Store(1 << 20)
	sweepSizes.slice.Store(16384)
}

func (ix *keyIndex) sweepAt() int {
	return int(min(max(ix.indexed/16, sweepSizes.min.Load()), sweepSizes.max.Load()))
}

// needsSweep reports whether the committer should sweep when it has nothing else to do.
func (ix *keyIndex) needsSweep() bool {
	return ix.loaded && !sweepSizes.paused.Load() && (ix.sweep != nil || len(ix.recent) >= ix.sweepAt())
}

// sync brings the index up to date with the database at the start of a write
// transaction, last being MAX(seq) of event_blocks read in it.
func (db *DB) syncKeys(ctx context.Context, tx *sql.Tx, last int64) error {
	ix := &db.keys
	ix.pending, ix.probed, ix.pendingLast = map[int64]int64{}, nil, 0
	var w int64
	var v string
	err := db.ingestQueryRow(ctx, tx, qKeysIndexed).Scan(&v)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		// The first transaction since the upgrade: until now every key went into
		// event_ids as its block did.
		if _, err := tx.ExecContext(ctx, `INSERT INTO settings (name, value) VALUES (?, ?)`, keysIndexedSetting, strconv.FormatInt(last, 10)); err != nil {
			return err
		}
		w = last
	case err != nil:
		return err
	default:
		if w, err = strconv.ParseInt(v, 10, 64); err != nil {
			return err
		}
	}
	if !ix.loaded || w != ix.through || last < ix.last {
		recent, err := db.readTail(ctx, tx, w, last, nil)
		if err != nil {
			return err
		}
		filter, n, err := db.readIndexedKeys(ctx, tx)
		if err != nil {
			return err
		}
		db.keysMu.Lock()
		*ix = keyIndex{loaded: true, through: w, last: last, recent: recent, indexed: n, filter: filter, pending: ix.pending}
		db.keysMu.Unlock()
		return nil
	}
	if last > ix.last {
		more, err := db.readTail(ctx, tx, ix.last, last, nil)
		if err != nil {
			return err
		}
		db.keysMu.Lock()
		for k, b := range more {
			if _, ok := ix.recent[k]; !ok {
				ix.recent[k] = b
			}
		}
		ix.last = last
		db.keysMu.Unlock()
	}
	return nil
}

// readIndexedKeys returns a filter holding every key of event_ids, and their number.
func (db *DB) readIndexedKeys(ctx context.Context, tx *sql.Tx) (*keyFilter, int64, error) {
	var n int64
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM event_ids`).Scan(&n); err != nil {
		return nil, 0, err
	}
	f := newKeyFilter(int(n) + 1<<20)
	rows, err := tx.QueryContext(ctx, `SELECT k FROM event_ids`)
	if err := eachRow(rows, err, func(row scanner) error {
		var k int64
		if err := row.Scan(&k); err != nil {
			return err
		}
		f.add(k)
		return nil
	}); err != nil {
		return nil, 0, err
	}
	return f, n, nil
}

// readTail adds to recent (a new map when nil) the keys of the events of blocks
// (after, upto] that own their key, the first block's first.
func (db *DB) readTail(ctx context.Context, tx *sql.Tx, after, upto int64, recent map[int64]int64) (map[int64]int64, error) {
	if recent == nil {
		recent = map[int64]int64{}
	}
	if upto <= after {
		return recent, nil
	}
	overflow := map[eventKey]bool{}
	rows, err := tx.QueryContext(ctx, `SELECT workspace_id, id FROM event_id_overflow WHERE block > ? AND block <= ?`, after, upto)
	if err := eachRow(rows, err, func(row scanner) error {
		var k eventKey
		if err := row.Scan(&k.ws, &k.id); err != nil {
			return err
		}
		overflow[k] = true
		return nil
	}); err != nil {
		return nil, err
	}
	rows, err = tx.QueryContext(ctx, `SELECT seq, workspace_id, ingested_at, data FROM event_blocks WHERE seq > ? AND seq <= ? ORDER BY seq`, after, upto)
	if err := eachRow(rows, err, func(row scanner) error {
		var seq, ingested int64
		var ws, data string
		if err := row.Scan(&seq, &ws, &ingested, &data); err != nil {
			return err
		}
		evs, err := decodeBlock(ws, ingested, data)
		if err != nil {
			return err
		}
		for i := range evs {
			if overflow[eventKey{ws, evs[i].ID}] {
				continue
			}
			k := keyOf(ws, evs[i].ID)
			if _, ok := recent[k]; !ok {
				recent[k] = seq
			}
		}
		return nil
	}); err != nil {
		return nil, err
	}
	return recent, nil
}

// sqliteClaim claims the keys not taken yet, in the open transaction; for each, whether it did.
func (db *DB) sqliteClaim(ctx context.Context, tx *sql.Tx, keys, blocks []int64) ([]bool, error) {
	ix := &db.keys
	claimed := make([]bool, len(keys))
	var probe []int64
	for _, k := range keys {
		if _, ok := ix.recent[k]; !ok && ix.filter.mayContain(k) {
			probe = append(probe, k)
		}
	}
	stored, err := db.indexedBlocks(ctx, tx, probe)
	if err != nil {
		return nil, err
	}
	ix.probed = stored // sqliteKeyBlocks asks again for the keys taken
	for i, k := range keys {
		if _, ok := ix.recent[k]; ok {
			continue
		}
		if _, ok := stored[k]; ok {
			continue
		}
		if _, ok := ix.pending[k]; ok {
			continue
		}
		ix.pending[k] = blocks[i]
		claimed[i] = true
	}
	return claimed, nil
}

// sqliteKeyBlocks returns the block each taken key points to: claimed by the open
// transaction, in the tail, or in event_ids.
func (db *DB) sqliteKeyBlocks(ctx context.Context, tx *sql.Tx, keys []int64) (map[int64]int64, error) {
	ix := &db.keys
	out := make(map[int64]int64, len(keys))
	var probe []int64
	for _, k := range keys {
		if b, ok := ix.pending[k]; ok {
			out[k] = b
		} else if b, ok := ix.recent[k]; ok {
			out[k] = b
		} else if b, ok := ix.probed[k]; ok {
			out[k] = b
		} else {
			probe = append(probe, k)
		}
	}
	stored, err := db.indexedBlocks(ctx, tx, probe)
	for k, b := range stored {
		out[k] = b
	}
	return out, err
}

// indexedBlocks looks keys up in event_ids.
func (db *DB) indexedBlocks(ctx context.Context, tx *sql.Tx, keys []int64) (map[int64]int64, error) {
	out := map[int64]int64{}
	if len(keys) == 0 {
		return out, nil
	}
	sorted := slices.Clone(keys)
	slices.Sort(sorted)
	err := chunksOf(keyChunks, len(sorted), func(start, end int) error {
		args := make([]any, 0, end-start)
		for _, k := range sorted[start:end] {
			args = append(args, k)
		}
		rows, err := db.ingestQuery(ctx, tx, sqliteKeysIn(end-start), args...)
		return eachRow(rows, err, scanKeyBlock(out))
	})
	return out, err
}

// keysCommitted records the open transaction's keys once it has committed; mu is the
// DB's keysMu.
func (ix *keyIndex) keysCommitted(mu *sync.RWMutex) {
	mu.Lock()
	defer mu.Unlock()
	for k, b := range ix.pending {
		ix.recent[k] = b
	}
	ix.last = max(ix.last, ix.pendingLast)
	ix.pending, ix.probed, ix.pendingLast = nil, nil, 0
}

// keysAbandoned forgets the open transaction's keys (it rolled back, or its commit
// failed: if it did commit after all, the next transaction reads its blocks).
func (ix *keyIndex) keysAbandoned() {
	ix.pending, ix.probed, ix.pendingLast = nil, nil, 0
}

// sweepKeys runs one slice of a sweep (starting one if none is in progress); all runs
// slices until the tail is empty.
func (db *DB) sweepKeys(ctx context.Context, all bool) error {
	if db.dialect != SQLite {
		return nil
	}
	if err := db.prepareIngest(ctx); err != nil {
		return err
	}
	ix := &db.keys
	for {
		var done bool
		var slice []keyBlock
		err := db.tx(ctx, func(tx *sql.Tx) error {
			var last int64
			if err := db.ingestQueryRow(ctx, tx, qMaxBlock).Scan(&last); err != nil {
				return err
			}
			before := ix.through
			if err := db.syncKeys(ctx, tx, last); err != nil {
				return err
			}
			ix.pending = nil
			if ix.through != before {
				ix.sweep = nil // another process indexed the tail
			}
			if ix.sweep == nil {
				if len(ix.recent) == 0 {
					done = true
					return nil
				}
				s := &keySweep{through: ix.last, keys: make([]keyBlock, 0, len(ix.recent))}
				for k, b := range ix.recent {
					s.keys = append(s.keys, keyBlock{k, b})
				}
				slices.SortFunc(s.keys, func(a, b keyBlock) int { return cmp.Compare(a.k, b.k) })
				ix.sweep = s
			}
			s := ix.sweep
			slice = s.keys[s.pos:min(s.pos+int(sweepSizes.slice.Load()), len(s.keys))]
			for _, kb := range slice {
				ix.filter.add(kb.k) // before they are in event_ids; one more key in the filter is harmless
			}
			err := chunksOf(keyChunks, len(slice), func(start, end int) error {
				args := make([]any, 0, 2*(end-start))
				for _, kb := range slice[start:end] {
					args = append(args, kb.k, kb.block)
				}
				_, err := db.ingestExec(ctx, tx, sqliteClaimKeys(end-start), args...)
				return err
			})
			if err != nil {
				return err
			}
			if s.pos+len(slice) == len(s.keys) {
				_, err = tx.ExecContext(ctx, `UPDATE settings SET value = ? WHERE name = ?`, strconv.FormatInt(s.through, 10), keysIndexedSetting)
			}
			return err
		})
		if err != nil {
			ix.sweep = nil // start over from what the database says
			return err
		}
		if done {
			return nil
		}
		s := ix.sweep
		s.pos += len(slice)
		ix.indexed += int64(len(slice))
		if s.pos == len(s.keys) {
			db.keysMu.Lock()
			for _, kb := range s.keys {
				if ix.recent[kb.k] == kb.block {
					delete(ix.recent, kb.k)
				}
			}
			db.keysMu.Unlock()
			ix.through, ix.sweep = s.through, nil
		}
		if !all {
			return nil
		}
	}
}
