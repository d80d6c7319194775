package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"spectra/internal/errs"
	"spectra/internal/httpjson"
	"spectra/internal/metering"
	"spectra/internal/pricing"
)

// eventsRequest is the body of POST /api/v1/events. Each event is decoded on its own so
// that one bad event is rejected alone.
type eventsRequest struct {
	Events []json.RawMessage `json:"events"`
}

// eventInput is one event on the wire. Token counts are JSON integers: a fraction or a
// string where a number belongs rejects the event.
type eventInput struct {
	ID                string `json:"id"`
	WorkspaceID       string `json:"workspace_id"`
	KeyID             string `json:"key_id"`
	Timestamp         string `json:"timestamp"`
	Model             string `json:"model"`
	InputTokens       int64  `json:"input_tokens"`
	CachedInputTokens int64  `json:"cached_input_tokens"`
	CacheWriteTokens  int64  `json:"cache_write_tokens"`
	// CacheWrite1hTokens is the part of cache_write_tokens written to a 1-hour cache
	// (Anthropic's), priced at the price's cache_write_1h.
	CacheWrite1hTokens int64 `json:"cache_write_1h_tokens"`
	OutputTokens       int64 `json:"output_tokens"`
	ReasoningTokens    int64 `json:"reasoning_tokens"`
	// The modality counts are parts of input_tokens (uncached) and output_tokens, priced
	// at the price's audio and image rates (issue 15).
	AudioInputTokens  int64 `json:"audio_input_tokens"`
	AudioOutputTokens int64 `json:"audio_output_tokens"`
	ImageInputTokens  int64 `json:"image_input_tokens"`
	ImageOutputTokens int64 `json:"image_output_tokens"`
	// Units counts named units ({"web_search_call": 2}), each priced at the price's units.
	Units map[string]int64 `json:"units"`
	// ServiceTier is the service tier the provider served the request at ("default",
	// "flex", "priority", "batch", …).
	ServiceTier string          `json:"service_tier"`
	Project     string          `json:"project"`
	Member      string          `json:"member"`
	Metadata    json.RawMessage `json:"metadata"`
}

// ingestEvents applies a batch: 200 with what was accepted, what was a duplicate and
// why each rejected event was rejected. Only an unreadable body is a 400.
func (s *Server) ingestEvents(w http.ResponseWriter, r *http.Request) error {
	var body eventsRequest
	if err := decodeBody(w, r, MaxEventsBody, &body); err != nil {
		return err
	}
	if body.Events == nil {
		return errs.E(errs.Invalid, "missing_events", `the body must be {"events":[…]}`)
	}
	if len(body.Events) > metering.MaxBatch {
		return errs.E(errs.Invalid, "batch_too_large", "a batch holds at most %d events; this one has %d", metering.MaxBatch, len(body.Events))
	}
	p := principalOf(r.Context())
	rejected := []metering.Rejection{}
	events := make([]metering.Event, 0, len(body.Events))
	index := make([]int, 0, len(body.Events)) // events[j] is body.Events[index[j]]
	for i, raw := range body.Events {
		e, err := decodeEvent(raw, p)
		if err != nil {
			rejected = append(rejected, metering.Rejection{Index: i, ID: e.ID, Code: errs.CodeOf(err), Error: errMessage(err)})
			continue
		}
		events = append(events, e)
		index = append(index, i)
	}
	res, err := s.metering.Ingest(r.Context(), events)
	if err != nil {
		return err
	}
	for _, rj := range res.Rejected {
		rj.Index = index[rj.Index]
		rejected = append(rejected, rj)
	}
	slices.SortFunc(rejected, func(a, b metering.Rejection) int { return a.Index - b.Index })
	s.metrics.events.WithLabelValues("accepted").Add(float64(res.Accepted))
	s.metrics.events.WithLabelValues("duplicate").Add(float64(res.Duplicates))
	s.metrics.events.WithLabelValues("rejected").Add(float64(len(rejected)))
	WriteJSON(w, http.StatusOK, metering.IngestResult{Accepted: res.Accepted, Duplicates: res.Duplicates, Rejected: rejected})
	return nil
}

// decodeEvent reads one event strictly and attributes it to the caller: with an
// inference key the event belongs to the key's workspace and key, and takes the key's
// project and member when it names none. On error the returned event carries the id,
// when one could be read.
func decodeEvent(raw json.RawMessage, p principal) (metering.Event, error) {
	var in eventInput
	if err := strictDecode(raw, &in); err != nil {
		return metering.Event{ID: idOf(raw)}, err
	}
	e := metering.Event{ID: in.ID, WorkspaceID: in.WorkspaceID, KeyID: in.KeyID, Project: in.Project, Member: in.Member,
		Model: in.Model, Metadata: in.Metadata, Source: "api", ServiceTier: in.ServiceTier,
		Usage: pricing.Usage{Input: in.InputTokens, CachedInput: in.CachedInputTokens, CacheWrite: in.CacheWriteTokens,
			Output: in.OutputTokens, Reasoning: in.ReasoningTokens, CacheWrite1h: in.CacheWrite1hTokens,
			AudioInput: in.AudioInputTokens, AudioOutput: in.AudioOutputTokens, ImageInput: in.ImageInputTokens,
			ImageOutput: in.ImageOutputTokens, Units: in.Units}}
	if in.Timestamp != "" {
		t, err := time.Parse(time.RFC3339Nano, in.Timestamp)
		if err != nil {
			return e, errs.E(errs.Invalid, "invalid_timestamp", "timestamp %q is not an RFC 3339 time", in.Timestamp)
		}
		e.Timestamp = t
	}
	if p.operator {
		return e, nil
	}
	k := p.key
	if e.WorkspaceID != "" && e.WorkspaceID != k.WorkspaceID {
		return e, errs.E(errs.Invalid, "workspace_mismatch", "the event names workspace %q but the key belongs to another workspace", e.WorkspaceID)
	}
	if e.KeyID != "" && e.KeyID != k.ID {
		return e, errs.E(errs.Invalid, "key_mismatch", "the event names key %q but was sent with another key", e.KeyID)
	}
	e.WorkspaceID, e.KeyID = k.WorkspaceID, k.ID
	if e.Project == "" {
		e.Project = k.Project
	}
	if e.Member == "" {
		e.Member = k.MemberID
	}
	return e, nil
}

// tokenFields are the fields that hold token counts.
var tokenFields = []string{"input_tokens", "cached_input_tokens", "cache_write_tokens", "cache_write_1h_tokens", "output_tokens", "reasoning_tokens",
	"audio_input_tokens", "audio_output_tokens", "image_input_tokens", "image_output_tokens"}

// strictDecode decodes one event object, refusing unknown fields and wrong types.
func strictDecode(raw json.RawMessage, in *eventInput) error {
	if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '{' {
		return errs.E(errs.Invalid, "invalid_event", "each event must be a JSON object")
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.DisallowUnknownFields()
	err := d.Decode(in)
	var typ *json.UnmarshalTypeError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &typ) && slices.Contains(tokenFields, typ.Field):
		return errs.E(errs.Invalid, "invalid_tokens", "%s must be a whole number (a JSON integer); got %s", typ.Field, typ.Value)
	case errors.As(err, &typ) && (typ.Field == "units" || strings.HasPrefix(typ.Field, "units.")):
		return errs.E(errs.Invalid, "invalid_unit", "units must be an object of unit names and whole-number counts; got %s", typ.Value)
	case errors.As(err, &typ) && typ.Field == "service_tier":
		return errs.E(errs.Invalid, "invalid_service_tier", "service_tier must be a string")
	case errors.As(err, &typ) && typ.Field == "timestamp":
		return errs.E(errs.Invalid, "invalid_timestamp", "timestamp must be an RFC 3339 string")
	case errors.As(err, &typ):
		return httpjson.FieldTypeError(typ)
	}
	if err := httpjson.UnknownFieldError(err); err != nil {
		return err
	}
	return errs.E(errs.Invalid, "invalid_event", "the event could not be read")
}

// idOf returns the event's id when it is a string, for reporting a rejection.
func idOf(raw json.RawMessage) string {
	var v struct {
		ID any `json:"id"`
	}
	json.Unmarshal(raw, &v)
	id, _ := v.ID.(string)
	return id
}

func errMessage(err error) string {
	var e *errs.Error
	if errors.As(err, &e) {
		return e.Message
	}
	return err.Error()
}
