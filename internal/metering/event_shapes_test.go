package metering

import (
	"testing"
	"time"

	"spectra/internal/errs"
	"spectra/internal/pricing"
)

// The usage shapes of issue 15 (modality tokens, units, the service tier) enter an
// event's content hash when present, in one canonical form; an event without them
// hashes as before, and the unit web_search_call is the old web search count.
func TestContentHashShapes(t *testing.T) {
	now := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	base := Event{ID: "e", WorkspaceID: "ws", Model: "m", Timestamp: now, Usage: pricing.Usage{Input: 10, CacheWrite: 8, Output: 6}}
	hash := func(edit func(e *Event)) string {
		t.Helper()
		e := base
		edit(&e)
		if err := e.Prepare(now); err != nil {
			t.Fatal(err)
		}
		return e.Hash
	}
	plain := hash(func(*Event) {})
	search := hash(func(e *Event) { e.Usage.WebSearchCalls = 2 })
	if got := hash(func(e *Event) { e.Usage.Units = map[string]int64{"web_search_call": 2} }); got != search {
		t.Errorf("units.web_search_call hashes %s; web_search_calls %s: the same count must be the same event", got, search)
	}
	for name, same := range map[string]func(e *Event){
		"service tier default": func(e *Event) { e.ServiceTier = "default" },
		"a unit counted 0":     func(e *Event) { e.Usage.Units = map[string]int64{"image_hd": 0} },
		"empty units":          func(e *Event) { e.Usage.Units = map[string]int64{} },
	} {
		if got := hash(same); got != plain {
			t.Errorf("%s: hash %s; want the plain event's %s", name, got, plain)
		}
	}
	seen := map[string]string{plain: "plain", search: "web search"}
	for name, edit := range map[string]func(e *Event){
		"audio input":       func(e *Event) { e.Usage.AudioInput = 1 },
		"audio output":      func(e *Event) { e.Usage.AudioOutput = 1 },
		"image input":       func(e *Event) { e.Usage.ImageInput = 1 },
		"image output":      func(e *Event) { e.Usage.ImageOutput = 1 },
		"a unit":            func(e *Event) { e.Usage.Units = map[string]int64{"image_hd": 1} },
		"a unit counted 2":  func(e *Event) { e.Usage.Units = map[string]int64{"image_hd": 2} },
		"another unit":      func(e *Event) { e.Usage.Units = map[string]int64{"image_sd": 1} },
		"two units":         func(e *Event) { e.Usage.Units = map[string]int64{"image_hd": 1, "image_sd": 1} },
		"flex":              func(e *Event) { e.ServiceTier = "flex" },
		"flex in the usage": func(e *Event) { e.Usage.ServiceTier = "priority" },
	} {
		h := hash(edit)
		if other, ok := seen[h]; ok {
			t.Errorf("%s hashes as %s", name, other)
		}
		seen[h] = name
	}
}

// Prepare validates the shapes (pricing's rules) and bounds the modality counts.
func TestPrepareShapes(t *testing.T) {
	now := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name string
		edit func(e *Event)
		code string
	}{
		{"audio over input", func(e *Event) { e.Usage.AudioInput = 11 }, "modality_exceeds_input"},
		{"image over uncached input", func(e *Event) { e.Usage.CachedInput = 5; e.Usage.ImageInput = 6 }, "modality_exceeds_input"},
		{"audio over output", func(e *Event) { e.Usage.AudioOutput = 7 }, "modality_exceeds_output"},
		{"negative audio", func(e *Event) { e.Usage.AudioInput = -1 }, "negative_tokens"},
		{"bad unit name", func(e *Event) { e.Usage.Units = map[string]int64{"Web Search": 1} }, "invalid_unit"},
		{"negative unit", func(e *Event) { e.Usage.Units = map[string]int64{"x": -1} }, "invalid_unit"},
		{"huge unit", func(e *Event) { e.Usage.Units = map[string]int64{"x": pricing.MaxUnitCount + 1} }, "invalid_unit"},
		{"bad tier", func(e *Event) { e.ServiceTier = "Flex!" }, "invalid_service_tier"},
		{"too many audio tokens", func(e *Event) {
			e.Usage.Input, e.Usage.AudioInput = MaxTokensPerField+1, MaxTokensPerField+1
		}, "too_many_tokens"},
	} {
		e := Event{ID: "e", WorkspaceID: "ws", Model: "m", Timestamp: now, Usage: pricing.Usage{Input: 10, Output: 6}}
		tt.edit(&e)
		if err := e.Prepare(now); errs.CodeOf(err) != tt.code {
			t.Errorf("%s: %v; want %s", tt.name, err, tt.code)
		}
	}
	e := Event{ID: "e", WorkspaceID: "ws", Model: "m", Timestamp: now, ServiceTier: "default",
		Usage: pricing.Usage{Input: 10, Output: 6, Units: map[string]int64{"web_search_call": 3, "zero": 0}}}
	if err := e.Prepare(now); err != nil || e.ServiceTier != "" || e.Usage.WebSearchCalls != 3 || e.Usage.Units != nil {
		t.Fatalf("canonical form: %+v %v; want tier \"\", 3 web searches, no other units", e, err)
	}
}
