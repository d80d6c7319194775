package api

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"spectra/internal/errs"
	"spectra/internal/metering"
	"spectra/internal/team"
	"spectra/internal/text"
)

// FuzzEventBatch feeds arbitrary bodies through the ingestion API's parser, the path from
// a POST /api/v1/events body to prepared metering.Events (decodeEvent, then Prepare), as
// an inference key and as the operator. It never panics; every refusal is an
// *errs.Error of kind Invalid with a code; and every event it accepts keeps the rules:
// a visible, trimmed id, text fields under the text rule, token counts within bounds,
// canonical metadata and a content hash.
func FuzzEventBatch(f *testing.F) {
	now := time.Date(2025, 3, 12, 12, 0, 0, 0, time.UTC)
	for _, s := range []string{
		`{"events":[{"id":"e1","model":"gpt-a","timestamp":"2025-03-12T11:00:00Z","input_tokens":10,"output_tokens":5}]}`,
		`{"events":[{"id":"e1","model":"gpt-a","timestamp":"2025-03-12T11:00:00Z","project":"p","member":"m","metadata":{"a":[1,"x",{"b":null}]}}]}`,
		`{"events":[{"id":"e\u0000","model":"gpt-a","timestamp":"2025-03-12T11:00:00Z"},{"id":"ok","model":"gpt-a","timestamp":"2025-03-12T11:00:00Z"}]}`,
		`{"events":[{"id":"   ","model":"gpt-a","timestamp":"2025-03-12T11:00:00Z"}]}`,
		`{"events":[{"id":"e","model":"gpt-a","timestamp":"2025-03-12T11:00:00Z","project":"\u0000","metadata":{"k\u0000":"v"}}]}`,
		`{"events":[{"id":"e","model":"gpt-a","timestamp":"2025-03-12T11:00:00Z","input_tokens":1e3}]}`,
		`{"events":[{"id":"e","model":"gpt-a","timestamp":"2025-03-12T11:00:00Z","input_tokens":99999999999999999999}]}`,
		`{"events":[{"id":"e","model":"gpt-a","timestamp":"2025-03-12T11:00:00Z","cached_input_tokens":5,"input_tokens":1,"reasoning_tokens":2}]}`,
		`{"events":[{"id":"e","workspace_id":"ws_1","key_id":"key_x","model":"gpt-a","timestamp":1741780800}]}`,
		`{"events":[42,null,"x",[],{}]}`,
		`{"events":[{"id":"\ud800","model":"gpt-a","timestamp":"2025-03-12T11:00:00Z"}]}`,
		`{"events":[{"id":"e","model":"gpt-a","timestamp":"2025-03-12T11:00:00Z","metadata":"x"}]}`,
		`{"events":[{"id":"e","ID":"f","model":"gpt-a","timestamp":"2025-03-12T11:00:00Z"}]}`,
		`{"events":[`, `{}`, `[]`, ``,
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	key := team.APIKey{ID: "key_1", WorkspaceID: "ws_1", Kind: team.KindInference, Project: "default", MemberID: "m1"}
	f.Fuzz(func(t *testing.T, body []byte, operator bool) {
		var req eventsRequest
		if json.Unmarshal(body, &req) != nil {
			return // the body as a whole is refused by decodeBody before any event is read
		}
		p := principal{operator: operator, key: key}
		if operator {
			p.key = team.APIKey{}
		}
		for _, raw := range req.Events {
			e, err := decodeEvent(raw, p)
			if err == nil {
				err = e.Prepare(now)
			}
			if err != nil {
				var de *errs.Error
				if !errorsAs(err, &de) || de.Kind != errs.Invalid || de.Code == "" || de.Message == "" {
					t.Fatalf("event %s: refusal %#v is not an invalid *errs.Error with a code and message", raw, err)
				}
				continue
			}
			checkPrepared(t, raw, e, p)
		}
	})
}

func errorsAs(err error, target **errs.Error) bool {
	e, ok := err.(*errs.Error)
	*target = e
	return ok
}

// checkPrepared checks the invariants of an accepted event.
func checkPrepared(t *testing.T, raw json.RawMessage, e metering.Event, p principal) {
	t.Helper()
	if e.ID != strings.TrimSpace(e.ID) || !text.Visible(e.ID) || len(e.ID) > metering.MaxIDLength {
		t.Fatalf("event %s: accepted id %q", raw, e.ID)
	}
	for _, s := range []string{e.ID, e.WorkspaceID, e.KeyID, e.Model, e.Project, e.Member} {
		if pr := text.Problem(s, false); pr != "" || len(s) > metering.MaxLabelLength {
			t.Fatalf("event %s: accepted text %q (%s)", raw, s, pr)
		}
	}
	if !p.operator && (e.WorkspaceID != p.key.WorkspaceID || e.KeyID != p.key.ID) {
		t.Fatalf("event %s: attributed to %s/%s, not the key's", raw, e.WorkspaceID, e.KeyID)
	}
	u := e.Usage
	for _, n := range []int64{u.Input, u.CachedInput, u.CacheWrite, u.Output, u.Reasoning} {
		if n < 0 || n > metering.MaxTokensPerField {
			t.Fatalf("event %s: accepted token count %d", raw, n)
		}
	}
	if u.CachedInput > u.Input || u.Reasoning > u.Output {
		t.Fatalf("event %s: accepted usage %+v", raw, u)
	}
	if e.Hash == "" || e.Timestamp.IsZero() || e.Timestamp.Location() != time.UTC {
		t.Fatalf("event %s: not prepared: %+v", raw, e)
	}
	if e.Metadata != nil {
		var m map[string]any
		if err := json.Unmarshal(e.Metadata, &m); err != nil || len(e.Metadata) > metering.MaxMetadataBytes {
			t.Fatalf("event %s: accepted metadata %s (%v)", raw, e.Metadata, err)
		}
		if strings.Contains(string(e.Metadata), `\u0000`) {
			t.Fatalf("event %s: accepted metadata with a NUL: %s", raw, e.Metadata)
		}
		again := metering.Event{ID: "x", WorkspaceID: "w", Model: "m", Timestamp: e.Timestamp, Metadata: e.Metadata}
		if err := again.Prepare(e.Timestamp); err != nil || string(again.Metadata) != string(e.Metadata) {
			t.Fatalf("event %s: metadata %s is not canonical: %s (%v)", raw, e.Metadata, again.Metadata, err)
		}
	}
}
