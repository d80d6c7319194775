package metering

import (
	"cmp"
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"spectra/internal/errs"
)

// EventFilter selects raw events for the request log: filtered by period, dimensions
// and request id, in the order Sort names, keyset-paginated by Cursor.
type EventFilter struct {
	WorkspaceID string
	Start, End  time.Time // optional; events in [Start, End)
	Filter
	// ID, when set, selects only the event with this request id (exact match).
	ID string
	// Sort is the order of the log; the zero value is SortTime (newest first).
	Sort Sort
	// Cursor, when set, continues after the event it names (from an earlier page of the
	// same Sort; CursorOf makes one from a page's last event).
	Cursor *Cursor
	// BeforeTime and BeforeID are the time-order cursor of earlier callers: when set and
	// Cursor is not, the log continues after the event (BeforeTime, BeforeID).
	BeforeTime time.Time
	BeforeID   string
	Limit      int
}

// After returns the position the page continues after: Cursor, or else the event
// (BeforeTime, BeforeID) in time order, or nil for the first page.
func (f EventFilter) After() *Cursor {
	if f.Cursor != nil {
		return f.Cursor
	}
	if !f.BeforeTime.IsZero() {
		return &Cursor{Sort: SortTime, Time: f.BeforeTime, ID: f.BeforeID}
	}
	return nil
}

// Sort is an order of the request log. Every order is highest first, ties broken by
// event time (newest first) and then by id (descending), so it is total.
type Sort string

// Sorts of the request log.
const (
	SortTime    Sort = "time"    // newest first (the zero value means this too)
	SortCost    Sort = "cost"    // most expensive first
	SortTokens  Sort = "tokens"  // most tokens first: input plus output
	SortLatency Sort = "latency" // slowest first
)

// Sorts lists every sort, the default first.
var Sorts = []Sort{SortTime, SortCost, SortTokens, SortLatency}

// ParseSort reads a sort's name; "" is SortTime. An unknown name is invalid_sort.
func ParseSort(s string) (Sort, error) {
	if s == "" {
		return SortTime, nil
	}
	for _, v := range Sorts {
		if string(v) == s {
			return v, nil
		}
	}
	return "", errs.E(errs.Invalid, "invalid_sort", "sort must be one of time, cost, tokens or latency")
}

// Norm returns s with the zero value as SortTime.
func (s Sort) Norm() Sort {
	if s == "" {
		return SortTime
	}
	return s
}

// Key is e's value in order s (highest first); 0 for SortTime, whose order is by time alone.
func (s Sort) Key(e *Event) int64 {
	switch s.Norm() {
	case SortCost:
		return int64(e.Cost)
	case SortTokens:
		return e.Usage.Input + e.Usage.Output
	case SortLatency:
		return e.LatencyMS
	}
	return 0
}

// Compare orders a before b (negative) when a comes first in order s.
func (s Sort) Compare(a, b *Event) int {
	return cmp.Or(cmp.Compare(s.Key(b), s.Key(a)), b.Timestamp.Compare(a.Timestamp), strings.Compare(b.ID, a.ID))
}

// Cursor is a position in the request log in one order: the sort key, time and id of
// the last event of a page. Its String form is opaque to clients.
type Cursor struct {
	Sort  Sort
	Value int64 // Sort.Key of the event (0 for SortTime)
	Time  time.Time
	ID    string
}

// CursorOf is the cursor that continues after e in order s.
func CursorOf(s Sort, e Event) Cursor {
	s = s.Norm()
	return Cursor{Sort: s, Value: s.Key(&e), Time: e.Timestamp, ID: e.ID}
}

// Passed reports whether e comes after c in c's order (so it belongs to a later page).
func (c Cursor) Passed(e *Event) bool {
	s := c.Sort.Norm()
	k := s.Key(e)
	return cmp.Or(cmp.Compare(c.Value, k), c.Time.Compare(e.Timestamp), strings.Compare(c.ID, e.ID)) > 0
}

// String encodes c for a URL: base64url of "v1.<sort>.<value>.<unix micros>.<id>".
func (c Cursor) String() string {
	raw := "v1." + string(c.Sort.Norm()) + "." + strconv.FormatInt(c.Value, 10) + "." + strconv.FormatInt(c.Time.UnixMicro(), 10) + "." + c.ID
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

// ErrSortTooDeep is the request log's answer to a page in a value order (cost, tokens,
// latency) that would read too many of the workspace's events to answer: far down such
// an order over a long period, while the store's value index is behind (new on a large
// database, or no node indexing; see docs/architecture.md). Narrowing the period or the
// filters, or the time order, answers it.
var ErrSortTooDeep = errs.E(errs.Invalid, "sort_too_deep",
	"this page lies too deep in the log sorted by cost, tokens or latency; narrow the period or the filters, or sort by time")

// errInvalidCursor is every malformed cursor's error.
var errInvalidCursor = errs.E(errs.Invalid, "invalid_cursor", "the page cursor is not valid; start from the first page")

// ParseCursor reads a cursor String wrote; anything else is invalid_cursor.
func ParseCursor(s string) (Cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, errInvalidCursor
	}
	parts := strings.SplitN(string(b), ".", 5)
	if len(parts) != 5 || parts[0] != "v1" || parts[4] == "" || len(parts[4]) > MaxIDLength {
		return Cursor{}, errInvalidCursor
	}
	sort, err := ParseSort(parts[1])
	if err != nil || parts[1] == "" {
		return Cursor{}, errInvalidCursor
	}
	v, err1 := strconv.ParseInt(parts[2], 10, 64)
	ts, err2 := strconv.ParseInt(parts[3], 10, 64)
	if err1 != nil || err2 != nil || (sort == SortTime && v != 0) {
		return Cursor{}, errInvalidCursor
	}
	return Cursor{Sort: sort, Value: v, Time: time.UnixMicro(ts).UTC(), ID: parts[4]}, nil
}
