package gateway

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"spectra/internal/metering"
	"spectra/internal/pricing"
)

// The settle journal makes a finished request's charge survive the node. Before the
// answer's last byte leaves, settleAsync appends the request's usage event to this
// node's journal, a local append-only file; the batch settle then commits it to the
// database as before. When the node starts, it replays every event left in its journal
// (and in the journals of dead nodes in the same directory) through metering.Ingest,
// which is idempotent by event id: an event that was committed before the crash comes
// back as a Duplicate and is not charged again. Replayed events are priced at their
// own timestamp, like any event, and charge the wallet directly: the holds of the
// requests died with the node (its lease is released at its start, holdbook.go).
//
// How far "appended" goes is the journal's mode:
//   - written (the default): append returns once the record is written to the
//     operating system (one write(2)), which keeps it when the process dies however it
//     dies (kill -9, a panic, the OOM killer); a background syncer fsyncs behind it, at
//     most every journalSyncEvery, whatever was written meanwhile. A crash of the machine
//     itself can lose the records of the last sync interval (up to a second), as
//     SQLite's synchronous=NORMAL can lose its last commits.
//   - synced (Config.JournalSync): append returns once the record is fsynced,
//     group-committed: the first appender to find no sync running becomes the leader,
//     writes every record queued so far and syncs once, while the others wait; records
//     that arrive meanwhile go out together in the next sync. This survives a machine
//     crash too, at the price of a disk sync in every answer's latency.
//
// On disk: a directory (Config.JournalDir) holds, per node, a lock file
// settle-NODE.lock (an exclusive flock: one live process per node id) and segment files
// settle-NODE-SEQ.journal. Each record is a little-endian uint32 payload length, the
// CRC-32C of the payload, and the payload (the event in JSON). A record cut short or
// failing its checksum ends the segment's replay: it can only be the last write of a
// process (or machine) that died before append returned, so its answer never got its
// last byte. Segments are preallocated (journalRotateBytes of zeros, which end a replay)
// and written in place, so that an append does not change the file's size. A segment whose records are all committed is truncated (the current one,
// once it passes journalTruncateBytes) or removed (an older one, and every one at a
// clean shutdown); a new segment is started once the current one passes
// journalRotateBytes.
type journal struct {
	dir  string
	name string // the node id, made safe for a file name
	log  *slog.Logger
	lock *os.File

	mu       sync.Mutex
	cond     sync.Cond
	cur      *segment
	old      []*segment // earlier segments with records not yet committed
	nextSeq  uint64
	pending  []journalChunk // records appended and not yet written, in order
	appended uint64         // records appended so far
	durable  uint64         // records written and synced so far
	syncing  bool           // a leader is writing and syncing
	err      error          // a write or sync failed: the journal takes no more records
	closed   bool
	syncs    int // group commits (syncs) so far

	// waitSync: append waits for the sync (group commit). Otherwise append returns once
	// the record is written to the operating system, which keeps it when the process
	// dies, and syncs follow in the background (kick wakes the syncer; stopped ends it).
	waitSync bool
	kick     chan struct{}
	stopped  chan struct{}
}

// segment is one journal file.
type segment struct {
	seq      uint64
	path     string
	f        *os.File
	size     int64 // bytes appended, written or not
	live     int   // records appended and not yet committed to the database
	synced   bool  // its directory entry is on disk
	unsynced bool  // written since its last sync (background syncs)
}

// journalChunk is consecutive pending records of one segment.
type journalChunk struct {
	seg  *segment
	off  int64 // where data goes in the segment
	data []byte
}

// Journal sizes and limits (variables for the tests).
var (
	journalRotateBytes   int64 = 16 << 20         // a segment this large is closed and a new one started
	journalTruncateBytes int64 = 1 << 20          // the current segment is emptied once this large and fully committed
	journalLockWait            = 15 * time.Second // how long a starting node waits for its lock (another node may be replaying it)
	// journalSyncEvery spaces the background syncs of the written mode. A write into a
	// page the kernel is writing back waits for that writeback, so frequent syncs show in
	// the answers' p99 (measured: every 10 ms added 4–10 ms at p99; every second, none).
	journalSyncEvery = time.Second
)

const (
	journalMaxRecord = 1 << 20 // larger length fields are corruption (an event is at most ~20 KB)
	journalHeader    = 8
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// errJournalClosed is returned by append after close.
var errJournalClosed = errors.New("settle journal closed")

// journalRecord is the stored form of an event: what metering.Ingest needs to charge it
// again, every field that enters its content hash included.
type journalRecord struct {
	ID             string           `json:"id"`
	WorkspaceID    string           `json:"ws"`
	KeyID          string           `json:"key,omitempty"`
	Project        string           `json:"proj,omitempty"`
	Member         string           `json:"mem,omitempty"`
	Model          string           `json:"model"`
	Timestamp      int64            `json:"ts"` // Unix nanoseconds
	Input          int64            `json:"in,omitempty"`
	CachedInput    int64            `json:"cin,omitempty"`
	CacheWrite     int64            `json:"cw,omitempty"`
	Output         int64            `json:"out,omitempty"`
	Reasoning      int64            `json:"rsn,omitempty"`
	CacheWrite1h   int64            `json:"cw1h,omitempty"`
	WebSearchCalls int64            `json:"wsc,omitempty"`
	AudioInput     int64            `json:"ain,omitempty"`
	AudioOutput    int64            `json:"aout,omitempty"`
	ImageInput     int64            `json:"iin,omitempty"`
	ImageOutput    int64            `json:"iout,omitempty"`
	Units          map[string]int64 `json:"units,omitempty"`
	ServiceTier    string           `json:"tier,omitempty"`
	Metadata       json.RawMessage  `json:"meta,omitempty"`
	Source         string           `json:"src,omitempty"`
	Endpoint       string           `json:"ep,omitempty"`
	Status         int              `json:"st,omitempty"`
	LatencyMS      int64            `json:"lat,omitempty"`
	Stream         bool             `json:"stream,omitempty"`
	Estimated      bool             `json:"est,omitempty"`
}

func recordOf(ev metering.Event) journalRecord {
	u := ev.Usage
	return journalRecord{ID: ev.ID, WorkspaceID: ev.WorkspaceID, KeyID: ev.KeyID, Project: ev.Project, Member: ev.Member,
		Model: ev.Model, Timestamp: ev.Timestamp.UnixNano(), Input: u.Input, CachedInput: u.CachedInput, CacheWrite: u.CacheWrite,
		Output: u.Output, Reasoning: u.Reasoning, CacheWrite1h: u.CacheWrite1h, WebSearchCalls: u.WebSearchCalls,
		AudioInput: u.AudioInput, AudioOutput: u.AudioOutput, ImageInput: u.ImageInput, ImageOutput: u.ImageOutput, Units: u.Units,
		ServiceTier: u.ServiceTier, Metadata: ev.Metadata, Source: ev.Source, Endpoint: ev.Endpoint,
		Status: ev.Status, LatencyMS: ev.LatencyMS, Stream: ev.Stream, Estimated: ev.Estimated}
}

func (r journalRecord) event() metering.Event {
	return metering.Event{ID: r.ID, WorkspaceID: r.WorkspaceID, KeyID: r.KeyID, Project: r.Project, Member: r.Member,
		Model: r.Model, Timestamp: time.Unix(0, r.Timestamp).UTC(),
		Usage: pricing.Usage{Input: r.Input, CachedInput: r.CachedInput, CacheWrite: r.CacheWrite, Output: r.Output, Reasoning: r.Reasoning,
			CacheWrite1h: r.CacheWrite1h, WebSearchCalls: r.WebSearchCalls, AudioInput: r.AudioInput, AudioOutput: r.AudioOutput,
			ImageInput: r.ImageInput, ImageOutput: r.ImageOutput, Units: r.Units, ServiceTier: r.ServiceTier},
		Metadata: r.Metadata, Source: r.Source, Endpoint: r.Endpoint, Status: r.Status, LatencyMS: r.LatencyMS,
		Stream: r.Stream, Estimated: r.Estimated}
}

// encodeRecord frames ev as one journal record.
func encodeRecord(ev metering.Event) ([]byte, error) {
	payload, err := json.Marshal(recordOf(ev))
	if err != nil {
		return nil, err
	}
	if len(payload) > journalMaxRecord {
		return nil, fmt.Errorf("event %s is %d bytes, over the journal's %d", ev.ID, len(payload), journalMaxRecord)
	}
	b := make([]byte, journalHeader, journalHeader+len(payload))
	binary.LittleEndian.PutUint32(b, uint32(len(payload)))
	binary.LittleEndian.PutUint32(b[4:], crc32.Checksum(payload, crcTable))
	return append(b, payload...), nil
}

// decodeRecords reads the records of one segment, stopping at the first that is cut
// short or fails its checksum; torn is the number of bytes after the last good record.
func decodeRecords(b []byte) (events []metering.Event, torn int) {
	for len(b) > 0 {
		if len(b) < journalHeader {
			return events, len(b)
		}
		n := binary.LittleEndian.Uint32(b)
		if n == 0 && allZero(b) {
			return events, 0 // the preallocated, never written rest of the segment
		}
		if n == 0 || n > journalMaxRecord || int(n) > len(b)-journalHeader {
			return events, len(b)
		}
		payload := b[journalHeader : journalHeader+int(n)]
		if crc32.Checksum(payload, crcTable) != binary.LittleEndian.Uint32(b[4:]) {
			return events, len(b)
		}
		var r journalRecord
		if err := json.Unmarshal(payload, &r); err != nil {
			return events, len(b)
		}
		events = append(events, r.event())
		b = b[journalHeader+int(n):]
	}
	return events, 0
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// journalName makes a node id safe as part of a file name: letters, digits, '.', '_'
// and '-' are kept, every other byte is written %XX.
func journalName(node string) string {
	var sb strings.Builder
	for i := 0; i < len(node); i++ {
		c := node[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-' {
			sb.WriteByte(c)
		} else {
			fmt.Fprintf(&sb, "%%%02X", c)
		}
	}
	return sb.String()
}

func lockPath(dir, name string) string { return filepath.Join(dir, "settle-"+name+".lock") }

func segmentPath(dir, name string, seq uint64) string {
	return filepath.Join(dir, fmt.Sprintf("settle-%s-%016d.journal", name, seq))
}

// parseSegment splits a segment file's name into its node name and sequence number.
func parseSegment(file string) (name string, seq uint64, ok bool) {
	s, ok := strings.CutPrefix(file, "settle-")
	if !ok {
		return "", 0, false
	}
	if s, ok = strings.CutSuffix(s, ".journal"); !ok {
		return "", 0, false
	}
	i := strings.LastIndexByte(s, '-')
	if i <= 0 {
		return "", 0, false
	}
	seq, err := strconv.ParseUint(s[i+1:], 10, 64)
	if err != nil {
		return "", 0, false
	}
	return s[:i], seq, true
}

// ingestFunc is metering.Service.Ingest.
type ingestFunc func(ctx context.Context, events []metering.Event) (metering.IngestResult, error)

// openJournal takes node's lock in dir, replays what its previous runs left there and
// what dead nodes left there, and starts a new segment. It fails, and the node must not
// serve, when the lock is held by a live process or the replay could not be committed.
func openJournal(ctx context.Context, dir, node string, waitSync bool, ingest ingestFunc, log *slog.Logger) (*journal, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("settle journal: %w", err)
	}
	j := &journal{dir: dir, name: journalName(node), log: log, waitSync: waitSync}
	j.cond.L = &j.mu
	lock, err := lockFile(lockPath(dir, j.name), journalLockWait)
	if err != nil {
		return nil, fmt.Errorf("settle journal %s: %w (is another spectra serve running with node id %q and this data directory?)",
			lockPath(dir, j.name), err, node)
	}
	j.lock = lock
	segs, err := listSegments(dir)
	if err != nil {
		j.unlock()
		return nil, err
	}
	// This node's own segments first, then those of nodes whose lock is free (dead).
	last, err := replaySegments(ctx, dir, j.name, segs[j.name], ingest, log)
	if err != nil {
		j.unlock()
		return nil, err
	}
	for name, list := range segs {
		if name == j.name {
			continue
		}
		other, err := tryLockFile(lockPath(dir, name))
		if err != nil {
			continue // its node is alive (or the lock cannot be taken): it replays its own
		}
		_, err = replaySegments(ctx, dir, name, list, ingest, log)
		unlockFile(other)
		if err != nil {
			j.unlock()
			return nil, err
		}
	}
	j.nextSeq = last + 1
	if j.cur, err = j.newSegment(); err != nil {
		j.unlock()
		return nil, err
	}
	if !waitSync {
		j.kick, j.stopped = make(chan struct{}, 1), make(chan struct{})
		go j.syncer(j.kick, j.stopped)
	}
	return j, nil
}

// listSegments returns the segment sequence numbers in dir by node name, each sorted.
func listSegments(dir string) (map[string][]uint64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("settle journal: %w", err)
	}
	out := map[string][]uint64{}
	for _, e := range entries {
		if name, seq, ok := parseSegment(e.Name()); ok && e.Type().IsRegular() {
			out[name] = append(out[name], seq)
		}
	}
	for _, l := range out {
		slices.Sort(l)
	}
	return out, nil
}

// replaySegments ingests the events of the given segments of node name, in order, and
// removes the segments once every event is committed (or refused for good). It returns
// the highest sequence number seen.
func replaySegments(ctx context.Context, dir, name string, seqs []uint64, ingest ingestFunc, log *slog.Logger) (uint64, error) {
	if len(seqs) == 0 {
		return 0, nil
	}
	var events []metering.Event
	var paths []string
	for _, seq := range seqs {
		path := segmentPath(dir, name, seq)
		b, err := os.ReadFile(path)
		if err != nil {
			return 0, fmt.Errorf("settle journal: %w", err)
		}
		evs, torn := decodeRecords(b)
		if torn > 0 {
			log.Warn("settle journal: ignoring a torn last record (its answer was never completed)", "file", path, "bytes", torn)
		}
		events = append(events, evs...)
		paths = append(paths, path)
	}
	var charged, already, refused int
	for batch := range slices.Chunk(events, maxSettleBatch) {
		res, err := ingestRetry(ctx, batch, ingest)
		if err != nil {
			return 0, fmt.Errorf("settle journal: replay of %d events: %w", len(events), err)
		}
		charged += res.Accepted
		already += res.Duplicates
		for _, rj := range res.Rejected {
			refused++
			log.Error("settle journal: replayed usage event refused", "request", rj.ID, "code", rj.Code, "err", rj.Error)
		}
	}
	for _, p := range paths {
		if err := os.Remove(p); err != nil {
			return 0, fmt.Errorf("settle journal: %w", err)
		}
	}
	if len(events) > 0 {
		log.Info("settle journal replayed", "files", len(paths), "events", len(events), "charged_now", charged,
			"already_charged", already, "refused", refused)
	}
	return seqs[len(seqs)-1], nil
}

// ingestRetry is one Ingest call retried on failure (events are idempotent by id).
func ingestRetry(ctx context.Context, events []metering.Event, ingest ingestFunc) (metering.IngestResult, error) {
	var res metering.IngestResult
	var err error
	for attempt := range 4 {
		if attempt > 0 {
			time.Sleep(time.Duration(attempt) * 100 * time.Millisecond)
		}
		if res, err = ingest(ctx, events); err == nil {
			return res, nil
		}
	}
	return res, err
}

// newSegment creates the next segment file; its directory entry is synced with its
// first records.
func (j *journal) newSegment() (*segment, error) {
	seq := j.nextSeq
	j.nextSeq++
	path := segmentPath(j.dir, j.name, seq)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("settle journal: %w", err)
	}
	if err := f.Truncate(journalRotateBytes); err != nil {
		f.Close()
		return nil, fmt.Errorf("settle journal: %w", err)
	}
	return &segment{seq: seq, path: path, f: f}, nil
}

// append writes ev to the journal and returns once it is on disk, with the segment
// that holds it (for done). On error, ev is not in the journal and the journal takes no
// more records.
func (j *journal) append(ev metering.Event) (*segment, error) {
	rec, err := encodeRecord(ev)
	if err != nil {
		return nil, err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return nil, errJournalClosed
	}
	if j.err != nil {
		return nil, j.err
	}
	if j.cur.size >= journalRotateBytes {
		next, err := j.newSegment()
		if err != nil {
			j.fail(err)
			return nil, err
		}
		if j.cur.live == 0 {
			j.drop(j.cur)
		} else {
			j.old = append(j.old, j.cur)
		}
		j.cur = next
	}
	seg := j.cur
	if !j.waitSync {
		if _, err := seg.f.WriteAt(rec, seg.size); err != nil {
			j.fail(err)
			return nil, err
		}
		seg.size += int64(len(rec))
		seg.live++
		seg.unsynced = true
		select {
		case j.kick <- struct{}{}:
		default:
		}
		return seg, nil
	}
	if n := len(j.pending); n > 0 && j.pending[n-1].seg == seg {
		j.pending[n-1].data = append(j.pending[n-1].data, rec...)
	} else {
		j.pending = append(j.pending, journalChunk{seg, seg.size, rec})
	}
	seg.size += int64(len(rec))
	seg.live++
	j.appended++
	ticket := j.appended
	for j.durable < ticket {
		if j.err != nil {
			seg.live--
			return nil, j.err
		}
		if j.syncing {
			j.cond.Wait()
			continue
		}
		j.sync()
	}
	return seg, nil
}

// sync writes and syncs every pending record, as the leader; called and returns with
// j.mu held, which it releases while writing.
func (j *journal) sync() {
	j.syncing = true
	chunks, target := j.pending, j.appended
	j.pending = nil
	j.mu.Unlock()
	err := writeChunks(j.dir, chunks)
	j.mu.Lock()
	j.syncing = false
	j.syncs++
	if err != nil {
		j.fail(err)
	} else {
		j.durable = target
	}
	j.cond.Broadcast()
}

// syncer syncs, in the background, what append wrote without waiting: whatever was
// written while one sync ran goes into the next.
func (j *journal) syncer(kick <-chan struct{}, stopped chan<- struct{}) {
	defer close(stopped)
	var last time.Time
	for range kick {
		// At most one sync per journalSyncEvery: a sync per request would cost the
		// machine a disk flush per answer (measured: slower answers for everyone).
		if wait := journalSyncEvery - time.Since(last); wait > 0 {
			time.Sleep(wait)
		}
		last = time.Now()
		j.mu.Lock()
		var files []*os.File
		newFile := false
		for _, s := range append(slices.Clone(j.old), j.cur) {
			if s.unsynced && s.f != nil {
				s.unsynced = false
				files = append(files, s.f)
				if !s.synced {
					s.synced, newFile = true, true
				}
			}
		}
		j.mu.Unlock()
		var err error
		for _, f := range files {
			// A segment dropped meanwhile (its records all committed) needs no sync.
			if e := f.Sync(); e != nil && !errors.Is(e, os.ErrClosed) && err == nil {
				err = e
			}
		}
		if err == nil && newFile {
			err = syncDir(j.dir)
		}
		j.mu.Lock()
		j.syncs++
		if err != nil {
			j.fail(err)
		}
		j.mu.Unlock()
	}
}

// stopSyncer ends the background syncer after a last sync; called with j.mu held.
func (j *journal) stopSyncer() {
	if j.kick == nil {
		return
	}
	select {
	case j.kick <- struct{}{}:
	default:
	}
	close(j.kick)
	j.kick = nil
	j.mu.Unlock()
	<-j.stopped
	j.mu.Lock()
}

// writeChunks appends each chunk to its file and syncs every file written (and the
// directory, for a segment's first records).
func writeChunks(dir string, chunks []journalChunk) error {
	dirty := make([]*segment, 0, 2)
	newFile := false
	for _, c := range chunks {
		if _, err := c.seg.f.WriteAt(c.data, c.off); err != nil {
			return err
		}
		if !slices.Contains(dirty, c.seg) {
			dirty = append(dirty, c.seg)
		}
		if !c.seg.synced {
			c.seg.synced, newFile = true, true
		}
	}
	for _, s := range dirty {
		if err := s.f.Sync(); err != nil {
			return err
		}
	}
	if newFile {
		return syncDir(dir)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// fail records a write error: the file's state is unknown after a failed sync, so the
// journal takes no more records (the gateway then commits each settle before answering).
func (j *journal) fail(err error) {
	if j.err == nil {
		j.err = err
		j.log.Error("settle journal failed: each request's usage is now committed to the database before its answer ends, which is slower",
			"dir", j.dir, "err", err)
	}
}

// done marks the records of committed events as no longer needed: a segment whose
// records are all committed is removed (an older one) or emptied (the current one, once
// it has grown past journalTruncateBytes).
func (j *journal) done(segs []*segment) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, s := range segs {
		if s == nil {
			continue
		}
		s.live--
		if s.live > 0 {
			continue
		}
		switch {
		case s != j.cur || j.closed:
			j.drop(s)
		case s.size >= journalTruncateBytes && !j.syncing && j.err == nil:
			// Emptied and preallocated again (zeros end a segment's replay).
			if err := s.f.Truncate(0); err != nil {
				j.fail(err)
				continue
			}
			if err := s.f.Truncate(journalRotateBytes); err != nil {
				j.fail(err)
				continue
			}
			s.size = 0
		}
	}
}

// drop closes and removes a segment whose records are all committed.
func (j *journal) drop(s *segment) {
	if s.f != nil {
		s.f.Close()
		s.f = nil
	}
	if err := os.Remove(s.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		j.log.Warn("settle journal: remove a committed segment", "file", s.path, "err", err)
	}
	j.old = slices.DeleteFunc(j.old, func(o *segment) bool { return o == s })
}

// close ends the journal: segments whose records are all committed are removed, the
// others stay for the next start to replay, and the lock is released.
func (j *journal) close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return nil
	}
	for j.syncing || len(j.pending) > 0 {
		j.cond.Wait()
	}
	j.closed = true
	j.stopSyncer()
	for _, s := range append(slices.Clone(j.old), j.cur) {
		if s.live == 0 {
			j.drop(s)
		} else if s.f != nil {
			s.f.Close()
			s.f = nil
		}
	}
	j.unlock()
	return nil
}

// abandon closes the files and releases the lock without removing anything, as a
// process that dies does (tests).
func (j *journal) abandon() {
	j.mu.Lock()
	defer j.mu.Unlock()
	for j.syncing || len(j.pending) > 0 {
		j.cond.Wait()
	}
	j.closed = true
	j.stopSyncer()
	for _, s := range append(slices.Clone(j.old), j.cur) {
		if s.f != nil {
			s.f.Close()
			s.f = nil
		}
	}
	j.unlock()
}

func (j *journal) unlock() {
	if j.lock != nil {
		unlockFile(j.lock)
		j.lock = nil
	}
}

// lockFile takes the exclusive lock of path, waiting up to wait for it.
func lockFile(path string, wait time.Duration) (*os.File, error) {
	deadline := time.Now().Add(wait)
	for {
		f, err := tryLockFile(path)
		if err == nil || !errors.Is(err, errLocked) || time.Now().After(deadline) {
			return f, err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// errLocked is tryLockFile's answer when another process holds the lock.
var errLocked = errors.New("locked by another process")

// tryLockFile takes the exclusive lock of path, or fails with errLocked at once.
func tryLockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := flock(f); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// unlockFile releases a lock taken by tryLockFile.
func unlockFile(f *os.File) { f.Close() } // closing the descriptor releases its flock
