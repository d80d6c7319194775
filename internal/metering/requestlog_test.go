package metering_test

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"spectra/internal/errs"
	"spectra/internal/metering"
	"spectra/internal/pricing"
)

func TestParseSort(t *testing.T) {
	for in, want := range map[string]metering.Sort{"": metering.SortTime, "time": metering.SortTime, "cost": metering.SortCost,
		"tokens": metering.SortTokens, "latency": metering.SortLatency} {
		if got, err := metering.ParseSort(in); err != nil || got != want {
			t.Errorf("ParseSort(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"Cost", "price", "time ", "-cost"} {
		if _, err := metering.ParseSort(in); errs.CodeOf(err) != "invalid_sort" {
			t.Errorf("ParseSort(%q): %v; want invalid_sort", in, err)
		}
	}
}

// TestSortOrder: each sort is highest first, ties broken by time (newest first) and
// then by id (descending); tokens are input plus output.
func TestSortOrder(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a := metering.Event{ID: "a", Timestamp: t0, Cost: 5, LatencyMS: 9, Usage: pricing.Usage{Input: 10, Output: 5, CachedInput: 10, Reasoning: 5}}
	b := metering.Event{ID: "b", Timestamp: t0, Cost: 5, LatencyMS: 9, Usage: pricing.Usage{Input: 3, Output: 12}}
	c := metering.Event{ID: "c", Timestamp: t0.Add(time.Second), Cost: 4, LatencyMS: 10, Usage: pricing.Usage{Input: 1}}
	for _, tc := range []struct {
		s    metering.Sort
		want string
	}{{metering.SortTime, "cba"}, {"", "cba"}, {metering.SortCost, "bac"}, {metering.SortTokens, "bac"}, {metering.SortLatency, "cba"}} {
		evs := []*metering.Event{&a, &b, &c}
		for i := range evs {
			for j := i + 1; j < len(evs); j++ {
				if tc.s.Compare(evs[j], evs[i]) < 0 {
					evs[i], evs[j] = evs[j], evs[i]
				}
			}
		}
		var got string
		for _, e := range evs {
			got += e.ID
		}
		if got != tc.want {
			t.Errorf("sort %q: %s; want %s", tc.s, got, tc.want)
		}
		// A cursor at the middle event passes exactly the last one.
		cur := metering.CursorOf(tc.s, *evs[1])
		if cur.Passed(evs[0]) || cur.Passed(evs[1]) || !cur.Passed(evs[2]) {
			t.Errorf("sort %q: the cursor of %s passes the wrong events", tc.s, evs[1].ID)
		}
	}
}

func TestCursorText(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 123000, time.UTC)
	for _, c := range []metering.Cursor{
		{Sort: metering.SortTime, Time: t0, ID: "req.with.dots"},
		{Sort: metering.SortCost, Value: 123456789, Time: t0, ID: "ü/é"},
		{Sort: metering.SortLatency, Value: 0, Time: time.UnixMicro(-5).UTC(), ID: "x"},
	} {
		got, err := metering.ParseCursor(c.String())
		if err != nil || got != c {
			t.Errorf("ParseCursor(%q) = %+v, %v; want %+v", c.String(), got, err, c)
		}
	}
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for _, bad := range []string{"", "!!", enc("v2.time.0.1.x"), enc("v1.time.0.1."), enc("v1.size.0.1.x"), enc("v1..0.1.x"),
		enc("v1.cost.x.1.x"), enc("v1.cost.1.y.x"), enc("v1.time.5.1.x"), enc("v1.cost.1.1." + strings.Repeat("x", 300))} {
		if _, err := metering.ParseCursor(bad); errs.CodeOf(err) != "invalid_cursor" {
			t.Errorf("ParseCursor(%q): %v; want invalid_cursor", bad, err)
		}
	}
}

// TestEventsRejections: the request log refuses an unknown sort, a cursor of another
// sort and ids that break the text rule, each with its code; Event answers
// request_not_found for any id it does not hold, well-formed or not.
func TestEventsRejections(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.catalog(t)
		ws := e.Workspace(t, 0)
		e.ingest(t, []metering.Event{{ID: "r1", WorkspaceID: ws, Model: "gpt-x", Timestamp: e.Clock.Now(), Usage: pricing.Usage{Input: 10}}})
		cost := metering.Cursor{Sort: metering.SortCost, Value: 1, Time: e.Clock.Now(), ID: "r1"}
		for _, c := range []struct {
			f    metering.EventFilter
			code string
		}{
			{metering.EventFilter{Sort: "size"}, "invalid_sort"},
			{metering.EventFilter{Cursor: &cost}, "invalid_cursor"},
			{metering.EventFilter{Sort: metering.SortTokens, Cursor: &cost}, "invalid_cursor"},
			{metering.EventFilter{Sort: metering.SortCost, BeforeTime: e.Clock.Now(), BeforeID: "r1"}, "invalid_cursor"},
			{metering.EventFilter{ID: "a\x00b"}, "invalid_text"},
		} {
			c.f.WorkspaceID = ws
			if _, err := e.Meter.Events(ctx, c.f); errs.CodeOf(err) != c.code {
				t.Errorf("%+v: %v; want %s", c.f, err, c.code)
			}
		}
		if got, err := e.Meter.Events(ctx, metering.EventFilter{WorkspaceID: ws, Sort: metering.SortCost, Cursor: &cost}); err != nil || len(got) != 0 {
			t.Errorf("a cost cursor past the only event: %v %v", got, err)
		}
		for _, id := range []string{"", "nope", "a\x00b", strings.Repeat("x", 300)} {
			if _, err := e.Meter.Event(ctx, ws, id); errs.CodeOf(err) != "request_not_found" || errs.KindOf(err) != errs.NotFound {
				t.Errorf("Event(%q): %v; want request_not_found", id, err)
			}
		}
		if got, err := e.Meter.Event(ctx, ws, "r1"); err != nil || got.ID != "r1" || !charged(t, got, got.Cost, true) {
			t.Errorf("Event(r1) = %+v, %v", got, err)
		}
	})
}
