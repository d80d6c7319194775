// Package audit is the operator's audit log: every operator action (who, when, what,
// before → after) as an append-only list. The console (internal/web, /admin) and the
// JSON API's operator routes (internal/api) record into the same log through Service;
// the store has no update or delete path, and both databases refuse UPDATE and DELETE
// on the table with a trigger.
//
// An entry is recorded right after its action succeeds, carrying the action's
// idempotency key when it has one: a replay of the same action (the same key) finds the
// entry already there and adds none, so the log holds one entry per action that took
// effect, whichever transport retried it.
package audit

import (
	"context"
	"encoding/json"
	"strings"
	"time"
	"unicode/utf8"

	"spectra/internal/errs"
)

// Entry is one operator action.
type Entry struct {
	ID          int64     `json:"id"`
	At          time.Time `json:"at"`
	Actor       string    `json:"actor"`        // the operator's email, or "admin-token"
	Source      string    `json:"source"`       // "console" or "api"
	Action      string    `json:"action"`       // e.g. "grant", "workspace.update", "POST /api/v1/prices/{model...}"
	WorkspaceID string    `json:"workspace_id"` // "" for a deployment-wide action
	Target      string    `json:"target"`       // what was acted on: a transfer, a receipt number, a path
	// Before and After are the state the action changed, field by field (values as text).
	Before map[string]string `json:"before"`
	After  map[string]string `json:"after"`
	// IdempotencyKey is the action's own key ("" when it has none); one entry per
	// action and key.
	IdempotencyKey string `json:"idempotency_key"`
}

// Sources of entries.
const (
	SourceConsole = "console"
	SourceAPI     = "api"
)

// Filter selects entries, newest first.
type Filter struct {
	Actor       string // exact
	Action      string // exact
	WorkspaceID string // exact
	// BeforeID continues a listing: only entries with a smaller id (the cursor).
	BeforeID int64
	Limit    int // 1–200; 0 means 50
}

// Store keeps the log. It has no update or delete method, by design.
type Store interface {
	// AppendAudit adds e (its ID and At are set by the store from e.At) and returns it
	// with true, or, when an entry with the same action and non-empty idempotency key
	// exists, that entry and false.
	AppendAudit(ctx context.Context, e Entry) (Entry, bool, error)
	// AuditEntries returns the entries f selects, newest (highest id) first, at most
	// f.Limit.
	AuditEntries(ctx context.Context, f Filter) ([]Entry, error)
}

// Service records and lists the log.
type Service struct {
	store Store
	now   func() time.Time
}

// New returns a Service over st; now defaults to time.Now.
func New(st Store, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{store: st, now: now}
}

// Bounds of an entry's text.
const (
	maxField = 500
	maxKey   = 200
)

// Record appends e at the current time. An entry with the same action and idempotency
// key is not added twice (false). Text is trimmed to its bounds rather than refused: an
// action that took effect is always recorded. Errors: errs.Invalid invalid_audit_entry
// for an entry without actor or action.
func (s *Service) Record(ctx context.Context, e Entry) (Entry, bool, error) {
	e.Actor, e.Action = clip(e.Actor, maxField), clip(e.Action, maxField)
	if strings.TrimSpace(e.Actor) == "" || strings.TrimSpace(e.Action) == "" {
		return Entry{}, false, errs.E(errs.Invalid, "invalid_audit_entry", "an audit entry needs an actor and an action")
	}
	if e.Source == "" {
		e.Source = SourceConsole
	}
	e.WorkspaceID, e.Target = clip(e.WorkspaceID, maxField), clip(e.Target, maxField)
	e.IdempotencyKey = clip(e.IdempotencyKey, maxKey)
	e.Before, e.After = clipMap(e.Before), clipMap(e.After)
	e.At = s.now().UTC().Truncate(time.Microsecond)
	return s.store.AppendAudit(ctx, e)
}

// Page is one page of the log.
type Page struct {
	Entries []Entry `json:"entries"`
	// NextCursor continues the listing (Filter.BeforeID); 0 when this is the last page.
	NextCursor int64 `json:"next_cursor,omitempty"`
}

// MaxLimit is the largest page.
const MaxLimit = 200

// List returns a page of entries, newest first. Errors: errs.Invalid invalid_limit.
func (s *Service) List(ctx context.Context, f Filter) (Page, error) {
	if f.Limit == 0 {
		f.Limit = 50
	}
	if f.Limit < 1 || f.Limit > MaxLimit {
		return Page{}, errs.E(errs.Invalid, "invalid_limit", "limit must be between 1 and %d", MaxLimit)
	}
	if f.BeforeID < 0 {
		return Page{}, errs.E(errs.Invalid, "invalid_cursor", "cursor must be an entry id from next_cursor")
	}
	want := f.Limit
	f.Limit++
	es, err := s.store.AuditEntries(ctx, f)
	if err != nil {
		return Page{}, err
	}
	p := Page{Entries: es}
	if len(es) > want {
		p.Entries = es[:want]
		p.NextCursor = p.Entries[want-1].ID
	}
	if p.Entries == nil {
		p.Entries = []Entry{}
	}
	return p, nil
}

// EncodeFields is how a store keeps Before and After: a JSON object of strings ("{}"
// for none).
func EncodeFields(m map[string]string) string {
	if len(m) == 0 {
		return "{}"
	}
	b, _ := json.Marshal(m) // a map of strings always encodes
	return string(b)
}

// DecodeFields reads EncodeFields' text back (an empty map for anything unreadable).
func DecodeFields(s string) map[string]string {
	m := map[string]string{}
	_ = json.Unmarshal([]byte(s), &m)
	return m
}

func clip(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func clipMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[clip(k, 100)] = clip(v, maxField)
	}
	return out
}
