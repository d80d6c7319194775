package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"spectra/internal/metering"
	"spectra/internal/requestlog"
	"spectra/internal/store"
	"spectra/internal/store/storetest"
)

func refusalAt(ws string, i int, ts time.Time) requestlog.Refusal {
	return requestlog.Refusal{ID: fmt.Sprintf("req_%s_%03d", ws, i), WorkspaceID: ws, Timestamp: ts, KeyID: "key_a", Member: "usr_a",
		Project: "p", Model: "gpt-x", Endpoint: "/v1/chat/completions", HTTPStatus: 429, Kind: requestlog.StatusRefused,
		Code: "rate_limit_exceeded", Message: "slow down", LatencyMS: int64(i % 7)}
}

// TestRefusalsStore: refusals are stored once by id, read back newest first (or by
// latency) with filters and a cursor, counted by code, and pruned by age and per
// workspace; another workspace's refusal is not found.
func TestRefusalsStore(t *testing.T) {
	storetest.Each(t, storetest.Options{}, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		var rs []requestlog.Refusal
		for i := range 10 {
			r := refusalAt("ws_a", i, base.Add(time.Duration(i)*time.Minute))
			if i%2 == 1 {
				r.Kind, r.Code, r.HTTPStatus, r.Member = requestlog.StatusUpstreamError, "upstream_error", 500, "usr_b"
			}
			rs = append(rs, r)
		}
		rs = append(rs, refusalAt("ws_b", 0, base))
		if err := db.InsertRefusals(ctx, rs); err != nil {
			t.Fatal(err)
		}
		if err := db.InsertRefusals(ctx, rs[:3]); err != nil { // a replay is skipped
			t.Fatal(err)
		}
		all, err := db.Refusals(ctx, requestlog.RefusalFilter{WorkspaceID: "ws_a", Limit: 100})
		if err != nil || len(all) != 10 || all[0].ID != "req_ws_a_009" || all[9].ID != "req_ws_a_000" {
			t.Fatalf("all: %d %v", len(all), err)
		}
		if got := all[0]; got != rs[9] {
			t.Fatalf("read back %+v, want %+v", got, rs[9])
		}
		up, _ := db.Refusals(ctx, requestlog.RefusalFilter{WorkspaceID: "ws_a", Kind: requestlog.StatusUpstreamError, Limit: 100})
		mem, _ := db.Refusals(ctx, requestlog.RefusalFilter{WorkspaceID: "ws_a", Filter: metering.Filter{Members: []string{"usr_a"}}, Limit: 100})
		win, _ := db.Refusals(ctx, requestlog.RefusalFilter{WorkspaceID: "ws_a", Start: base.Add(2 * time.Minute), End: base.Add(5 * time.Minute), Limit: 100})
		one, _ := db.Refusals(ctx, requestlog.RefusalFilter{WorkspaceID: "ws_a", ID: "req_ws_a_004", Limit: 100})
		none, _ := db.Refusals(ctx, requestlog.RefusalFilter{WorkspaceID: "ws_a", Filter: metering.Filter{Keys: []string{"key_zz"}}, Limit: 100})
		if len(up) != 5 || len(mem) != 5 || len(win) != 3 || len(one) != 1 || len(none) != 0 {
			t.Fatalf("filters: upstream %d, member %d, window %d, id %d, none %d", len(up), len(mem), len(win), len(one), len(none))
		}
		// Pages by cursor, in time order and by latency.
		for _, byLatency := range []bool{false, true} {
			var seen []string
			var after *metering.Cursor
			for {
				page, err := db.Refusals(ctx, requestlog.RefusalFilter{WorkspaceID: "ws_a", ByLatency: byLatency, After: after, Limit: 3})
				if err != nil {
					t.Fatal(err)
				}
				if len(page) == 0 {
					break
				}
				last := page[len(page)-1]
				c := metering.Cursor{Sort: metering.SortTime, Time: last.Timestamp, ID: last.ID}
				if byLatency {
					c.Sort, c.Value = metering.SortLatency, last.LatencyMS
				}
				after = &c
				for _, r := range page {
					seen = append(seen, r.ID)
				}
			}
			if len(seen) != 10 {
				t.Fatalf("byLatency=%v: paged %v", byLatency, seen)
			}
		}
		// A cost cursor past a charged event (value > 0) starts at the newest refusal.
		c := metering.Cursor{Sort: metering.SortCost, Value: 5, Time: base, ID: "req_x"}
		if got, _ := db.Refusals(ctx, requestlog.RefusalFilter{WorkspaceID: "ws_a", After: &c, Limit: 1}); len(got) != 1 || got[0].ID != "req_ws_a_009" {
			t.Fatalf("after a costed event: %v", got)
		}
		if _, err := db.Refusal(ctx, "ws_b", "req_ws_a_001"); err != requestlog.ErrNotFound {
			t.Fatalf("another workspace's refusal: %v", err)
		}
		if r, err := db.Refusal(ctx, "ws_a", "req_ws_a_001"); err != nil || r.Code != "upstream_error" {
			t.Fatalf("refusal: %+v %v", r, err)
		}
		counts, err := db.RefusalCounts(ctx, "ws_a", base, base.Add(time.Hour), 100)
		if err != nil || len(counts) != 2 || counts[0].Count != 5 {
			t.Fatalf("counts: %v %v", counts, err)
		}
		// At most the newest 3: minutes 9 (upstream), 8 and 7.
		if counts, _ = db.RefusalCounts(ctx, "ws_a", base, base.Add(time.Hour), 3); len(counts) != 2 || counts[0].Count != 2 || counts[0].Code != "upstream_error" {
			t.Fatalf("capped counts: %v", counts)
		}
		// Prune: older than minute 2 goes; then ws_a keeps its newest 4.
		n, err := db.PruneRefusals(ctx, base.Add(2*time.Minute), 4, []string{"ws_a"})
		if err != nil || n != 2+1+4 { // ws_a's minutes 0 and 1, ws_b's one, then 4 of the 8 left
			t.Fatalf("pruned %d, %v", n, err)
		}
		left, _ := db.Refusals(ctx, requestlog.RefusalFilter{WorkspaceID: "ws_a", Limit: 100})
		if len(left) != 4 || left[3].ID != "req_ws_a_006" {
			t.Fatalf("left %d", len(left))
		}
	})
}
