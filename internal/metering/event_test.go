package metering

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"spectra/internal/errs"
	"spectra/internal/pricing"
)

var prepNow = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func validEvent() Event {
	return Event{ID: "ev-1", WorkspaceID: "ws_1", Model: "gpt-x", Timestamp: prepNow.Add(-time.Hour),
		Usage: pricing.Usage{Input: 100, CachedInput: 20, Output: 50, Reasoning: 10}}
}

func TestPrepareRejections(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Event)
		code   string
	}{
		{"missing id", func(e *Event) { e.ID = "" }, "missing_id"},
		{"id too long", func(e *Event) { e.ID = strings.Repeat("x", MaxIDLength+1) }, "invalid_id"},
		{"id not UTF-8", func(e *Event) { e.ID = "a\xffb" }, "invalid_text"},
		{"id of spaces", func(e *Event) { e.ID = "   " }, "invalid_id"},
		{"id of a tab", func(e *Event) { e.ID = "\t" }, "invalid_id"},
		{"id of invisible characters", func(e *Event) { e.ID = "\u200b\u00a0" }, "invalid_id"},
		{"id with a NUL", func(e *Event) { e.ID = "ev\x00" }, "invalid_text"},
		{"id with a control character", func(e *Event) { e.ID = "ev\x1b[1m" }, "invalid_text"},
		{"id with a line separator", func(e *Event) { e.ID = "ev\u2028x" }, "invalid_text"},
		{"workspace with a NUL", func(e *Event) { e.WorkspaceID = "ws\x00" }, "invalid_text"},
		{"key with a NUL", func(e *Event) { e.KeyID = "key\x00" }, "invalid_text"},
		{"project with a NUL", func(e *Event) { e.Project = "p\x00" }, "invalid_text"},
		{"member with a NUL", func(e *Event) { e.Member = "\x00" }, "invalid_text"},
		{"member with a newline", func(e *Event) { e.Member = "a\nb" }, "invalid_text"},
		{"project with a C1 control", func(e *Event) { e.Project = "p\u0085" }, "invalid_text"},
		{"metadata value with a NUL", func(e *Event) { e.Metadata = json.RawMessage(`{"a":"x\u0000y"}`) }, "invalid_text"},
		{"metadata key with a NUL", func(e *Event) { e.Metadata = json.RawMessage(`{"a\u0000":1}`) }, "invalid_text"},
		{"metadata key with a newline", func(e *Event) { e.Metadata = json.RawMessage(`{"a\nb":1}`) }, "invalid_text"},
		{"nested metadata with a NUL", func(e *Event) { e.Metadata = json.RawMessage(`{"a":[{"b":"\u0000"}]}`) }, "invalid_text"},
		{"missing workspace", func(e *Event) { e.WorkspaceID = "" }, "missing_workspace"},
		{"missing model", func(e *Event) { e.Model = "" }, "missing_model"},
		{"invalid model", func(e *Event) { e.Model = "gpt 4" }, "invalid_model"},
		{"missing timestamp", func(e *Event) { e.Timestamp = time.Time{} }, "missing_timestamp"},
		{"timestamp in the future", func(e *Event) { e.Timestamp = prepNow.Add(MaxFutureSkew + time.Second) }, "timestamp_in_future"},
		{"timestamp before 2000", func(e *Event) { e.Timestamp = time.Date(1999, 12, 31, 23, 0, 0, 0, time.UTC) }, "timestamp_too_old"},
		{"project too long", func(e *Event) { e.Project = strings.Repeat("p", MaxLabelLength+1) }, "invalid_label"},
		{"member not UTF-8", func(e *Event) { e.Member = "\xc3" }, "invalid_text"},
		{"negative input", func(e *Event) { e.Usage.Input = -1 }, "negative_tokens"},
		{"negative output", func(e *Event) { e.Usage.Output = -5 }, "negative_tokens"},
		{"negative cache write", func(e *Event) { e.Usage.CacheWrite = -5 }, "negative_tokens"},
		{"cached above input", func(e *Event) { e.Usage.CachedInput = 101 }, "cached_exceeds_input"},
		{"reasoning above output", func(e *Event) { e.Usage.Reasoning = 51 }, "reasoning_exceeds_output"},
		{"too many input tokens", func(e *Event) { e.Usage.Input = MaxTokensPerField + 1 }, "too_many_tokens"},
		{"too many output tokens", func(e *Event) { e.Usage.Output = MaxTokensPerField + 1 }, "too_many_tokens"},
		{"too many cache-write tokens", func(e *Event) { e.Usage.CacheWrite = MaxTokensPerField + 1 }, "too_many_tokens"},
		{"metadata not an object", func(e *Event) { e.Metadata = json.RawMessage(`[1,2]`) }, "invalid_metadata"},
		{"metadata not JSON", func(e *Event) { e.Metadata = json.RawMessage(`{"a":`) }, "invalid_metadata"},
		{"metadata too large", func(e *Event) {
			e.Metadata = json.RawMessage(`{"a":"` + strings.Repeat("x", MaxMetadataBytes) + `"}`)
		}, "metadata_too_large"},
	}
	for _, tt := range tests {
		e := validEvent()
		tt.change(&e)
		err := e.Prepare(prepNow)
		if !errs.Is(err, tt.code) || errs.KindOf(err) != errs.Invalid {
			t.Errorf("%s: Prepare = %v; want %s", tt.name, err, tt.code)
		}
	}
}

func TestPrepareAccepts(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Event)
	}{
		{"valid", func(*Event) {}},
		{"at the future skew limit", func(e *Event) { e.Timestamp = prepNow.Add(MaxFutureSkew) }},
		{"the year 2000", func(e *Event) { e.Timestamp = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC) }},
		{"longest id", func(e *Event) { e.ID = strings.Repeat("é", MaxIDLength/2) }},
		{"max tokens", func(e *Event) {
			e.Usage = pricing.Usage{Input: MaxTokensPerField, Output: MaxTokensPerField, CacheWrite: MaxTokensPerField}
		}},
		{"null metadata", func(e *Event) { e.Metadata = json.RawMessage(`null`) }},
		{"metadata text with tabs and newlines", func(e *Event) { e.Metadata = json.RawMessage(`{"note":"a\tb\r\nc"}`) }},
		{"labels in any script", func(e *Event) { e.Project, e.Member = "プロジェクト", "Zoë 👩‍💻" }},
		{"zero tokens", func(e *Event) { e.Usage = pricing.Usage{} }},
	}
	for _, tt := range tests {
		e := validEvent()
		tt.change(&e)
		if err := e.Prepare(prepNow); err != nil {
			t.Errorf("%s: Prepare = %v", tt.name, err)
		}
		if len(e.Hash) != 32 {
			t.Errorf("%s: hash %q", tt.name, e.Hash)
		}
	}
}

func TestPrepareNormalises(t *testing.T) {
	e := validEvent()
	e.Timestamp = time.Date(2025, 3, 1, 13, 0, 0, 123456789, time.FixedZone("CET", 3600))
	e.Metadata = json.RawMessage(`{ "b": 1.50, "a": {"y": true, "x": null} }`)
	if err := e.Prepare(prepNow); err != nil {
		t.Fatal(err)
	}
	if e.Timestamp != time.Date(2025, 3, 1, 12, 0, 0, 123456000, time.UTC) {
		t.Errorf("timestamp = %s; want UTC, whole microseconds", e.Timestamp)
	}
	if string(e.Metadata) != `{"a":{"x":null,"y":true},"b":1.50}` {
		t.Errorf("metadata = %s; want sorted keys and numbers kept as written", e.Metadata)
	}
	if n := validEvent(); n.Prepare(prepNow) == nil && n.Metadata != nil {
		t.Errorf("no metadata became %s", n.Metadata)
	}
}

// TestContentHash: the hash covers what the client said about the event (so a changed
// field is a conflict) but not how it arrived (key, source, hold, gateway details).
func TestContentHash(t *testing.T) {
	base := validEvent()
	base.Metadata = json.RawMessage(`{"a":1,"b":2}`)
	hash := func(change func(*Event)) string {
		e := base
		change(&e)
		if err := e.Prepare(prepNow); err != nil {
			t.Fatal(err)
		}
		return e.Hash
	}
	h0 := hash(func(*Event) {})
	same := map[string]func(*Event){
		"key":              func(e *Event) { e.KeyID = "key_2" },
		"source":           func(e *Event) { e.Source = "gateway" },
		"endpoint":         func(e *Event) { e.Endpoint = "/v1/chat/completions"; e.Status = 200; e.LatencyMS = 9; e.Stream = true },
		"metadata order":   func(e *Event) { e.Metadata = json.RawMessage(`{"b":2,"a":1}`) },
		"timestamp zone":   func(e *Event) { e.Timestamp = e.Timestamp.In(time.FixedZone("X", -7*3600)) },
		"sub-microseconds": func(e *Event) { e.Timestamp = e.Timestamp.Add(999) },
	}
	for name, change := range same {
		if h := hash(change); h != h0 {
			t.Errorf("changing %s changed the hash", name)
		}
	}
	differ := map[string]func(*Event){
		"id":          func(e *Event) { e.ID = "ev-2" },
		"workspace":   func(e *Event) { e.WorkspaceID = "ws_2" },
		"model":       func(e *Event) { e.Model = "gpt-y" },
		"timestamp":   func(e *Event) { e.Timestamp = e.Timestamp.Add(time.Microsecond) },
		"input":       func(e *Event) { e.Usage.Input++ },
		"cached":      func(e *Event) { e.Usage.CachedInput++ },
		"cache write": func(e *Event) { e.Usage.CacheWrite++ },
		"output":      func(e *Event) { e.Usage.Output++ },
		"reasoning":   func(e *Event) { e.Usage.Reasoning++ },
		"project":     func(e *Event) { e.Project = "p" },
		"member":      func(e *Event) { e.Member = "m" },
		"metadata":    func(e *Event) { e.Metadata = json.RawMessage(`{"a":1,"b":3}`) },
		// Length-prefixed fields: moving a character from one label to the next is a change.
		"label boundary": func(e *Event) { e.Project, e.Member = "ab", "" },
	}
	seen := map[string]string{h0: "base"}
	for name, change := range differ {
		h := hash(change)
		if other, dup := seen[h]; dup {
			t.Errorf("changing %s gives the same hash as %s", name, other)
		}
		seen[h] = name
	}
	a := hash(func(e *Event) { e.Project, e.Member = "a", "b" })
	b := hash(func(e *Event) { e.Project, e.Member = "ab", "" })
	if a == b {
		t.Error(`project "a" + member "b" hashes like project "ab"`)
	}
}

// TestPrepareTrimsID: spaces around an id are not part of it, so " ev-1 " is the event
// "ev-1" (and its duplicate).
func TestPrepareTrimsID(t *testing.T) {
	a, b := validEvent(), validEvent()
	b.ID = " \tev-1 \n"
	if err := a.Prepare(prepNow); err != nil {
		t.Fatal(err)
	}
	if err := b.Prepare(prepNow); err != nil {
		t.Fatal(err)
	}
	if b.ID != "ev-1" || a.Hash != b.Hash {
		t.Fatalf("id %q hash %s, want ev-1 and %s", b.ID, b.Hash, a.Hash)
	}
}
