package api_test

import (
	"strings"
	"testing"
	"time"

	"spectra/internal/metering"
)

// TestEventsMixedBatch sends good events among one bad event per rejection code: every
// bad one is rejected with its index, id and code, and the good ones are applied.
func TestEventsMixedBatch(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ws := e.workspace(map[string]any{"name": "Acme"}).ID
		other := e.workspace(map[string]any{"name": "Other"}).ID
		e.price("gpt-a", "1.00", "0.50", "2.00")
		e.price("gpt-gold", "9000000000000", "0", "0")
		e.grant(ws, "10.00", "g")
		key := e.key(ws, map[string]any{"name": "ci", "project": "default-project", "member_id": "m1"})
		at := t0.Add(-time.Hour)

		good := ev("good-1", "gpt-a", at, 1_000_000, 0, 0) // 1.000000
		good2 := ev("good-2", "gpt-a", at, 0, 0, 1_000_000)
		good2["project"] = "explicit" // 2.000000, in its own project
		with := func(m map[string]any, k string, v any) map[string]any {
			m[k] = v
			return m
		}
		without := func(m map[string]any, k string) map[string]any {
			delete(m, k)
			return m
		}
		batch := []any{
			good,
			without(ev("", "gpt-a", at, 1, 0, 1), "id"),
			ev("neg", "gpt-a", at, -1, 0, 1),
			ev("cached", "gpt-a", at, 10, 11, 1),
			ev("unknown-model", "gpt-nope", at, 1, 0, 1),
			ev("future", "gpt-a", t0.Add(time.Hour), 1, 0, 1),
			with(ev("fraction", "gpt-a", at, 0, 0, 1), "input_tokens", 1.5),
			with(ev("string", "gpt-a", at, 0, 0, 1), "output_tokens", "5"),
			with(ev("other-ws", "gpt-a", at, 1, 0, 1), "workspace_id", other),
			with(ev("other-key", "gpt-a", at, 1, 0, 1), "key_id", "key_someone_else"),
			with(ev("typo", "gpt-a", at, 1, 0, 1), "input_token", 5),
			42,
			with(ev("bad-time", "gpt-a", at, 1, 0, 1), "timestamp", "yesterday"),
			with(ev("reasoning", "gpt-a", at, 1, 0, 1), "reasoning_tokens", 2),
			without(ev("no-model", "gpt-a", at, 1, 0, 1), "model"),
			without(ev("no-time", "gpt-a", at, 1, 0, 1), "timestamp"),
			with(ev("bad-meta", "gpt-a", at, 1, 0, 1), "metadata", []int{1}),
			ev("ancient", "gpt-a", time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC), 1, 0, 1),
			ev("before-price", "gpt-a", time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC), 1, 0, 1),
			with(ev("", "gpt-a", at, 1, 0, 1), "id", 7),
			with(ev("bad-model-name", "gpt a", at, 1, 0, 1), "model", "gpt a"),
			ev(strings.Repeat("x", 256), "gpt-a", at, 1, 0, 1),
			with(ev("big-meta", "gpt-a", at, 1, 0, 1), "metadata", map[string]string{"x": strings.Repeat("y", metering.MaxMetadataBytes)}),
			with(ev("label", "gpt-a", at, 1, 0, 1), "project", strings.Repeat("p", 256)),
			ev("huge", "gpt-a", at, 1<<41, 0, 1),
			with(ev("ts-type", "gpt-a", at, 1, 0, 1), "timestamp", 1741780800),
			ev("overflow", "gpt-gold", at, metering.MaxTokensPerField, 0, 0),
			good2,
		}
		wantCodes := map[int]string{
			1: "missing_id", 2: "negative_tokens", 3: "cached_exceeds_input", 4: "unknown_model", 5: "timestamp_in_future",
			6: "invalid_tokens", 7: "invalid_tokens", 8: "workspace_mismatch", 9: "key_mismatch", 10: "unknown_field",
			11: "invalid_event", 12: "invalid_timestamp", 13: "reasoning_exceeds_output", 14: "missing_model",
			15: "missing_timestamp", 16: "invalid_metadata", 17: "timestamp_too_old", 18: "no_price_in_effect",
			19: "invalid_field_type", 20: "invalid_model", 21: "invalid_id", 22: "metadata_too_large", 23: "invalid_label",
			24: "too_many_tokens", 25: "invalid_timestamp", 26: "cost_overflow",
		}
		res := e.send(key.Key, batch...)
		if res.Accepted != 2 || res.Duplicates != 0 || len(res.Rejected) != len(wantCodes) {
			t.Fatalf("result: accepted %d duplicates %d rejected %d: %+v", res.Accepted, res.Duplicates, len(res.Rejected), res.Rejected)
		}
		for i, r := range res.Rejected {
			if i > 0 && res.Rejected[i-1].Index >= r.Index {
				t.Errorf("rejections out of order: %+v", res.Rejected)
			}
			if wantCodes[r.Index] != r.Code || r.Error == "" {
				t.Errorf("event %d (%s): code %q (%s), want %q", r.Index, r.ID, r.Code, r.Error, wantCodes[r.Index])
			}
		}
		if r := res.Rejected[2]; r.ID != "cached" {
			t.Errorf("rejection carries id %q, want %q", r.ID, "cached")
		}
		if b := e.balance(ws); b.Balance != "7.000000" {
			t.Fatalf("balance: %+v", b)
		}
		u := e.usage(ws, "group_by=project,member,key")
		var got []string
		for _, b := range u.Buckets {
			for _, r := range b.Results {
				got = append(got, *r.Project+"/"+*r.Member+"/"+*r.KeyID+"="+r.Cost)
			}
		}
		if want := "default-project/m1/" + key.ID + "=1.000000 explicit/m1/" + key.ID + "=2.000000"; strings.Join(got, " ") != want {
			t.Fatalf("usage: %v, want %s", got, want)
		}
		if b := e.balance(other); b.Balance != "0.000000" {
			t.Fatalf("the other workspace was charged: %+v", b)
		}

		// The same events again are duplicates; the same id with other contents is a conflict.
		changed := ev("good-1", "gpt-a", at, 2_000_000, 0, 0)
		res = e.send(key.Key, good, good2, changed)
		if res.Accepted != 0 || res.Duplicates != 2 || len(res.Rejected) != 1 || res.Rejected[0].Index != 2 || res.Rejected[0].Code != "idempotency_conflict" {
			t.Fatalf("replay: %+v", res)
		}
		if b := e.balance(ws); b.Balance != "7.000000" {
			t.Fatalf("balance after replay: %+v", b)
		}
	})
}

// TestEventsAsOperator: the operator names each event's workspace.
func TestEventsAsOperator(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ws := e.workspace(map[string]any{"name": "Acme"}).ID
		e.price("gpt-a", "1.00", "0.50", "2.00")
		at := t0.Add(-time.Hour)
		named := ev("op-1", "gpt-a", at, 1_000_000, 0, 0)
		named["workspace_id"] = ws
		named["key_id"] = "key_external"
		missing := ev("op-2", "gpt-a", at, 1, 0, 0)
		unknown := ev("op-3", "gpt-a", at, 1, 0, 0)
		unknown["workspace_id"] = "ws_nope"
		res := e.send(operatorToken, named, missing, unknown)
		if res.Accepted != 1 || len(res.Rejected) != 2 || res.Rejected[0].Code != "missing_workspace" || res.Rejected[1].Code != "workspace_not_found" {
			t.Fatalf("result: %+v", res)
		}
		if b := e.balance(ws); b.Balance != "-1.000000" {
			t.Fatalf("usage is a fact and posts past zero: %+v", b)
		}
		u := e.usage(ws, "group_by=key")
		last := u.Buckets[len(u.Buckets)-1]
		if len(last.Results) != 1 || *last.Results[0].KeyID != "key_external" {
			t.Fatalf("usage: %+v", last.Results)
		}
	})
}

// TestEventsBadBody: only a body that is not {"events":[…]} is refused as a whole.
func TestEventsBadBody(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ws := e.workspace(map[string]any{"name": "Acme"}).ID
		key := e.key(ws, map[string]any{"name": "ci"})
		for _, c := range []struct{ body, code string }{
			{`{"events":[`, "invalid_json"},
			{``, "invalid_json"},
			{`[]`, "invalid_json"},
			{`{"events":[]} {}`, "invalid_json"},
			{`{}`, "missing_events"},
			{`{"events":null}`, "missing_events"},
			{`{"events":5}`, "invalid_field_type"},
			{`{"events":[],"extra":1}`, "unknown_field"},
			{`{"events":[` + strings.Repeat(`{},`, metering.MaxBatch) + `{}]}`, "batch_too_large"},
		} {
			e.wantError("POST", "/api/v1/events", key.Key, c.body, 400, c.code)
		}
		// Over the 32 MiB limit.
		big := make([]byte, 0, 33<<20)
		big = append(big, `{"events":[`...)
		big = append(big, make([]byte, 33<<20-20)...)
		for i := 11; i < len(big); i++ {
			big[i] = ' '
		}
		big = append(big, `]}`...)
		e.wantError("POST", "/api/v1/events", key.Key, big, 400, "body_too_large")
	})
}
