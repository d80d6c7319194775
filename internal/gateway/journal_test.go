package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"spectra/internal/metering"
	"spectra/internal/pricing"
)

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// recorder is an ingestFunc that keeps what it was given.
type recorder struct {
	mu     sync.Mutex
	events []metering.Event
	fail   error
}

func (r *recorder) ingest(_ context.Context, evs []metering.Event) (metering.IngestResult, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return metering.IngestResult{}, r.fail
	}
	r.events = append(r.events, evs...)
	return metering.IngestResult{Accepted: len(evs), Outcomes: make([]metering.Outcome, len(evs)), Events: evs}, nil
}

func (r *recorder) ids() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.events {
		out = append(out, e.ID)
	}
	slices.Sort(out)
	return out
}

func journalEvent(i int) metering.Event {
	return metering.Event{ID: fmt.Sprintf("req_%04d", i), WorkspaceID: "ws_1", KeyID: "key_1", Project: "p", Member: "m",
		Model: testModel, Timestamp: time.Date(2026, 3, 14, 15, 0, 0, 123456789, time.UTC),
		Usage:    pricing.Usage{Input: int64(100 + i), CachedInput: 10, CacheWrite: 3, Output: int64(i + 1), Reasoning: 1},
		Metadata: []byte(`{"b": 1, "a": "x"}`), Source: "gateway", Endpoint: "/v1/chat/completions", Status: 200,
		LatencyMS: 12, Stream: i%2 == 0, Estimated: i%3 == 0}
}

func openTestJournal(t *testing.T, dir, node string, waitSync bool, r *recorder) *journal {
	t.Helper()
	j, err := openJournal(context.Background(), dir, node, waitSync, r.ingest, quietLog)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// recordsIn counts the records a segment file would replay.
func recordsIn(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	must(t, err)
	evs, torn := decodeRecords(b)
	if torn != 0 {
		t.Errorf("%s: %d torn bytes", path, torn)
	}
	return len(evs)
}

// bothModes runs fn with a journal that returns once records are written, and with one
// that waits for their sync.
func bothModes(t *testing.T, fn func(t *testing.T, waitSync bool)) {
	t.Run("written", func(t *testing.T) { fn(t, false) })
	t.Run("synced", func(t *testing.T) { fn(t, true) })
}

func journalFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.journal"))
	must(t, err)
	for i := range m {
		m[i] = filepath.Base(m[i])
	}
	return m
}

// Every appended event comes back at the next open, field for field and with the same
// content hash (so that metering.Ingest finds it a Duplicate once committed), and its
// segment is removed once replayed.
func TestJournalAppendAndReplay(t *testing.T) {
	bothModes(t, func(t *testing.T, waitSync bool) {
		dir := t.TempDir()
		j := openTestJournal(t, dir, "node-a", waitSync, &recorder{})
		want := make([]metering.Event, 5)
		for i := range want {
			want[i] = journalEvent(i)
			if _, err := j.append(want[i]); err != nil {
				t.Fatal(err)
			}
		}
		j.abandon() // the process dies: nothing committed, nothing removed
		r := &recorder{}
		j2 := openTestJournal(t, dir, "node-a", waitSync, r)
		defer j2.close()
		if len(r.events) != len(want) {
			t.Fatalf("replayed %d events, want %d", len(r.events), len(want))
		}
		now := time.Date(2026, 3, 14, 16, 0, 0, 0, time.UTC)
		for i, got := range r.events {
			w := want[i]
			must(t, w.Prepare(now))
			must(t, got.Prepare(now))
			if got.Hash != w.Hash || got.KeyID != w.KeyID || got.Source != w.Source || got.Endpoint != w.Endpoint ||
				got.Status != w.Status || got.LatencyMS != w.LatencyMS || got.Stream != w.Stream || got.Estimated != w.Estimated {
				t.Errorf("event %d replayed as %+v, want %+v", i, got, w)
			}
		}
		if files := journalFiles(t, dir); len(files) != 1 || files[0] != "settle-node-a-0000000000000002.journal" {
			t.Errorf("after the replay the directory holds %v, want only the new segment", files)
		}
	})
}

// Appends that arrive while a sync runs share the next one.
func TestJournalGroupCommit(t *testing.T) {
	bothModes(t, func(t *testing.T, waitSync bool) {
		dir := t.TempDir()
		j := openTestJournal(t, dir, "node-a", waitSync, &recorder{})
		const n = 400
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				if _, err := j.append(journalEvent(i)); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		syncs := j.syncs
		j.abandon()
		t.Logf("%d appends in %d syncs", n, syncs)
		if syncs >= n {
			t.Errorf("%d appends took %d syncs: not grouped", n, syncs)
		}
		r := &recorder{}
		openTestJournal(t, dir, "node-a", waitSync, r).close()
		if len(r.ids()) != n {
			t.Errorf("replayed %d events, want %d", len(r.ids()), n)
		}
	})
}

// A record cut short, or one whose checksum fails, ends the replay of its segment: the
// records before it are replayed, it is not.
func TestJournalTornTail(t *testing.T) {
	bothModes(t, func(t *testing.T, waitSync bool) {
		for name, damage := range map[string]func(b []byte) []byte{
			"cut short":      func(b []byte) []byte { return b[:len(b)-3] },
			"header only":    func(b []byte) []byte { return append(b, 9, 0, 0) },
			"bad checksum":   func(b []byte) []byte { b[len(b)-2] ^= 0xff; return b },
			"zero-filled":    func(b []byte) []byte { return append(b, make([]byte, 4096)...) },
			"huge length":    func(b []byte) []byte { return append(b, 0xff, 0xff, 0xff, 0x7f, 1, 2, 3, 4, 5) },
			"garbage record": func(b []byte) []byte { r, _ := encodeRecord(journalEvent(99)); r[9] = '['; return append(b, r...) },
		} {
			t.Run(name, func(t *testing.T) {
				dir := t.TempDir()
				j := openTestJournal(t, dir, "node-a", waitSync, &recorder{})
				for i := range 3 {
					_, err := j.append(journalEvent(i))
					must(t, err)
				}
				path, size := j.cur.path, j.cur.size
				j.abandon()
				b, err := os.ReadFile(path)
				must(t, err)
				must(t, os.WriteFile(path, damage(b[:size]), 0o600)) // the records, then the damage
				r := &recorder{}
				openTestJournal(t, dir, "node-a", waitSync, r).close()
				want := []string{"req_0000", "req_0001", "req_0002"}
				if name == "cut short" || name == "bad checksum" {
					want = want[:2] // the last record itself was damaged
				}
				if got := r.ids(); !slices.Equal(got, want) {
					t.Errorf("replayed %v, want %v", got, want)
				}
				if files := journalFiles(t, dir); len(files) != 0 {
					t.Errorf("left %v after a clean close", files)
				}
			})
		}
	})
}

// A segment whose events are all committed is emptied (the current one, once large) or
// removed (an older one), so the journal does not grow; events not yet committed stay.
func TestJournalTruncateAndRotate(t *testing.T) {
	bothModes(t, func(t *testing.T, waitSync bool) {
		defer func(r, tr int64) { journalRotateBytes, journalTruncateBytes = r, tr }(journalRotateBytes, journalTruncateBytes)
		journalRotateBytes, journalTruncateBytes = 4<<10, 1
		dir := t.TempDir()
		j := openTestJournal(t, dir, "node-a", waitSync, &recorder{})
		var segs []*segment
		for i := range 40 { // about 12 KB: three or four segments
			s, err := j.append(journalEvent(i))
			must(t, err)
			segs = append(segs, s)
		}
		if files := journalFiles(t, dir); len(files) < 3 {
			t.Fatalf("40 records of ~300 bytes with 4 KB segments made %v", files)
		}
		j.done(segs[:39]) // every event but the last is committed
		files := journalFiles(t, dir)
		if len(files) != 1 {
			t.Fatalf("with one uncommitted event, the journal holds %v; want its segment only", files)
		}
		if n := recordsIn(t, filepath.Join(dir, files[0])); n == 0 {
			t.Fatal("the segment of an uncommitted event was emptied")
		}
		j.done(segs[39:])
		if n := recordsIn(t, filepath.Join(dir, files[0])); n != 0 {
			t.Errorf("the current segment holds %d records once every event is committed, want 0", n)
		}
		// Appends continue in the emptied segment, and are replayed.
		_, err := j.append(journalEvent(100))
		must(t, err)
		j.abandon()
		r := &recorder{}
		openTestJournal(t, dir, "node-a", waitSync, r).close()
		if got := r.ids(); !slices.Equal(got, []string{"req_0100"}) {
			t.Errorf("replayed %v, want only the event appended after the truncation", got)
		}
	})
}

// shortLockWait makes a refused open of a held journal give up after 100 ms, for the
// rest of the test.
func shortLockWait(t *testing.T) {
	w := journalLockWait
	journalLockWait = 100 * time.Millisecond
	t.Cleanup(func() { journalLockWait = w })
}

// One live process per node id and directory: a second open of the same journal is
// refused while the first holds it, and works once it is gone. A dead node's journal is
// replayed by any node that starts in the same directory.
func TestJournalLock(t *testing.T) {
	bothModes(t, func(t *testing.T, waitSync bool) {
		shortLockWait(t)
		dir := t.TempDir()
		a := openTestJournal(t, dir, "node/a", waitSync, &recorder{}) // a name that needs escaping
		_, err := a.append(journalEvent(1))
		must(t, err)
		if _, err := openJournal(context.Background(), dir, "node/a", waitSync, (&recorder{}).ingest, quietLog); err == nil ||
			!strings.Contains(err.Error(), "another spectra serve") {
			t.Fatalf("a second open of a held journal: %v, want refused", err)
		}
		// Another live node in the same directory leaves a's journal alone…
		rb := &recorder{}
		b := openTestJournal(t, dir, "node-b", waitSync, rb)
		if len(rb.events) != 0 {
			t.Fatalf("node-b replayed %v from a live node's journal", rb.ids())
		}
		must(t, b.close())
		// …and replays it once a is dead.
		a.abandon()
		rc := &recorder{}
		c := openTestJournal(t, dir, "node-c", waitSync, rc)
		defer c.close()
		if got := rc.ids(); !slices.Equal(got, []string{"req_0001"}) {
			t.Errorf("node-c replayed %v from the dead node's journal, want [req_0001]", got)
		}
		for _, f := range journalFiles(t, dir) {
			if strings.HasPrefix(f, "settle-node%2Fa-") {
				t.Errorf("the dead node's replayed segment %s is still there", f)
			}
		}
	})
}

// When the replay cannot be committed, the node does not start and nothing is lost.
func TestJournalReplayFailureKeepsEvents(t *testing.T) {
	bothModes(t, func(t *testing.T, waitSync bool) {
		shortLockWait(t)
		dir := t.TempDir()
		j := openTestJournal(t, dir, "node-a", waitSync, &recorder{})
		_, err := j.append(journalEvent(7))
		must(t, err)
		j.abandon()
		down := &recorder{fail: errors.New("database down")}
		if _, err := openJournal(context.Background(), dir, "node-a", waitSync, down.ingest, quietLog); err == nil {
			t.Fatal("opened with a replay that could not be committed")
		}
		r := &recorder{}
		openTestJournal(t, dir, "node-a", waitSync, r).close()
		if got := r.ids(); !slices.Equal(got, []string{"req_0007"}) {
			t.Errorf("after the failed replay, the next start replayed %v", got)
		}
	})
}
