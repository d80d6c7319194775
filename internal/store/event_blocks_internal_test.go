package store

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"spectra/internal/metering"
	"spectra/internal/pricing"
)

// TestDecodeBlock: blocks written by encodeEvent, and the same JSON as other encoders
// write it (PostgreSQL's jsonb adds spaces), decode to the events encoded.
func TestDecodeBlock(t *testing.T) {
	evs := []metering.Event{
		{ID: "a", Timestamp: time.UnixMicro(1740000000123456).UTC(), KeyID: "k", Project: "p\"q", Member: "ü\\n", Model: "m",
			Usage: pricing.Usage{Input: 10, CachedInput: 2, CacheWrite: 3, Output: 4, Reasoning: 1}, Cost: 99, Source: "gateway", Endpoint: "/v1/x",
			Status: 200, LatencyMS: 12, Stream: true, Estimated: true, Metadata: json.RawMessage(`{"a":"<b>\n"}`), Hash: "h1"},
		{ID: "b\t", Timestamp: time.UnixMicro(-5).UTC(), Model: "m", Source: "api", Hash: "h2"},
	}
	data := "["
	for i := range evs {
		if i > 0 {
			data += ","
		}
		data += string(encodeEvent(&evs[i]))
		evs[i].WorkspaceID, evs[i].IngestedAt = "ws", time.UnixMicro(7).UTC()
		evs[i].CostExact, evs[i].BilledTier = pricing.ExactOf(evs[i].Cost), "default" // no price recorded: as before migration 0022
	}
	data += "]"
	var generic any
	if err := json.Unmarshal([]byte(data), &generic); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, data)
	}
	spaced, _ := json.MarshalIndent(generic, " ", "  ")
	for _, d := range []string{data, string(spaced)} {
		got, err := decodeBlock("ws", 7, d)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, evs) {
			t.Errorf("decoded %+v\nwant %+v", got, evs)
		}
	}
	for _, bad := range []string{"", "[", "[[]]", `[["a",1]]`, data + "x", data[:len(data)-1]} {
		if _, err := decodeBlock("ws", 7, bad); err == nil {
			t.Errorf("%q decoded", bad)
		}
	}
	if got, err := decodeBlock("ws", 7, " [ ] "); err != nil || len(got) != 0 {
		t.Errorf("empty block: %v %v", got, err)
	}
}
