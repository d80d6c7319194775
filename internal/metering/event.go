// Package metering ingests usage events exactly once, prices them, and answers usage
// queries from hourly rollups.
package metering

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"spectra/internal/errs"
	"spectra/internal/money"
	"spectra/internal/pricing"
	"spectra/internal/text"
)

// Event is one metered request.
type Event struct {
	ID          string          `json:"id"`
	WorkspaceID string          `json:"workspace_id"`
	KeyID       string          `json:"key_id"`
	Project     string          `json:"project"`
	Member      string          `json:"member"`
	Model       string          `json:"model"`
	Timestamp   time.Time       `json:"timestamp"`
	Usage       pricing.Usage   `json:"-"`
	Metadata    json.RawMessage `json:"metadata,omitempty"`

	// Filled by the gateway; zero for ingested events.
	Source    string `json:"source"` // "api" or "gateway"
	Endpoint  string `json:"endpoint,omitempty"`
	Status    int    `json:"status,omitempty"`
	LatencyMS int64  `json:"latency_ms,omitempty"`
	Stream    bool   `json:"stream"`
	Estimated bool   `json:"estimated"` // usage counted by Spectra rather than reported by the upstream

	// ServiceTier is the service tier the provider reported serving the request at
	// ("flex", "priority", "batch"; "" is the default tier, which "default" also names).
	// Prepare copies it to Usage.ServiceTier, or takes it from there when it is "".
	ServiceTier string `json:"service_tier"`

	// Set at ingestion: the price that applied, recorded with the event so that history
	// is never re-priced.
	//
	// BilledTier is the service tier whose prices applied: "default", or ServiceTier when
	// the price version gives it prices of its own.
	BilledTier string `json:"billed_service_tier"`
	// PriceList names the workspace's price list that applied; "" is the catalog.
	PriceList string `json:"price_list"`
	// PriceFrom is the effective_from of the price version that applied (zero for an
	// event recorded before it was kept).
	PriceFrom time.Time `json:"price_effective_from"`
	// ContextTier is the input-token threshold of the context tier that applied (0: the
	// base rates).
	ContextTier int64 `json:"context_tier_above_input_tokens"`
	// CostExact is the exact cost of the event at that price, in 10^-12 of the currency.
	// An event recorded before it was kept has CostExact = Cost.
	CostExact pricing.Exact `json:"cost_exact"`
	// Cost is the micro-units charged for this event. Ingestion prices it at CostExact
	// rounded half-up; the store charges each accepted event floor(carry + CostExact)
	// against its wallet's sub-micro carry (Batch.Charge), and that is what is stored.
	Cost money.Amount `json:"cost"`
	// Held is the amount the gateway held for the request before it was answered; 0
	// for ingested events.
	Held       money.Amount `json:"held"`
	Hash       string       `json:"-"` // content hash for duplicate detection
	IngestedAt time.Time    `json:"ingested_at"`
}

// Limits on one event. Text fields also follow internal/text's rule (valid UTF-8, no
// control characters), refused with invalid_text.
const (
	MaxIDLength      = 255
	MaxLabelLength   = 255
	MaxMetadataBytes = 16 << 10
	MaxFutureSkew    = 5 * time.Minute
	// MaxTokensPerField bounds each token count of one event (10^8): far above what any
	// model reads or writes in one request, and low enough that a daily rollup's token
	// sums cannot overflow (2^63 / 10^8 ≈ 9.2·10^10 events in one row in one day, over ten
	// times what one store ingests in a day at its measured peak).
	MaxTokensPerField = 100_000_000
)

// DefaultTier names the default service tier (Event.BilledTier).
const DefaultTier = pricing.DefaultServiceTier

// MinBalance is the lowest balance usage may take a wallet to (−2^62 micro-units, about
// −4.6 trillion of the currency). An event whose cost would take its wallet lower is
// rejected (BalanceOutOfRange) rather than overflow the wallet's int64 balance.
const MinBalance = -money.Amount(1 << 62)

// Outcome is what ingestion did with one event.
type Outcome int

// Outcomes.
const (
	Accepted          Outcome = iota // applied now
	Duplicate                        // the same id with the same contents was applied before; nothing changed
	Conflict                         // the same id with different contents was applied before; refused
	UnknownWorkspace                 // the event names a workspace that does not exist; refused
	BalanceOutOfRange                // its cost would take the wallet below MinBalance; refused, nothing stored
)

// Prepare validates e at time now, canonicalises its metadata and computes its content
// hash. It trims spaces around the id. It returns an *errs.Error naming the first problem.
func (e *Event) Prepare(now time.Time) error {
	raw := e.ID
	e.ID = strings.TrimSpace(e.ID)
	if err := e.validText(raw); err != nil {
		return err
	}
	switch {
	case e.WorkspaceID == "":
		return errs.E(errs.Invalid, "missing_workspace", "workspace_id is required")
	case e.Model == "":
		return errs.E(errs.Invalid, "missing_model", "model is required")
	case !pricing.ValidModel(e.Model):
		return errs.E(errs.Invalid, "invalid_model", "model name %q is not valid", e.Model)
	case e.Timestamp.IsZero():
		return errs.E(errs.Invalid, "missing_timestamp", "timestamp is required (RFC 3339)")
	case e.Timestamp.After(now.Add(MaxFutureSkew)):
		return errs.E(errs.Invalid, "timestamp_in_future", "timestamp %s is more than %s in the future", e.Timestamp.UTC().Format(time.RFC3339), MaxFutureSkew)
	case e.Timestamp.Year() < 2000:
		return errs.E(errs.Invalid, "timestamp_too_old", "timestamp must be after the year 2000")
	}
	if e.ServiceTier == "" {
		e.ServiceTier = e.Usage.ServiceTier
	}
	e.Usage.ServiceTier = e.ServiceTier
	if err := e.Usage.Validate(); err != nil {
		return err
	}
	if e.ServiceTier == DefaultTier { // the same tier as "": one form, one content hash
		e.ServiceTier, e.Usage.ServiceTier = "", ""
	}
	u := e.Usage
	if u.Input > MaxTokensPerField || u.CacheWrite > MaxTokensPerField || u.Output > MaxTokensPerField ||
		u.AudioInput > MaxTokensPerField || u.AudioOutput > MaxTokensPerField || u.ImageInput > MaxTokensPerField ||
		u.ImageOutput > MaxTokensPerField {
		return errs.E(errs.Invalid, "too_many_tokens", "a token count exceeds %d", int64(MaxTokensPerField))
	}
	e.canonicalUnits()
	if err := e.canonicalMetadata(); err != nil {
		return err
	}
	e.Timestamp = e.Timestamp.UTC().Truncate(time.Microsecond)
	e.Hash = e.contentHash()
	return nil
}

// validText checks e's text fields (raw is the id as sent, before trimming): the id is
// present, at most MaxIDLength bytes and visible; the labels at most MaxLabelLength; and
// every one follows the text rule.
func (e *Event) validText(raw string) error {
	switch {
	case raw == "":
		return errs.E(errs.Invalid, "missing_id", "id is required")
	case len(e.ID) > MaxIDLength:
		return errs.E(errs.Invalid, "invalid_id", "id must be at most %d bytes", MaxIDLength)
	case len(e.Project) > MaxLabelLength || len(e.Member) > MaxLabelLength:
		return errs.E(errs.Invalid, "invalid_label", "project and member must be at most %d bytes", MaxLabelLength)
	}
	for _, f := range []struct{ name, v string }{{"id", e.ID}, {"workspace_id", e.WorkspaceID}, {"key_id", e.KeyID},
		{"model", e.Model}, {"project", e.Project}, {"member", e.Member}} {
		if err := text.Line(f.name, f.v, MaxIDLength); err != nil {
			return err
		}
	}
	if !text.Visible(e.ID) {
		return errs.E(errs.Invalid, "invalid_id", "id must hold a visible character, not only spaces")
	}
	return nil
}

// canonicalUnits gives an event's units one form: the unit "web_search_call" is counted
// in Usage.WebSearchCalls (where events before units had it, so that they keep their
// content hash), and units counted 0 are dropped (they charge nothing).
func (e *Event) canonicalUnits() {
	u := &e.Usage
	if len(u.Units) == 0 {
		u.Units = nil
		return
	}
	units := make(map[string]int64, len(u.Units))
	for name, n := range u.Units {
		if name == pricing.UnitWebSearchCall {
			u.WebSearchCalls = n // Validate refused another count in WebSearchCalls
			continue
		}
		if n != 0 {
			units[name] = n
		}
	}
	if len(units) == 0 {
		units = nil
	}
	u.Units = units
}

func (e *Event) canonicalMetadata() error {
	if len(e.Metadata) == 0 || bytes.Equal(e.Metadata, []byte("null")) {
		e.Metadata = nil
		return nil
	}
	if len(e.Metadata) > MaxMetadataBytes {
		return errs.E(errs.Invalid, "metadata_too_large", "metadata is larger than %d bytes", MaxMetadataBytes)
	}
	d := json.NewDecoder(bytes.NewReader(e.Metadata))
	d.UseNumber()
	var v map[string]any
	if err := d.Decode(&v); err != nil {
		return errs.E(errs.Invalid, "invalid_metadata", "metadata must be a JSON object")
	}
	b, err := json.Marshal(v) // map keys come out sorted: one canonical form
	if err != nil {
		return errs.E(errs.Invalid, "invalid_metadata", "metadata must be a JSON object")
	}
	if err := metadataText("metadata", v); err != nil {
		return err
	}
	e.Metadata = b
	return nil
}

// metadataText applies the text rule to every key (single-line) and string value (free
// text) of decoded metadata, at any depth.
func metadataText(path string, v any) error {
	switch v := v.(type) {
	case string:
		if p := text.Problem(v, true); p != "" {
			return errs.E(errs.Invalid, text.Code, "a string in %s %s", path, p)
		}
	case map[string]any:
		for k, x := range v {
			if p := text.Problem(k, false); p != "" {
				return errs.E(errs.Invalid, text.Code, "a key in %s %s", path, p)
			}
			if err := metadataText(path, x); err != nil {
				return err
			}
		}
	case []any:
		for _, x := range v {
			if err := metadataText(path, x); err != nil {
				return err
			}
		}
	}
	return nil
}

// contentHash covers what the client said about the event, not how it reached us: the
// same event sent through another key or node is still the same event.
func (e *Event) contentHash() string {
	h := sha256.New()
	var buf []byte
	field := func(s string) {
		buf = strconv.AppendInt(buf[:0], int64(len(s)), 10)
		buf = append(buf, ':')
		h.Write(buf)
		h.Write([]byte(s))
	}
	num := func(n int64) {
		buf = strconv.AppendInt(buf[:0], n, 10)
		buf = append(buf, ';')
		h.Write(buf)
	}
	field(e.ID)
	field(e.WorkspaceID)
	field(e.Model)
	num(e.Timestamp.UnixMicro())
	num(e.Usage.Input)
	num(e.Usage.CachedInput)
	num(e.Usage.CacheWrite)
	num(e.Usage.Output)
	num(e.Usage.Reasoning)
	if e.Usage.CacheWrite1h != 0 || e.Usage.WebSearchCalls != 0 { // only then: older events keep their hash
		num(e.Usage.CacheWrite1h)
		num(e.Usage.WebSearchCalls)
	}
	if u := e.Usage; u.AudioInput != 0 || u.AudioOutput != 0 || u.ImageInput != 0 || u.ImageOutput != 0 || len(u.Units) != 0 || e.ServiceTier != "" {
		// Only then, after a marker no older event has (a count is never negative):
		// events without these keep their hash.
		num(-1)
		num(u.AudioInput)
		num(u.AudioOutput)
		num(u.ImageInput)
		num(u.ImageOutput)
		field(e.ServiceTier)
		num(int64(len(u.Units)))
		for _, name := range slices.Sorted(maps.Keys(u.Units)) {
			field(name)
			num(u.Units[name])
		}
	}
	field(e.Project)
	field(e.Member)
	field(string(e.Metadata))
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// ErrCatalogChanged is returned by Store.ApplyEvents when a price was added after the
// events were priced; the caller reprices with a fresh catalog and tries again.
var ErrCatalogChanged = errs.E(errs.Unavailable, "catalog_changed", "the price catalog changed while the events were priced")

// Store persists events and rollups. Implemented by internal/store.
type Store interface {
	// ApplyEvents applies prepared, priced events, each exactly once by (workspace, id):
	// the event row, the wallet debit and the hourly rollup change together in one
	// transaction. It returns one outcome per event, in order. It returns
	// ErrCatalogChanged, applying nothing, when the catalog's version is no longer
	// catalogVersion.
	ApplyEvents(ctx context.Context, catalogVersion int64, events []Event) ([]Outcome, error)
	// Rollups returns hourly rollup rows matching q, summed over the dimensions not in q.GroupBy.
	Rollups(ctx context.Context, q RollupQuery) ([]RollupRow, error)
	// RollupZone returns the IANA zone whose days the workspace's daily rollups count
	// (the workspace's timezone).
	RollupZone(ctx context.Context, workspaceID string) (string, error)
	// DailyRollups returns daily rollup rows matching q, whose Start and End are day
	// starts (DayOf) of zone, summed over the dimensions not in q.GroupBy, each dated at
	// its day's start. It reports false, and no rows, when the workspace's daily rollups
	// are no longer kept in zone.
	DailyRollups(ctx context.Context, q RollupQuery, zone string) ([]RollupRow, bool, error)
	// Events returns raw events for the request log: those f selects, in f.Sort's order
	// (f.Sort is never ""), after f.After(), at most f.Limit.
	Events(ctx context.Context, f EventFilter) ([]Event, error)
	// Event returns the workspace's event id, or errs.NotFound request_not_found.
	Event(ctx context.Context, workspaceID, id string) (Event, error)
}
